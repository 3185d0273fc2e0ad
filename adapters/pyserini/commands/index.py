"""``viewrank index``: a Lucene index of a BEIR corpus through Pyserini's indexer."""

from __future__ import annotations

import argparse
import functools
import json

from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("index", help="build a Lucene (BM25) index of a BEIR-layout corpus with Pyserini")
    p.add_argument("--dataset", required=True, help="BEIR-layout folder (corpus.jsonl, queries.jsonl, qrels/)")
    p.add_argument("--index", required=True, help="output index folder")
    p.add_argument("--threads", type=int, default=context.settings.threads,
                   help="indexer threads (default: VIEWRANK_THREADS, else 2)")
    p.add_argument("--force", action="store_true", help="rebuild when the index already exists")
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.adapters.pyserini.lucene import INDEX_META, build_index

    out = build_index(args.dataset, args.index, threads=args.threads, force=args.force)
    meta = json.loads((out / INDEX_META).read_text())
    print(f"indexed {meta['documents']} documents into {out} in {meta['seconds']} s")
    return 0
