"""Rerankers over the model classes: single pass (MVP, cross-encoder) and the sliding window."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from viewrank.types import Candidate, PairScorer, Query, RankedList, ScoringReranker


class ModelReranker(ScoringReranker):
    """All N candidates of a query scored in ONE forward pass of ``model`` (MVP, listwise)."""

    model_type = property(lambda self: self.model.model_type)  # the wrapped model's (export config key)

    def __init__(self, model) -> None:
        self.model = model

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        return self.model.score(query, passages)


class CrossEncoderReranker(PairScorer):
    """The pointwise cross-encoder: pairs of several queries may share a forward pass."""

    model_type = property(lambda self: self.model.model_type)

    def __init__(self, model) -> None:
        self.model = model

    def score_pairs(self, queries: Sequence[str], passages: Sequence[str]) -> np.ndarray:
        return self.model.score_pairs(queries, passages)


class SlidingWindowReranker:
    """The listwise sliding-window baseline: windows of ``window`` candidates, ``stride`` apart,
    from the back of the first-stage list to the front, each reordered by ``model``'s scores.

    With the MVP model as ``model`` this is the apples-to-apples comparison with one pass: same
    weights, only the way the list is fed differs. Depth 100, window 20, stride 10 runs 9 windows
    (180 candidate encodings instead of 100).
    """

    def __init__(self, model, window: int = 20, stride: int = 10) -> None:
        if window < 1 or not 0 < stride <= window:
            raise ValueError(f"need window >= 1 and 0 < stride <= window (got window={window}, stride={stride})")
        self.model, self.window, self.stride = model, window, stride

    def order(self, query: str, passages: Sequence[str]) -> list[int]:
        order = list(range(len(passages)))
        start = max(len(order) - self.window, 0)
        while order:
            idx = order[start : start + self.window]
            scores = self.model.score(query, [passages[i] for i in idx])
            ranked = sorted(range(len(idx)), key=lambda j: -float(scores[j]))
            order[start : start + self.window] = [idx[j] for j in ranked]
            if start == 0:
                break
            start = max(start - self.stride, 0)
        return order

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> RankedList:
        if not candidates:
            return RankedList(query.qid)
        return RankedList.from_order(query.qid, candidates, self.order(query.text, [c.contents for c in candidates]))
