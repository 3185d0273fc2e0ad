"""The ``maxp:WORDS[/STRIDE[/MAX]]:SPEC`` reranker: passages read in windows, scored by the best one."""

from __future__ import annotations

import numpy as np
import pytest

from viewrank.errors import ViewrankError
from viewrank.manager import get_host
from viewrank.plugins.maxp import MaxPReranker
from viewrank.text import windows
from viewrank.types import Candidate, Query, RankedList, ScoringReranker


class FirstWordsScorer(ScoringReranker):
    """Like a model that truncates: counts the query's words among a passage's first ``keep`` words.
    Records each call's list so a test can see what the wrapped reranker was given."""

    def __init__(self, keep: int = 4) -> None:
        self.keep, self.calls = keep, []

    def score(self, query, passages):
        self.calls.append(list(passages))
        wanted = set(query.split())
        return np.array([float(sum(w in wanted for w in p.split()[: self.keep])) for p in passages])


Q = Query("q1", "gold")
# "late" says gold twice, past the first four words; "early" once, at the start.
CANDS = [Candidate("early", "gold a b c d e f g", 30.0),
         Candidate("late", "a b c d e gold gold h", 20.0, title="t"),
         Candidate("short", "x", 10.0)]


def test_windows_cover_the_text_and_respect_stride_and_limit():
    assert windows("a b c", 4, 4) == ["a b c"]  # short: the passage itself
    assert windows("", 4, 4) == [""]
    assert windows("1 2 3 4 5 6 7 8 9 10", 4, 4) == ["1 2 3 4", "5 6 7 8", "9 10"]
    assert windows("1 2 3 4 5 6 7 8", 4, 4) == ["1 2 3 4", "5 6 7 8"]  # no empty tail window
    assert windows("1 2 3 4 5 6", 4, 2) == ["1 2 3 4", "3 4 5 6"]
    assert windows("1 2 3 4 5 6 7 8 9 10", 4, 4, limit=2) == ["1 2 3 4", "5 6 7 8"]
    text = " ".join(map(str, range(50)))
    for w, s in ((7, 7), (7, 3), (10, 1)):
        parts = windows(text, w, s)
        assert set(" ".join(parts).split()) == set(text.split())  # every word is read
        assert all(len(p.split()) <= w for p in parts)


def test_a_passage_is_scored_by_its_best_window_and_one_list_carries_every_window():
    inner = FirstWordsScorer(keep=4)
    assert inner.rerank(Q, CANDS).docids == ["early", "late", "short"]  # truncated: "late" shows no gold
    inner = FirstWordsScorer(keep=4)
    ranked = MaxPReranker(inner, 4).rerank(Q, CANDS)
    assert ranked.docids == ["late", "early", "short"] and ranked.scores == [2.0, 1.0, 0.0]
    assert len(inner.calls) == 1  # all windows of all candidates in ONE call (a listwise model sees them together)
    assert inner.calls[0] == ["gold a b c", "d e f g", "t a b c d", "t e gold gold h", "x"]  # the title in each window


def test_short_passages_score_exactly_as_without_windows():
    short = [Candidate("a", "gold x", 3.0), Candidate("b", "y", 2.0)]
    plain = FirstWordsScorer().rerank(Q, short)
    assert MaxPReranker(FirstWordsScorer(), 64).rerank(Q, short) == plain
    assert MaxPReranker(FirstWordsScorer(), 64).rerank(Q, []) == RankedList("q1")


def test_spec_through_the_registry_keeps_the_first_stage_order_for_none():
    rr = get_host().reranker("maxp:3/2/4:none")
    assert isinstance(rr, MaxPReranker) and (rr.words, rr.stride, rr.limit) == (3, 2, 4)
    assert rr.rerank(Q, CANDS).docids == ["early", "late", "short"]  # each window carries its passage's BM25 score
    assert get_host().reranker("maxp:5:none").stride == 5


def test_a_reranker_that_drops_windows_is_refused():
    class Dropper:
        def rerank(self, query, candidates):
            return RankedList.from_scores(query.qid, candidates[:1], [1.0])

    with pytest.raises(ViewrankError, match="returned 1 of 5 windows"):
        MaxPReranker(Dropper(), 4).rerank(Q, CANDS)


@pytest.mark.parametrize("spec, message", [
    ("maxp", "maxp:WORDS[/STRIDE[/MAX]]:SPEC"),
    ("maxp:64", "maxp:WORDS[/STRIDE[/MAX]]:SPEC"),
    ("maxp:wide:none", "'wide'"),
    ("maxp:4/2/1/1:none", "'4/2/1/1'"),
    ("maxp:0:none", "WORDS >= 1"),
    ("maxp:4/5:none", "0 < STRIDE <= WORDS"),
    ("maxp:4/0:none", "0 < STRIDE <= WORDS"),
    ("maxp:4:no-such-reranker", "unknown reranker 'no-such-reranker'"),
])
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ViewrankError) as info:
        get_host().reranker(spec)
    assert message in str(info.value)
