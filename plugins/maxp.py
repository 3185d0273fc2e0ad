"""``maxp:WORDS[/STRIDE[/MAX]]:SPEC``: any reranker reads a long passage in windows and keeps
each passage's best window (MaxP, Dai & Callan 2019).

A reranker trained and run at 128 tokens per (query, passage) reads the query, its own markers
and about the first 100 word pieces of a passage; a SciFact abstract is a median 316. This
wrapper cuts each candidate's text into windows of ``WORDS`` whitespace words, ``STRIDE`` words
apart (default: ``WORDS``, no overlap), at most ``MAX`` windows a passage (default: all), each
window keeping the candidate's title; it gives ``SPEC`` every window of every candidate as ONE
list (a listwise model such as MVP sees them together, in one forward pass) and scores a
candidate by its best window. A passage of ``WORDS`` words or fewer is one window: exactly the
candidate itself. The cost grows with the number of windows (about the passage length over
``STRIDE``).
"""

from __future__ import annotations

from typing import Sequence

from viewrank import hookimpl
from viewrank.errors import ViewrankError
from viewrank.text import windows
from viewrank.types import Candidate, Query, RankedList


def window_shape(words: int, stride: int | None = None, limit: int = 0) -> tuple[int, int, int]:
    """``(words, stride, limit)`` checked, the stride defaulting to ``words``."""
    stride = words if stride is None else stride
    if words < 1 or not 0 < stride <= words or limit < 0:
        raise ViewrankError(f"maxp needs WORDS >= 1, 0 < STRIDE <= WORDS and MAX >= 0 (got {words}/{stride}/{limit})")
    return words, stride, limit


class MaxPReranker:
    """Scores each candidate by ``inner``'s best score over the candidate's windows."""

    def __init__(self, inner, words: int, stride: int | None = None, limit: int = 0) -> None:
        self.inner = inner
        self.words, self.stride, self.limit = window_shape(words, stride, limit)

    def split(self, candidates: Sequence[Candidate]) -> tuple[list[Candidate], list[int]]:
        """The window candidates (ids ``"i:k"``: candidate i, window k) and each one's candidate index."""
        subs, owner = [], []
        for i, c in enumerate(candidates):
            for k, part in enumerate(windows(c.text, self.words, self.stride, self.limit)):
                subs.append(Candidate(f"{i}:{k}", part, c.score, c.title))
                owner.append(i)
        return subs, owner

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> RankedList:
        if not candidates:
            return RankedList(query.qid)
        subs, owner = self.split(candidates)
        ranked = self.inner.rerank(query, subs)
        by_id = dict(zip(ranked.docids, ranked.scores))
        if len(by_id) != len(subs):
            raise ViewrankError(f"maxp: the reranker returned {len(by_id)} of {len(subs)} windows for query {query.qid!r}")
        best = [float("-inf")] * len(candidates)
        for sub, i in zip(subs, owner):
            best[i] = max(best[i], by_id[sub.docid])
        return RankedList.from_scores(query.qid, candidates, best)


def parse_maxp(arg: str | None) -> tuple[int, int | None, int, str]:
    """``"WORDS[/STRIDE[/MAX]]:SPEC"`` -> ``(words, stride or None, max, spec)``."""
    shape, sep, inner = (arg or "").partition(":")
    if not sep or not inner.strip():
        raise ViewrankError(f"maxp needs a window and a reranker, as maxp:WORDS[/STRIDE[/MAX]]:SPEC "
                            f"(for example maxp:64:mvp:models/mvp-minilm); got {arg!r}")
    parts = shape.split("/")
    try:
        if len(parts) > 3:
            raise ValueError
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ViewrankError(f"maxp window {shape!r} in maxp:{arg}: expected WORDS[/STRIDE[/MAX]], whole numbers") from None
    words = numbers[0]
    stride = numbers[1] if len(numbers) > 1 else None
    limit = numbers[2] if len(numbers) > 2 else 0
    return words, stride, limit, inner


def make_maxp(arg: str | None, context) -> MaxPReranker:
    words, stride, limit, inner = parse_maxp(arg)
    shape = window_shape(words, stride, limit)  # bad numbers fail before a model loads
    return MaxPReranker(context.host.reranker(inner), *shape)


@hookimpl
def viewrank_register_rerankers(registry, context):
    registry.add("maxp", lambda arg: make_maxp(arg, context), arg_help="WORDS[/STRIDE[/MAX]]:SPEC",
                 description="any reranker over windows of WORDS words of each passage (title kept), "
                             "a passage scored by its best window (MaxP)")
