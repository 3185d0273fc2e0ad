"""BM25 -> neural rerank -> TREC run -> trec_eval, and the same pieces for Python scripts."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from tqdm.auto import tqdm

from viewrank.adapters.pyserini import host_or_new
from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError
from viewrank.runs import RunWriter
from viewrank.types import Candidate, Query, RankedList, Reranker, ScoredDoc

if TYPE_CHECKING:
    from viewrank.manager import PluginHost


def hits_to_candidates(searcher: Any, hits: Sequence[Any]) -> list[Candidate]:
    """Candidates from Pyserini hits (``.docid``, ``.score``), texts read from the index's raw docs."""
    out = []
    for hit in hits:
        doc = searcher.doc(hit.docid)
        raw = doc.raw() if doc is not None else None
        if raw is None:
            raise ViewrankError(f"document {hit.docid!r} has no stored text: index with --storeRaw")
        try:
            text = json.loads(raw).get("contents", "")
        except json.JSONDecodeError:
            text = raw
        out.append(Candidate(docid=hit.docid, text=text, score=float(hit.score)))
    return out


def rerank_hits(searcher: Any, query: str | Query, hits: Sequence[Any], reranker: Reranker | str,
                host: "PluginHost | None" = None) -> RankedList:
    """Rerank one query's Pyserini hits; for use in your own Pyserini scripts.

    ``searcher`` is a ``LuceneSearcher`` (texts come from its stored raw documents), ``hits``
    what its ``search`` returned, ``reranker`` a reranker object or a registered spec such as
    ``"bi-encoder"`` or ``"mvp:models/mvp-minilm"``, looked up in ``host`` (default: a new host
    with the installed plugins; a script reranking many queries passes a reranker object instead,
    so the model loads once).
    """
    if isinstance(reranker, str):
        reranker = host_or_new(host).reranker(reranker)
    q = query if isinstance(query, Query) else Query("q", query)
    if not q.text.strip():
        raise ViewrankError("empty query text")
    return reranker.rerank(q, hits_to_candidates(searcher, hits))


def with_tail(ranked: RankedList, tail: Sequence[Candidate]) -> RankedList:
    """Append first-stage candidates that were not reranked, below every reranked one, in order."""
    floor = min(ranked.scores, default=0.0)
    items = ranked.items + tuple(ScoredDoc(c.docid, floor - 1.0 - i) for i, c in enumerate(tail))
    return RankedList(ranked.qid, items)


@dataclass
class RunResult:
    name: str
    run: Path
    queries: int
    seconds_per_query: float
    metrics: dict[str, float] = field(default_factory=dict)


def rerank_run(
    reranker: Reranker,
    name: str,
    dataset: BeirDataset,
    queries: Sequence[Query],
    first_stage: dict[str, list[tuple[str, float]]],
    output: Path,
    resume: bool = False,
    rerank_depth: int | None = None,
) -> RunResult:
    """Rerank every query's first-stage list and write the TREC run (resumable, never half-written).

    With ``rerank_depth`` only the top ``rerank_depth`` candidates are reranked; the rest keep
    their first-stage order below them (so recall at the full depth is the first stage's).
    """
    writer = RunWriter(output, tag=f"viewrank-{name}", resume=resume)
    todo = [q for q in queries if not writer.is_done(q.qid)]
    seconds = 0.0
    try:
        for q in tqdm(todo, desc=f"rerank {name}", unit="q"):
            candidates = [dataset.candidate(docid, score) for docid, score in first_stage.get(q.qid, [])]
            head, tail = (candidates, []) if rerank_depth is None else (candidates[:rerank_depth], candidates[rerank_depth:])
            started = time.perf_counter()
            ranked = reranker.rerank(q, head)
            seconds += time.perf_counter() - started
            if tail:
                ranked = with_tail(ranked, tail)
            writer.write(ranked)
    except BaseException:
        writer.abandon()
        raise
    writer.close()
    return RunResult(name, output, len(queries), seconds / max(len(todo), 1))
