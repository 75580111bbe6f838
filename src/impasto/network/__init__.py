"""Feed-forward style networks (Johnson, Alahi & Fei-Fei 2016): the transformation network,
its training against the engine's own features and losses, model files, apply and ONNX export.

Beside :mod:`impasto.api` in the layers: it imports optim, losses, features, io, preprocess,
config and the base modules, never api, viz or a shell. Importing it does no work.
"""
