"""Optimising the pixels of one image at one size, resumably.

Both optimisers minimise the objective divided by its value at the start. Gatys-scale losses
are large and vary by orders of magnitude with the weights and the image; dividing makes the
step sizes and tolerances mean the same for every setting (docs/performance.md: at the raw
scale plain L-BFGS diverges). A loss that is NaN or infinite where there is no earlier point to
return to (the start; any Adam step) stops the run with DivergedError.

L-BFGS is implemented here rather than taken from ``torch.optim.LBFGS`` so that every iteration
costs exactly one forward and backward pass (torch's runs the whole budget inside one ``step``
call and re-evaluates at each call) and so that its whole state can be saved between any two
iterations and restored bit for bit: a checkpointed run resumes to the same image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol, TypedDict

import torch

from impasto.config import Optimizer
from impasto.errors import DivergedError


class Differentiable(Protocol):
    """An objective that computes its own gradient (whole-image or tiled)."""

    def value_and_grad(
        self, image: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]: ...


Objective = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]] | Differentiable
OnStep = Callable[[int, dict[str, float], torch.Tensor], None]


class OptimizerState(TypedDict):
    """:class:`PixelOptimizer`'s state, as a checkpoint keeps it (plain values and tensors)."""

    x: torch.Tensor
    steps: int
    evaluations: int
    scale: float
    losses: list[float]
    f: torch.Tensor | None
    g: torch.Tensor | None
    terms: dict[str, float]
    s: list[torch.Tensor]
    y: list[torch.Tensor]
    h_diag: float
    growth: float
    adam: dict[str, Any] | None  # torch.optim.Adam's own state_dict
    shown: torch.Tensor
    best: torch.Tensor
    best_f: float


