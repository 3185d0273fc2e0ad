"""``viewrank adapt mvp|cross-encoder``: fit a trained reranker to a corpus without labels."""

from __future__ import annotations

import argparse
import functools
import time
from viewrank.cli.flags import int_range, require_output
from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    from viewrank.cli.flags import add_deprecated_alias
    from viewrank.plugins.mvp.options import TrainOptions

    d = TrainOptions()
    p = sub.add_parser("adapt", help="adapt a trained MVP or cross-encoder to a corpus without labels (pseudo-queries)",
                       description="Pseudo-queries are sentences of the corpus's passages (ICT-style), their BM25 "
                                   "lists ordered by a teacher; the model is fine-tuned from --model. No labels are read.")
    p.add_argument("kind", choices=["mvp", "cross-encoder"])
    p.add_argument("--corpus", required=True, help="BEIR-layout folder holding corpus.jsonl")
    p.add_argument("--model", required=True, help="the trained model folder to start from")
    p.add_argument("--output", dest="out", help="where the adapted model goes (required)")
    add_deprecated_alias(p, "--out", "--output", dest="out")
    p.add_argument("--index", default="", help="Lucene index of the corpus (default indexes/<corpus name>; built if absent)")
    p.add_argument("--teacher", action="append", default=[], metavar="SPEC",
                   help="orders each pseudo-query's list (repeat for an ensemble; default fuse:0.4:bi-encoder)")
    p.add_argument("--queries", type=int, default=2000, help="pseudo-queries to make (default %(default)s)")
    p.add_argument("--query-sentences", type=int_range, default=(1, 1), metavar="N|A-B",
                   help="consecutive sentences per pseudo-query: N, or a number drawn from A..B for each "
                        "(default 1; 1-3 when your queries are paragraphs rather than one sentence)")
    p.add_argument("--max-length", type=int, default=0,
                   help="tokens per candidate (query + passage) to train and save the adapted model at (default: the "
                        "model's own). Long queries leave little of a passage at 128: raise it for paragraph queries")
    p.add_argument("--source", choices=["keep", "drop"], default="keep",
                   help="keep: the passage a pseudo-query was cut from is its positive, first in its list "
                        "(default); drop: lists leave it out and the teacher orders the other passages, so the "
                        "model learns the teacher's topical order instead of finding the verbatim source")
    p.add_argument("--list-size", dest="n", type=int, default=d.n, help="candidates per list (default %(default)s)")
    add_deprecated_alias(p, "--n", "--list-size", dest="n", type=int)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=3e-5, help="backbone learning rate (default %(default)s)")
    p.add_argument("--head-lr", type=float, default=1e-4)
    p.add_argument("--time-budget-min", type=float, default=15.0)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=context.settings.threads)
    p.add_argument("--device", default=context.settings.device)
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    require_output(args)
    from viewrank.plugins.mvp.adapt import adapt
    from viewrank.plugins.mvp.options import TrainOptions

    opts = TrainOptions(kind=args.kind, init_from=args.model, out=args.out, index=args.index,
                        teacher=args.teacher or ["fuse:0.4:bi-encoder"], n=args.n, epochs=args.epochs, lr=args.lr,
                        head_lr=args.head_lr, time_budget_min=args.time_budget_min, seed=args.seed,
                        threads=args.threads, device=args.device, pin_positive=args.source == "keep")
    t0 = time.monotonic()
    out = adapt(opts, args.corpus, args.queries, context.host, span=args.query_sentences, max_length=args.max_length)
    print(f"saved the adapted {args.kind} model to {out} ({time.monotonic() - t0:.0f} s)")
    return 0
