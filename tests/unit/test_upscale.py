"""The upscaler on tiny networks and 32-64 px pictures: known shapes for x2 and x4, tiles that
give the whole picture's pixels, a model file that round-trips, onnxruntime that paints what
torch paints, training whose loss falls and whose resumed run equals an uninterrupted one, and
refusals before any work."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from impasto.errors import Cancelled, CheckpointError, ConfigError, InvalidImageError, OutputError
from impasto.features.weights import VGGWeights
from impasto.network.photos import load_photos
from impasto.optim.events import StepEvent
from impasto.superres.apply import (
    OVERLAP,
    REACH,
    OnnxEnlarger,
    TorchEnlarger,
    UpscaleConfig,
    check_output_fits,
    tile_starts,
    upscale_path,
)
from impasto.superres.config import UpscalerConfig, UpscaleTrainConfig
from impasto.superres.degrade import gaussian_blur, shrink
from impasto.superres.model import build_upscaler
from impasto.superres.modelfile import UpscalerInfo, load_upscaler, save_upscaler
from impasto.superres.train import (
    finetune_upscaler,
    load_upscale_training,
    phase_detail,
    resume_upscaler,
    train_upscaler,
)

TINY = UpscalerConfig(features=8, shrink=4, mapping=1)
SMALL = UpscalerConfig(features=16, shrink=8, mapping=1)


def tiny_train(**changes: object) -> UpscaleTrainConfig:
    base = dict(steps=4, batch_size=2, crop_size=32, photo_side=48, precision="fp32", lr=1e-2)
    base.update(changes)
    return UpscaleTrainConfig(**base)  # type: ignore[arg-type]


def trained_enlarger(seed: int = 1) -> TorchEnlarger:
    """A tiny network whose heads are not near zero (so tiles vs whole tests something)."""
    model = build_upscaler(TINY, seed)
    with torch.no_grad():
        for p in model.heads.parameters():
            p.normal_(0, 0.05, generator=torch.Generator().manual_seed(seed))
    return TorchEnlarger(model, UpscalerInfo(TINY))


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, where in enumerate(["", "sub", "sub"]):
        arr = rng.integers(0, 255, (48 + 8 * i, 56, 3)).astype(np.uint8)
        Image.fromarray(arr).resize((112, 96 + 16 * i), Image.BICUBIC).save(d / where / f"p{i}.png")
    return d


@pytest.mark.parametrize("scale", [2, 4])
def test_outputs_are_scale_times_the_input(scale: int) -> None:
    enlarger = trained_enlarger()
    out = enlarger.enlarge(torch.rand(1, 3, 33, 40), scale)
    assert out.shape == (1, 3, 33 * scale, 40 * scale)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_an_untrained_network_is_bicubic() -> None:
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    model = build_upscaler(TINY)
    with torch.no_grad():
        for p in model.heads.parameters():
            p.zero_()
    out = TorchEnlarger(model, UpscalerInfo(TINY)).enlarge(x, 4)
    bicubic = torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic").clamp(0, 1)
    assert torch.allclose(out, bicubic, atol=1e-6)


@pytest.mark.parametrize("scale", [2, 4])
def test_tiles_give_the_whole_pictures_pixels(scale: int) -> None:
    assert OVERLAP > REACH
    enlarger = trained_enlarger()
    x = torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(2))
    whole = enlarger.enlarge(x, scale, tile=200)
    tiles = enlarger.enlarge(x, scale, tile=48)
    assert tiles.shape == whole.shape
    assert float((tiles - whole).abs().max()) < 1e-5


def test_tiles_cover_the_picture_with_the_overlap() -> None:
    assert tile_starts(40, 48, 16) == [0]
    starts = tile_starts(130, 48, 16)
    assert starts[0] == 0 and starts[-1] == 130 - 48
    assert all(b - a <= 48 - 32 for a, b in itertools.pairwise(starts))


def test_the_caller_tensor_is_not_modified() -> None:
    x = torch.rand(1, 3, 20, 20)
    before = x.clone()
    trained_enlarger().enlarge(x, 2)
    assert torch.equal(x, before)


def test_a_model_file_round_trips(tmp_path: Path) -> None:
    enlarger = trained_enlarger()
    path = save_upscaler(
        enlarger.model, tmp_path / "up.safetensors", UpscalerInfo(TINY, {"steps_run": 3})
    )
    model, info = load_upscaler(path)
    assert info.network == TINY and info.training == {"steps_run": 3}
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(model(x, 2), enlarger.model(x, 2))


def test_a_file_that_is_not_an_upscaler_is_refused(tmp_path: Path) -> None:
    from impasto.errors import NetworkFileError

    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(NetworkFileError, match="not an impasto upscaler"):
        load_upscaler(bad)


def test_onnxruntime_paints_what_torch_paints() -> None:
    enlarger = trained_enlarger()
    onnx = OnnxEnlarger(enlarger.model, enlarger.info)
    x = torch.rand(1, 3, 30, 26, generator=torch.Generator().manual_seed(3))
    for scale in (2, 4):
        a, b = enlarger.enlarge(x, scale), onnx.enlarge(x, scale)
        assert a.shape == b.shape
        assert float((a - b).abs().max()) < 2e-3


@pytest.mark.parametrize("scale", [0, 3, 8, "4x", True])
def test_a_scale_other_than_2_or_4_is_refused(scale: object) -> None:
    with pytest.raises(ConfigError, match="scale must be 2 or 4"):
        UpscaleConfig(scale=scale)  # type: ignore[arg-type]


def test_an_output_larger_than_memory_is_refused_before_work() -> None:
    check_output_fits((1000, 1000), 4, limit=2**34)
    with pytest.raises(OutputError, match="more than this machine allows"):
        check_output_fits((40000, 30000), 4, limit=2**34)


def test_a_non_image_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    out = tmp_path / "out.png"
    with pytest.raises(InvalidImageError):
        upscale_path(trained_enlarger(), bad, out, UpscaleConfig(scale=2))
    assert not out.exists()


def test_a_folder_is_enlarged_into_a_folder(photo_dir: Path, tmp_path: Path) -> None:
    (photo_dir / "broken.jpg").write_text("no")
    done = upscale_path(trained_enlarger(), photo_dir, tmp_path / "big", UpscaleConfig(scale=2))
    assert len(done.written) == 3 and len(done.skipped) == 1
    with Image.open(tmp_path / "big" / "sub" / "p1.png") as img:
        assert img.size == (224, 224)


def test_shrink_blurs_then_shrinks_to_8_bit_levels() -> None:
    x = torch.rand(2, 3, 32, 40)
    small = shrink(x, 4, sigma=1.0)
    assert small.shape == (2, 3, 8, 10)
    assert torch.equal(small, (small * 255).round() / 255)
    flat = torch.full((1, 3, 16, 16), 0.5)
    assert torch.allclose(gaussian_blur(flat, 1.5), flat, atol=1e-6)


def _stripes(h: int, w: int, period: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    on = ((xx + 2 * yy) // period) % 2 == 1
    return np.stack([np.where(on, 220, 40)] * 2 + [np.where(on, 60, 200)], axis=-1).astype(np.uint8)


def test_training_brings_the_output_closer_to_the_originals(
    tmp_path: Path, tiny_weights: VGGWeights
) -> None:
    d = tmp_path / "edges"
    d.mkdir()
    Image.fromarray(_stripes(32, 32, 12)).save(d / "stripes.png")  # every crop: this picture
    events: list[StepEvent] = []
    cfg = tiny_train(steps=80, feature_weight=1e-9, blur=0.0, photo_side=32, lr=3e-3)
    result = train_upscaler(d, cfg, SMALL, weights=tiny_weights, callback=events.append)
    assert [e.step for e in events] == list(range(1, 81))
    assert {e.losses["scale"] for e in events} == {2.0, 4.0}
    assert "relu2_2" in events[0].losses
    assert not result.model.training and result.training["steps_run"] == 80
    hr = torch.from_numpy(_stripes(32, 32, 12)).permute(2, 0, 1)[None].float() / 255
    before, after = build_upscaler(SMALL, cfg.seed), result.model
    with torch.no_grad():
        for r in (2, 4):
            small = shrink(hr, r)
            err = [float((m(small, r) - hr).abs().mean()) for m in (before, after)]
            assert err[1] < 0.9 * err[0], (r, err)


def test_resume_gives_the_same_weights(
    photo_dir: Path, tiny_weights: VGGWeights, tmp_path: Path
) -> None:
    cfg = tiny_train(steps=6)
    straight = train_upscaler(photo_dir, cfg, TINY, weights=tiny_weights)

    def stop_at_3(event: StepEvent) -> None:
        if event.step == 3:
            raise Cancelled("stop")

    folder = tmp_path / "ckpt"
    with pytest.raises(Cancelled) as info:
        train_upscaler(
            photo_dir, cfg, TINY, weights=tiny_weights, callback=stop_at_3, checkpoint=folder
        )
    assert info.value.step == 3
    assert load_upscale_training(folder)[1]["step"] == 3
    resumed = resume_upscaler(folder, weights=tiny_weights)
    assert len(resumed.history) == 6
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_missing_training_checkpoint_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no upscaler training checkpoint"):
        resume_upscaler(tmp_path)


def test_training_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="multiple of 4"):
        UpscaleTrainConfig(crop_size=30)
    with pytest.raises(ConfigError, match="photo_side"):
        UpscaleTrainConfig(crop_size=96, photo_side=64)


def test_the_python_face_enlarges_a_tensor(tmp_path: Path) -> None:
    import impasto

    path = save_upscaler(trained_enlarger().model, tmp_path / "m.safetensors", UpscalerInfo(TINY))
    x = torch.rand(3, 20, 30)
    out = impasto.upscale(x, 2, model=path)
    assert out.shape == (1, 3, 40, 60)
    with pytest.raises(ConfigError, match="scale must be 2 or 4"):
        impasto.upscale(x, 3, model=path)


def test_batches_keep_the_most_detailed_crops() -> None:
    from impasto.superres.train import most_detailed

    flat = torch.full((1, 3, 32, 32), 0.4)
    busy = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    crops = torch.cat([flat, busy, flat * 1.5, busy.flip(-1)])
    kept = most_detailed(crops, 2)
    assert torch.equal(kept, torch.cat([busy, busy.flip(-1)]))
    assert torch.equal(most_detailed(crops, 4), crops)


def _smooth(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """(1, 3, h, w) in [0, 1]: noise enlarged by bicubic, no pattern of any period."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, h // 8, w // 8, generator=g)
    return F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


