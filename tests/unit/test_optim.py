"""The optimisation loop (optim/loop.py) on simple objectives, and StepEvent."""

from __future__ import annotations

import math

import pytest
import torch

from impasto.config import Optimizer
from impasto.optim.events import StepEvent
from impasto.optim.loop import PixelOptimizer, optimize

TARGET = 0.3


def quadratic(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """((x - 0.3)^2).sum(), with the named terms the loop expects."""
    total = ((x - TARGET) ** 2).sum()
    zero = total.new_zeros(())
    return total, {"total": total, "content": total, "style": zero, "tv": zero}


class Recorder:
    """An on_step callback that keeps every call."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.losses: list[dict[str, float]] = []
        self.images: list[torch.Tensor] = []

    def __call__(self, step: int, losses: dict[str, float], image: torch.Tensor) -> None:
        self.steps.append(step)
        self.losses.append(losses)
        self.images.append(image.clone())


def _x0() -> torch.Tensor:
    return torch.rand(1, 3, 6, 5, generator=torch.Generator().manual_seed(0))


SETTINGS = [(Optimizer.LBFGS, 1.0, 8), (Optimizer.ADAM, 0.05, 12)]
IDS = ["lbfgs", "adam"]


@pytest.mark.parametrize(("opt", "lr", "steps"), SETTINGS, ids=IDS)
def test_optimize_lowers_loss(opt: Optimizer, lr: float, steps: int) -> None:
    x0 = _x0()
    rec = Recorder()
    out = optimize(x0, quadratic, optimizer=opt, lr=lr, steps=steps, on_step=rec)
    start = float(quadratic(x0)[0])
    end = float(quadratic(out)[0])
    assert end < 0.5 * start
    assert rec.losses[-1]["total"] < 0.5 * start


def test_lbfgs_solves_quadratic() -> None:
    out = optimize(_x0(), quadratic, optimizer=Optimizer.LBFGS, lr=1.0, steps=10)
    torch.testing.assert_close(out, torch.full_like(out, TARGET), atol=1e-4, rtol=0)


# Contract: one on_step per step (one forward + backward pass), numbered 1..steps. The progress
# bar, --save-every N and StepEvent.eta all count on it.
@pytest.mark.parametrize(("opt", "lr", "steps"), SETTINGS, ids=IDS)
@pytest.mark.parametrize("n", [1, 3])
def test_on_step_called_exactly_steps_times(opt: Optimizer, lr: float, steps: int, n: int) -> None:
    for count in (n, steps):
        rec = Recorder()
        optimize(_x0(), quadratic, optimizer=opt, lr=lr, steps=count, on_step=rec)
        assert rec.steps == list(range(1, count + 1))


@pytest.mark.parametrize(("opt", "lr", "steps"), SETTINGS, ids=IDS)
def test_objective_evaluated_within_budget(opt: Optimizer, lr: float, steps: int) -> None:
    calls = 0

    def counting(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        nonlocal calls
        calls += 1
        return quadratic(x)

    optimize(_x0(), counting, optimizer=opt, lr=lr, steps=steps)
    # One step = one iteration; L-BFGS evaluates once more at the start (its first gradient).
    assert steps <= calls <= steps + (1 if opt is Optimizer.LBFGS else 0)


def test_lbfgs_keeps_going_after_reaching_the_minimum() -> None:
    """A zero gradient ends L-BFGS's inner loop; the budget is still spent, without errors."""
    x0 = torch.full((1, 3, 2, 2), TARGET)
    rec = Recorder()
    out = optimize(x0, quadratic, optimizer=Optimizer.LBFGS, lr=1.0, steps=4, on_step=rec)
    assert rec.steps == sorted(set(rec.steps)) and rec.steps[-1] == 4
    torch.testing.assert_close(out, x0)


# Contract: the result is the best image evaluated, not merely the last one.
@pytest.mark.parametrize(("opt", "lr", "steps"), SETTINGS, ids=IDS)
def test_returns_best_image_seen(opt: Optimizer, lr: float, steps: int) -> None:
    rec = Recorder()
    out = optimize(_x0(), quadratic, optimizer=opt, lr=lr, steps=steps, on_step=rec)
    totals = [d["total"] for d in rec.losses]
    best = min(range(len(totals)), key=totals.__getitem__)
    assert torch.equal(out, rec.images[best])
    assert float(quadratic(out)[0]) == pytest.approx(min(totals))


def test_returns_best_not_last_when_steps_overshoot() -> None:
    # Adam with a huge learning rate oscillates: the last image is not the best one.
    rec = Recorder()
    out = optimize(_x0(), quadratic, optimizer=Optimizer.ADAM, lr=5.0, steps=6, on_step=rec)
    totals = [d["total"] for d in rec.losses]
    assert totals[-1] > min(totals)
    assert float(quadratic(out)[0]) == pytest.approx(min(totals))


@pytest.mark.parametrize(("opt", "lr", "steps"), SETTINGS, ids=IDS)
def test_does_not_modify_x0_and_returns_new_tensor(opt: Optimizer, lr: float, steps: int) -> None:
    x0 = _x0()
    before = x0.clone()
    out = optimize(x0, quadratic, optimizer=opt, lr=lr, steps=steps)
    assert torch.equal(x0, before)
    assert not x0.requires_grad and x0.grad is None
    assert out.data_ptr() != x0.data_ptr()
    assert not out.requires_grad
    assert out.shape == x0.shape


def test_loss_scale_does_not_change_lbfgs_path() -> None:
    """The loop divides by the starting loss, so a 1e9 times larger objective takes the same
    steps (docs/performance.md: the raw Gatys scale makes plain L-BFGS diverge)."""

    def big(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total, _ = quadratic(x)
        total = total * 1e9
        return total, {"total": total, "content": total, "style": total * 0, "tv": total * 0}

    small_out = optimize(_x0(), quadratic, optimizer=Optimizer.LBFGS, lr=1.0, steps=5)
    big_out = optimize(_x0(), big, optimizer=Optimizer.LBFGS, lr=1.0, steps=5)
    torch.testing.assert_close(big_out, small_out, atol=1e-4, rtol=0)
    assert float(quadratic(big_out)[0]) < 1e-3 * float(quadratic(_x0())[0])


def test_zero_start_loss_is_safe() -> None:
    def zero(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total = (x * 0).sum()
        return total, {"total": total, "content": total, "style": total, "tv": total}

    for opt in Optimizer:
        out = optimize(_x0(), zero, optimizer=opt, lr=0.1, steps=3)
        assert torch.isfinite(out).all()


def test_callback_exception_propagates() -> None:
    class Stop(Exception):
        pass

    def stop_at_two(step: int, losses: dict[str, float], image: torch.Tensor) -> None:
        if step == 2:
            raise Stop

    for opt in Optimizer:
        with pytest.raises(Stop):
            optimize(_x0(), quadratic, optimizer=opt, lr=0.1, steps=10, on_step=stop_at_two)


# -- StepEvent -----------------------------------------------------------------------------------


def _event(step: int, total: int, elapsed: float) -> StepEvent:
    return StepEvent(
        step=step,
        total_steps=total,
        scale=0,
        scales=1,
        size=(4, 4),
        losses={"total": 1.0},
        elapsed=elapsed,
        image=torch.zeros(1, 3, 4, 4),
    )


def test_step_event_eta() -> None:
    assert _event(2, 10, 4.0).eta == pytest.approx(16.0)
    assert _event(10, 10, 7.0).eta == 0.0
    assert math.isnan(_event(0, 10, 0.0).eta)


@pytest.mark.parametrize("kind", [Optimizer.LBFGS, Optimizer.ADAM])
def test_unbounded_signals_leave_the_pixel_range(kind: Optimizer) -> None:
    """bounds=None optimises any signal (e.g. a log spectrogram), not just pixels in [0, 1]."""

    def objective(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        value = ((x + 2.0) ** 2).sum()
        return value, {"total": value}

    x0 = torch.zeros(1, 1, 8)
    lr = 1.0 if kind is Optimizer.LBFGS else 0.1
    bounded = PixelOptimizer(x0, objective, optimizer=kind, lr=lr).run(60)
    free = PixelOptimizer(x0, objective, optimizer=kind, lr=lr, bounds=None).run(60)
    assert float(bounded.min()) == 0.0
    assert float((free + 2.0).abs().max()) < 0.1


def _louder(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(q - |x|^2)^2 / q^2 with q a hundred times the start's energy: a Gram-like loss that
    curves down along its gradient until |x|^2 = q/3 (the output has far less energy than the
    target), as an audio transfer's style term does from a quiet content."""
    q = 100.0 * 0.25 * x.numel()
    value = (q - (x**2).sum()) ** 2 / q**2
    return value, {"total": value}


def _state_loss(opt: PixelOptimizer) -> float:
    return float(_louder(opt.x)[0])


def test_lbfgs_lengthens_its_first_step_where_the_loss_curves_down() -> None:
    """Where no curvature pair can be kept (y.s < 0), the first step doubles while it is
    accepted at once; a fixed first step crawls (0.02 a step, and 0.5 to 2.9 is 120 steps)."""
    x0 = torch.full((1, 1, 100, 100), 0.5)
    opt = PixelOptimizer(x0, _louder, optimizer=Optimizer.LBFGS, lr=1.0, bounds=None)
    opt.run(20)
    assert _state_loss(opt) < 1e-3 * float(_louder(x0)[0])


def test_first_step_growth_is_kept_by_a_checkpoint() -> None:
    x0 = torch.full((1, 1, 100, 100), 0.5)
    full = PixelOptimizer(x0, _louder, optimizer=Optimizer.LBFGS, lr=1.0, bounds=None)
    full.run(6)
    part = PixelOptimizer(x0, _louder, optimizer=Optimizer.LBFGS, lr=1.0, bounds=None)
    part.run(3)
    assert part.growth > 1.0  # the three steps were in the region where the loss curves down
    resumed = PixelOptimizer(x0, _louder, optimizer=Optimizer.LBFGS, lr=1.0, bounds=None)
    resumed.load_state_dict(part.state_dict())
    resumed.run(6)
    assert torch.equal(full.x, resumed.x)
