"""Hard negatives: mined from a registered retriever, sampled plainly or along PEG's curriculum.

The retriever comes from the ``viewrank_register_retrievers`` hook (``bm25:INDEX``, ``dense:INDEX``) through a
factory the caller passes, so this module never imports a search engine; or it is
:class:`ExactSearch`, the start model's own vectors of the corpus searched in memory (what
``--negatives dense`` mines with when it names no index). A mined list keeps
ranks (0 = hardest); judged positives of the query are dropped at mining time (a false negative
by definition). The own-model similarity filter runs inside the training step (:mod:`.trainer`).
The cache also keeps the hits' first-stage scores, from which :func:`teacher_pools` builds the pool
a distillation teacher scores (the mined list plus the judged positives).

PEG ("Towards Robust Text Retrieval with Progressive Learning"): :func:`curriculum_window` gives,
at training progress ``t`` in [0, 1], the rank window negatives are drawn from: early the deepest
(easiest) quarter of the pool, late the hardest half, so the window both moves up the ranking and
grows (from ``depth / 4`` to ``depth / 2`` ranks).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from viewrank.jsonfile import read_cache
from viewrank.runs import atomic_write_text

Mined = dict[str, list[str]]
FirstStage = dict[str, dict[str, float]]


class ExactSearch:
    """A retriever over ``corpus`` (docid -> document with ``contents``) by exact inner product
    of ``embedder``'s vectors (anything with ``embed(texts, role, progress)``): the corpus is
    encoded once, on the first search, with a progress bar."""

    def __init__(self, embedder: Any, corpus: Mapping[str, Any], batch: int = 256) -> None:
        self.embedder, self.corpus, self.batch = embedder, corpus, batch
        self._ids: list[str] = []
        self._vectors = None

    def search(self, queries: Sequence[Any], k: int) -> dict[str, list[tuple[str, float]]]:
        import numpy as np

        if self._vectors is None:
            self._ids = list(self.corpus)
            self._vectors = self.embedder.embed([self.corpus[d].contents for d in self._ids], "passage", progress=True)
        out: dict[str, list[tuple[str, float]]] = {}
        k = min(k, len(self._ids))
        for start in range(0, len(queries), self.batch):
            part = list(queries[start : start + self.batch])
            scores = self.embedder.embed([q.text for q in part], "query") @ self._vectors.T
            for q, row in zip(part, scores):
                top = np.argpartition(-row, k - 1)[:k] if k < len(row) else np.arange(len(row))
                top = sorted(top, key=lambda j: (-row[j], self._ids[j]))
                out[q.qid] = [(self._ids[j], float(row[j])) for j in top]
        return out


def mine(queries: Sequence[Any], retriever: Callable[[], Any], depth: int, judged: Mapping[str, Mapping[str, int]],
         cache: Path | None = None, source: str = "") -> Mined:
    """``{qid: [docid, ...]}``: each query's top-``depth`` hits less its judged positives, cached
    as JSON (reused when it holds the same depth and ``source``, the retriever's spec).
    ``retriever()`` is called only on a cache miss."""
    return mine_scored(queries, retriever, depth, judged, cache, need_scores=False, source=source)[0]


def mine_scored(queries: Sequence[Any], retriever: Callable[[], Any], depth: int,
                judged: Mapping[str, Mapping[str, int]], cache: Path | None = None,
                need_scores: bool = True, source: str = "") -> tuple[Mined, FirstStage]:
    """:func:`mine`, plus each query's first-stage scores ``{qid: {docid: score}}`` of all its
    retrieved hits (``depth + 5`` of them, judged positives included), which a teacher pool needs.
    A cache written before scores were kept is mined again when ``need_scores``; one written by
    another retriever (``source``) is mined again."""
    data = read_cache(cache)
    if (isinstance(data, dict) and isinstance(data.get("hits"), dict) and data.get("depth") == depth
            and data.get("source", "") == source and all(q.qid in data["hits"] for q in queries)
            and (not need_scores or "scores" in data)):
        return {q: h for q, h in data["hits"].items()}, data.get("scores", {})
    hits = retriever().search(list(queries), depth + 5)
    out = {qid: [d for d, _ in docs if judged.get(qid, {}).get(d, 0) <= 0][:depth] for qid, docs in hits.items()}
    scores = {qid: {d: float(s) for d, s in docs} for qid, docs in hits.items()}
    if cache is not None:
        atomic_write_text(cache, json.dumps({"depth": depth, "source": source, "hits": out, "scores": scores}))
    return out, scores


def teacher_pools(qids: Sequence[str], mined: Mined, first_stage: FirstStage,
                  judged: Mapping[str, Mapping[str, int]], corpus: Mapping[str, Any]) -> dict[str, list[tuple[str, float]]]:
    """Each query's pool for a teacher: its mined list (BM25's top ``depth`` less judged positives:
    where its hard negatives come from) plus its judged positives in ``corpus``, as ``(docid,
    first-stage score)`` pairs in first-stage order. A positive BM25 did not retrieve gets the
    lowest score of the query's hits (0 when it has none)."""
    pools = {}
    for q in qids:
        scores = first_stage.get(q, {})
        floor = min(scores.values(), default=0.0)
        ids = [d for d in mined.get(q, []) if d in corpus]
        ids += [d for d, r in sorted(judged.get(q, {}).items()) if r > 0 and d in corpus and d not in ids]
        pools[q] = sorted(((d, float(scores.get(d, floor))) for d in ids), key=lambda x: (-x[1], x[0]))
    return pools


def curriculum_window(progress: float, depth: int) -> tuple[int, int]:
    """``[lo, hi)`` ranks to sample from at ``progress`` in [0, 1] (see the module docstring)."""
    t = min(max(progress, 0.0), 1.0)
    quarter = max(1, depth // 4)
    lo = round((1 - t) * (depth - quarter))
    hi = lo + quarter + round(t * quarter)
    return lo, min(max(hi, lo + 1), depth)


def sample_negatives(ranked: Sequence[str], n: int, rng: random.Random, *, progress: float | None = None,
                     skip: int = 0) -> list[str]:
    """``n`` distinct negatives from a mined list: uniformly from ranks ``[skip, len)``, or, with
    ``progress`` (the curriculum), from :func:`curriculum_window`. Fewer when the list is short."""
    if progress is None:
        pool = list(ranked[skip:]) or list(ranked)
    else:
        lo, hi = curriculum_window(progress, len(ranked))
        pool = list(ranked[lo:hi])
    return rng.sample(pool, min(n, len(pool)))