def _lattice(h: int, w: int, period: int = 4) -> torch.Tensor:
    """(1, 1, h, w): 1 on every ``period``-th row and column (a cross-hatch), else 0."""
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return ((yy % period == 0) | (xx % period == 0)).float()[None, None]


def test_phase_detail_sees_a_4px_grid_and_not_the_picture() -> None:
    picture = _smooth(64, 64)
    hatched = picture + 0.03 * _lattice(64, 64)
    plain, grid = (float(phase_detail(x, 4).std()) for x in (picture, hatched))
    assert phase_detail(picture, 4).shape == (1, 1, 1, 4, 4)
    assert phase_detail(picture, 4, 16).shape == (1, 4, 4, 4, 4)
    assert grid > 0.005 and plain < grid / 10, (plain, grid)
    # a pattern of another period averages away at period 4
    assert float(phase_detail(picture + 0.03 * _lattice(64, 64, 3), 4).std()) < grid / 3


def test_windows_see_a_grid_whose_sign_follows_the_picture() -> None:
    picture = _smooth(64, 64)
    sign = torch.ones(1, 1, 64, 64)
    sign[..., 32:] = -1  # the hatch's sign flips between the two halves: no global pattern
    hatched = picture + 0.03 * _lattice(64, 64) * sign
    whole = float(phase_detail(hatched, 4).std())
    local = float((phase_detail(hatched, 4, 16) - phase_detail(picture, 4, 16)).abs().mean())
    assert whole < 0.002 and local > 0.005, (whole, local)


