"""Photo-to-photo transfer (Luan et al. 2017): the matting Laplacian, the photorealism term,
region-wise colour transfer, and impasto.photo on a small synthetic pair with known regions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impasto import Cancelled, ConfigError, InvalidImageError, StepEvent, photo, photo_config
from impasto.api import Checkpointing, resume
from impasto.features.extractor import FeatureExtractor
from impasto.losses.functional import realism_loss
from impasto.losses.objective import LossWeights, make_objective
from impasto.losses.targets import ScaleTargets, content_targets
from impasto.preprocess.color import match_region_colors
from impasto.preprocess.matting import EPSILON, guided_enlarge, matting_laplacian
from impasto.preprocess.resize import resize

# Two scales, no early stop: a few seconds on the tiny network.
RUN = {"size": 40, "scales": 2, "min_size": 24, "steps": (4, 4), "tol": 0.0}
RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def _smooth_photo(h: int = 24, w: int = 24, seed: int = 0) -> torch.Tensor:
    """A photo-like image: smooth colour ramps plus a little texture."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 + 0.3 * x * y])
    return (base + 0.05 * torch.rand(3, h, w, generator=g)).clamp(0, 1).unsqueeze(0)


def _dense_laplacian(image: torch.Tensor, eps: float) -> torch.Tensor:
    """Levin et al. 2008, eq. 12, window by window, as a dense (N, N) float64 matrix."""
    x = image[0].to(torch.float64)
    _, h, w = x.shape
    n = h * w
    m = torch.zeros(n, n, dtype=torch.float64)
    for y0 in range(h - 2):
        for x0 in range(w - 2):
            idx = [(y0 + dy) * w + (x0 + dx) for dy in range(3) for dx in range(3)]
            colours = x.reshape(3, n)[:, idx].T  # (9, 3)
            mu = colours.mean(0)
            d = colours - mu
            cov = d.T @ d / 9
            inv = torch.linalg.inv(cov + eps / 9 * torch.eye(3, dtype=torch.float64))
            block = torch.eye(9, dtype=torch.float64) - (1 + d @ inv @ d.T) / 9
            for a, i in enumerate(idx):
                for b, j in enumerate(idx):
                    m[i, j] += block[a, b]
    return m


def test_laplacian_equals_a_dense_computation_on_a_6x6_image() -> None:
    image = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    sparse = matting_laplacian(image)
    dense = _dense_laplacian(image, EPSILON)
    assert sparse.shape == (36, 36)
    got = sparse.to_dense().to(torch.float64)
    assert torch.allclose(got, dense, atol=1e-4 * float(dense.abs().max()))
    assert torch.allclose(got, got.T, atol=1e-5)  # symmetric
    assert float(got.sum(dim=1).abs().max()) < 1e-4  # constants are in its null space


def test_laplacian_has_25_entries_a_row_inside_the_image() -> None:
    sparse = matting_laplacian(_smooth_photo(10, 12))
    counts = sparse.crow_indices().diff()
    assert int(counts.max()) == 25 and int(counts.reshape(10, 12)[5, 5]) == 25
    assert int(counts.reshape(10, 12)[0, 0]) == 9  # a corner shares windows with 3x3 pixels


