"""photo_epsilon: the regulariser of photo mode's matting Laplacian (Levin et al. 2008), one
setting threaded to every Laplacian a photo run builds (the realism term's targets and the
smoothed start); its default is Luan et al.'s 1e-7, the value before the setting existed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import impasto.api as api
import impasto.losses.targets as targets
from impasto import ConfigError, StyleConfig, photo, photo_config
from impasto.features.extractor import FeatureExtractor
from impasto.losses.functional import realism_loss
from impasto.losses.targets import StyleSource, TargetSources, scale_targets
from impasto.preprocess import matting
from impasto.web.form import form_fields, photo_form_fields

RUN = {"size": 32, "scales": 1, "steps": 3, "tol": 0.0, "precision": "fp32"}


def _photo_image(h: int = 24, w: int = 24, seed: int = 0) -> torch.Tensor:
    """Smooth colour ramps plus a little noise: eps matters where the windows are flat."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 + 0.3 * x * y])
    return (base + 0.02 * torch.rand(3, h, w, generator=g)).clamp(0, 1).unsqueeze(0)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    paths = {}
    for name, size in (("photo", (32, 32, 3)), ("reference", (24, 24, 3))):
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(paths[name])
    return paths


def test_the_default_is_the_laplacians_own_and_builds_the_same_bits() -> None:
    assert StyleConfig().photo_epsilon == photo_config().photo_epsilon == matting.EPSILON == 1e-7
    image = _photo_image()
    before = matting.matting_laplacian(image)  # as the code called it before the setting
    now = matting.matting_laplacian(image, StyleConfig().photo_epsilon)
    assert torch.equal(before.values(), now.values())
    assert torch.equal(before.col_indices(), now.col_indices())


@pytest.mark.parametrize("bad", [0, 0.0, -1, -1e-7, "x", math.nan, math.inf, True, None])
def test_a_bad_epsilon_is_refused_naming_the_value(bad: object) -> None:
    with pytest.raises(ConfigError, match="photo_epsilon must be a positive number, got ") as e:
        StyleConfig(photo_epsilon=bad)  # type: ignore[arg-type]
    assert repr(bad) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="photo_epsilon"):
        photo_config(photo_epsilon=bad)


def test_the_targets_laplacian_uses_the_configured_epsilon(tiny_weights) -> None:
    """scale_targets (what the run's targets_for calls) builds the Laplacian with the config's
    eps: the realism loss of one fixed image differs between two eps values, as it should."""
    content = _photo_image(24, 24, seed=1)
    extractor = FeatureExtractor(tiny_weights, ("relu1_1", "relu4_2"))
    sources = TargetSources(styles=[StyleSource(_photo_image(24, 24, seed=2))])
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    losses = {}
    for eps in (1e-7, 1e-5):
        cfg = StyleConfig(photo_weight=1.0, photo_epsilon=eps, style_layers=("relu1_1",))
        lap = scale_targets(extractor, cfg, sources, content, 24, 0).laplacian
        assert lap is not None
        expected = matting.matting_laplacian(content, eps)
        assert torch.equal(lap.values(), expected.values())
        losses[eps] = float(realism_loss(x, lap))
    # v^T M v is, window by window, min over (a, b) of |v - a.I - b|^2 + eps |a|^2 (Levin et
    # al. 2008, eq. 10-12): it can only grow with eps, the affine fit being held back.
    assert losses[1e-5] > losses[1e-7]
    no_photo = StyleConfig(photo_epsilon=1e-5, style_layers=("relu1_1",))
    assert scale_targets(extractor, no_photo, sources, content, 24, 0).laplacian is None


@pytest.mark.parametrize("eps", [1e-7, 3e-6])
def test_every_laplacian_a_photo_run_builds_takes_the_setting(
    files, tiny_weights, monkeypatch: pytest.MonkeyPatch, eps: float
) -> None:
    """Both places photo mode builds one: the realism term's targets and the smoothed start."""
    seen: dict[str, list[float]] = {"api": [], "targets": []}

    def spy(where: str):
        def build(image: torch.Tensor, eps: float = matting.EPSILON) -> torch.Tensor:
            seen[where].append(eps)
            return matting.matting_laplacian(image, eps)

        return build

    monkeypatch.setattr(api, "matting_laplacian", spy("api"))
    monkeypatch.setattr(targets, "matting_laplacian", spy("targets"))
    result = photo(
        files["photo"], files["reference"], weights=tiny_weights, photo_epsilon=eps, **RUN
    )
    assert seen["api"] == [eps] and seen["targets"] == [eps], seen
    assert result.config.photo_epsilon == eps
    assert "photo" in result.losses


def test_the_studio_forms_offer_it_next_to_the_photo_weight() -> None:
    for fields in (form_fields(), photo_form_fields()):
        names = [f["name"] for f in fields]
        assert names[names.index("photo_weight") + 1] == "photo_epsilon"
        entry = fields[names.index("photo_epsilon")]
        assert entry["default"] == 1e-7 and entry["help"].endswith("(default 1e-07)")
        assert "speckles" in entry["help"] and not entry["main"]


CLI_RUN = ["--size", "32", "--scales", "1", "--steps", "2", "--precision", "fp32", "-q"]


@pytest.mark.parametrize("command", ["photo", "stylize"])
@pytest.mark.parametrize(
    ("value", "shown"), [("0", "got 0"), ("-1", "got -1"), ("x", "'x'"), ("nan", "got nan")]
)
def test_the_cli_refuses_a_bad_epsilon_in_one_line(
    files, run_cli, weights_file, tmp_path: Path, command: str, value: str, shown: str
) -> None:
    out = tmp_path / "out.png"
    argv = [command, files["photo"], files["reference"], "-o", out, "--weights", weights_file]
    code, _, err = run_cli([*argv, f"--photo-epsilon={value}", *CLI_RUN])
    assert code == 2, err
    assert err.startswith("impasto: error:") and err.count("\n") == 1, err
    assert "--photo-epsilon" in err and shown in err, err
    assert not out.exists()


def test_the_cli_writes_the_epsilon_into_the_pictures_settings(
    files, run_cli, weights_file, tmp_path: Path
) -> None:
    out = tmp_path / "out.png"
    argv = ["photo", files["photo"], files["reference"], "-o", out, "--weights", weights_file]
    code, _, err = run_cli([*argv, "--photo-epsilon", "1e-5", *CLI_RUN])
    assert code == 0, err
    with Image.open(out) as img:
        saved = json.loads(img.info["impasto"])
    assert saved["config"]["photo_epsilon"] == 1e-5


def test_the_batch_key_has_it_only_where_not_the_default() -> None:
    """Batches written before the setting keep their items' keys (nothing runs again)."""
    from impasto.batch.manifest import Settings

    cfg = photo_config()
    plain = json.loads(Settings(cfg).to_json())["config"]
    # Absent at their defaults too: the --upscale route's fields (the batch refuses others).
    dropped = {"photo_epsilon", "upscale", "upscale_finetune"}
    assert plain == {k: v for k, v in cfg.to_dict().items() if k not in dropped}
    raised = Settings(cfg.replace(photo_epsilon=1e-5))
    assert json.loads(raised.to_json())["config"]["photo_epsilon"] == 1e-5
    assert raised.hash != Settings(cfg).hash
