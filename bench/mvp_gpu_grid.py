"""MVP training recipes that do not fit the 2-core, 30-minute budget, trained on a GPU.

The shipped recipe (``make train-mvp``) is bounded by the CPU budget: 4 candidates per list and a
few epochs. This bench asks what more compute buys: each recipe is trained with
``viewrank.plugins.mvp.trainer.train(..., device=cuda)`` from the same backbone, seed and BM25
negatives, then reranks the BM25 top 100 of every SciFact test query in one pass per query;
nDCG@10, R@100 and MRR@10 are computed by ``viewrank.metrics`` (the same numbers as trec_eval).

The GPU machine has no Java, so both BM25 inputs are made beforehand where Pyserini runs:
the training negatives cache (``mined_negatives.json`` that ``viewrank train`` writes into its
output folder) and the test top 100 (``--dump-test-hits``). Usage::

    python bench/mvp_gpu_grid.py --dump-test-hits hits.json --index indexes/scifact      # where Pyserini runs
    python bench/mvp_gpu_grid.py --train-hits models/mvp-minilm/mined_negatives.json \\
        --test-hits hits.json --backbone DIR --device cuda                                # on the GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "mvp_gpu_grid.json"

# name -> TrainOptions overrides; everything else is the shipped recipe's default
RECIPES = {
    "n4-e4": dict(n=4, neg_depth=20, epochs=4),  # the recipe shipped before this grid
    "n16-e4": dict(n=16, neg_depth=30, epochs=4),
    "n16-e10": dict(n=16, neg_depth=30, epochs=10),
    "n16-e10-lr5e-5": dict(n=16, neg_depth=30, epochs=10, lr=5e-5),
    "n16-e10-msmarco": dict(n=16, neg_depth=30, epochs=10, extra_triples="{msmarco}"),
    "n32-e10-b8": dict(n=32, neg_depth=45, epochs=10, batch_size=8),
    # recipes whose compute (lists x candidates x epochs) fits the 2-core, 30-minute budget
    "n16-e2": dict(n=16, neg_depth=30, epochs=2),
    "n8-e4": dict(n=8, neg_depth=30, epochs=4),
    "n8-e3": dict(n=8, neg_depth=30, epochs=3),
    # the pointwise baseline trained the same ways
    "ce-n4-e4": dict(kind="cross-encoder", n=4, neg_depth=20, epochs=4),
    "ce-n16-e2": dict(kind="cross-encoder", n=16, neg_depth=30, epochs=2),
    "ce-n8-e4": dict(kind="cross-encoder", n=8, neg_depth=30, epochs=4),
    "ce-n16-e4": dict(kind="cross-encoder", n=16, neg_depth=30, epochs=4),
}


def dump_test_hits(args) -> int:
    from viewrank.adapters.pyserini.lucene import bm25_search
    from viewrank.datasets import BeirDataset
    from viewrank.runs import atomic_write_text

    queries = BeirDataset(args.dataset).queries(args.split)
    hits = bm25_search(args.index, queries, args.depth)
    atomic_write_text(Path(args.dump_test_hits), json.dumps({"split": args.split, "depth": args.depth,
                                                             "hits": {q: [[d, s] for d, s in h] for q, h in hits.items()}}))
    print(f"wrote BM25 top-{args.depth} of {len(hits)} {args.split} queries to {args.dump_test_hits}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="../shared/data/scifact")
    ap.add_argument("--split", default="test")
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--index", default="indexes/scifact")
    ap.add_argument("--dump-test-hits", help="write the BM25 test top-K here (needs Pyserini) and stop")
    ap.add_argument("--train-hits", help="a mined_negatives.json written by `viewrank train`")
    ap.add_argument("--test-hits", help="the file --dump-test-hits wrote")
    ap.add_argument("--backbone", default="all-MiniLM-L6-v2")
    ap.add_argument("--msmarco", default="../shared/data/msmarco-toy/triples.tsv")
    ap.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated names from RECIPES")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--work", default="runs/mvp_gpu_grid", help="where the trained models go")
    ap.add_argument("--max-steps", type=int, default=0, help="stop each recipe after this many steps (a dry run)")
    ap.add_argument("--limit", type=int, default=0, help="evaluate the first N test queries only (a dry run)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    if args.dump_test_hits:
        return dump_test_hits(args)
    if not (args.train_hits and args.test_hits):
        ap.error("--train-hits and --test-hits are needed (or --dump-test-hits)")
    for flag, path in (("--train-hits", args.train_hits), ("--test-hits", args.test_hits)):
        if not Path(path).is_file():
            ap.error(f"{flag} {path}: no such file")
    unknown = [r for r in args.recipes.split(",") if r not in RECIPES]
    if unknown:
        ap.error(f"--recipes: unknown {', '.join(unknown)}; known: {', '.join(RECIPES)}")

    import torch

    from viewrank.datasets import BeirDataset
    from viewrank.metrics import evaluate
    from viewrank.plugins.mvp.data import MINED_NAME
    from viewrank.plugins.mvp.loading import load_mvp_model
    from viewrank.plugins.mvp.options import TrainOptions
    from viewrank.plugins.mvp.trainer import train
    from viewrank.runs import atomic_write_text

    ds = BeirDataset(args.dataset)
    test = json.loads(Path(args.test_hits).read_text(encoding="utf-8"))
    qrels_all = ds.qrels(test["split"])
    queries = [q for q in ds.queries(test["split"]) if q.qid in qrels_all][: args.limit or None]
    qrels = {q.qid: qrels_all[q.qid] for q in queries}
    hits = {q: [(d, float(s)) for d, s in h] for q, h in test["hits"].items()}
    results = {"bm25": {"recipe": None, **{k: round(v, 4) for k, v in
                                           evaluate({q.qid: dict(hits[q.qid]) for q in queries}, qrels).items()}}}
    print(f"{'recipe':<30}{'nDCG@10':>9}{'R@100':>8}{'MRR@10':>8}{'steps':>7}{'train s':>9}{'ms/q':>7}")
    print(f"{'BM25':<30}{results['bm25']['nDCG@10']:>9.4f}{results['bm25']['R@100']:>8.4f}{results['bm25']['MRR@10']:>8.4f}")
    for name in args.recipes.split(","):
        overrides = {k: (v.format(msmarco=args.msmarco) if isinstance(v, str) else v) for k, v in RECIPES[name].items()}
        out = Path(args.work) / name
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.train_hits, out / MINED_NAME)
        opts = TrainOptions(backbone=args.backbone, dataset=args.dataset, split="train", index="unused", out=str(out),
                            device=args.device, time_budget_min=0, checkpoint_every=0, threads=4,
                            max_steps=args.max_steps, **overrides)
        train(opts)
        report = json.loads((out / "training.json").read_text(encoding="utf-8"))
        model = load_mvp_model(out).to(args.device).eval()
        t0 = time.perf_counter()
        run = {}
        with torch.inference_mode():
            for q in queries:
                docs = [d for d, _ in hits[q.qid][: args.depth]]
                scores = model.score(q.text, [ds.candidate(d).contents for d in docs])
                run[q.qid] = {d: float(s) for d, s in zip(docs, scores)}
        ms = 1000 * (time.perf_counter() - t0) / len(queries)
        m = evaluate(run, qrels)
        results[name] = {"recipe": {k: v for k, v in asdict(opts).items() if k in overrides or k in ("kind", "n", "epochs", "lr", "batch_size")},
                         **{k: round(v, 4) for k, v in m.items()}, "steps": report["steps"],
                         "train_seconds": report["train_seconds"], "rerank_ms_per_query": round(ms, 1)}
        print(f"{name:<30}{m['nDCG@10']:>9.4f}{m['R@100']:>8.4f}{m['MRR@10']:>8.4f}{report['steps']:>7}"
              f"{report['train_seconds']:>9.0f}{ms:>7.0f}", flush=True)
        del model
        result = {"bench": "mvp_gpu_grid", "dataset": args.dataset, "split": test["split"], "queries": len(queries),
                  "first_stage": f"BM25 (Pyserini Lucene, k1=0.9 b=0.4) top-{args.depth}",
                  "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else args.device,
                  "software": {"torch": torch.__version__, "python": platform.python_version()},
                  "common": "TrainOptions defaults unless the recipe says: batch 4 lists, lr 1.5e-4, head lr 1e-3, T 0.8, m 4, max_length 128, seed 13",
                  "systems": results}
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
