"""``viewrank search``: dense, binary or hybrid retrieval with Pyserini's searchers -> TREC run.

``--hits`` is the results per query; ``--rescore-depth`` the Hamming candidates a binary search
rescores (``--rerank-depth``, its old name, is a deprecated alias: in ``viewrank rerank`` that name
means "rerank the top K").
"""

from __future__ import annotations

import argparse
import functools

from viewrank.cli.flags import add_deprecated_alias
from viewrank.context import Context
from viewrank.errors import ViewrankError


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("search", help="dense / binary / hybrid (BM25 + dense) search over a `viewrank encode` index")
    p.add_argument("--index", required=True, help="faiss index folder (viewrank encode)")
    p.add_argument("--dataset", required=True, help="BEIR-layout folder (queries.jsonl, qrels/)")
    p.add_argument("--split", default="test", help="qrels split whose queries to run (default: test)")
    p.add_argument("--mode", choices=("dense", "binary", "hybrid"), default="dense")
    p.add_argument("--embedder", default=None, help="query embedder NAME[:ARG] (default: the one the index records)")
    p.add_argument("--bm25-index", default=None, help="Lucene index for --mode hybrid (viewrank index)")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="hybrid: weight of the min-max-normalised BM25 score (dense weight 1; default 1.0, best on SciFact train)")
    p.add_argument("--rescore-depth", type=int, default=100,
                   help="binary: Hamming candidates rescored with the stored vectors (default 100; 0: Hamming order only)")
    add_deprecated_alias(p, "--rerank-depth", "--rescore-depth", dest="rescore_depth", type=int)
    p.add_argument("--hits", type=int, default=1000, help="hits per query (default 1000)")
    p.add_argument("--output", required=True, help="TREC run file")
    p.add_argument("--tag", default=None, help="run tag (default viewrank-MODE)")
    p.add_argument("--limit", type=int, default=None, help="only the first N queries")
    p.add_argument("--threads", type=int, default=context.settings.threads,
                   help="Pyserini search and torch threads (default: VIEWRANK_THREADS, else 2)")
    p.add_argument("--no-eval", action="store_true", help="skip trec_eval even when qrels exist")
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.adapters.pyserini.dense_search import search
    from viewrank.adapters.pyserini.evaluate import evaluate_run
    from viewrank.datasets import BeirDataset
    from viewrank.runs import RunWriter

    if args.hits < 1:
        raise ViewrankError(f"--hits must be at least 1, got {args.hits}")
    settings = context.settings.with_(threads=args.threads)
    dataset = BeirDataset(args.dataset)
    queries = dataset.queries(args.split)[: args.limit] if args.limit else dataset.queries(args.split)
    if not queries:
        raise ViewrankError(f"split {args.split!r} of {args.dataset} has no queries")
    settings.apply_threads()
    result = search(args.index, queries, mode=args.mode, k=args.hits, embedder=args.embedder,
                    bm25_index=args.bm25_index, rescore_depth=args.rescore_depth, alpha=args.alpha,
                    threads=settings.threads, host=context.host)
    with RunWriter(args.output, tag=args.tag or f"viewrank-{args.mode}") as writer:
        writer.write_all(result.ranked)
    print(f"{args.mode} search: {len(queries)} queries in {result.seconds:.1f} s "
          f"({result.info.get('searcher')}) -> {args.output}")
    if not args.no_eval and dataset.qrels_path(args.split).is_file():
        qrels = dataset.qrels(args.split)
        metrics = evaluate_run(args.output, {q.qid: qrels[q.qid] for q in queries})
        print(f"{'run':<24} " + " ".join(f"{m:>8}" for m in metrics))
        print(f"{args.mode:<24} " + " ".join(f"{v:>8.4f}" for v in metrics.values()))
    return 0
