"""The ``none`` reranker: keeps the first-stage (BM25) order."""

from __future__ import annotations

from typing import Sequence

from viewrank import hookimpl
from viewrank.types import Candidate, Query, RankedList


class FirstStageOrder:
    """Returns the candidates as the first stage scored them (a stable sort on its score)."""

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> RankedList:
        return RankedList.from_scores(query.qid, candidates, [c.score for c in candidates])


@hookimpl
def viewrank_register_rerankers(registry):
    registry.add("none", lambda arg: FirstStageOrder(), description="no reranking: the first-stage (BM25) order")
