"""Audio style transfer and sound textures (Ulyanov & Lebedev 2016) on the image engine's
losses and optimiser: log spectrograms, one random 1-D convolution, Griffin-Lim.

Importing the package does no work; ``impasto.audio.transfer`` holds the entry points.
"""
