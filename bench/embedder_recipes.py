"""``viewrank train embedder`` recipes on SciFact: the plain contrastive baseline and each
technique added alone, same seed, same data, same reduced time budget; SciFact TEST nDCG@10 by
exact float dense search over all 5,183 passages.

    python bench/embedder_recipes.py [--budget-min 2] [--train-until HH:MM] [--eval-until HH:MM]

Phase 1 trains every recipe (in order) while the clock is before ``--train-until`` (UTC, today;
default: no limit); phase 2 evaluates the trained models in the same order while it is before
``--eval-until``. A recipe not reached is written as unmeasured. One results file holds one setup
(budget, batch size, common options): a call whose setup differs from the file's is refused, so
rows of different setups never share a table; each row also records its own machine and date.
Each recipe holds out the same 40 TRAIN queries (``--val-queries 40 --evals 0``: no checkpoint
selection inside the short budget), which the merge recipe uses to search its weights. Results
go to bench/results/embedder_recipes.json after every step, with the machine (CPU model, family,
cores, int8 kernels), the date and the load average around each run.
Each row's test run is kept as ``runs/embedder_recipes/NAME.json`` (``{"run": {qid: {docid:
score}}}``, the shape bench/mvp_quality.py saves) so two rows can be compared with
bench/significance.py or ``viewrank eval --compare``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from benchcli import read_result, write_result  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "scifact"
OUT = ROOT / "bench" / "results" / "embedder_recipes.json"
MODELS = ROOT / "models" / "embedder-recipes"

RECIPES = [  # name, extra options of `viewrank train embedder`
    ("contrastive", []),
    ("+focal", ["--focal", "2"]),
    ("+mix-negatives", ["--mix-negatives", "4"]),
    ("+curriculum", ["--curriculum"]),
    ("+pretrain-ict", ["--pretrain", "ict", "--pretrain-steps", "20"]),
    ("+matryoshka", ["--matryoshka"]),
    ("+pretrain-bfs", ["--pretrain", "bfs", "--pretrain-steps", "20"]),
    ("+no-fn-filter", ["--fn-margin", "0"]),
    ("+distill-mvp", ["--teacher", "mvp:models/mvp-minilm", "--teacher-cache", "models/teacher-cache/scifact-mvp.json"]),
    # hard negatives mined by the zero-shot bi-encoder (exact search over its float index, built
    # by `viewrank encode` first when absent) instead of BM25
    ("+dense-negatives", ["--negatives", "dense:indexes/scifact-minilm-float"]),
    # the stronger teacher of 2026-12-05: MVP fused with BM25 (W 0.3, picked on train), its
    # KL over the positive and the sampled hard negatives only (no extra pooled candidates)
    ("+distill-fuse-mvp", ["--teacher", "fuse:0.3:mvp:models/mvp-minilm", "--teacher-cache",
                           "models/teacher-cache/scifact-fuse03-mvp.json", "--distill-group", "0"]),
]
MERGE = ("merge(contrastive,+pretrain-ict)", ["contrastive", "+pretrain-ict"])


def machine() -> dict:
    from viewrank.plugins.onnx_runtime.cpu import describe

    return {"cpu": describe(), "cores": os.cpu_count(), "python": platform.python_version()}


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def until(hhmm: str) -> dt.datetime:
    """Today's HH:MM (UTC); no limit when empty."""
    if not hhmm:
        return dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    h, m = (int(x) for x in hhmm.split(":"))
    return now_utc().replace(hour=h, minute=m, second=0, microsecond=0)


