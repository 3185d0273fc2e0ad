"""Self-Positioning model merging ("Improving General Text Embedding Model: Tackling Task Conflict
and Data Imbalance through Model Merging"): fine-tuned checkpoints that share a base are merged
as ``base + sum_i w_i * (theta_i - base)`` (task vectors), with the weights ``w`` searched on a
held-out slice of train queries.

The paper optimises the weights by gradient on a probe set; on a 2-core CPU this module searches
them instead (:func:`search_weights`): each parent alone, the plain average, task arithmetic with
a common scale, then coordinate steps of +-0.25 from the best so far, within ``max_evals``
validations.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from viewrank.errors import ViewrankError

State = Mapping[str, torch.Tensor]


def check_compatible(base: State, parents: Sequence[State], names: Sequence[str]) -> None:
    for name, sd in zip(names, parents):
        missing = set(base) ^ set(sd)
        if missing:
            raise ViewrankError(f"--merge {name}: its weights do not match the base model's "
                                f"({len(missing)} tensors differ, e.g. {sorted(missing)[0]})")
        for key, value in base.items():
            if sd[key].shape != value.shape:
                raise ViewrankError(f"--merge {name}: {key} has shape {tuple(sd[key].shape)}, the base {tuple(value.shape)}")


def merge_states(base: State, parents: Sequence[State], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """``base + sum w_i (parent_i - base)`` for floating tensors; other tensors (integer buffers)
    from the base."""
    if len(parents) != len(weights):
        raise ValueError(f"{len(parents)} parents but {len(weights)} weights")
    out = {}
    for key, b in base.items():
        if not torch.is_floating_point(b):
            out[key] = b.clone()
            continue
        merged = b.detach().clone().double()
        for sd, w in zip(parents, weights):
            if w:
                merged += float(w) * (sd[key].double() - b.double())
        out[key] = merged.to(b.dtype)
    return out


def candidate_weights(n: int) -> list[tuple[float, ...]]:
    """The first candidates: each parent alone, the average, task arithmetic at 0.5/0.75/1.0 each."""
    cands: list[tuple[float, ...]] = [tuple(1.0 if j == i else 0.0 for j in range(n)) for i in range(n)]
    cands.append(tuple(1.0 / n for _ in range(n)))
    cands += [tuple(s for _ in range(n)) for s in (0.5, 0.75, 1.0)]
    seen: dict[tuple[float, ...], None] = {}
    for c in cands:
        seen.setdefault(tuple(round(x, 4) for x in c), None)
    return list(seen)


def search_weights(n: int, score: Callable[[tuple[float, ...]], float], max_evals: int = 12,
                   step: float = 0.25) -> tuple[tuple[float, ...], float, list[dict]]:
    """Best weights by ``score`` (higher is better): the :func:`candidate_weights`, then coordinate
    steps from the best. Returns ``(weights, score, every try)``."""
    tried: dict[tuple[float, ...], float] = {}

    def visit(w: tuple[float, ...]) -> None:
        w = tuple(round(max(0.0, x), 4) for x in w)
        if w not in tried and len(tried) < max_evals:
            tried[w] = score(w)

    for w in candidate_weights(n):
        visit(w)
    improved = True
    while improved and len(tried) < max_evals:
        improved = False
        best = max(tried, key=tried.get)
        for i in range(n):
            for delta in (step, -step):
                w = list(best)
                w[i] += delta
                before = len(tried)
                visit(tuple(w))
                if len(tried) > before and tried[tuple(round(max(0.0, x), 4) for x in w)] > tried[best]:
                    improved = True
    best = max(tried, key=tried.get)
    return best, tried[best], [{"weights": list(w), "ndcg@10": s} for w, s in tried.items()]
