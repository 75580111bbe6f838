"""``stylize --upscale`` (issue 27's large-picture route) on the tiny random VGG and 32-130 px
pictures: the output has the size asked for, upscale 1 is the engine's run exactly, the
enlargement reports its tiles, bad settings are refused in one line before any work, and the
upscaler's fine-tune on the painting lowers its error there and is cached per painting."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import impasto
import impasto.api
from impasto.config import StyleConfig
from impasto.errors import ConfigError
from impasto.features.weights import VGGWeights
from impasto.optim.events import StageEvent
from impasto.preprocess.resize import fit_long_side
from impasto.superres.config import UpscalerConfig
from impasto.superres.degrade import shrink
from impasto.superres.finetune import cache_dir, finetuned
from impasto.superres.model import build_upscaler
from impasto.superres.modelfile import load_upscaler, save_upscaler
from impasto.superres.route import check_route, fit_to, painted_config
from pictures import gradient_array

CliRunner = Callable[[Sequence[object]], tuple[int, str, str]]
FAST = {"steps": 3, "precision": "fp32", "upscale_finetune": 0}
QUICK = ["--steps", "3", "--precision", "fp32", "--upscale-finetune", "0"]
SMALL = UpscalerConfig(features=16, shrink=8, mapping=1)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fine-tunes are cached in the test's own folder, never the user's."""
    monkeypatch.setenv("IMPASTO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "upscalers"


@pytest.fixture
def small_upscaler(tmp_path: Path) -> Path:
    return save_upscaler(build_upscaler(SMALL, 1), tmp_path / "small.safetensors")


def painting_pixels(seed: int, side: int = 96, cell: int = 12) -> np.ndarray:
    """Squares of ``cell`` px in random colours (``seed``): sharp edges that a 4x shrink
    blurs and an upscaler can learn to restore. (H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    n = side // cell + 1
    colours = rng.integers(0, 256, (n, n, 3)).astype(np.uint8)
    yy, xx = np.mgrid[0:side, 0:side]
    return colours[yy // cell, xx // cell]


def painting(path: Path, seed: int, side: int = 96) -> Path:
    Image.fromarray(painting_pixels(seed, side)).save(path)
    return path


@pytest.fixture
def wide_content() -> torch.Tensor:
    """48 x 36 px: the aspect ratio makes the short side round."""
    x = torch.from_numpy(gradient_array(36, 48)).permute(2, 0, 1)[None].float() / 255.0
    return x.contiguous()


def test_painted_size_is_size_over_upscale_rounded_half_up() -> None:
    assert StyleConfig(size=4096, upscale=4).painted_size == 1024
    assert StyleConfig(size=130, upscale=4).painted_size == 33  # 32.5 up, not to even
    assert StyleConfig(size=129, upscale=2).painted_size == 65
    assert StyleConfig(size=512).painted_size == 512
    cfg = painted_config(StyleConfig(size=4096, upscale=4, seed=3))
    assert (cfg.size, cfg.upscale, cfg.seed) == (1024, 1, 3)


@pytest.mark.parametrize(("size", "upscale"), [(130, 4), (96, 2), (128, 4)])
def test_the_output_has_the_size_asked_for(
    wide_content: torch.Tensor, style_tensor: torch.Tensor, tiny_weights: VGGWeights,
    size: int, upscale: int,
) -> None:  # fmt: skip
    stages: list[StageEvent] = []
    res = impasto.stylize(
        wide_content, style_tensor, weights=tiny_weights, size=size, upscale=upscale,
        on_stage=stages.append, **FAST,
    )  # fmt: skip
    assert tuple(res.tensor.shape[-2:]) == fit_long_side(36, 48, size)
    assert res.tensor.dtype == torch.float32
    assert 0.0 <= float(res.tensor.min()) and float(res.tensor.max()) <= 1.0
    assert res.config.size == size and res.config.upscale == upscale
    assert len(res.history) == 3  # the painting's steps
    assert stages and {e.stage for e in stages} == {"enlarge"}
    assert stages[-1].done == stages[-1].total
    record = json.loads(res.metadata()["impasto"])
    assert record["config"]["upscale"] == upscale and record["upscaler"] == "bundled"


def test_the_enlargement_is_of_the_painted_picture(
    content_tensor: torch.Tensor, style_tensor: torch.Tensor, tiny_weights: VGGWeights
) -> None:
    """Shrunk back, the route's output is close to the engine's run at size / upscale."""
    big = impasto.stylize(
        content_tensor, style_tensor, weights=tiny_weights, size=64, upscale=2, **FAST
    )
    small = impasto.api.stylize(content_tensor, style_tensor, weights=tiny_weights, size=32, **FAST)
    back = torch.nn.functional.avg_pool2d(big.tensor, 2)
    assert float((back - small.tensor).abs().mean()) < 0.03


def test_upscale_1_is_the_engine_run_bit_for_bit(
    content_tensor: torch.Tensor, style_tensor: torch.Tensor, tiny_weights: VGGWeights
) -> None:
    kw = dict(weights=tiny_weights, size=32, seed=5, **FAST)
    route = impasto.stylize(content_tensor, style_tensor, **kw)  # type: ignore[arg-type]
    engine = impasto.api.stylize(content_tensor, style_tensor, **kw)  # type: ignore[arg-type]
    assert torch.equal(route.tensor, engine.tensor)
    assert route.history == engine.history and route.config == engine.config


@pytest.mark.parametrize("bad", [3, 0, 8, "x", True, 2.5])
def test_an_upscale_other_than_1_2_4_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"upscale must be 1 \(off\), 2 or 4, got") as info:
        StyleConfig(upscale=bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)


def test_a_size_too_small_for_the_upscale_is_refused() -> None:
    with pytest.raises(ConfigError, match="size / upscale must be at least 16 pixels, got 40 / 4"):
        StyleConfig(size=40, upscale=4)


def test_the_painted_run_plan_is_checked() -> None:
    """Four counts fit 1024 px's four scales, not 4096 px's six: the painted plan is checked."""
    check_route(StyleConfig(size=4096, upscale=4, steps=(40, 30, 20, 10)))
    with pytest.raises(ConfigError, match="steps"):
        check_route(StyleConfig(size=4096, upscale=1, steps=(40, 30, 20, 10)))


def test_the_engine_and_other_modes_refuse_upscale(
    content_tensor: torch.Tensor, style_tensor: torch.Tensor, tiny_weights: VGGWeights
) -> None:
    for run in (
        lambda: impasto.api.stylize(content_tensor, style_tensor, size=64, upscale=2),
        lambda: impasto.photo(content_tensor, style_tensor, size=64, upscale=2),
        lambda: impasto.synthesize_texture(style_tensor, size=64, upscale=2),
    ):
        with pytest.raises(ConfigError, match="upscale=2: only `impasto stylize`"):
            run()


def test_the_route_takes_no_checkpoint_or_prepared_style(
    content_tensor: torch.Tensor, style_tensor: torch.Tensor, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="upscale=2 does not take a checkpoint; use upscale=1"):
        impasto.stylize(
            content_tensor, style_tensor, size=64, upscale=2,
            checkpoint=impasto.Checkpointing(tmp_path / "c"),
        )  # fmt: skip
    assert not (tmp_path / "c").exists()


def test_fit_to_cuts_or_repeats_the_edge() -> None:
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    assert torch.equal(fit_to(x, (3, 4)), x)
    assert torch.equal(fit_to(x, (2, 3)), x[..., :2, :3])
    grown = fit_to(x, (4, 5))
    assert grown.shape[-2:] == (4, 5)
    assert torch.equal(grown[..., :3, :4], x)
    assert torch.equal(grown[..., 3, :4], x[..., 2, :]) and float(grown[0, 0, 0, 4]) == 3.0


def _argv(content: Path, style: Path, out: Path, weights: Path, *extra: object) -> list[object]:
    return ["stylize", content, style, "-o", out, "--weights", weights, *QUICK, *extra]


def test_the_cli_writes_the_size_asked_for(
    run_cli: CliRunner, content_path: Path, style_path: Path, weights_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "big.png"
    code, _, err = run_cli(_argv(content_path, style_path, out, weights_file, "--size", 64,
                                 "--upscale", 2))  # fmt: skip
    assert code == 0, err
    with Image.open(out) as img:
        assert img.size == (64, 64)
        assert json.loads(img.info["impasto"])["config"]["upscale"] == 2


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--upscale", "3"], ["--upscale must be 1 (off), 2 or 4, got 3"]),
        (["--upscale", "4", "--size", "40"], ["--size / --upscale", "40 / 4"]),
        (["--upscale", "4", "--size", "128", "--checkpoint", "CK"], ["--checkpoint"]),
    ],
)
def test_cli_refusals_are_one_line_and_nothing_is_written(
    run_cli: CliRunner, content_path: Path, style_path: Path, weights_file: Path,
    tmp_path: Path, extra: list[str], words: list[str],
) -> None:  # fmt: skip
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    extra = [str(out_dir / "ck") if e == "CK" else e for e in extra]
    code, _, err = run_cli(_argv(content_path, style_path, out_dir / "o.png", weights_file, *extra))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("command", ["photo", "texture"])
def test_other_commands_refuse_upscale(
    run_cli: CliRunner, content_path: Path, style_path: Path, weights_file: Path,
    tmp_path: Path, command: str,
) -> None:  # fmt: skip
    out = tmp_path / "o.png"
    inputs = [content_path, style_path] if command == "photo" else [style_path]
    code, _, err = run_cli([command, *inputs, "-o", out, "--weights", weights_file, *QUICK,
                            "--size", 64, "--upscale", 2])  # fmt: skip
    assert code == 2 and "--upscale" in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPASTO_CACHE", "/x/cache")
    assert cache_dir() == Path("/x/cache/upscalers")
    monkeypatch.delenv("IMPASTO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "/y")
    assert cache_dir() == Path("/y/impasto/upscalers")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "impasto" / "upscalers"


def test_the_finetune_lowers_the_error_on_the_painting(
    tmp_path: Path, small_upscaler: Path, tiny_weights: VGGWeights
) -> None:
    art = painting(tmp_path / "art.png", 3)
    tuned = finetuned([art], 4, 60, base=small_upscaler, weights=tiny_weights)
    assert tuned.trained and tuned.path.is_file()
    hr = torch.from_numpy(painting_pixels(3)).permute(2, 0, 1)[None].float() / 255
    before, _ = load_upscaler(small_upscaler)
    after, info = load_upscaler(tuned.path)
    with torch.no_grad():
        small = shrink(hr, 4)
        err = [float((m(small, 4) - hr).abs().mean()) for m in (before, after)]
    assert err[1] < err[0], err
    assert info.training["steps_run"] == 60 and info.network == SMALL


def test_a_cached_finetune_is_reused_and_the_key_follows_the_painting(
    tmp_path: Path, small_upscaler: Path, tiny_weights: VGGWeights, cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import impasto.superres.finetune as finetune

    runs: list[int] = []
    real = finetune.finetune_upscaler

    def counted(*args: object, **kwargs: object) -> object:
        runs.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(finetune, "finetune_upscaler", counted)
    art, other = painting(tmp_path / "a.png", 1), painting(tmp_path / "b.png", 2)
    first = finetuned([art], 2, 3, base=small_upscaler, weights=tiny_weights)
    stamp = first.path.stat().st_mtime_ns
    again = finetuned([art], 2, 3, base=small_upscaler, weights=tiny_weights)
    assert (first.trained, again.trained, len(runs)) == (True, False, 1)
    assert again.path == first.path and first.path.stat().st_mtime_ns == stamp
    assert first.path.parent == cache
    for changed in (
        finetuned([other], 2, 3, base=small_upscaler, weights=tiny_weights),  # painting
        finetuned([art], 4, 3, base=small_upscaler, weights=tiny_weights),  # scale
        finetuned([art], 2, 4, base=small_upscaler, weights=tiny_weights),  # steps
    ):
        assert changed.trained and changed.path != first.path
    assert len(runs) == 4 and len(list(cache.iterdir())) == 4


def test_the_route_finetunes_then_enlarges_and_reuses_the_cache(
    tmp_path: Path, content_tensor: torch.Tensor, small_upscaler: Path, tiny_weights: VGGWeights
) -> None:
    art = painting(tmp_path / "art.png", 4, side=48)
    runs = []
    for _ in range(2):
        stages: list[StageEvent] = []
        res = impasto.stylize(
            content_tensor, art, weights=tiny_weights, size=64, upscale=2, steps=2,
            precision="fp32", upscale_finetune=3, upscaler=small_upscaler,
            on_stage=stages.append,
        )  # fmt: skip
        assert res.tensor.shape[-2:] == (64, 64)
        runs.append((res.sources["upscaler_finetune"], [(e.stage, e.done) for e in stages]))
    (trained, first), (cached, second) = runs
    assert "(trained in " in trained and cached.endswith("(cached)")
    assert first[:3] == [("finetune", 1), ("finetune", 2), ("finetune", 3)]
    assert first[3:] == second == [("enlarge", 1)]


def test_an_unwritable_cache_is_skipped(
    tmp_path: Path, small_upscaler: Path, tiny_weights: VGGWeights,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("IMPASTO_CACHE", str(blocked))
    art = painting(tmp_path / "a.png", 1, side=64)
    tuned = finetuned([art], 2, 2, base=small_upscaler, weights=tiny_weights)
    assert tuned.trained and not tuned.path.exists()
    assert tuned.enlarger.enlarge(torch.rand(1, 3, 20, 20), 2).shape[-2:] == (40, 40)


@pytest.mark.parametrize("command", ["batch", "video"])
def test_batch_and_video_refuse_upscale(
    run_cli: CliRunner, content_path: Path, style_path: Path, tmp_path: Path, command: str
) -> None:
    import impasto.data

    out = tmp_path / ("out" if command == "batch" else "o.mp4")
    if command == "batch":
        argv: list[object] = ["batch", content_path.parent, "--style", style_path, "-o", out]
    else:
        clip = Path(impasto.data.__file__).parent / "clips" / "street.mp4"
        argv = ["video", clip, style_path, "-o", out]
    code, _, err = run_cli([*argv, "--upscale", 2])
    assert code == 2 and "--upscale=2: only `impasto stylize`" in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