def run_path(name: str) -> Path:
    """Where a row's test run is kept: the row name made a file name."""
    return ROOT / "runs" / "embedder_recipes" / (re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") + ".json")


def test_ndcg(model_dir: Path, keep: Path) -> dict:
    """SciFact test nDCG@10 (and R@100) of ``dense:model_dir``: exact search over the corpus; the
    run (top 100 of each query) is written to ``keep``."""
    from viewrank.datasets import BeirDataset
    from viewrank.metrics import ndcg_at_k, recall_at_k
    from viewrank.plugins.dense.embedder import DenseEmbedder
    from viewrank.runs import atomic_write_text

    ds = BeirDataset(DATA)
    emb = DenseEmbedder(model_dir)
    t = time.monotonic()
    docs = list(ds.corpus.values())
    dv = emb.embed([d.contents for d in docs], "passage", progress=True)
    queries = ds.queries("test")
    qv = emb.embed([q.text for q in queries], "query")
    scores = qv @ dv.T
    run = {}
    for i, q in enumerate(queries):
        top = np.argsort(-scores[i])[:100]
        run[q.qid] = {docs[j].docid: float(scores[i, j]) for j in top}
    qrels = ds.qrels("test")
    keep.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(keep, json.dumps({"model": str(model_dir), "run": run}))
    return {"ndcg@10": round(ndcg_at_k(run, qrels, 10), 4), "recall@100": round(recall_at_k(run, qrels, 100), 4),
            "eval_seconds": round(time.monotonic() - t, 1)}


def binary_check(model_dir: Path, work: Path) -> dict:
    """The issue's binary target for one model, through the user's commands: ``viewrank encode``
    (float, and ``--codec binary`` with its defaults: ITQ thresholds, float vectors kept for
    rescoring), then ``viewrank search`` dense, binary with the default rescoring of the top 100
    and binary in Hamming order only. An index already in ``work`` is reused (same command)."""
    exe = str(Path(sys.executable).with_name("viewrank"))
    out: dict = {"commands": []}

    def cli(*args: str) -> str:
        out["commands"].append("viewrank " + " ".join(args))
        proc = subprocess.run([exe, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            raise SystemExit(f"viewrank {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
        return proc.stdout

    for name, extra in (("float", []), ("binary", ["--codec", "binary"])):
        args = ("encode", "--embedder", f"dense:{model_dir}", "--dataset", str(DATA), "--index", str(work / name),
                "--force", *extra)
        if (work / name / "viewrank_dense_index.json").is_file():
            out["commands"].append("viewrank " + " ".join(args) + "  # index already there: reused")
        else:
            cli(*args)
    for row, mode, extra in (("float", "dense", []), ("binary+rescore100", "binary", []),
                             ("binary", "binary", ["--rescore-depth", "0"])):
        text = cli("search", "--index", str(work / ("float" if mode == "dense" else "binary")), "--dataset", str(DATA),
                   "--mode", mode, "--output", str(work / f"{row}.trec"), *extra)
        lines = text.splitlines()
        header = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["run", "nDCG@10"])
        out[row] = float(lines[header + 1].split()[1])
    out["binary+rescore100 / float"] = round(out["binary+rescore100"] / out["float"], 4)
    out["binary / float"] = round(out["binary"] / out["float"], 4)
    return out


def table(result: dict) -> str:
    """The markdown table of docs/embedders.md from the JSON."""
    base = result["recipes"].get("contrastive", {}).get("ndcg@10")
    lines = ["| recipe | options | steps | SciFact test nDCG@10 | vs contrastive | R@100 |",
             "|---|---|---:|---:|---:|---:|",
             f"| zero-shot all-MiniLM-L6-v2 | (no training) | 0 | {result['setup']['zero_shot_ndcg@10']:.4f} | | |"]
    for name, row in result["recipes"].items():
        opts = " ".join(row.get("options", []))
        if "ndcg@10" in row:
            delta = f"{row['ndcg@10'] - base:+.4f}" if base is not None and name != "contrastive" else ""
            lines.append(f"| {name} | `{opts}` | {row.get('steps', '')} | {row['ndcg@10']:.4f} | {delta} | {row['recall@100']:.4f} |")
        else:
            lines.append(f"| {name} | `{opts}` | {row.get('steps', '')} | unmeasured ({row.get('status', '')}) | | |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-min", type=float, default=2.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--train-until", default="", metavar="HH:MM", help="UTC time after which no training starts")
    ap.add_argument("--eval-until", default="", metavar="HH:MM", help="UTC time after which no evaluation starts")
    ap.add_argument("--only", default="", help="comma-separated recipe names, trained in this order")
    ap.add_argument("--table", action="store_true", help="print the markdown table of the saved JSON and exit")
    ap.add_argument("--reuse", action="store_true", help="a recipe whose model folder holds its training record is not trained again")
    ap.add_argument("--json", type=Path, default=OUT, help="results file (one per budget)")
    ap.add_argument("--models", type=Path, default=MODELS, help="folder the recipes' models go to")
    ap.add_argument("--common", default="--negatives bm25 --hard-negatives 1 --val-queries 40 --evals 0 --max-length 128",
                    help="options every recipe gets (the 30-minute runs keep the trainer's checkpoint selection)")
    ap.add_argument("--binary", default="", metavar="RECIPE",
                    help="only check a trained recipe's binary codes against its float index (target: >= 97%% with rescoring)")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "embedder-binary", help="indexes and runs of --binary")
    args = ap.parse_args()
    out_json, models = args.json.resolve(), args.models.resolve()
    if args.table:
        print(table(read_result(out_json)))
        return 0
    if args.binary:
        result = read_result(out_json)
        row = result["recipes"][args.binary]
        row["binary_codes"] = {"machine": machine(), "date": now_utc().isoformat(timespec="minutes"),
                               **binary_check(ROOT / row["model"], args.work.resolve())}
        write_result(out_json, result)
        print(json.dumps(row["binary_codes"], indent=2))
        return 0
    only = list(filter(None, re.split(r",(?![^()]*\))", args.only)))  # "merge(a,b)" is one name
    known = dict(RECIPES)
    unknown = [name for name in only if name not in known and name != MERGE[0]]
    if unknown:
        ap.error(f"--only: unknown recipe(s) {', '.join(unknown)}; known: {', '.join([*known, MERGE[0]])}")
    # in --only's order (the first named is trained first: --train-until cuts the last), else all
    recipes = [(name, known[name]) for name in only if name in known] if only else RECIPES
    for hhmm in (args.train_until, args.eval_until):
        if hhmm and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", hhmm):
            ap.error(f"--train-until/--eval-until {hhmm!r}: expected HH:MM (UTC)")
    setup = {"dataset": "SciFact (train 809 queries less 40 held out; test 300 queries, 5,183 passages)",
             "budget_min": args.budget_min, "batch_size": args.batch_size, "seed": 0, "common": args.common.split(),
             "zero_shot_ndcg@10": 0.6451}
    result = read_result(out_json, {"setup": setup})
    differs = [k for k in ("budget_min", "batch_size", "common") if result["setup"].get(k) != setup[k]]
    if differs:
        ap.error(f"--json {out_json}: its rows were made with "
                 + ", ".join(f"{k} {result['setup'].get(k)!r}" for k in differs)
                 + "; this call's setup differs: write to another --json (one file per setup)")
    result.update({"machine": machine(), "date": now_utc().isoformat(timespec="minutes")})  # the last call's
    rows = result.setdefault("recipes", {})

    def save() -> None:
        write_result(out_json, result)

    exe = str(Path(sys.executable).with_name("viewrank"))
    for name, extra in recipes:
        if now_utc() >= until(args.train_until):
            rows.setdefault(name, {"status": f"not trained: reached --train-until {args.train_until}"})
            continue
        out = models / name.strip("+")
        for value in extra:  # a dense:INDEX retriever the recipe mines with: the zero-shot index, built once
            index = ROOT / value.removeprefix("dense:")
            if value.startswith("dense:") and not (index / "viewrank_dense_index.json").is_file():
                build = [exe, "encode", "--embedder", "dense", "--dataset", str(DATA), "--index", str(index)]
                print("building", index, flush=True)
                subprocess.run(build, cwd=ROOT, check=True)
        cmd = [exe, "train", "embedder", "--output", str(out), "--dataset", str(DATA), "--bm25-index",
               str(ROOT / "indexes" / "scifact"), "--time-budget-min", str(args.budget_min),
               "--batch-size", str(args.batch_size), *result["setup"]["common"], "--seed", "0", *extra]
        load0 = os.getloadavg()
        t = time.monotonic()
        reused = args.reuse and (out / "viewrank_embedder_train.json").is_file()
        if reused:  # the wall time below is then the record's training seconds
            proc = subprocess.CompletedProcess(cmd, 0, "reused", "")
        else:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        row = {"options": extra, "command": " ".join(cmd[1:]), "machine": machine(),
               "date": now_utc().isoformat(timespec="minutes"), "train_wall_seconds": round(time.monotonic() - t, 1),
               "load_before": [round(x, 2) for x in load0], "load_after": [round(x, 2) for x in os.getloadavg()]}
        if proc.returncode:
            row["status"] = f"training failed (exit {proc.returncode}): {proc.stdout[-500:]}"
        else:
            rec = read_result(out / "viewrank_embedder_train.json")
            row.update(status="trained", model=str(out.relative_to(ROOT)), steps=rec["steps_run"],
                       step_seconds=rec["step_seconds"], train_seconds=rec["seconds"])
            if reused:
                row.update(train_wall_seconds=None, reused_model=True)
        rows[name] = row
        print(name, row.get("status"), row.get("steps"), flush=True)
        save()
    merge_name, parents = MERGE
    if not only or merge_name in only:
        dirs = [models / p.strip("+") for p in parents]
        if all((d / "config.json").is_file() for d in dirs) and now_utc() < until(args.train_until):
            out = models / "merge"
            cmd = [exe, "train", "embedder", "--merge", ",".join(map(str, dirs)), "--output", str(out),
                   "--dataset", str(DATA), "--bm25-index", str(ROOT / "indexes" / "scifact"),
                   "--val-queries", "40", "--merge-evals", "6", "--seed", "0"]
            t = time.monotonic()
            proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            row = {"options": ["--merge", ",".join(parents)], "train_wall_seconds": round(time.monotonic() - t, 1)}
            if proc.returncode:
                row["status"] = f"merge failed (exit {proc.returncode}): {proc.stdout[-500:]}"
            else:
                rec = read_result(out / "viewrank_embedder_merge.json")
                row.update(status="trained", model=str(out.relative_to(ROOT)), weights=rec["weights"],
                           heldout_ndcg=rec["heldout_ndcg@10"])
            rows[merge_name] = row
        else:
            rows.setdefault(merge_name, {"status": "not run: parents missing or past --train-until"})
        save()
    for name, row in rows.items():
        if not row.get("status", "").startswith("trained") or "ndcg@10" in row:
            continue  # "trained, not evaluated: ..." (an earlier call stopped at --eval-until) is evaluated now
        if now_utc() >= until(args.eval_until):
            row["status"] = f"trained, not evaluated: reached --eval-until {args.eval_until}"
            continue
        load0 = os.getloadavg()
        row.update(test_ndcg(ROOT / row["model"], run_path(name)), status="trained",
                   run=str(run_path(name).relative_to(ROOT)))
        row["eval_load"] = [round(x, 2) for x in load0]
        print(name, row["ndcg@10"], flush=True)
        save()
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
