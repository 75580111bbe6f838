"""Style targets prepared once (api.prepare_style) give the same run as targets computed in it."""

from __future__ import annotations

import pickle

import pytest
import torch

from impasto.api import PreparedStyle, Style, prepare_style, stylize
from impasto.errors import ConfigError

FP32 = {"precision": "fp32", "tol": 0.0}
RED, BLUE = (255, 0, 0), (0, 0, 255)


def _pattern(h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, max(2, h // 8), max(2, w // 8), generator=g)
    smooth = torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear")
    return (0.7 * smooth + 0.3 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


def _halves(h: int, w: int, left: tuple[int, ...], right: tuple[int, ...]) -> torch.Tensor:
    out = torch.zeros(1, 3, h, w)
    out[..., : w // 2] = torch.tensor(left, dtype=torch.float32).view(1, 3, 1, 1) / 255
    out[..., w // 2 :] = torch.tensor(right, dtype=torch.float32).view(1, 3, 1, 1) / 255
    return out


def _same(a, b) -> None:
    assert torch.equal(a.tensor, b.tensor)
    assert a.history == b.history


def test_prepared_pyramid_gives_the_same_image(tiny_weights) -> None:
    settings = dict(size=40, scales=2, min_size=24, steps=(4, 3), init="noise", seed=5, **FP32)
    style = [Style(_pattern(48, 48, 2), 0.7), Style(_pattern(40, 40, 7), 0.3)]
    content = _pattern(40, 40, 1)
    plain = stylize(content, style, weights=tiny_weights, **settings)
    prepared = prepare_style(style, weights=tiny_weights, **settings)
    assert sorted(prepared.targets) == [24, 40]
    again = stylize(content, weights=tiny_weights, prepared=prepared, **settings)
    _same(plain, again)
    assert again.sources["style"] == plain.sources["style"]


def test_prepared_masks_and_scale_mix_give_the_same_image(tiny_weights) -> None:
    settings = dict(size=48, scales=2, min_size=32, steps=(3, 3), pooling="max", **FP32)
    style = Style(_pattern(48, 48, 9), mask=_halves(48, 48, RED, BLUE))
    coarse = _pattern(48, 48, 10)
    mask = _halves(48, 48, BLUE, RED)
    content = _pattern(48, 48, 8)
    plain = stylize(
        content, style, weights=tiny_weights, content_mask=mask, coarse_style=coarse, **settings
    )
    prepared = prepare_style(
        style, weights=tiny_weights, content_mask=mask, coarse_style=coarse, **settings
    )
    again = stylize(content, weights=tiny_weights, prepared=prepared, content_mask=mask, **settings)
    _same(plain, again)


def test_prepared_style_pickles(tiny_weights) -> None:
    prepared = prepare_style(_pattern(40, 40, 2), weights=tiny_weights, size=32, scales=1)
    back = pickle.loads(pickle.dumps(prepared))
    assert isinstance(back, PreparedStyle)
    assert back.key == prepared.key
    for side, layers in prepared.targets.items():
        for name, gram in layers.items():
            assert gram.device.type == "cpu"
            assert torch.equal(back.targets[side][name], gram)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"style_scale": 0.5}, "style_scale=0.5"),
        ({"pooling": "max"}, "pooling=max"),
        ({"style_layers": "relu1_1,relu2_1"}, "style_layers=relu1_1,relu2_1"),
    ],
)
def test_a_run_under_other_settings_is_refused(tiny_weights, change, named) -> None:
    prepared = prepare_style(_pattern(40, 40, 2), weights=tiny_weights, size=32, scales=1)
    with pytest.raises(ConfigError, match=named):
        stylize(_pattern(32, 32, 1), weights=tiny_weights, prepared=prepared, size=32, **change)


def test_a_scale_that_was_not_prepared_is_refused(tiny_weights) -> None:
    prepared = prepare_style(_pattern(40, 40, 2), weights=tiny_weights, size=32, scales=1)
    with pytest.raises(ConfigError, match="not at the 40 px scale"):
        stylize(_pattern(32, 32, 1), weights=tiny_weights, prepared=prepared, size=40, scales=1)


def test_colour_preservation_cannot_be_prepared(tiny_weights) -> None:
    with pytest.raises(ConfigError, match="preserve_color=luminance"):
        prepare_style(_pattern(40, 40, 2), weights=tiny_weights, preserve_color="luminance")


def test_style_and_prepared_together_are_refused(tiny_weights) -> None:
    style = _pattern(40, 40, 2)
    prepared = prepare_style(style, weights=tiny_weights, size=32, scales=1)
    with pytest.raises(ConfigError, match="not both"):
        stylize(_pattern(32, 32, 1), style, weights=tiny_weights, prepared=prepared, size=32)
    with pytest.raises(ConfigError, match="give a style"):
        stylize(_pattern(32, 32, 1), weights=tiny_weights, size=32)


@pytest.mark.parametrize("style_scale", [0.5, 1.0, 1.5])
def test_style_scale_is_the_paintings_size_relative_to_the_output_at_any_size(
    style_scale: float,
) -> None:
    """--style-scale sizes the painting relative to the picture at every scale, so a stroke
    takes the same share of a 256 px and a 2048 px output (the size maths, no run): the style
    image each scale's targets are computed from has style_scale times that scale's long side,
    whatever the output's size, and so the same ratio at 256 and at 2048 px."""
    from impasto.config import StyleConfig
    from impasto.losses.targets import StyleSource
    from impasto.optim.pyramid import plan_scales

    painting = StyleSource(_pattern(48, 64, 3))
    ratios = {}
    for size in (256, 2048):
        cfg = StyleConfig(size=size, style_scale=style_scale)
        canvas = (size * 3 // 4, size)  # a 4:3 photo at its full size
        ratios[size] = [
            max(painting.at_scale(s.long_side, cfg, None).image.shape[-2:]) / max(s.hw)
            for s in plan_scales(cfg, canvas)
        ]
        assert ratios[size] == pytest.approx([style_scale] * len(ratios[size]), rel=0.01)
    assert ratios[256][-1] == pytest.approx(ratios[2048][-1], rel=0.005)
    assert len(ratios[2048]) > len(ratios[256])  # 2048 px has more scales, same ratio at each
