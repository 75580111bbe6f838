"""ONNX: export a style network to one self-contained ``.onnx`` file (weights embedded; batch,
height and width dynamic; impasto's metadata in the model's metadata_props) and run such a
file under onnxruntime.

torch 2.13's ``torch.onnx.export`` uses the dynamo exporter (it needs ``onnxscript``), writes
the weights to a side file unless ``external_data=False``, and fixes every axis it is not told
is dynamic. ``onnx``, ``onnxscript`` and ``onnxruntime`` come with the ``network`` extra and
are imported only here, when asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from impasto.errors import NetworkFileError
from impasto.io.atomic import check_writable, write_bytes
from impasto.network.info import KIND, NetworkInfo
from impasto.network.modelfile import StyleNetwork
from impasto.network.stylizer import Stylizer

OPSET = 20
INPUT, OUTPUT = "image", "stylized"
AXES = {0: "batch", 2: "height", 3: "width"}


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs that torchvision is absent and raises torch's own deprecation
    warnings; neither concerns the caller (and the test suite turns warnings into errors)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def onnx_bytes(network: StyleNetwork) -> bytes:
    """The network as a serialised ONNX model, weights embedded, axes named."""
    return module_onnx_bytes(network.model, network.info.metadata())


def module_onnx_bytes(
    module: torch.nn.Module,
    metadata: dict[str, str],
    names: tuple[str, str] = (INPUT, OUTPUT),
) -> bytes:
    """Any one-image module ((N, 3, H, W) in, one tensor out) as a serialised ONNX model:
    weights embedded, batch, height and width dynamic and named, ``metadata`` in its
    metadata_props, ``names`` its input's and output's names."""
    from torch.export import Dim

    example = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with _quiet_exporter():
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            external_data=False,
            opset_version=OPSET,
            input_names=[names[0]],
            output_names=[names[1]],
            dynamic_shapes={"x": {axis: Dim.DYNAMIC for axis in AXES}},
            verbose=False,
        )
    assert program is not None
    proto = program.model_proto
    for value in (*proto.graph.input, *proto.graph.output):
        for axis, name in AXES.items():
            value.type.tensor_type.shape.dim[axis].dim_param = name
    for key, text in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, text
    proto.producer_name = "impasto"
    data: bytes = proto.SerializeToString()
    return data


def export_onnx(network: StyleNetwork, path: str | os.PathLike[str]) -> Path:
    """Write ``network`` to ``path`` (``.onnx``) atomically, as one file."""
    p = check_writable(path, (".onnx",), "ONNX file")
    return write_bytes(p, onnx_bytes(network))


class OnnxNetwork(Stylizer):
    """A style network under onnxruntime (CPU)."""

    def __init__(self, session: Any, info: NetworkInfo) -> None:
        super().__init__(info)
        self.session = session

    def run(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.detach().to(torch.float32).numpy())
        (y,) = self.session.run([OUTPUT], {INPUT: x})
        return torch.from_numpy(np.asarray(y, dtype=np.float32))


def ort_session(model: bytes | str) -> Any:
    """An onnxruntime CPU session of a serialised model or a file, logging errors only."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no notices on stderr
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def load_onnx(path: str | os.PathLike[str]) -> OnnxNetwork:
    """An exported style network under onnxruntime; NetworkFileError, in one line, for a
    missing file or one that is not an impasto export."""
    p = Path(path)
    if not p.is_file():
        raise NetworkFileError(f"ONNX file not found: {p}")
    try:
        session = ort_session(str(p))
    except Exception as e:  # onnxruntime raises its own untyped errors for bad files
        first = (str(e).splitlines() or [type(e).__name__])[0][:200]
        raise NetworkFileError(f"{p} is not an ONNX model onnxruntime can load ({first})") from None
    meta = dict(session.get_modelmeta().custom_metadata_map)
    if meta.get("format") != KIND:
        raise NetworkFileError(f"{p} is not an impasto style network (no impasto metadata)")
    return OnnxNetwork(session, NetworkInfo.from_metadata(meta, str(p)))


def onnx_session_for(network: StyleNetwork) -> OnnxNetwork:
    """``network`` exported in memory and run under onnxruntime."""
    return OnnxNetwork(ort_session(onnx_bytes(network)), network.info)
