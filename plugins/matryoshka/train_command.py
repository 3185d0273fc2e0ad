"""``viewrank train matryoshka --output DIR``: 2DMSE fine-tuning on SciFact train + MS MARCO toy triples."""

from __future__ import annotations

import argparse

from viewrank.cli.flags import require_output
from viewrank.context import Context

DESCRIPTION = "2D-Matryoshka (2DMSE) fine-tuning of an encoder on SciFact train + MS MARCO toy triples"


def add_arguments(ap: argparse.ArgumentParser, context: Context) -> None:
    from viewrank.cli.flags import add_deprecated_alias

    data = context.settings.data_dir
    ap.add_argument("--model", default="all-MiniLM-L6-v2", help="start encoder (folder or packaged name)")
    ap.add_argument("--dataset", default=str(data / "scifact"), help="BEIR folder with qrels/train.tsv")
    ap.add_argument("--triples", default=str(data / "msmarco-toy" / "triples.tsv"), help="query/pos/neg TSV ('' to skip)")
    ap.add_argument("--output", dest="out", default=None, help="folder the trained model goes to (required)")
    add_deprecated_alias(ap, "--out", "--output", dest="out")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dims", default="384,256,128,64")
    ap.add_argument("--kl-weight", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--max-length", type=int, default=192, help="training max tokens (inference keeps the model's)")
    ap.add_argument("--threads", type=int, default=context.settings.threads)


def run(args: argparse.Namespace, context: Context) -> int:
    require_output(args)
    from viewrank.plugins.dense.data import beir_examples, triples_examples
    from viewrank.plugins.dense.embedder import DenseEmbedder
    from viewrank.plugins.matryoshka.train import TwoDConfig, train_2dmse

    context.settings.with_(threads=args.threads).apply_threads()
    examples = beir_examples(args.dataset, "train") + (triples_examples(args.triples) if args.triples else [])
    emb = DenseEmbedder(context.host.resolve_model_path(args.model))
    cfg = TwoDConfig(dims=tuple(int(d) for d in args.dims.split(",")), steps=args.steps,
                     batch_size=args.batch_size, kl_weight=args.kl_weight,
                     lr=args.lr, max_length=args.max_length)
    out = train_2dmse(emb, examples, args.out, cfg)
    print(f"saved 2DMSE model to {out} ({len(examples)} examples, {args.steps} steps)")
    return 0
