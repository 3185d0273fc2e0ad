"""``viewrank rerank``: BM25 top-depth with Pyserini, rerank, write TREC runs, evaluate.

``--depth K``: BM25 candidates fetched per query, all of them written to the run (so it is also the
run's hits per query); ``--rerank-depth K``: rerank only the top K of those. ``--output`` is one run
file, ``--output-dir`` a folder of runs (one per reranker) and ``summary.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from pathlib import Path

from viewrank.context import Context
from viewrank.errors import ViewrankError


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("rerank", help="BM25 (Pyserini) -> rerank -> TREC run -> trec_eval table")
    p.add_argument("--index", required=True, help="Lucene index folder (viewrank index)")
    p.add_argument("--dataset", required=True, help="BEIR-layout folder the index was built from")
    p.add_argument("--split", default="test", help="qrels split whose queries to run (default: test)")
    p.add_argument("--reranker", action="append", metavar="NAME[:ARG]",
                   help="registered reranker; repeat to compare several (default: none = BM25 order)")
    p.add_argument("--depth", type=int, default=100,
                   help="BM25 candidates fetched per query, all written to the run (default 100)")
    p.add_argument("--rerank-depth", type=int, default=None,
                   help="rerank only the top K of the depth BM25 hits; the rest keep BM25 order below them")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--output", help="run file (one reranker)")
    out.add_argument("--output-dir", help="folder for one run per reranker, plus summary.json")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run without redoing finished queries")
    p.add_argument("--limit", type=int, default=None, help="only the first N queries (smoke runs)")
    p.add_argument("--threads", type=int, default=context.settings.threads,
                   help="BM25 search and torch threads (default: VIEWRANK_THREADS, else 2)")
    p.add_argument("--no-eval", action="store_true", help="skip trec_eval even when qrels exist")
    p.set_defaults(func=functools.partial(run, context=context))


def run_file_name(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", spec).strip("_") + ".trec"


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.adapters.pyserini.evaluate import evaluate_run
    from viewrank.adapters.pyserini.lucene import Bm25, check_index
    from viewrank.adapters.pyserini.rerank import rerank_run
    from viewrank.datasets import BeirDataset
    from viewrank.runs import atomic_write_text

    specs = args.reranker or ["none"]
    if args.output and len(specs) > 1:
        raise ViewrankError("several --reranker values need --output-dir (one run file each), not --output")
    if args.depth < 1:
        raise ViewrankError(f"--depth must be at least 1, got {args.depth}")
    if args.rerank_depth is not None and not 1 <= args.rerank_depth <= args.depth:
        raise ViewrankError(f"--rerank-depth must be between 1 and --depth ({args.depth}), got {args.rerank_depth}")
    check_index(args.index)
    dataset = BeirDataset(args.dataset)
    queries = dataset.queries(args.split)
    if args.limit is not None:
        queries = queries[: args.limit]
    if not queries:
        raise ViewrankError(f"split {args.split!r} of {args.dataset} has no queries")
    settings = context.settings.with_(threads=args.threads)
    host = context.host
    with host.shared_rerankers():  # fuse:W:SPEC reuses the SPEC run's model and caches
        rerankers = {spec: host.reranker(spec) for spec in specs}  # fail on a bad name before any work
    if "torch" in sys.modules:  # a model loaded torch (BM25 order alone never imports it)
        settings.apply_threads()

    started = time.perf_counter()
    first_stage = Bm25(args.index).search(queries, args.depth, threads=settings.threads)
    bm25_spq = (time.perf_counter() - started) / len(queries)

    qrels = None if args.no_eval or not dataset.qrels_path(args.split).is_file() else dataset.qrels(args.split)
    rows = []
    for spec, reranker in rerankers.items():
        output = Path(args.output) if args.output else Path(args.output_dir) / run_file_name(spec)
        result = rerank_run(reranker, spec, dataset, queries, first_stage, output, resume=args.resume,
                            rerank_depth=None if spec == "none" else args.rerank_depth)
        if qrels is not None:
            result.metrics = evaluate_run(output, {q.qid: qrels[q.qid] for q in queries})
        rows.append(result)

    header = f"{'reranker':<32} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8} {'s/query':>8}  run"
    print(header)
    print("-" * len(header))
    for r in rows:
        m = r.metrics
        cells = " ".join(f"{m[k]:>8.4f}" if k in m else f"{'-':>8}" for k in ("nDCG@10", "R@100", "MRR@10"))
        print(f"{r.name:<32} {cells} {bm25_spq + r.seconds_per_query:>8.4f}  {r.run}")
    reranked = f", top {args.rerank_depth} reranked" if args.rerank_depth else ""
    print(f"(s/query = BM25 {bm25_spq:.4f} s + rerank; depth {args.depth}{reranked}, {len(queries)} queries, split {args.split})")
    if args.output_dir:
        summary = {
            "dataset": str(args.dataset), "split": args.split, "depth": args.depth, "rerank_depth": args.rerank_depth, "queries": len(queries),
            "bm25_seconds_per_query": bm25_spq,
            "runs": [{"reranker": r.name, "run": str(r.run), "metrics": r.metrics,
                      "rerank_seconds_per_query": r.seconds_per_query} for r in rows],
        }
        atomic_write_text(Path(args.output_dir) / "summary.json", json.dumps(summary, indent=2))
    return 0