class PixelOptimizer:
    """Optimises a tensor (an image (1, 3, H, W), or any other signal) against ``objective``,
    kept within ``bounds`` (pixels: [0, 1]; None: unbounded, e.g. a log spectrogram).

    ``run`` may be called again after it returns or after ``on_step`` raised (the state is
    consistent between iterations); ``state_dict``/``load_state_dict`` save and restore it.
    One *step* is one iteration: for L-BFGS one evaluation of the objective (a forward and
    backward pass) when the step is accepted at once, as it nearly always is, plus one at the
    start; ``evaluations`` counts them all.
    """

    FIRST_MOVE = 0.02
    MAX_GROWTH = 2.0**20

    def __init__(
        self,
        x0: torch.Tensor,
        objective: Objective,
        *,
        optimizer: Optimizer,
        lr: float,
        history_size: int = 20,
        bounds: tuple[float, float] | None = (0.0, 1.0),
    ) -> None:
        self.objective = objective
        self.bounds = bounds
        self.kind = optimizer
        self.lr = lr
        self.history_size = history_size
        self.x = self._project(x0.detach().clone())
        self.steps = 0  # iterations so far
        self.evaluations = 0
        self.scale = 0.0  # the objective's value at the start
        self.losses: list[float] = []  # normalised loss after each accepted iteration
        # L-BFGS state: loss and gradient at x, curvature pairs, initial Hessian scale.
        self.f: torch.Tensor | None = None
        self.g: torch.Tensor | None = None
        self.terms: dict[str, float] = {}
        self.s: list[torch.Tensor] = []
        self.y: list[torch.Tensor] = []
        self.h_diag = 1.0
        self.growth = 1.0  # multiplies the first step while no curvature pair is kept
        self.shown = self.x  # the image the latest terms were evaluated at
        self.best = self.x  # Adam: the evaluated image with the lowest loss so far
        self.best_f = float("inf")
        self.adam: torch.optim.Adam | None = None
        self._param: torch.Tensor | None = None

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` clamped into the bounds, in place."""
        return x if self.bounds is None else x.clamp_(*self.bounds)

    # -- evaluation ------------------------------------------------------------------------
    def _evaluate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Normalised loss, its gradient and the weighted terms at ``x``."""
        if hasattr(self.objective, "value_and_grad"):  # an Objective, tiled or not
            total, grad, terms = self.objective.value_and_grad(x)
        else:  # a plain callable (total, terms), differentiated here
            assert callable(self.objective)
            xv = x.detach().requires_grad_(True)
            total, terms = self.objective(xv)
            (grad,) = torch.autograd.grad(total, xv)
        if self.scale == 0.0:
            value = float(total.detach())
            if not math.isfinite(value):  # at the start: nothing to fall back to
                raise self.diverged(value, terms)
            self.scale = value if value > 0 else 1.0
        self.evaluations += 1
        scaled = (total.detach() / self.scale, grad / self.scale)
        return scaled[0], scaled[1], {k: float(v.detach()) for k, v in terms.items()}

    def diverged(
        self, value: float, terms: dict[str, torch.Tensor] | dict[str, float]
    ) -> DivergedError:
        """The error for a loss of ``value`` (NaN or infinite), naming the terms that are."""
        bad = [k for k, v in terms.items() if k != "total" and not math.isfinite(float(v))]
        return DivergedError(
            f"the loss became {value} ({', '.join(bad) or 'total'} term) at step {self.steps}",
            step=self.steps,
            terms=tuple(bad),
        )

    # -- L-BFGS ----------------------------------------------------------------------------
    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        """Two-loop recursion (Nocedal & Wright, algorithm 7.4): d = -H g."""
        q = -g.flatten()
        alphas = []
        for s, y in zip(reversed(self.s), reversed(self.y), strict=True):
            rho = 1.0 / float(torch.dot(y, s))
            a = rho * float(torch.dot(s, q))
            alphas.append((a, rho))
            q = q - a * y
        r = q * self.h_diag
        for (s, y), (a, rho) in zip(
            zip(self.s, self.y, strict=True), reversed(alphas), strict=True
        ):
            b = rho * float(torch.dot(y, r))
            r = r + (a - b) * s
        return r.view_as(g)

    def _first_step(self, g: torch.Tensor) -> float:
        """Step length along -g for an iteration without curvature pairs.

        torch's and Lua optim's L-BFGS move by lr/|g|_1, which in a megapixel image is a
        near-zero move: the curvature pair it yields then scales every later step down and
        the run crawls for dozens of steps. A move of at most ``FIRST_MOVE`` per pixel (in
        [0, 1] units) is small enough to be safe and large enough to measure curvature.
        """
        return self.FIRST_MOVE * self.lr * self.growth / max(float(g.abs().max()), 1e-30)

    def _grow(self, halvings: int) -> None:
        """After a first step whose curvature pair was not kept (the loss curves down along
        it, as a Gram loss does where the output has less energy than the style): the next
        first step twice as long if this one was accepted at once, shorter by its halvings
        otherwise. Without it such a run repeats the same small move for good (an audio run
        lowered its style loss by 13% in 20 steps)."""
        self.growth = min(self.growth * 2.0 ** (1 - halvings), self.MAX_GROWTH)

    def _lbfgs_iteration(self) -> None:
        if self.f is None or self.g is None:
            self.f, self.g, self.terms = self._evaluate(self.x)
        f, g = self.f, self.g
        first = not self.s
        if self.s:
            d = self._direction(g)
            t = self.lr
        else:
            d = -g
            t = self._first_step(g)
        gtd = float((g * d).sum())
        if gtd > -1e-12:  # not a descent direction: forget the curvature and restart
            self.s.clear()
            self.y.clear()
            d = -g
            gtd = float((g * d).sum())
            t = self._first_step(g)
            first = True
        # Backtracking (Armijo): with good curvature the full step is accepted at once, so an
        # iteration costs one evaluation; a bad step is halved instead of being taken.
        for halvings in range(8):  # noqa: B007 (the count is used after the loop)
            # Projected onto the valid pixel range: what is optimised is what gets saved, so
            # no clamp at the end can undo the optimisation.
            x_new = self._project(self.x + t * d)
            f_new, g_new, terms = self._evaluate(x_new)
            if float(f_new) <= float(f) + 1e-4 * t * gtd:
                break
            t *= 0.5
        else:
            if not float(f_new) < float(f):  # no progress (or NaN): reset, keep the old point
                self.s.clear()
                self.y.clear()
                return
        s = (x_new - self.x).flatten()
        y = (g_new - g).flatten()
        ys = float(torch.dot(y, s))
        if ys > 1e-10:
            if len(self.s) == self.history_size:
                self.s.pop(0)
                self.y.pop(0)
            self.s.append(s)
            self.y.append(y)
            self.h_diag = ys / float(torch.dot(y, y))
            self.growth = 1.0
        elif first:
            self._grow(halvings)
        self.x, self.f, self.g, self.terms = x_new, f_new, g_new, terms
        self.shown = self.best = x_new

    # -- Adam ------------------------------------------------------------------------------
    def _adam_iteration(self) -> None:
        if self.adam is None:
            self._param = self.x.clone().requires_grad_(True)
            self.adam = torch.optim.Adam([self._param], lr=self.lr)
        assert self._param is not None
        f, g, self.terms = self._evaluate(self._param)
        if not math.isfinite(float(f)):  # Adam has no line search to step back with
            raise self.diverged(float(f) * self.scale, self.terms)
        self.shown = self._param.detach().clone()
        if float(f) < self.best_f:  # Adam does not descend monotonically: keep the best
            self.best, self.best_f = self.shown, float(f)
        self._param.grad = g
        self.adam.step()
        with torch.no_grad():
            self._project(self._param)
        self.f = f
        self.x = self._param.detach().clone()

    # -- driver ----------------------------------------------------------------------------
    def run(
        self,
        steps: int,
        on_step: OnStep | None = None,
        tol: float = 0.0,
        window: int = 10,
    ) -> torch.Tensor:
        """Iterate until ``steps`` iterations are done in all, or until the loss improved by
        less than ``tol`` (relative) over the last ``window`` iterations. Returns the image."""
        while self.steps < steps and not self.converged(tol, window):
            if self.kind is Optimizer.LBFGS:
                self._lbfgs_iteration()
            else:
                self._adam_iteration()
            assert self.f is not None
            self.steps += 1
            self.losses.append(float(self.f))
            if on_step is not None:
                on_step(self.steps, self.terms, self.shown)
        return self.best

    def converged(self, tol: float, window: int = 10) -> bool:
        """Whether the loss improved by less than ``tol`` (relative) in ``window`` iterations.

        Checked before each iteration, so a run restored from a checkpoint decides exactly
        as the uninterrupted one did."""
        if tol <= 0 or len(self.losses) <= window:
            return False
        old, new = self.losses[-window - 1], self.losses[-1]
        return old - new < tol * abs(new)

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> OptimizerState:
        return {
            "x": self.x,
            "steps": self.steps,
            "evaluations": self.evaluations,
            "scale": self.scale,
            "losses": list(self.losses),
            "f": self.f,
            "g": self.g,
            "terms": dict(self.terms),
            "s": list(self.s),
            "y": list(self.y),
            "h_diag": self.h_diag,
            "growth": self.growth,
            "adam": self.adam.state_dict() if self.adam is not None else None,
            "shown": self.shown,
            "best": self.best,
            "best_f": self.best_f,
        }

    def load_state_dict(self, state: OptimizerState) -> None:
        self.x = state["x"].clone()
        self.steps = int(state["steps"])
        self.evaluations = int(state["evaluations"])
        self.scale = float(state["scale"])
        self.losses = list(state["losses"])
        self.f, self.g = state["f"], state["g"]
        self.terms = dict(state["terms"])
        self.s, self.y = list(state["s"]), list(state["y"])
        self.h_diag = float(state["h_diag"])
        self.growth = float(state.get("growth", 1.0))  # checkpoints written before it: 1
        self.shown, self.best = state["shown"].clone(), state["best"].clone()
        self.best_f = float(state["best_f"])
        if state["adam"] is not None:
            self._param = self.x.clone().requires_grad_(True)
            self.adam = torch.optim.Adam([self._param], lr=self.lr)
            self.adam.load_state_dict(state["adam"])


def optimize(
    x0: torch.Tensor,
    objective: Objective,
    *,
    optimizer: Optimizer,
    lr: float,
    steps: int,
    on_step: OnStep | None = None,
    tol: float = 0.0,
) -> torch.Tensor:
    """Run ``steps`` iterations on ``objective`` from ``x0``.

    Returns the best image evaluated: for L-BFGS, which accepts only steps that lower the
    loss, the final one; for Adam the one with the lowest loss. ``x0`` is not modified.
    ``on_step`` gets (1-based step, weighted loss terms, image) after each iteration.
    """
    opt = PixelOptimizer(x0, objective, optimizer=optimizer, lr=lr)
    return opt.run(steps, on_step, tol=tol).clone()
