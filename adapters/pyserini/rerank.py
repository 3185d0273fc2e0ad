"""First stage -> neural rerank -> run file, and the same pieces for Python scripts.

The first stage is BM25 over a Lucene index or any run file (TREC or MS MARCO); passage texts
come from a Lucene index's stored documents, a BEIR folder or a collection file. For scripts:
:func:`rerank_hits` reranks one query's Pyserini hits, :func:`rerank_run` a whole run.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from tqdm.auto import tqdm

from viewrank.adapters.pyserini import host_or_new
from viewrank.datasets import CorpusTexts, Document, MappingTexts, TextSource, read_topics
from viewrank.errors import ViewrankError
from viewrank.runs import Lists, RunFile, RunWriter, as_lists
from viewrank.types import Candidate, Query, RankedList, Reranker, ScoredDoc

if TYPE_CHECKING:
    from viewrank.manager import PluginHost


def hits_to_candidates(searcher: Any, hits: Sequence[Any]) -> list[Candidate]:
    """Candidates from Pyserini hits (``.docid``, ``.score``), texts read from the index's stored
    documents (:func:`viewrank.adapters.pyserini.lucene.stored_document`)."""
    from viewrank.adapters.pyserini.lucene import stored_document

    out = []
    for hit in hits:
        doc = searcher.doc(hit.docid)
        if doc is None:
            raise ViewrankError(f"document {hit.docid!r} is not in the searcher's index")
        stored = stored_document(hit.docid, doc, "the searcher's index")
        out.append(Candidate(docid=hit.docid, text=stored.text, score=float(hit.score), title=stored.title))
    return out


def _reranker(reranker: Reranker | str, host: "PluginHost | None") -> Reranker:
    return host_or_new(host).reranker(reranker) if isinstance(reranker, str) else reranker


def rerank_hits(searcher: Any, query: str | Query, hits: Sequence[Any], reranker: Reranker | str,
                host: "PluginHost | None" = None) -> RankedList:
    """Rerank one query's Pyserini hits; for use in your own Pyserini scripts.

    ``searcher`` is a ``LuceneSearcher`` (texts come from its stored raw documents), ``hits``
    what its ``search`` returned, ``reranker`` a reranker object or a registered spec such as
    ``"bi-encoder"`` or ``"mvp:models/mvp-minilm"``, looked up in ``host`` (default: a new host
    with the installed plugins; a script reranking many queries passes a reranker object instead,
    so the model loads once).
    """
    reranker = _reranker(reranker, host)
    q = query if isinstance(query, Query) else Query("q", query)
    if not q.text.strip():
        raise ViewrankError("empty query text")
    return reranker.rerank(q, hits_to_candidates(searcher, hits))


def with_tail(ranked: RankedList, tail: Sequence[Candidate]) -> RankedList:
    """Append first-stage candidates that were not reranked, below every reranked one, in order."""
    floor = min(ranked.scores, default=0.0)
    items = ranked.items + tuple(ScoredDoc(c.docid, floor - 1.0 - i) for i, c in enumerate(tail))
    return RankedList(ranked.qid, items)


# --- where the pieces come from ---------------------------------------------------------------

def open_texts(source: Any) -> TextSource:
    """A text source from what a script holds: a Lucene index folder (its stored documents), a
    BEIR folder, a collection file (JSONL or ``collection.tsv``), a ``LuceneSearcher``, a mapping
    of docid to text, or a text source object (anything with ``lookup`` and ``name``)."""
    from viewrank.adapters.pyserini.lucene import IndexTexts

    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir() and any(path.glob("segments_*")):
            return IndexTexts(path)
        if path.is_dir() or path.is_file():
            return CorpusTexts(path)
        raise ViewrankError(f"text source {path} does not exist (a Lucene index, a BEIR folder or a collection file)")
    if isinstance(source, Mapping):
        return MappingTexts(source)
    if isinstance(source, TextSource):
        return source
    lucene = sys.modules.get("pyserini.search.lucene")  # a script that holds a searcher has imported it
    if lucene is not None and isinstance(source, lucene.LuceneSearcher):
        return IndexTexts(searcher=source)
    raise ViewrankError(f"cannot read passage texts from a {type(source).__name__}")


def open_topics(topics: Any, field: str = "title") -> list[Query]:
    """Queries from a topic file (:func:`viewrank.datasets.read_topics`), a mapping of qid to
    text, or a sequence of :class:`~viewrank.types.Query`."""
    if isinstance(topics, (str, Path)):
        return read_topics(topics, field)
    if isinstance(topics, Mapping):
        return [Query(str(qid), str(text)) for qid, text in topics.items()]
    return [q if isinstance(q, Query) else Query(str(q[0]), str(q[1])) for q in topics]


def _names(ids: Sequence[str], n: int = 5) -> str:
    return ", ".join(repr(i) for i in ids[:n]) + (", ..." if len(ids) > n else "")


def queries_of_run(first_stage: Lists, queries: Sequence[Query], run_name: str, topics_name: str) -> list[Query]:
    """The queries the run ranks, in topic order; a run query missing from the topics is an error
    (its text is unknown), listing how many and the first few."""
    known = {q.qid for q in queries}
    unknown = [qid for qid in first_stage if qid not in known]
    if unknown:
        stripped = {str(int(qid)) for qid in known if qid.isdigit() and qid != str(int(qid))}
        hint = ("; Pyserini writes numeric topic ids without their leading zeros ('0007' as '7')"
                if any(qid in stripped for qid in unknown) else "")
        raise ViewrankError(f"{len(unknown)} of the {len(first_stage)} queries in {run_name} are not in "
                            f"{topics_name} (first: {_names(unknown)}): the run and the topics must be of the "
                            f"same queries{hint}")
    return [q for q in queries if q.qid in first_stage]


@dataclass
class Texts:
    """The passages of a first stage: their documents, and what had to be left out."""

    docs: dict[str, Document]
    first_stage: Lists
    skipped: int = 0
    skipped_queries: int = 0


def fetch_texts(first_stage: Lists, texts: TextSource, skip_missing: bool = False) -> Texts:
    """Look every document of ``first_stage`` up in ``texts``. A missing one is an error naming
    the count and the first few, unless ``skip_missing``: then they leave the lists (counted)."""
    wanted = list(dict.fromkeys(docid for docs in first_stage.values() for docid, _ in docs))
    docs = texts.lookup(wanted)
    missing = [d for d in wanted if d not in docs]
    if not missing:
        return Texts(docs, first_stage)
    if not skip_missing:
        raise ViewrankError(f"{len(missing)} of the run's {len(wanted)} documents are not in {texts.name} "
                            f"(first: {_names(missing)}); pass --skip-missing to leave them out")
    gone = set(missing)
    kept = {qid: [(d, s) for d, s in hits if d not in gone] for qid, hits in first_stage.items()}
    skipped = sum(len(hits) - len(kept[qid]) for qid, hits in first_stage.items())
    affected = sum(1 for qid, hits in first_stage.items() if len(kept[qid]) != len(hits))
    return Texts(docs, kept, skipped, affected)


# --- reranking --------------------------------------------------------------------------------

def rerank_one(reranker: Reranker, query: Query, hits: Sequence[tuple[str, float]], docs: Mapping[str, Document],
               rerank_depth: int | None = None) -> RankedList:
    """One query's first-stage list reranked (only its top ``rerank_depth`` when given; the rest
    follow in first-stage order). ``docs`` holds every hit's document."""
    candidates = [Candidate(docid, docs[docid].text, score, docs[docid].title) for docid, score in hits]
    head, tail = (candidates, []) if rerank_depth is None else (candidates[:rerank_depth], candidates[rerank_depth:])
    ranked = reranker.rerank(query, head) if head else RankedList(query.qid)
    return with_tail(ranked, tail) if tail else ranked


