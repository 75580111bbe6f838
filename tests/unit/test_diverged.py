"""A run whose loss becomes NaN or infinite fails at once with a typed one-line error naming
the likely setting, and writes nothing (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from impasto import stylize
from impasto.config import Optimizer
from impasto.errors import DivergedError
from impasto.features.weights import VGGWeights
from impasto.optim.loop import PixelOptimizer

RUN = {"size": 32, "scales": 1, "steps": 3, "precision": "fp32", "tol": 0.0}


@pytest.fixture(scope="module")
def loud_weights(tiny_weights: VGGWeights) -> VGGWeights:
    """The tiny net with every conv 60x stronger: activations grow ~60x a layer, so Gram
    matrices at relu2_1 reach ~1e13 and a large but allowed weight overflows float32."""
    convs = {k: (w * 60, b * 60) for k, (w, b) in tiny_weights.convs.items()}
    return VGGWeights(convs, tiny_weights.normalization, "loud")


@pytest.mark.parametrize(
    ("weights", "setting"),
    [({"style_weight": 1e30}, "style_weight"), ({"content_weight": 1e30}, "content_weight")],
)
def test_overflowing_loss_fails_before_the_first_step_naming_the_weight(
    loud_weights, content_tensor, style_tensor, weights, setting
) -> None:
    steps: list[int] = []
    with pytest.raises(DivergedError, match=setting) as caught:
        stylize(
            content_tensor,
            style_tensor,
            weights=loud_weights,
            callback=lambda e: steps.append(e.step),
            init="noise",
            **RUN,
            **weights,
        )
    assert steps == []  # no step was reported as done
    assert caught.value.step == 0 and "\n" not in str(caught.value)


def test_cli_refuses_an_overflowing_weight_and_writes_nothing(
    run_cli, content_path, style_path, weights_file, tmp_path: Path
) -> None:
    out = tmp_path / "out.png"
    argv = ["stylize", content_path, style_path, "-o", out, "--weights", weights_file]
    code, _, err = run_cli([*argv, "--size", "32", "--style-weight", "1e308", "-q"])
    assert code == 2
    assert "--style-weight must be at most 1e+30" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.glob("*.tmp*")) == []


def _parabola_nan_beyond(limit: float):
    """sum (x - 1)^2, whose minimum lies beyond ``limit`` where the value is NaN."""

    def objective(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        value = ((x - 1.0) ** 2).sum()
        if bool((x > limit).any()):
            value = value * float("nan")
        return value, {"total": value}

    return objective


def test_lbfgs_rejects_nan_trial_points_and_keeps_a_finite_image() -> None:
    x0 = torch.full((1, 3, 4, 4), 0.1)
    opt = PixelOptimizer(x0, _parabola_nan_beyond(0.5), optimizer=Optimizer.LBFGS, lr=1.0)
    x = opt.run(10)
    assert torch.isfinite(x).all() and float(x.max()) <= 0.5
    assert opt.losses[-1] < opt.losses[0]  # it still made progress where the loss is finite


def test_adam_stops_at_a_nan_loss() -> None:
    x0 = torch.full((1, 3, 4, 4), 0.45)
    opt = PixelOptimizer(x0, _parabola_nan_beyond(0.5), optimizer=Optimizer.ADAM, lr=0.05)
    with pytest.raises(DivergedError, match="nan"):
        opt.run(50)


def test_a_run_that_diverges_on_resume_leaves_its_checkpoint_intact(
    tiny_weights, loud_weights, content_tensor, style_tensor, tmp_path: Path
) -> None:
    from impasto import Cancelled, Checkpointing, resume
    from impasto.optim.checkpoint import FILE

    def stop_at_3(event) -> None:
        if event.step == 3:
            raise Cancelled("test stop")

    spec = Checkpointing(tmp_path / "ckpt", every=100)
    with pytest.raises(Cancelled):
        stylize(
            content_tensor, style_tensor, weights=tiny_weights, optimizer="adam",
            style_weight=1e30, init="noise", callback=stop_at_3, checkpoint=spec,
            **{**RUN, "steps": 6},
        )  # fmt: skip
    saved = (tmp_path / "ckpt" / FILE).read_bytes()
    with pytest.raises(DivergedError, match="style_weight"):
        resume(tmp_path / "ckpt", weights=loud_weights)  # the same run, now overflowing
    assert (tmp_path / "ckpt" / FILE).read_bytes() == saved
