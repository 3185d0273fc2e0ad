"""Weight averaging over the tail of training (``--average-last``), in the manner of stochastic
weight averaging (Izmailov et al. 2018) and checkpoint averaging.

The CPU recipes' run-to-run spread on SciFact test is as large as the differences between
recipes (docs/mvp-results.md: 0.7442-0.7664 over six seeds of one recipe), and the checkpoint the trainer
keeps is chosen on 50 held-out train queries, a noisy guide. ``TailAverage`` keeps a uniform
running mean of every floating parameter over the last ``fraction`` of the planned steps; at the
end of training the mean is the model that is saved. Integer buffers are left as they are.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


class TailAverage:
    """A running mean of ``model``'s floating parameters over the steps after ``(1 - fraction)`` of the plan."""

    def __init__(self, model: nn.Module, fraction: float) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction {fraction}: must be in [0, 1]")
        self.fraction = fraction
        self.params = {name: p for name, p in model.named_parameters() if torch.is_floating_point(p)}
        self.mean: dict[str, torch.Tensor] = {}
        self.count = 0
        self.first_step = 0

    def starts_at(self, total: int) -> int:
        """The first step (1-based, counted after the update) that enters the mean, for a plan of ``total`` steps."""
        return total - max(1, round(self.fraction * total)) + 1

    @torch.no_grad()
    def update(self, step: int, total: int) -> None:
        """Add the weights after step ``step`` (1-based) of a plan of ``total`` steps, if it is in the tail."""
        if not self.fraction or step < self.starts_at(total):
            return
        if not self.count:
            self.first_step = step
            self.mean = {name: p.detach().float().clone() for name, p in self.params.items()}
        else:
            names = list(self.params)
            means = [self.mean[n] for n in names]
            torch._foreach_lerp_(means, [self.params[n].detach().float() for n in names], 1.0 / (self.count + 1))
        self.count += 1

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block the model holds the mean; its own weights come back afterwards."""
        if not self.count:
            raise RuntimeError("no step has entered the average yet")
        saved = {name: p.detach().clone() for name, p in self.params.items()}
        self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in self.params.items():
                    p.copy_(saved[name])

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Replace the model's weights by the mean, for good."""
        for name, p in self.params.items():
            p.copy_(self.mean[name].to(p.dtype))

    def state_dict(self) -> dict:
        return {"count": self.count, "first_step": self.first_step,
                "mean": {n: t.detach().cpu() for n, t in self.mean.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.count, self.first_step = state["count"], state["first_step"]
        device = {n: p.device for n, p in self.params.items()}
        self.mean = {n: t.to(device[n]) for n, t in state["mean"].items()}
