"""MVP's training losses: listwise soft-target cross-entropy and the anchors' orthogonality."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rank_targets(ranks: torch.Tensor, temperature: float = 0.8) -> torch.Tensor:
    """Soft targets softmax((1/rank) / T) over each list; ``ranks`` start at 1 (best)."""
    return F.softmax((1.0 / ranks.float()) / temperature, dim=-1)


def listwise_loss(scores: torch.Tensor, ranks: torch.Tensor, temperature: float = 0.8,
                  double_softmax: bool = False, target_temperature: float | None = None) -> torch.Tensor:
    """Cross-entropy between softmax(s/T) and softmax((1/rank)/T'), mean over the batch.

    ``scores`` and ``ranks`` are ``(B, N)``. T' is ``target_temperature`` when given, else T (the
    paper: both 0.8). ``double_softmax=True`` reproduces the authors' code, which feeds
    softmax(s/T) (probabilities) to a cross-entropy that applies log-softmax again: its gradient
    is much flatter because probabilities lie in [0, 1].
    """
    targets = rank_targets(ranks, target_temperature or temperature)
    logits = scores / temperature
    if double_softmax:
        logits = F.softmax(logits, dim=-1)
    return -(targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()


def orthogonal_loss(anchors: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ‖Â Âᵀ − I‖²_F, Â the L2-normalised ``(B, m, d)`` anchors."""
    a = F.normalize(anchors, dim=-1)
    gram = a @ a.transpose(-1, -2)
    eye = torch.eye(a.shape[-2], dtype=a.dtype, device=a.device)
    return ((gram - eye) ** 2).sum((-1, -2)).mean()


def mvp_loss(scores: torch.Tensor, anchors: torch.Tensor | None, ranks: torch.Tensor, temperature: float = 0.8,
             orth_weight: float = 1.0, double_softmax: bool = False,
             target_temperature: float | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts; ``anchors=None`` (the cross-encoder) skips the orthogonal term."""
    lst = listwise_loss(scores, ranks, temperature, double_softmax, target_temperature)
    total = lst
    parts = {"list": float(lst.detach())}
    if anchors is not None and orth_weight:
        orth = orthogonal_loss(anchors)
        total = total + orth_weight * orth
        parts["orth"] = float(orth.detach())
    return total, parts
