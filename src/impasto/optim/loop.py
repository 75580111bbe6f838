"""Optimising the pixels of one image at one size.

Both optimisers minimise the objective divided by its value at the start. Gatys-scale losses
are large and vary by orders of magnitude with the weights and the image; dividing makes the
step sizes and tolerances of L-BFGS mean the same for every setting (see ARCHITECTURE.md: the
raw scale makes plain L-BFGS diverge).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from impasto.config import Optimizer

Objective = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]
OnStep = Callable[[int, dict[str, float], torch.Tensor], None]


class _Done(Exception):
    """Raised inside the L-BFGS closure when the step budget is spent."""


def optimize(
    x0: torch.Tensor,
    objective: Objective,
    *,
    optimizer: Optimizer,
    lr: float,
    steps: int,
    on_step: OnStep | None = None,
) -> torch.Tensor:
    """Run ``steps`` evaluations of ``objective`` from ``x0`` and return the best image seen.

    Args:
        x0: (1, 3, H, W) start image; not modified.
        objective: image → (total, named terms).
        optimizer: L-BFGS (with a strong-Wolfe line search) or Adam.
        lr: L-BFGS's initial step length or Adam's learning rate (pixels in [0, 1]).
        steps: the number of objective evaluations (forward + backward passes) to spend.
        on_step: called after each evaluation with (1-based step, losses, current image).
    Returns:
        A new (1, 3, H, W) tensor: the evaluated image with the lowest total loss.
    """
    x = x0.detach().clone().requires_grad_(True)
    best = x.detach().clone()
    best_loss = float("inf")
    scale = 0.0
    count = 0

    def evaluate() -> torch.Tensor:
        nonlocal best, best_loss, scale, count
        if count >= steps:
            raise _Done
        total, terms = objective(x)
        value = float(total.detach())
        if count == 0:
            # Never divide by zero: a perfect start still takes (useless) steps safely.
            scale = value if value > 0 and torch.isfinite(total) else 1.0
        loss = total / scale
        x.grad = None
        loss.backward()
        count += 1
        if value < best_loss:
            best_loss = value
            best = x.detach().clone()
        if on_step is not None:
            on_step(count, {k: float(v.detach()) for k, v in terms.items()}, x.detach())
        return loss

    if optimizer is Optimizer.LBFGS:
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [x],
            lr=lr,
            max_iter=steps,
            max_eval=steps + 1,
            tolerance_grad=0.0,
            tolerance_change=0.0,
            history_size=100,
            line_search_fn="strong_wolfe",
        )
        try:
            while count < steps:
                before = count
                opt.step(evaluate)  # type: ignore[arg-type]
                if count == before:
                    break
        except _Done:
            pass
    else:
        opt = torch.optim.Adam([x], lr=lr)
        try:
            while count < steps:
                evaluate()
                opt.step()
        except _Done:
            pass
    return best
