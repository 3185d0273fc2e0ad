"""Teacher scores for training: any reranker spec (or an ensemble of them) over each query's pool.

A trainer's ``--teacher SPEC`` (repeatable) scores every candidate of a training query's pool
(e.g. its BM25 top ``--neg-depth`` plus its relevant documents) with the reranker ``SPEC``, looked
up through the plugin host the caller passes (this module imports no plugin). Several teachers are
an ensemble: the mean of their per-list min-max normalised scores, so each weighs the same whatever
its scale. A single teacher's scores are min-max normalised per list too: every score returned is
in ``[0, 1]`` within its query's pool (1 = the teacher's top candidate).

Scores are cached as JSON (``TEACHER_NAME`` in the output folder unless the caller names another
file). The cache key holds the specs, each pool's length and a digest of the query texts, pooled
docids and first-stage scores: a cache written for other specs, pools or queries is scored again,
never reused.

Used by ``viewrank train mvp`` (teacher-ordered lists) and ``viewrank train embedder`` (KL
distillation); ``viewrank.plugins.mvp.teacher`` re-exports these names.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping, Sequence

from tqdm.auto import tqdm

from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_cache
from viewrank.registry import parse_spec
from viewrank.runs import atomic_write_text
from viewrank.types import Candidate, Query

TEACHER_NAME = "teacher_scores.json"

Pools = Mapping[str, Sequence[tuple[str, float]]]
Scores = dict[str, dict[str, float]]


def _minmax(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    return [(v - lo) / (hi - lo) if hi > lo else 0.0 for v in values]


def ensemble(parts: Sequence[Scores]) -> Scores:
    """The mean over teachers of each list's min-max normalised scores, for the documents of the
    first teacher's lists (a document another teacher did not score counts 0 there)."""
    normed = [{q: dict(zip(s, _minmax(list(s.values())))) for q, s in part.items() if s} for part in parts]
    first = parts[0]
    return {q: {d: sum(p.get(q, {}).get(d, 0.0) for p in normed) / len(normed) for d in first[q]} for q in first}


def cache_key(specs: Sequence[str], queries: Mapping[str, str], pools: Pools) -> dict:
    """What a cached scoring must match: the specs, each pool's length (readable) and a SHA-256 of
    every pooled query's text, docids and first-stage scores (rounded to 1e-6), in pool order."""
    digest = hashlib.sha256()
    for qid in sorted(pools):
        digest.update(json.dumps([qid, queries[qid], [[d, round(float(s), 6)] for d, s in pools[qid]]]).encode())
        digest.update(b"\n")
    return {"specs": list(specs), "pools": [[q, len(p)] for q, p in sorted(pools.items())],
            "digest": digest.hexdigest()}


def cached_scores(cache: Path | None, key: dict) -> Scores | None:
    """The scores stored in ``cache`` when its key is ``key``; None otherwise (no file, another key,
    an unreadable file)."""
    data = read_cache(cache)
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return data.get("scores")


def write_cache(cache: Path, key: dict, scores: Scores) -> None:
    """Store ``scores`` under ``key`` (atomically: a reader never sees half a file)."""
    Path(cache).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(cache), json.dumps({"key": key, "scores": scores}))


def teacher_scores(host, specs: Sequence[str], queries: Mapping[str, str], pools: Pools, corpus,
                   cache: Path | None = None, stats: dict | None = None, progress: bool = True) -> Scores:
    """``{qid: {docid: score}}``: the ensemble's normalised score of every pooled candidate.

    ``pools[qid]`` holds ``(docid, first-stage score)`` pairs (the first-stage score is what
    ``fuse:W:SPEC`` and ``none`` teachers read); ``corpus`` maps docids to documents. ``host`` is
    only touched on a cache miss. ``stats``, when given, receives ``cached`` (True when the scores
    came from ``cache``) and ``scored_lists`` (lists scored, summed over teachers).
    An unknown or unloadable spec raises a :class:`ViewrankError` naming ``--teacher SPEC``.
    """
    specs = list(specs)
    key = cache_key(specs, queries, pools)
    found = cached_scores(cache, key)
    if stats is not None:
        stats.update(cached=found is not None, scored_lists=0)
    if found is not None:
        return found
    parts: list[Scores] = []
    with host.shared_rerankers():
        for spec in specs:
            try:
                reranker = host.reranker(spec)
            except ViewrankError as exc:
                raise ViewrankError(f"--teacher {spec}: {exc}") from None
            part = {}
            for qid in tqdm(sorted(pools), desc=f"teacher {spec}", unit="q", disable=not progress):
                cands = [Candidate(d, corpus[d].contents, float(s)) for d, s in pools[qid]]
                ranked = reranker.rerank(Query(qid, queries[qid]), cands)
                part[qid] = dict(zip(ranked.docids, ranked.scores))
                if stats is not None:
                    stats["scored_lists"] += 1
            parts.append(part)
    out = ensemble(parts)
    if cache is not None:
        write_cache(cache, key, out)
    return out


def check_specs(host, specs: Sequence[str]) -> None:
    """Fail before any work when a spec names no registered reranker (the model itself is only
    loaded when scoring): a :class:`ViewrankError` naming ``--teacher SPEC``."""
    for spec in specs:
        try:
            host.registry.get("reranker", parse_spec(spec)[0])
        except ViewrankError as exc:
            raise ViewrankError(f"--teacher {spec}: {exc}") from None