def test_realism_gradient_is_2_m_v() -> None:
    photo_img = _smooth_photo(6, 7)
    lap = matting_laplacian(photo_img)
    v = torch.rand(1, 3, 6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert torch.autograd.gradcheck(lambda t: realism_loss(t, lap), (v.requires_grad_(True),))
    vv = v.detach().clone().requires_grad_(True)
    realism_loss(vv, lap).backward()
    flat = v[0].reshape(3, -1).T
    expected = 2 * (lap.to_dense().to(torch.float64) @ flat) / flat.shape[0]
    assert vv.grad is not None
    assert torch.allclose(vv.grad[0].reshape(3, -1).T, expected, atol=1e-10)


def test_realism_is_about_zero_for_an_affine_recolouring_and_large_for_noise() -> None:
    photo_img = _smooth_photo(32, 32)
    lap = matting_laplacian(photo_img)
    a = torch.tensor([[0.5, 0.2, 0.1], [0.0, 0.9, 0.3], [0.2, -0.1, 0.7]])
    recoloured = torch.einsum("ij,njhw->nihw", a, photo_img) + torch.tensor([0.1, 0.0, -0.05]).view(
        1, 3, 1, 1
    )
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    affine, noisy = float(realism_loss(recoloured, lap)), float(realism_loss(noise, lap))
    assert affine < 1e-5
    assert noisy > 1e-2
    assert noisy > 1e4 * affine


def test_realism_refuses_a_laplacian_of_another_size() -> None:
    lap = matting_laplacian(_smooth_photo(8, 8))
    with pytest.raises(ValueError, match="build it for the image's size"):
        realism_loss(torch.rand(1, 3, 8, 9), lap)


def test_the_objective_names_the_photo_term_and_tiles_agree(tiny_weights) -> None:
    photo_img = _smooth_photo(64, 64)
    extractor = FeatureExtractor(tiny_weights, ("relu4_2", "relu1_1"))
    targets = ScaleTargets(
        content=content_targets(extractor, photo_img, ("relu4_2",)),
        style={"relu1_1": torch.eye(extractor(photo_img)["relu1_1"].shape[1]).unsqueeze(0)},
        laplacian=matting_laplacian(photo_img),
    )
    weights = LossWeights(1.0, 1.0, 0.0, {"relu1_1": 1.0}, photo=1e3)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    whole = make_objective(extractor, targets, weights)
    tiled = make_objective(extractor, targets, weights, tile=64)
    _, g1, terms1 = whole.value_and_grad(x)
    _, g2, terms2 = tiled.value_and_grad(x)
    assert "photo" in terms1 and "photo" in terms2
    assert float(terms1["photo"]) == pytest.approx(1e3 * float(realism_loss(x, targets.laplacian)))
    assert float(terms1["photo"]) == pytest.approx(float(terms2["photo"]), rel=1e-5)
    assert torch.allclose(g1, g2, rtol=1e-3, atol=1e-6 * float(g1.abs().max()))
    off = make_objective(extractor, targets, LossWeights(1.0, 1.0, 0.0, {"relu1_1": 1.0}))
    assert "photo" not in off.value_and_grad(x)[2]


def test_guided_enlarge_keeps_the_large_photos_detail() -> None:
    big = _smooth_photo(64, 64)
    small = resize(big, (32, 32))
    a = torch.tensor([[0.5, 0.2, 0.1], [0.0, 0.9, 0.3], [0.2, -0.1, 0.7]])
    wanted = (torch.einsum("ij,njhw->nihw", a, big) + 0.1).clamp(0, 1)
    recoloured_small = torch.einsum("ij,njhw->nihw", a, small) + 0.1
    got = guided_enlarge(recoloured_small, small, big)
    blurred = resize(recoloured_small, (64, 64))
    assert got.shape == (1, 3, 64, 64)
    assert float((got - wanted).abs().mean()) < 0.2 * float((blurred - wanted).abs().mean())


def test_region_colours_take_each_regions_statistics() -> None:
    image = _smooth_photo(20, 20)
    masks = torch.zeros(2, 20, 20)
    masks[0, :, :10], masks[1, :, 10:] = 1, 1
    ref = torch.zeros(1, 3, 16, 16)
    ref[..., :8, :] = torch.tensor([0.8, 0.2, 0.2]).view(1, 3, 1, 1)
    ref[..., 8:, :] = torch.tensor([0.1, 0.3, 0.6]).view(1, 3, 1, 1)
    ref = ref + 0.05 * torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    ref_masks = torch.zeros(2, 16, 16)
    ref_masks[0, :8], ref_masks[1, 8:] = 1, 1
    out = match_region_colors(image, ref, masks, ref_masks)
    for k in range(2):
        got = out[0][:, masks[k] > 0].mean(dim=1)
        want = ref[0][:, ref_masks[k] > 0].mean(dim=1)
        assert torch.allclose(got, want, atol=2e-3)
    assert not torch.equal(out, image)


# -- impasto.photo on a synthetic pair with known regions -----------------------------------------
def _save(arr: np.ndarray, path: Path) -> Path:
    Image.fromarray(arr.astype(np.uint8)).save(path)
    return path


@pytest.fixture
def pair(tmp_path: Path) -> dict[str, Path]:
    """A 48x48 photo (top: a light sky, bottom: green ground) and a 40x40 reference (top: a
    red evening sky, bottom: dark blue), with region maps (top red, bottom blue)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:48] / 47.0
    ph = np.zeros((48, 48, 3))
    ph[:24] = np.stack([0.6 + 0.2 * x[:24], 0.7 + 0.1 * y[:24], 0.9 + 0 * x[:24]], -1)
    ph[24:] = np.stack([0.2 + 0.1 * x[24:], 0.6 - 0.2 * y[24:], 0.2 + 0 * x[24:]], -1)
    ph = (ph + 0.03 * rng.random((48, 48, 3))).clip(0, 1) * 255
    ref = np.zeros((40, 40, 3))
    ref[:20] = (0.9, 0.4, 0.3)
    ref[20:] = (0.1, 0.1, 0.4)
    ref = (ref + 0.08 * rng.random((40, 40, 3))).clip(0, 1) * 255
    pm = np.zeros((48, 48, 3))
    pm[:24], pm[24:] = RED, BLUE
    rm = np.zeros((40, 40, 3))
    rm[:20], rm[20:] = RED, BLUE
    return {
        "photo": _save(ph, tmp_path / "photo.png"),
        "reference": _save(ref, tmp_path / "reference.png"),
        "photo_map": _save(pm, tmp_path / "photo_map.png"),
        "reference_map": _save(rm, tmp_path / "reference_map.png"),
    }


def _photo(pair: dict[str, Path], weights, **kw):
    maps = {"content_mask": pair["photo_map"], "style_mask": pair["reference_map"]}
    return photo(pair["photo"], pair["reference"], weights=weights, **{**maps, **RUN, **kw})


@pytest.mark.precision
def test_photo_gives_each_region_the_references_colours(pair, tiny_weights) -> None:
    result = _photo(pair, tiny_weights)
    out = result.tensor
    assert out.shape == (1, 3, 40, 40)
    assert "photo" in result.losses and result.losses["photo"] > 0
    top, bottom = out[0, :, :20].mean(dim=(1, 2)), out[0, :, 20:].mean(dim=(1, 2))
    assert top[0] > 0.75 and top[2] < 0.45  # the red evening sky
    assert bottom[2] > bottom[0] and bottom.mean() < 0.3  # the dark blue ground
    saved = json.loads(result.metadata()["impasto"])
    assert saved["config"]["photo_weight"] == photo_config().photo_weight > 0


@pytest.mark.precision
def test_photo_without_maps_is_one_region(pair, tiny_weights) -> None:
    result = photo(pair["photo"], pair["reference"], weights=tiny_weights, **RUN)
    assert result.tensor.shape == (1, 3, 40, 40)
    assert "photo" in result.losses


@pytest.mark.precision
def test_photo_resumed_equals_uninterrupted(pair, tiny_weights, tmp_path: Path) -> None:
    full = _photo(pair, tiny_weights)
    spec = Checkpointing(tmp_path / "ckpt", every=100)

    def stop(event: StepEvent) -> None:
        if event.step == 6:
            raise Cancelled("test stop")

    with pytest.raises(Cancelled):
        _photo(pair, tiny_weights, callback=stop, checkpoint=spec)
    resumed = resume(tmp_path / "ckpt", weights=tiny_weights)
    assert torch.equal(full.tensor, resumed.tensor)
    assert resumed.history == full.history


def test_photo_refuses_bad_maps_before_any_work(pair, tiny_weights, tmp_path: Path) -> None:
    steps: list[int] = []

    def run(**kw) -> None:
        args = {"content_mask": pair["photo_map"], "style_mask": pair["reference_map"], **kw}
        photo(pair["photo"], pair["reference"], weights=tiny_weights,
              callback=lambda e: steps.append(e.step), **args, **RUN)  # fmt: skip

    wide = np.zeros((48, 96, 3))
    wide[:, :48] = RED
    with pytest.raises(ConfigError, match="aspect ratios differ"):
        run(content_mask=_save(wide, tmp_path / "wide.png"))
    green = np.zeros((48, 48, 3))
    green[:24], green[24:] = GREEN, BLUE
    with pytest.raises(ConfigError, match="#00ff00"):  # the reference has no green region
        run(content_mask=_save(green, tmp_path / "green.png"))
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(InvalidImageError):
        run(style_mask=tmp_path / "text.png")
    with pytest.raises(ConfigError, match="both region maps"):
        run(style_mask=None)
    assert steps == []


@pytest.mark.precision
def test_a_colour_only_in_the_references_map_is_not_used(pair, tiny_weights, tmp_path) -> None:
    three = np.zeros((40, 40, 3))
    three[:20], three[20:], three[30:, 30:] = RED, BLUE, GREEN
    result = _photo(pair, tiny_weights, style_mask=_save(three, tmp_path / "three.png"))
    assert result.tensor.shape == (1, 3, 40, 40)


# -- impasto photo ---------------------------------------------------------------------------------
CLI_RUN = ["--size", "40", "--scales", "2", "--min-size", "24", "--steps", "4,4", "-q"]


def _photo_args(pair, weights_file, out, *extra) -> list:
    """`impasto photo` on the pair, writing ``out``, with ``extra`` options and CLI_RUN."""
    return [
        "photo",
        pair["photo"],
        pair["reference"],
        "-o",
        out,
        "--weights",
        weights_file,
        *extra,
        *CLI_RUN,
    ]


@pytest.mark.precision
def test_cli_photo_writes_the_picture_with_its_settings(pair, run_cli, weights_file, tmp_path):
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        _photo_args(
            pair,
            weights_file,
            out,
            "--content-mask",
            pair["photo_map"],
            "--style-mask",
            pair["reference_map"],
            "--photo-weight",
            "5e3",
        )
    )
    assert code == 0, err
    with Image.open(out) as img:
        saved = json.loads(img.info["impasto"])
    assert saved["config"]["photo_weight"] == 5e3
    assert saved["config"]["tv_weight"] == photo_config().tv_weight


def test_cli_photo_refuses_bad_maps_in_one_line(pair, run_cli, weights_file, tmp_path):
    out = tmp_path / "out.png"
    green = np.zeros((48, 48, 3))
    green[:24], green[24:] = GREEN, BLUE
    bad = _save(green, tmp_path / "green.png")
    (tmp_path / "text.png").write_text("not an image")
    cases = [
        (["--content-mask", bad, "--style-mask", pair["reference_map"]], "#00ff00"),
        (["--content-mask", pair["photo_map"], "--style-mask", tmp_path / "text.png"], ""),
        (["--content-mask", pair["photo_map"]], "both region maps"),
        (["--photo-weight", "-1"], "--photo-weight"),
    ]
    for extra, text in cases:
        code, _, err = run_cli(_photo_args(pair, weights_file, out, *extra))
        assert code == 2, err
        assert err.startswith("impasto: error:") and err.count("\n") == 1 and text in err
        assert not out.exists()


def test_the_progress_bar_shows_the_photo_term() -> None:
    from impasto.cli.shell import losses_text

    losses = {"total": 3.0, "content": 1.0, "style": 1.0, "tv": 0.0}
    assert "photo" not in losses_text("8x8", losses)
    assert losses_text("8x8", {**losses, "photo": 1.0}).endswith("photo=1")
