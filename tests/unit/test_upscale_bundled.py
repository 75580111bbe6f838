"""The bundled upscaler (src/impasto/data/upscalers, made by `make upscaler`): it loads, has
both heads, is stored small, records its training, and enlarges a small picture."""

from __future__ import annotations

import torch

from impasto.superres.apply import bundled_upscaler, open_upscaler
from impasto.superres.config import UpscalerConfig, UpscaleTrainConfig
from impasto.superres.modelfile import load_upscaler


def test_the_bundled_upscaler_loads_and_records_its_training() -> None:
    path = bundled_upscaler()
    assert path.is_file(), "run `make upscaler`"
    _, info = load_upscaler(path)
    assert info.network == UpscalerConfig()
    assert info.training["steps_run"] > 0 and info.training["seconds"] > 0
    defaults = UpscaleTrainConfig().to_dict()
    # Settings added after the bundled file was trained, at the value that training had.
    added_since = {"grid_weight": 0.0}
    recorded = {
        k: info.training[k] if k in info.training else added_since[k]
        for k in defaults
        if k not in ("minutes", "precision")
    }
    assert recorded == {k: v for k, v in defaults.items() if k not in ("minutes", "precision")}
    assert path.stat().st_size < 1_000_000


def test_the_bundled_upscaler_enlarges_a_small_picture() -> None:
    x = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    for scale in (2, 4):
        out = open_upscaler().enlarge(x, scale)
        assert out.shape == (1, 3, 24 * scale, 32 * scale)
        assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
