"""``viewrank rerank`` (also ``python -m viewrank.rerank``): first stage -> rerank -> run -> trec_eval.

The first stage is BM25 over ``--index`` (Pyserini's LuceneSearcher, batched), or any run file
(``--run``: TREC or MS MARCO, from Pyserini or anything else). ``--hits K``: the first-stage
results per query, all written to the run (``--depth`` is its deprecated alias);
``--rerank-depth K``: rerank only the top K of those. Queries: ``--topics FILE`` (TSV, TREC,
JSONL) or ``--dataset DIR --split S``. Passage texts: ``--corpus FILE``, else the ``--dataset``
folder, else the ``--index``'s stored documents. ``--output`` is one run file, ``--output-dir``
a folder of runs (one per reranker) and ``summary.json``. Flag names follow Pyserini's
``pyserini.search.lucene`` where the two overlap.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from pathlib import Path

from viewrank.cli.flags import add_deprecated_alias
from viewrank.context import Context
from viewrank.errors import ViewrankError


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("rerank", help="BM25 (Pyserini) or a run file -> rerank -> run -> trec_eval table",
                       description="Rerank BM25 results (--index) or any TREC / MS MARCO run (--run) and "
                                   "evaluate with Pyserini's trec_eval.")
    first = p.add_argument_group("first stage and texts")
    first.add_argument("--index", help="Lucene index: BM25 over it when there is no --run; else (without "
                                       "--dataset/--corpus) the passage texts, from its stored raw documents")
    first.add_argument("--run", help="first-stage run file (TREC 'qid Q0 docid rank score tag', or MS MARCO "
                                     "'qid<TAB>docid<TAB>rank', whose documents get the score 1/rank) instead of BM25")
    first.add_argument("--corpus", help="passage texts from a collection file: JSONL ({id, contents} or "
                                        "{_id, title, text}) or an MS MARCO-style collection.tsv")
    first.add_argument("--skip-missing", action="store_true",
                       help="leave out run documents the text source lacks (counted) instead of failing")
    first.add_argument("--hits", type=int, default=100,
                       help="first-stage results per query, all written to the run (default 100)")
    add_deprecated_alias(first, "--depth", "--hits", dest="hits", type=int)
    first.add_argument("--rerank-depth", type=int, default=None,
                       help="rerank only the top K of the --hits results; the rest keep first-stage order below them")
    first.add_argument("--batch-size", type=int, default=64, help="queries per BM25 batch search (default 64)")
    topics = p.add_argument_group("queries and judgements")
    topics.add_argument("--topics", help="topic file: TSV 'qid<TAB>text', TREC <top> topics, JSONL "
                                         "(BEIR queries.jsonl too); read by viewrank, not Pyserini's topic names")
    topics.add_argument("--topic-field", choices=("title", "desc", "title+desc"), default="title",
                        help="TREC topics: the field used as the query (default title)")
    topics.add_argument("--qrels", help="qrels file for the table: TREC 'qid 0 docid rel' or BEIR TSV")
    topics.add_argument("--dataset", help="BEIR-layout folder: queries and qrels of --split (and passage texts)")
    topics.add_argument("--split", default="test", help="qrels split of --dataset whose queries to run (default: test)")
    topics.add_argument("--metrics", nargs="+", action="extend", metavar="MEASURE",
                        help="trec_eval measures (map, ndcg_cut.10, P.5, recall.1000, ...) or short forms "
                             "(nDCG@10, R@100, MRR@10); default nDCG@10 R@100 MRR@10")
    p.add_argument("--reranker", action="append", metavar="NAME[:ARG]",
                   help="registered reranker; repeat to compare several (default: none = first-stage order)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--output", help="run file (one reranker)")
    out.add_argument("--output-dir", help="folder for one run per reranker, plus summary.json")
    p.add_argument("--output-format", choices=("trec", "msmarco"), default="trec",
                   help="run lines: trec (default) or msmarco (qid<TAB>docid<TAB>rank)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run without redoing finished queries")
    p.add_argument("--limit", type=int, default=None, help="only the first N queries (smoke runs)")
    p.add_argument("--threads", type=int, default=context.settings.threads,
                   help="BM25 search and torch threads (default: VIEWRANK_THREADS, else 2)")
    p.add_argument("--no-eval", action="store_true", help="skip trec_eval even when qrels exist")
    p.set_defaults(func=functools.partial(run, context=context))


def run_file_name(spec: str, output_format: str = "trec") -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", spec).strip("_") + (".trec" if output_format == "trec" else ".tsv")


def warn(message: str) -> None:
    print(f"viewrank rerank: warning: {message}", file=sys.stderr)


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.adapters.pyserini.evaluate import evaluate_run, format_table, overlap_warnings, parse_metrics
    from viewrank.adapters.pyserini.lucene import Bm25, IndexTexts, check_index
    from viewrank.adapters.pyserini.rerank import fetch_texts, queries_of_run, rerank_to_file
    from viewrank.datasets import BeirDataset, CorpusTexts, load_qrels, read_topics
    from viewrank.runs import atomic_write_text, parse_run

    specs = args.reranker or ["none"]
    if args.output and len(specs) > 1:
        raise ViewrankError("several --reranker values need --output-dir (one run file each), not --output")
    if args.hits < 1:
        raise ViewrankError(f"--hits must be at least 1, got {args.hits}")
    if args.rerank_depth is not None and not 1 <= args.rerank_depth <= args.hits:
        raise ViewrankError(f"--rerank-depth must be between 1 and --hits ({args.hits}), got {args.rerank_depth}")
    if args.batch_size < 1:
        raise ViewrankError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.limit is not None and args.limit < 1:
        raise ViewrankError(f"--limit must be at least 1, got {args.limit}")
    if args.run is None and args.index is None:
        raise ViewrankError("give --index (BM25 over it) or --run FILE (a first-stage run)")
    if args.topics is None and args.dataset is None:
        raise ViewrankError("give --topics FILE or --dataset DIR: the query texts")
    if args.corpus is None and args.dataset is None and args.index is None:
        raise ViewrankError("give the passage texts: --index (its stored raw documents), --dataset DIR or --corpus FILE")
    measures = None if args.no_eval else parse_metrics(args.metrics)
    if args.index is not None:
        check_index(args.index)

    # Queries and judgements.
    dataset = BeirDataset(args.dataset) if args.dataset else None
    if args.topics:
        queries, topics_name = read_topics(args.topics, args.topic_field), str(args.topics)
    else:
        queries, topics_name = dataset.queries(args.split), f"split {args.split!r} of {args.dataset}"
    # Passage texts: a collection file, else the BEIR folder, else (opened later) the index's stored documents.
    source = CorpusTexts(args.corpus) if args.corpus else CorpusTexts(dataset.corpus_path) if dataset else None
    qrels = None
    if not args.no_eval:
        if args.qrels:
            qrels = load_qrels(args.qrels)
        elif dataset is not None and dataset.qrels_path(args.split).is_file():
            qrels = dataset.qrels(args.split)

    # The first stage from a run file: checked before any model loads.
    first_stage = None
    if args.run:
        run_file = parse_run(args.run)
        first_stage = run_file.top(args.hits)
        ranked = queries_of_run(first_stage, queries, str(args.run), topics_name)
        if len(ranked) < len(queries):
            print(f"note: {len(queries) - len(ranked)} of the {len(queries)} topics have no lines in {args.run} "
                  "(not reranked)", file=sys.stderr)
        queries = ranked
    if args.limit is not None:
        queries = queries[: args.limit]
    if not queries:
        raise ViewrankError(f"{topics_name} has no queries")

    settings = context.settings.with_(threads=args.threads)
    host = context.host
    with host.shared_rerankers():  # fuse:W:SPEC reuses the SPEC run's model and caches
        rerankers = {spec: host.reranker(spec) for spec in specs}  # fail on a bad name before any work
    if "torch" in sys.modules:  # a model loaded torch (first-stage order alone never imports it)
        settings.apply_threads()

    first_spq = 0.0  # a run file's first stage was paid for elsewhere
    if first_stage is None:
        started = time.perf_counter()
        first_stage = Bm25(args.index).search(queries, args.hits, threads=settings.threads, batch_size=args.batch_size)
        first_spq = (time.perf_counter() - started) / len(queries)
    first_stage = {q.qid: first_stage[q.qid] for q in queries}

    if source is None:
        source = IndexTexts(args.index)
    texts = fetch_texts(first_stage, source, args.skip_missing)
    if texts.skipped:
        print(f"note: skipped {texts.skipped} run documents ({texts.skipped_queries} queries) missing from "
              f"{source.name} (--skip-missing)", file=sys.stderr)

    judged = None
    if qrels is not None:
        for message in overlap_warnings(texts.first_stage, qrels, unranked_count_zero=False):
            warn(message)
        judged = {q.qid: qrels[q.qid] for q in queries if q.qid in qrels}
    rows = []
    for spec, reranker in rerankers.items():
        output = Path(args.output) if args.output else Path(args.output_dir) / run_file_name(spec, args.output_format)
        result = rerank_to_file(reranker, spec, queries, texts.first_stage, texts.docs, output, resume=args.resume,
                                rerank_depth=None if spec == "none" else args.rerank_depth,
                                output_format=args.output_format)
        if judged is not None:
            result.metrics = evaluate_run(output, judged, [m.spec for m in measures])
        rows.append(result)

    columns = list(dict.fromkeys(k for r in rows for k in r.metrics)) or (
        [c for m in measures for c in m.columns()] if measures else [])
    for line in format_table("reranker", [(r.name, r.metrics, [f"{first_spq + r.seconds_per_query:>8.4f}", str(r.run)])
                                          for r in rows], columns, [f"{'s/query':>8}", "run"]):
        print(line)
    timing = f"rerank only, first stage from {args.run}" if args.run else f"BM25 {first_spq:.4f} s + rerank"
    reranked = f", top {args.rerank_depth} reranked" if args.rerank_depth else ""
    judged_note = "" if qrels is not None else "; no qrels: not evaluated"
    print(f"(s/query = {timing}; hits {args.hits}{reranked}, {len(queries)} queries from {topics_name}{judged_note})")
    if args.output_dir:
        summary = {
            "first_stage": str(args.run) if args.run else "bm25", "index": args.index, "topics": topics_name,
            "dataset": str(args.dataset) if args.dataset else None, "split": args.split if not args.topics else None,
            "qrels": str(args.qrels) if args.qrels else None, "hits": args.hits, "rerank_depth": args.rerank_depth,
            "queries": len(queries), "skipped_documents": texts.skipped, "first_stage_seconds_per_query": first_spq,
            "runs": [{"reranker": r.name, "run": str(r.run), "metrics": r.metrics,
                      "rerank_seconds_per_query": r.seconds_per_query} for r in rows],
        }
        atomic_write_text(Path(args.output_dir) / "summary.json", json.dumps(summary, indent=2))
    return 0