@dataclass
class RunResult:
    name: str
    run: Path
    queries: int
    seconds_per_query: float
    metrics: dict[str, float] = field(default_factory=dict)


def rerank_to_file(
    reranker: Reranker,
    name: str,
    queries: Sequence[Query],
    first_stage: Lists,
    docs: Mapping[str, Document],
    output: Path,
    resume: bool = False,
    rerank_depth: int | None = None,
    output_format: str = "trec",
) -> RunResult:
    """Rerank every query's first-stage list and write the run (resumable, never half-written).

    With ``rerank_depth`` only the top ``rerank_depth`` candidates are reranked; the rest keep
    their first-stage order below them (so recall at the full depth is the first stage's).
    """
    writer = RunWriter(output, tag=f"viewrank-{name}", resume=resume, output_format=output_format)
    todo = [q for q in queries if not writer.is_done(q.qid)]
    seconds = 0.0
    try:
        for q in tqdm(todo, desc=f"rerank {name}", unit="q"):
            started = time.perf_counter()
            ranked = rerank_one(reranker, q, first_stage.get(q.qid, []), docs, rerank_depth)
            seconds += time.perf_counter() - started
            writer.write(ranked)
    except BaseException:
        writer.abandon()
        raise
    writer.close()
    return RunResult(name, output, len(queries), seconds / max(len(todo), 1))


def rerank_run(run: "str | Path | RunFile | Mapping[str, Any]", reranker: Reranker | str, texts: Any, topics: Any, *,
               hits: int | None = None, rerank_depth: int | None = None, skip_missing: bool = False,
               topic_field: str = "title", host: "PluginHost | None" = None) -> dict[str, RankedList]:
    """Rerank a whole run; for scripts. Returns ``{qid: RankedList}`` in topic order (write it with
    :func:`viewrank.runs.write_run`, or pass it to ``rerank_run`` again).

    - ``run``: a run file (TREC or MS MARCO), or ``{qid: RankedList | [(docid, score), ...] | {docid: score}}``;
    - ``reranker``: a reranker object or a registered spec (``"bi-encoder"``, ``"fuse:0.4:bi-encoder"``),
      looked up in ``host`` (default: a new host with the installed plugins);
    - ``texts``: a Lucene index folder, a ``LuceneSearcher``, a BEIR folder, a collection file or
      ``{docid: text}`` (:func:`open_texts`);
    - ``topics``: a topic file (TSV, TREC, JSONL), ``{qid: text}`` or a list of queries;
    - ``hits``: rerank each query's top ``hits`` (default all); ``rerank_depth``: rerank only the
      top K of those, the rest follow in first-stage order; ``skip_missing``: leave out documents
      the text source lacks instead of failing.

    The first-stage scores reach the reranker as ``Candidate.score`` (``fuse:W:SPEC`` uses them).
    """
    if hits is not None and hits < 1:
        raise ViewrankError(f"hits must be at least 1, got {hits}")
    lists = as_lists(run)
    if not lists:
        raise ViewrankError("the run is empty: it ranks no query")
    first_stage = {qid: docs[:hits] if hits is not None else docs for qid, docs in lists.items()}
    run_name = str(run) if isinstance(run, (str, Path)) else "the run"
    topics_name = str(topics) if isinstance(topics, (str, Path)) else "the topics"
    queries = queries_of_run(first_stage, open_topics(topics, topic_field), run_name, topics_name)
    fetched = fetch_texts(first_stage, open_texts(texts), skip_missing)
    model = _reranker(reranker, host)
    return {q.qid: rerank_one(model, q, fetched.first_stage[q.qid], fetched.docs, rerank_depth)
            for q in tqdm(queries, desc="rerank", unit="q")}