def test_the_grid_term_is_a_loss_only_when_weighted(
    photo_dir: Path, tiny_weights: VGGWeights
) -> None:
    for weight in (0.0, 2.0):
        events: list[StepEvent] = []
        cfg = tiny_train(steps=2, grid_weight=weight)
        train_upscaler(photo_dir, cfg, TINY, weights=tiny_weights, callback=events.append)
        for e in events:
            assert ("grid" in e.losses) == (weight > 0)
            if weight:
                rest = e.losses["pixel"] + cfg.feature_weight * e.losses["relu2_2"]
                assert e.losses["total"] == pytest.approx(rest + weight * e.losses["grid"])


def test_training_on_the_grid_term_removes_a_heads_grid(
    tmp_path: Path, tiny_weights: VGGWeights
) -> None:
    d = tmp_path / "smooth"
    d.mkdir()
    arr = (_smooth(64, 64, 3)[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    Image.fromarray(arr).save(d / "smooth.png")
    base = trained_enlarger(seed=2).model  # heads far from zero: a 4 px pattern
    photos = load_photos(d, 64)
    cfg = tiny_train(steps=20, pixel_weight=0.0, feature_weight=0.0, grid_weight=1.0,
                     photo_side=64, lr=3e-3)  # fmt: skip
    tuned = finetune_upscaler(base, photos, cfg, scales=(4,), weights=tiny_weights).model
    small = shrink(_smooth(64, 64, 5), 4)
    with torch.no_grad():
        before, after = (float(phase_detail(m(small, 4), 4).std()) for m in (base, tuned))
    assert after < before / 2, (before, after)
