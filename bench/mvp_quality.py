"""Quality of MVP and its baselines: SciFact test (or --dataset/--split), BM25 top-K -> rerank, nDCG@10 and R@100.

    python bench/mvp_quality.py [--sample 100] [--systems bm25,bi-encoder,cross-encoder,mvp,mvp-window]
                                [--extra NAME=SPEC ...] [--split train --heldout 50 --seed 13]

Prints a table and writes bench/results/mvp_quality.json. ``--sample N`` evaluates a fixed,
evenly spaced subset of N test queries (file order, indices round(i*300/N)); the JSON says so.
Each system's run is kept under runs/mvp_quality/ so an interrupted bench resumes; a saved run is
reused only for the same spec and the same model files (name, size, mtime). ``--extra NAME=SPEC``
adds any reranker spec as a system (``--systems`` may then name it or leave the built-ins out).
``--heldout K`` evaluates only the K held-out queries of ``--split`` that the trainers keep for
validation with ``--seed`` (``viewrank train mvp``'s ``--val-queries`` / ``--seed``): the slice
where an inference setting is chosen without reading test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from viewrank.datasets import BeirDataset
from viewrank.jsonfile import read_cache
from viewrank.manager import get_host
from viewrank.metrics import evaluate
from viewrank.plugins.onnx_runtime.cpu import describe
from viewrank.runs import atomic_write_text

from benchcli import read_result, write_result  # bench/ is on sys.path when a bench script runs

SYSTEMS = {
    "bm25": None,
    "bi-encoder": "bi-encoder",
    "cross-encoder": "cross-encoder:{ce}",
    "mvp": "mvp:{mvp}",
    "mvp-window": "mvp-window:{mvp}",
}


def sample(items: list, n: int) -> list:
    if not n or n >= len(items):
        return items
    return [items[round(i * len(items) / n)] for i in range(n)]


def model_stamp(spec: str | None) -> list | None:
    """Name, size and mtime of the files in the spec's model folder: a saved run is reused only
    for the same model (retraining into the same folder changes the stamp)."""
    if not spec or ":" not in spec:
        return None
    folder = Path(spec.rsplit(":", 1)[1].split("@")[0])  # the model folder ends a spec, wrapped or not
    if not folder.is_dir():
        return None
    return sorted([p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in folder.iterdir() if p.is_file())



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="../shared/data/scifact")
    ap.add_argument("--index", default="indexes/scifact")
    ap.add_argument("--split", default="test")
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--sample", type=int, default=0, help="evaluate N evenly spaced queries (0 = all)")
    ap.add_argument("--systems", default=None, help="comma-separated (default: the built-ins, then the --extra names)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=SPEC", help="another system: any reranker spec")
    ap.add_argument("--heldout", type=int, default=0, metavar="K",
                    help="only the K held-out queries of --split drawn with --seed (the trainers' validation slice)")
    ap.add_argument("--seed", type=int, default=13, help="with --heldout: the trainer's --seed")
    ap.add_argument("--mvp", default="models/mvp-minilm")
    ap.add_argument("--ce", default="models/cross-encoder-minilm")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default="runs/mvp_quality")
    ap.add_argument("--out", default="bench/results/mvp_quality.json")
    ap.add_argument("--force", action="store_true", help="recompute runs already saved")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    systems = dict(SYSTEMS)
    for item in args.extra:
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec:
            ap.error(f"--extra {item!r}: expected NAME=SPEC")
        systems[name] = spec
    names = args.systems.split(",") if args.systems else list(systems)
    unknown = [n for n in names if n not in systems]
    if unknown:
        ap.error(f"--systems: unknown {', '.join(unknown)} (known: {', '.join(systems)})")

    from viewrank.adapters.pyserini.lucene import bm25_search

    ds = BeirDataset(args.dataset)
    queries = sample(ds.queries(args.split), args.sample)
    if args.heldout:
        from viewrank.plugins.mvp.data import split_validation

        keep = set(split_validation(args.dataset, args.split, args.heldout, args.seed))
        queries = [q for q in queries if q.qid in keep]
    qrels_all = ds.qrels(args.split)
    qrels = {q.qid: qrels_all[q.qid] for q in queries}
    hits = bm25_search(args.index, queries, args.depth)
    cands = {q.qid: [ds.candidate(d, s) for d, s in hits[q.qid]] for q in queries}
    host = get_host()
    runs_dir = Path(args.runs)
    results = {}
    out_path = Path(args.out)
    old = read_result(out_path, None)
    if old is not None:
        if (old.get("queries"), old.get("depth"), old.get("split", "test")) == (len(queries), args.depth, args.split):
            results = old.get("systems", {})
    for name in names:
        spec = systems[name]
        part = "" if args.split == "test" else f"-{args.split}{f'-heldout{args.heldout}s{args.seed}' if args.heldout else ''}"
        run_file = runs_dir / f"{name}{part}-{len(queries)}q-d{args.depth}.json"
        full_spec = spec and spec.format(mvp=args.mvp, ce=args.ce)
        stamp = model_stamp(full_spec)
        saved = None if args.force else read_cache(run_file)
        if saved is not None and (saved.get("spec"), saved.get("model")) != (full_spec, stamp):
            print(f"{run_file}: saved for {saved.get('spec')!r} (another model or an older copy of it); recomputing")
            saved = None
        if saved is not None:
            run, secs = saved["run"], saved["seconds"]
        else:
            t0 = time.perf_counter()
            if spec is None:
                run = {q.qid: {d: s for d, s in hits[q.qid]} for q in queries}
            else:
                reranker = host.reranker(spec.format(mvp=args.mvp, ce=args.ce))
                run = {}
                for q in tqdm(queries, desc=name, unit="q"):
                    ranked = reranker.rerank(q, cands[q.qid])
                    run[q.qid] = {it.docid: it.score for it in ranked.items}
            secs = time.perf_counter() - t0
            atomic_write_text(run_file, json.dumps({"spec": full_spec, "model": stamp, "run": run, "seconds": secs}))
        m = evaluate(run, qrels)
        results[name] = {"spec": full_spec, "nDCG@10": round(m["nDCG@10"], 4),
                         "R@100": round(m["R@100"], 4), "MRR@10": round(m["MRR@10"], 4),
                         "seconds": round(secs, 1), "ms_per_query": round(1000 * secs / len(queries), 1)}
        report = {
            "bench": "mvp_quality", "dataset": args.dataset, "split": args.split, "depth": args.depth,
            "queries": len(queries), "of_queries": len(ds.queries(args.split)),
            "subset": (f"the {len(queries)} held-out {args.split} queries of --val-queries {args.heldout} --seed {args.seed}"
                       if args.heldout else
                       f"evenly spaced sample of {len(queries)} queries (index round(i*{len(ds.queries(args.split))}/{len(queries)}))"
                       if len(queries) < len(ds.queries(args.split)) else "all"),
            "first_stage": "BM25 (Pyserini Lucene, k1=0.9 b=0.4) top-%d" % args.depth,
            "threads": args.threads, "machine": platform.machine(), "cpu": describe(),
            "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), "python": sys.version.split()[0],
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "systems": results,
        }
        write_result(out_path, report)
    print(f"{Path(args.dataset).name} {args.split}: {len(queries)} queries, BM25 top-{args.depth} -> rerank")
    print(f"{'system':<24}{'nDCG@10':>9}{'R@100':>8}{'MRR@10':>8}{'ms/q':>10}")
    for name, r in results.items():
        print(f"{name:<24}{r['nDCG@10']:>9.4f}{r['R@100']:>8.4f}{r['MRR@10']:>8.4f}{r['ms_per_query']:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
