"""Regularisation toward the starting weights (L2-SP, Li et al. 2018), in decoupled form.

Fine-tuning a general backbone on one small collection moves it away from what made it general
(docs/mvp-results.md, CISI). ``StartPull`` keeps a copy of the backbone's weights at the start of
training and, after each optimiser step, moves every backbone weight back toward its start:
``w <- w - lr * rate * (w - w0)``, with ``lr`` the step's scheduled backbone learning rate. This is
the L2-SP penalty ``rate/2 * ||w - w0||^2`` applied the way AdamW applies weight decay (decoupled
from the adaptive step, so the pull does not depend on the gradients' scale). The head has no
pretrained start and is left alone; MVP's view-token embeddings, rows of the backbone's
embedding matrix, are pulled toward the values they were initialised with.
"""

from __future__ import annotations

import torch
from torch import nn

HEAD_PREFIX = "head."


class StartPull:
    """Pulls the non-head parameters of ``model`` toward ``start``'s values of the same names."""

    def __init__(self, model: nn.Module, start: nn.Module, rate: float) -> None:
        if rate < 0:
            raise ValueError(f"rate {rate}: must be >= 0")
        self.rate = rate
        origin = dict(start.named_parameters())
        self.start: dict[str, torch.Tensor] = {}
        self.pairs: list[tuple[nn.Parameter, torch.Tensor]] = []
        for name, param in model.named_parameters():
            if name.startswith(HEAD_PREFIX):
                continue
            if name not in origin or origin[name].shape != param.shape:
                raise ValueError(f"the starting model has no parameter {name} of shape {tuple(param.shape)}")
            self.start[name] = origin[name].detach().to(param.device, copy=True)
            self.pairs.append((param, self.start[name]))

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """Apply one step's pull at the backbone's current learning rate ``lr``."""
        if not self.rate or not self.pairs:
            return
        params = [p for p, _ in self.pairs]
        diffs = torch._foreach_sub(params, [s for _, s in self.pairs])
        torch._foreach_add_(params, diffs, alpha=-lr * self.rate)

    @torch.no_grad()
    def drift(self, model: nn.Module) -> float:
        """How far ``model``'s backbone is from the start: ``||w - w0|| / ||w0||`` over all its parameters."""
        moved = size = 0.0
        for name, param in model.named_parameters():
            if name in self.start:
                start = self.start[name]
                moved += float((param.detach().to(start.device) - start).pow(2).sum())
                size += float(start.pow(2).sum())
        return (moved / size) ** 0.5 if size else 0.0
