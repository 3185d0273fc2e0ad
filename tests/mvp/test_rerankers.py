"""Rerankers built on the tiny models: single pass, sliding window, registry wiring."""

from __future__ import annotations

import numpy as np
import pytest

from viewrank.errors import ViewrankError
from viewrank.plugins.mvp.rerankers import ModelReranker, SlidingWindowReranker
from viewrank.types import Candidate, Query


class CountingModel:
    """Scores = a fixed value per passage; records every window it is asked to score."""

    def __init__(self, values: dict[str, float]) -> None:
        self.values, self.calls = values, []

    def score(self, query, passages):
        self.calls.append(list(passages))
        return np.array([self.values[p] for p in passages])


def cands(n: int) -> list[Candidate]:
    return [Candidate(f"d{i}", f"p{i}", score=float(n - i)) for i in range(n)]


def test_window_back_to_front_and_sorts_fully_when_window_covers():
    values = {f"p{i}": float(i) for i in range(100)}  # the last candidate is the best
    model = CountingModel(values)
    ranked = SlidingWindowReranker(model, window=20, stride=10).rerank(Query("q", "x"), cands(100))
    assert len(model.calls) == 9 and sum(map(len, model.calls)) == 180
    assert model.calls[0] == [f"p{i}" for i in range(80, 100)]  # first window is the back
    assert ranked.docids[:10] == [f"d{i}" for i in range(99, 89, -1)]  # top 10 bubble to the front


def test_window_short_lists_and_empty():
    model = CountingModel({f"p{i}": float(-i) for i in range(5)})
    r = SlidingWindowReranker(model).rerank(Query("q", "x"), cands(5))
    assert r.docids == [f"d{i}" for i in range(5)] and len(model.calls) == 1
    assert len(SlidingWindowReranker(model).rerank(Query("q", "x"), [])) == 0
    with pytest.raises(ValueError):
        SlidingWindowReranker(model, window=10, stride=11)


def test_single_pass_reranker_on_tiny_mvp(encoder_mvp):
    cs = [Candidate(f"d{i}", t, title="x") for i, t in enumerate(["the cat", "a dog", "red fish"])]
    r = ModelReranker(encoder_mvp).rerank(Query("q1", "cat"), cs)
    assert sorted(r.docids) == ["d0", "d1", "d2"] and r.qid == "q1"
    assert len(ModelReranker(encoder_mvp).rerank(Query("q1", "cat"), [])) == 0


def test_registered_specs(encoder_mvp, cross_encoder, tmp_path):
    from viewrank.manager import get_host

    host = get_host()
    encoder_mvp.save(tmp_path / "mvp")
    cross_encoder.save(tmp_path / "ce")
    cs = [Candidate("a", "the cat"), Candidate("b", "a dog")]
    for spec in (f"mvp:{tmp_path / 'mvp'}", f"mvp-window:{tmp_path / 'mvp'}", f"cross-encoder:{tmp_path / 'ce'}"):
        assert len(host.reranker(spec).rerank(Query("q", "cat"), cs)) == 2
    with pytest.raises(ViewrankError, match="cross-encoder"):
        host.reranker(f"mvp:{tmp_path / 'ce'}")
    with pytest.raises(ViewrankError, match="viewrank train mvp"):
        host.reranker(f"mvp:{tmp_path / 'missing'}")


def test_cross_encoder_scores_pairs_of_several_queries_as_their_own_lists(cross_encoder, encoder_mvp, tmp_path):
    """Pointwise: one call over the pairs of several queries gives each pair the score it gets in
    its own query's list (what lets `viewrank serve` merge /rerank requests); MVP is not pointwise."""
    from viewrank.manager import get_host
    from viewrank.types import PairScorer

    cross_encoder.save(tmp_path / "ce")
    rr = get_host().reranker(f"cross-encoder:{tmp_path / 'ce'}")
    assert isinstance(rr, PairScorer)
    lists = {"the cat sat": ["a cat on a mat", "dogs bark"], "rain in spain": ["plains of spain", "the cat", "x"]}
    queries = [q for q, ps in lists.items() for _ in ps]
    passages = [p for ps in lists.values() for p in ps]
    merged = rr.score_pairs(queries, passages)
    own = np.concatenate([rr.score(q, ps) for q, ps in lists.items()])
    np.testing.assert_allclose(merged, own, rtol=0, atol=2e-6)
    # the query of each pair counts (a tiny random model reacts weakly, hence the small tolerance)
    assert not np.allclose(merged[:2], rr.score_pairs(["rain in spain"] * 2, passages[:2]), rtol=0, atol=2e-6)
    with pytest.raises(ValueError, match="2 queries for 1 passages"):
        rr.score_pairs(queries[:2], passages[:1])
    assert rr.score_pairs([], []).shape == (0,)
    encoder_mvp.save(tmp_path / "mvp")
    assert not isinstance(get_host().reranker(f"mvp:{tmp_path / 'mvp'}"), PairScorer)  # listwise
