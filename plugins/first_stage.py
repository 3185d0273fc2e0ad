"""Rerankers built on the first-stage scores.

- ``none`` keeps the first-stage (BM25) order.
- ``fuse:W:SPEC`` interpolates another reranker with the first stage: both score lists are
  min-max normalised over the query's candidates, then combined as
  ``(1 - W) * reranker + W * first_stage``. Normalising per list makes the weight mean the
  same thing whatever the scales (BM25 scores of 5-40, cosines below 1, MVP dot products).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from viewrank import hookimpl
from viewrank.errors import ViewrankError
from viewrank.types import Candidate, Query, RankedList


class FirstStageOrder:
    """Returns the candidates as the first stage scored them (a stable sort on its score)."""

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> RankedList:
        return RankedList.from_scores(query.qid, candidates, [c.score for c in candidates])


def minmax(values: Sequence[float]) -> np.ndarray:
    """Scale to [0, 1] over the list; a constant list (or a single value) maps to zeros."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return arr
    span = float(arr.max() - arr.min())
    return (arr - arr.min()) / span if span > 0 else np.zeros_like(arr)


class FusedReranker:
    """``(1 - weight) * minmax(reranker) + weight * minmax(first stage)`` per query."""

    def __init__(self, inner, weight: float) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ViewrankError(f"fusion weight must be between 0 and 1, got {weight}")
        self.inner = inner
        self.weight = weight

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> RankedList:
        if not candidates:
            return RankedList(query.qid)
        ranked = self.inner.rerank(query, candidates)
        by_doc = dict(zip(ranked.docids, ranked.scores))
        if len(by_doc) != len(candidates) or any(c.docid not in by_doc for c in candidates):
            raise ViewrankError(f"reranker returned a different set of documents for query {query.qid!r}; "
                                "fusion needs a score for every candidate (are docids unique?)")
        inner = minmax([by_doc[c.docid] for c in candidates])
        first = minmax([c.score for c in candidates])
        fused = (1.0 - self.weight) * inner + self.weight * first
        return RankedList.from_scores(query.qid, candidates, fused.tolist())


def make_fused(arg: str | None, context) -> FusedReranker:
    raw_weight, sep, inner_spec = (arg or "").partition(":")
    if not sep or not inner_spec.strip():
        raise ViewrankError(f"fuse needs a weight and a reranker, as fuse:W:SPEC (for example fuse:0.3:bi-encoder); got {arg!r}")
    try:
        weight = float(raw_weight)
    except ValueError:
        raise ViewrankError(f"fusion weight {raw_weight!r} in fuse:{arg} is not a number") from None
    return FusedReranker(context.host.reranker(inner_spec), weight)


@hookimpl
def viewrank_register_rerankers(registry, context):
    registry.add("none", lambda arg: FirstStageOrder(), description="no reranking: the first-stage (BM25) order")
    registry.add("fuse", lambda arg: make_fused(arg, context), arg_help="W:SPEC",
                 description="any reranker interpolated with the first stage: (1-W)*minmax(SPEC) + W*minmax(BM25)")
