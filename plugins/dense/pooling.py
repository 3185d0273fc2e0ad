"""Pooling: token states ``(B, T, H)`` to one vector per text ``(B, H)``.

The one implementation, used by :class:`~viewrank.plugins.dense.embedder.DenseEmbedder` (and the
embedders built on it) and by the exported ONNX graph (:mod:`viewrank.exporters.graphs`), so the
graph pools exactly as the model does. It is traceable: no branch depends on tensor values.
"""

from __future__ import annotations

from typing import Literal

import torch

from viewrank.errors import ViewrankError

Pooling = Literal["mean", "cls", "last"]
POOLINGS = ("mean", "cls", "last")


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """Pool token states ``(B, T, H)`` to ``(B, H)``; ``last`` takes the last non-pad token."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if pooling == "last":
        # the highest position holding a token: ``sum - 1`` with right padding, the last column
        # with left padding (decoder LMs); one formula for both, so a traced graph keeps it
        positions = torch.arange(mask.size(1), device=mask.device)
        idx = (mask.long() * positions).amax(1)
        return hidden[torch.arange(hidden.size(0), device=hidden.device), idx]
    raise ViewrankError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
