"""Teacher scores for training lists: any reranker spec (or an ensemble of them) over each query's pool.

``--teacher SPEC`` (repeatable) scores every candidate of a training query's pool (its BM25 top
``neg_depth`` plus its relevant documents) with the reranker ``SPEC``; several teachers are an
ensemble: the mean of their per-list min-max normalised scores, so each weighs the same whatever
its scale. The lists built from these scores pin the relevant documents first and order the
negatives by the teacher (Rank-DistiLLM's teacher-ordered lists, with the labels kept).
Scores are cached as ``teacher_scores.json`` in the output folder, keyed by specs and pool.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from viewrank.errors import ViewrankError
from viewrank.runs import atomic_write_text
from viewrank.types import Candidate, Query

TEACHER_NAME = "teacher_scores.json"


def _minmax(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    return [(v - lo) / (hi - lo) if hi > lo else 0.0 for v in values]


def ensemble(parts: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """The mean over teachers of each list's min-max normalised scores, for the documents of the
    first teacher's lists (a document another teacher did not score counts 0 there)."""
    normed = [{q: dict(zip(s, _minmax(list(s.values())))) for q, s in part.items() if s} for part in parts]
    first = parts[0]
    return {q: {d: sum(p.get(q, {}).get(d, 0.0) for p in normed) / len(normed) for d in first[q]} for q in first}


def teacher_scores(host, specs: Sequence[str], queries: dict[str, str], pools: dict[str, list[tuple[str, float]]],
                   corpus, cache: Path | None = None) -> dict[str, dict[str, float]]:
    """``{qid: {docid: score}}``: the ensemble's normalised score of every pooled candidate.

    ``pools[qid]`` holds ``(docid, first-stage score)`` pairs (the first-stage score is what
    ``fuse:W:SPEC`` teachers interpolate with); ``corpus`` maps docids to documents.
    """
    specs = list(specs)
    key = {"specs": specs, "pools": [[q, len(p)] for q, p in sorted(pools.items())]}  # as JSON reads it back
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("key") == key:
            return data["scores"]
    parts: list[dict[str, dict[str, float]]] = []
    with host.shared_rerankers():
        for spec in specs:
            try:
                reranker = host.reranker(spec)
            except ViewrankError as exc:
                raise ViewrankError(f"--teacher {spec}: {exc}") from None
            part = {}
            for qid in tqdm(sorted(pools), desc=f"teacher {spec}", unit="q"):
                cands = [Candidate(d, corpus[d].contents, float(s)) for d, s in pools[qid]]
                ranked = reranker.rerank(Query(qid, queries[qid]), cands)
                part[qid] = dict(zip(ranked.docids, ranked.scores))
            parts.append(part)
    out = ensemble(parts)
    if cache is not None:
        atomic_write_text(cache, json.dumps({"key": key, "scores": out}))
    return out
