"""``viewrank encode``: embed a BEIR corpus and write a faiss index in Pyserini's layout."""

from __future__ import annotations

import argparse
import functools
import json
from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("encode", help="embed a corpus with a registered embedder into a faiss index (Pyserini layout)")
    p.add_argument("--embedder", default="dense", help="registered embedder NAME[:ARG] (default: dense = MiniLM)")
    p.add_argument("--dataset", required=True, help="BEIR-layout folder (corpus.jsonl)")
    p.add_argument("--index", required=True, help="output index folder (index + docid + viewrank metadata)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--int8", action="store_true", help="int8 scalar-quantised index (calibrated per dimension)")
    kind.add_argument("--binary", action="store_true", help="binary codes in a faiss binary index (Hamming search)")
    p.add_argument("--thresholds", choices=("itq", "median", "zero", "ste"), default="itq",
                   help="binary: itq (rotation; default), median (per-dimension corpus medians), zero (sign), "
                        "ste (projection trained label-free with a straight-through estimator; minutes)")
    p.add_argument("--no-idmap", action="store_true",
                   help="binary: plain IndexBinaryFlat (codes only, 32x smaller than float) instead of IndexBinaryIDMap")
    p.add_argument("--rescore", choices=("int8", "float", "none"), default="float",
                   help="binary: vectors kept beside the index to rescore Hamming candidates (default float)")
    p.add_argument("--force", action="store_true", help="overwrite an existing index")
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.adapters.pyserini.dense import META_NAME, build_index

    kind = "int8" if args.int8 else "binary" if args.binary else "float"
    out = build_index(args.embedder, args.dataset, args.index, kind=kind, binary_method=args.thresholds,
                      rescore=args.rescore, force=args.force, idmap=not args.no_idmap)
    meta = json.loads((out / META_NAME).read_text())
    extra = f" (+ {meta['rescore_bytes']:,} bytes of rescore vectors)" if "rescore_bytes" in meta else ""
    print(f"encoded {meta['documents']} documents ({meta['docs_per_second']} docs/s) into a {kind} index "
          f"{out}: {meta['index_bytes']:,} bytes{extra}")
    return 0
