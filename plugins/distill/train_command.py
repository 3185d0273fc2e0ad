"""``viewrank train distill --teacher SPEC --output DIR``: distil a reranker into a bi-encoder."""

from __future__ import annotations

import argparse

from viewrank.cli.flags import require_output
from viewrank.context import Context

DESCRIPTION = "distil a registered reranker (the teacher) into a bi-encoder on SciFact train + MS MARCO toy triples"


def add_arguments(ap: argparse.ArgumentParser, context: Context) -> None:
    from viewrank.cli.flags import add_deprecated_alias

    data = context.settings.data_dir
    ap.add_argument("--teacher", required=True, help="registered reranker NAME[:ARG] (cross-encoder, mvp, ...)")
    ap.add_argument("--model", default="all-MiniLM-L6-v2", help="student encoder")
    ap.add_argument("--dataset", default=str(data / "scifact"))
    ap.add_argument("--triples", default=str(data / "msmarco-toy" / "triples.tsv"), help="'' to skip")
    ap.add_argument("--bm25-index", default=None, help="Lucene index of --dataset for hard negatives")
    ap.add_argument("--queries", type=int, default=None, help="use only the first N train queries")
    ap.add_argument("--triples-limit", type=int, default=None)
    ap.add_argument("--candidates", type=int, default=4, help="passages per SciFact group")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--max-length", type=int, default=192)
    ap.add_argument("--scores-cache", default=None, help="JSON file for the teacher's scores (reused if present)")
    ap.add_argument("--output", dest="out", default=None, help="folder the distilled bi-encoder goes to (required)")
    add_deprecated_alias(ap, "--out", "--output", dest="out")
    ap.add_argument("--threads", type=int, default=context.settings.threads)


def run(args: argparse.Namespace, context: Context) -> int:
    require_output(args)
    from viewrank.plugins.dense.embedder import DenseEmbedder
    from viewrank.plugins.distill.groups import beir_groups, triple_groups
    from viewrank.plugins.distill.train import DistillConfig, teacher_scores, train_distill

    context.settings.with_(threads=args.threads).apply_threads()
    host = context.host
    retriever = host.retriever(f"bm25:{args.bm25_index}") if args.bm25_index else None
    groups = beir_groups(args.dataset, "train", args.candidates, args.queries, retriever)
    if args.triples:
        groups += triple_groups(args.triples, args.triples_limit)
    teacher = host.reranker(args.teacher)
    scores = teacher_scores(teacher, groups, args.scores_cache)
    student = DenseEmbedder(host.resolve_model_path(args.model))
    cfg = DistillConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, max_length=args.max_length)
    out = train_distill(student, groups, scores, args.out, cfg)
    print(f"saved distilled bi-encoder to {out} ({len(groups)} groups, teacher {args.teacher})")
    return 0
