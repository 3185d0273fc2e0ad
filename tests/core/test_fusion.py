"""The ``fuse:W:SPEC`` reranker: min-max interpolation with the first-stage scores."""

from __future__ import annotations

import numpy as np
import pytest

from viewrank.errors import ViewrankError
from viewrank.manager import get_host
from viewrank.plugins.first_stage import FusedReranker, minmax
from viewrank.types import Candidate, Query, RankedList, ScoringReranker


class LengthScorer(ScoringReranker):
    """Scores a passage by its length: an order unrelated to the first-stage scores below."""

    def score(self, query, passages):
        return np.array([float(len(p)) for p in passages])


CANDS = [Candidate("a", "x" * 1, 30.0), Candidate("b", "x" * 5, 20.0), Candidate("c", "x" * 3, 10.0)]
Q = Query("q1", "anything")


def test_minmax_edges():
    assert minmax([]).size == 0
    assert minmax([4.0]).tolist() == [0.0]
    assert minmax([2.0, 2.0]).tolist() == [0.0, 0.0]
    assert minmax([1.0, 3.0, 2.0]).tolist() == [0.0, 1.0, 0.5]


def test_weight_zero_is_the_reranker_and_one_is_the_first_stage():
    assert FusedReranker(LengthScorer(), 0.0).rerank(Q, CANDS).docids == ["b", "c", "a"]
    assert FusedReranker(LengthScorer(), 1.0).rerank(Q, CANDS).docids == ["a", "b", "c"]


def test_fused_scores_are_the_weighted_normalised_sum():
    ranked = FusedReranker(LengthScorer(), 0.3).rerank(Q, CANDS)
    # lengths 1,5,3 -> 0,1,0.5 ; bm25 30,20,10 -> 1,0.5,0
    expected = {"a": 0.3 * 1.0, "b": 0.7 * 1.0 + 0.3 * 0.5, "c": 0.7 * 0.5}
    assert ranked.docids == ["b", "c", "a"]
    for docid, score in zip(ranked.docids, ranked.scores):
        assert score == pytest.approx(expected[docid])


def test_empty_candidates():
    assert FusedReranker(LengthScorer(), 0.5).rerank(Q, []) == RankedList("q1")


def test_spec_through_the_registry():
    rr = get_host().reranker("fuse:0.25:none")
    assert isinstance(rr, FusedReranker) and rr.weight == 0.25
    assert rr.rerank(Q, CANDS).docids == ["a", "b", "c"]


@pytest.mark.parametrize("spec, message", [
    ("fuse", "fuse:W:SPEC"),
    ("fuse:0.5", "fuse:W:SPEC"),
    ("fuse:heavy:none", "'heavy'"),
    ("fuse:1.5:none", "between 0 and 1"),
    ("fuse:0.5:no-such-reranker", "unknown reranker 'no-such-reranker'"),
])
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ViewrankError) as info:
        get_host().reranker(spec)
    assert message in str(info.value)


def test_a_reranker_that_drops_documents_is_refused():
    class Dropper:
        def rerank(self, query, candidates):
            return RankedList.from_scores(query.qid, candidates[:1], [1.0])

    with pytest.raises(ViewrankError, match="different set of documents"):
        FusedReranker(Dropper(), 0.5).rerank(Q, CANDS)


def test_one_rerank_run_shares_a_spec_between_plain_and_fused():
    host = get_host()
    with host.shared_rerankers():
        plain, fused = host.reranker("none"), host.reranker("fuse:0.5:none")
        assert fused.inner is plain  # `viewrank rerank` loads the model (and fills its caches) once
        assert host.reranker("none") is plain
    assert host.reranker("none") is not plain  # outside a run every call builds a new one
    assert host.reranker("none") is not host.reranker("none")
