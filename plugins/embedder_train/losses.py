"""The contrastive objective of ``viewrank train embedder`` and the two KaLM-Embedding-V2 tricks.

- :func:`info_nce`: InfoNCE over a query x candidates similarity matrix (in-batch positives of the
  other queries + mined hard negatives), with a mask for false negatives and optional focal
  reweighting of each query's loss by ``(1 - p_pos) ** gamma`` (KaLM-Embedding-V2).
- :func:`focal_weights`: that weight alone (detached, so it scales the gradient, never receives one).
- :func:`mix_negatives`: online hard-negative mixing: ``k`` synthetic negatives per query, each the
  normalised convex mixture of two of its hardest negatives' embeddings (detached, as MoCHi).
- :func:`distill_kl`: KL(teacher || student) over each query's group of candidates, the teacher's
  scores softened by their own temperature, the student's cosines by the InfoNCE temperature.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_weights(p_pos: torch.Tensor, gamma: float) -> torch.Tensor:
    """``(1 - p_pos) ** gamma``, detached: an easy example (``p_pos`` near 1) weighs almost nothing."""
    return (1.0 - p_pos.detach()).clamp(min=0.0) ** gamma


def info_nce(q: torch.Tensor, d: torch.Tensor, positives: torch.Tensor, temperature: float,
             mask: torch.Tensor | None = None, focal: float = 0.0,
             extra: torch.Tensor | None = None, extra_valid: torch.Tensor | None = None,
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean InfoNCE of queries ``q (B, H)`` over candidates ``d (N, H)`` (unit vectors).

    ``positives[i]``: the column of query i's positive. ``mask (B, N)``: True where a candidate
    must not count as a negative (a judged positive of the query, a filtered false negative); the
    positive's own column is never masked. ``extra (B, K, H)``: per-query synthetic negatives,
    ``extra_valid (B, K)`` which of them count.
    Returns ``(loss, p_pos)``, ``p_pos`` the softmax probability of each positive.
    """
    logits = q @ d.T / temperature
    rows = torch.arange(q.size(0), device=q.device)
    if mask is not None:
        mask = mask.clone()
        mask[rows, positives] = False
        logits = logits.masked_fill(mask, float("-inf"))
    if extra is not None and extra.numel():
        mixed = torch.einsum("bh,bkh->bk", q, extra) / temperature
        if extra_valid is not None:
            mixed = mixed.masked_fill(~extra_valid, float("-inf"))
        logits = torch.cat([logits, mixed], dim=1)
    log_p = F.log_softmax(logits, dim=1)[rows, positives]
    per_query = -log_p
    p_pos = log_p.exp()
    if focal > 0:
        per_query = per_query * focal_weights(p_pos, focal)
    return per_query.mean(), p_pos.detach()


def mix_negatives(q: torch.Tensor, d: torch.Tensor, negative_ok: torch.Tensor, k: int, hardest: int,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``k`` synthetic negatives per query, ``(B, k, H)``, and which of them are real ``(B, k)``.

    Each is ``normalize(alpha * a + (1 - alpha) * b)`` with ``alpha ~ U(0, 1)`` and ``a != b`` two
    of the query's ``hardest`` most similar allowed negatives (``negative_ok (B, N)``). A query with
    fewer than two allowed negatives gets none (``valid`` False: :func:`info_nce` drops them).
    """
    B, H = q.size(0), d.size(1)
    out = torch.zeros(B, max(k, 0), H, dtype=d.dtype, device=d.device)
    valid = torch.zeros(B, max(k, 0), dtype=torch.bool, device=d.device)
    if k <= 0:
        return out, valid
    with torch.no_grad():
        sims = (q @ d.T).masked_fill(~negative_ok, float("-inf"))
        for i in range(B):
            allowed = int(negative_ok[i].sum())
            if allowed < 2:
                continue
            top = sims[i].topk(min(max(hardest, 2), allowed)).indices
            for j in range(k):
                a, b = torch.randperm(len(top), generator=generator)[:2].tolist()
                alpha = torch.rand((), generator=generator, dtype=d.dtype)
                out[i, j] = F.normalize(alpha * d[top[a]] + (1 - alpha) * d[top[b]], dim=-1)
                valid[i, j] = True
    return out.detach(), valid


def distill_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float, teacher_temperature: float,
               valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over queries of ``KL(softmax(teacher / T_t) || softmax(student / T_s))``.

    ``student (B, G)``: the query's cosines to its group's candidates; ``teacher (B, G)``: the
    teacher's scores of the same candidates (no gradient flows into them); ``valid (B, G)``: which
    entries exist (a group shorter than ``G``, a candidate without a teacher score). Only queries
    with at least two valid entries count (one candidate carries no distribution); with none the
    loss is a zero that still belongs to the graph.
    """
    if valid is None:
        valid = torch.ones_like(student, dtype=torch.bool)
    rows = valid.sum(1) >= 2
    if not bool(rows.any()):
        return student.sum() * 0.0
    s, t, ok = student[rows], teacher[rows].detach().to(student.dtype), valid[rows]
    log_s = F.log_softmax((s / temperature).masked_fill(~ok, float("-inf")), dim=1)
    log_t = F.log_softmax((t / teacher_temperature).masked_fill(~ok, float("-inf")), dim=1)
    per = (log_t.exp() * (log_t - log_s)).masked_fill(~ok, 0.0).sum(1)
    return per.mean()
