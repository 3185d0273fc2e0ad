"""Tune the fusion weight of ``fuse:W:SPEC`` on SciFact train, report it on test.

    python bench/fusion.py [--reranker bi-encoder] [--train-sample 200] [--depth 100]
                           [--heldout 50 --seed 13] [--train-run FILE] [--test-run FILE]

The reranker scores each query's BM25 top-``depth`` once; every weight W of the grid then
reorders those same scores as ``(1-W)*minmax(reranker) + W*minmax(BM25)`` (exactly what
``fuse:W:SPEC`` computes), so the grid costs one reranking pass per split. W is chosen by
nDCG@10 on an evenly spaced sample of the train queries and only then looked up on test. For a
reranker trained on SciFact train, ``--heldout K --seed S`` picks W on the K train queries its
trainer held out (``viewrank train``'s ``--val-queries`` / ``--seed``) instead. ``--train-run`` /
``--test-run`` reuse a run ``bench/mvp_quality.py`` saved for the same spec and queries (its
reranker scores of the same BM25 top ``depth``) instead of reranking again.
Prints a table and writes bench/results/fusion-<reranker>.json.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from viewrank.datasets import BeirDataset
from viewrank.manager import get_host
from viewrank.metrics import evaluate
from viewrank.plugins.first_stage import minmax

from benchcli import bad_input, read_result, write_result  # bench/ is on sys.path when a bench script runs

GRID = [round(0.1 * i, 1) for i in range(11)]


def sample(items: list, n: int) -> list:
    if not n or n >= len(items):
        return items
    return [items[round(i * len(items) / n)] for i in range(n)]


def score_split(reranker, ds, index, queries, depth, desc, saved=None):
    """Each query's ``(docid, BM25 score, reranker score)`` rows; the reranker's from ``saved``
    (a bench/mvp_quality.py run of the same spec) when given, else from ``reranker()``."""
    from viewrank.adapters.pyserini.lucene import bm25_search

    hits = bm25_search(index, queries, depth)
    if saved is not None:
        missing = [q.qid for q in queries if any(d not in saved.get(q.qid, {}) for d, _ in hits[q.qid])]
        if missing:
            bad_input(f"{desc}: the saved run lacks scores for {len(missing)} queries' candidates (e.g. {missing[0]}):"
                      f" save it at --depth {depth} or more")
        return {q.qid: [(d, s, saved[q.qid][d]) for d, s in hits[q.qid]] for q in queries}, 0.0
    reranker = reranker()
    scored, t0 = {}, time.perf_counter()
    for q in tqdm(queries, desc=desc, unit="q"):
        cands = [ds.candidate(d, s) for d, s in hits[q.qid]]
        ranked = reranker.rerank(q, cands)
        by_doc = dict(zip(ranked.docids, ranked.scores))
        scored[q.qid] = [(c.docid, c.score, by_doc[c.docid]) for c in cands]
    return scored, time.perf_counter() - t0


def saved_run(path: Path, flag: str) -> dict:
    """A run bench/mvp_quality.py saved (``spec``, ``run``, ``seconds``), or a bad-input stop naming it."""
    data = read_result(path, what=flag)
    if not isinstance(data, dict) or not isinstance(data.get("run"), dict):
        bad_input(f"{flag} {path}: not a run saved by bench/mvp_quality.py (no \"run\" object)")
    return data


def fused_run(scored, weight):
    run = {}
    for qid, rows in scored.items():
        if not rows:
            run[qid] = {}
            continue
        first, inner = minmax([r[1] for r in rows]), minmax([r[2] for r in rows])
        fused = (1 - weight) * inner + weight * first
        run[qid] = {r[0]: float(s) for r, s in zip(rows, fused)}
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="../shared/data/scifact")
    ap.add_argument("--index", default="indexes/scifact")
    ap.add_argument("--reranker", default="bi-encoder")
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--train-sample", type=int, default=200, help="train queries used to pick W (0 = all)")
    ap.add_argument("--test-sample", type=int, default=0, help="test queries reported (0 = all)")
    ap.add_argument("--heldout", type=int, default=0, metavar="K",
                    help="pick W on the K train queries a trainer held out with --seed (instead of --train-sample)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--train-run", type=Path, default=None, help="a bench/mvp_quality.py run of --reranker on the train queries")
    ap.add_argument("--test-run", type=Path, default=None, help="the same for the test queries")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    ds = BeirDataset(args.dataset)
    cache = {}

    def reranker():
        if "r" not in cache:
            cache["r"] = get_host().reranker(args.reranker)
        return cache["r"]

    train = sample(ds.queries("train"), args.train_sample)
    if args.heldout:
        from viewrank.plugins.mvp.data import split_validation

        keep = set(split_validation(args.dataset, "train", args.heldout, args.seed))
        train = [q for q in ds.queries("train") if q.qid in keep]
    splits = {"train": train, "test": sample(ds.queries("test"), args.test_sample)}
    runs = {"train": args.train_run, "test": args.test_run}
    table, seconds = {}, {}
    for split, queries in splits.items():
        qrels_all = ds.qrels(split)
        qrels = {q.qid: qrels_all[q.qid] for q in queries}
        saved = None
        if runs[split] is not None:
            data = saved_run(runs[split], f"--{split}-run")
            if data.get("spec") != args.reranker:
                bad_input(f"--{split}-run {runs[split]}: saved for {data.get('spec')!r}, not --reranker {args.reranker!r}")
            saved, seconds[split] = data["run"], data.get("seconds", 0.0)
        scored, secs = score_split(reranker, ds, args.index, queries, args.depth, f"{args.reranker} {split}", saved)
        seconds[split] = seconds.get(split) or secs
        table[split] = {str(w): {k: round(v, 4) for k, v in evaluate(fused_run(scored, w), qrels).items()} for w in GRID}
    best = max(GRID, key=lambda w: (table["train"][str(w)]["nDCG@10"], -w))
    how = f"the {args.heldout} held-out (seed {args.seed})" if args.heldout else f"{len(splits['train'])}"
    print(f"fuse:W:{args.reranker} on SciFact, BM25 top-{args.depth}; W picked on {how} train queries")
    print(f"{'W':>5} {'train nDCG@10':>14} {'test nDCG@10':>13} {'test R@100':>11}")
    for w in GRID:
        mark = "  <- picked" if w == best else ""
        print(f"{w:>5.1f} {table['train'][str(w)]['nDCG@10']:>14.4f} {table['test'][str(w)]['nDCG@10']:>13.4f} "
              f"{table['test'][str(w)]['R@100']:>11.4f}{mark}")
    out = Path(args.out or f"bench/results/fusion-{re.sub(r'[^A-Za-z0-9_.-]+', '_', args.reranker)}.json")
    report = {
        "bench": "fusion", "reranker": args.reranker, "dataset": args.dataset, "depth": args.depth,
        "train_queries": len(splits["train"]), "test_queries": len(splits["test"]),
        "train_slice": f"held out by the trainer: --val-queries {args.heldout} --seed {args.seed}" if args.heldout
        else "evenly spaced sample", "reused_runs": {k: str(v) for k, v in runs.items() if v is not None},
        "picked_weight": best, "picked_spec": f"fuse:{best}:{args.reranker}",
        "test_at_picked": table["test"][str(best)], "test_reranker_alone": table["test"]["0.0"],
        "test_bm25": table["test"]["1.0"], "rerank_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "grid": table,
    }
    write_result(out, report)
    print(f"picked W = {best}: test nDCG@10 {report['test_at_picked']['nDCG@10']:.4f} "
          f"(reranker alone {report['test_reranker_alone']['nDCG@10']:.4f}, BM25 {report['test_bm25']['nDCG@10']:.4f}); wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
