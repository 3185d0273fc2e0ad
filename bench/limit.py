"""The LIMIT diagnostic (issue #20, part 1): the small LIMIT set through the normal commands, and
free-embedding capacity per dimension.

    python bench/limit.py                       # both parts on this machine (CPU, 1 thread)
    python bench/limit.py --skip-free           # only the retrieval table
    python bench/limit.py --skip-eval --skip-free --large   # BM25 on the 50,000-document form
    python bench/limit.py --skip-eval --device cuda --free-dims 2,3,4,6,8,12,16,24,32 --free-budget 120
    python bench/limit.py --merge-from OTHER.json   # add another machine's sections to the results
    python bench/limit.py --rerank SPEC --tune-seed 1 --tune-queries 200   # + fusion weight chosen off the set

Retrieval: ``viewrank limit make --preset small`` (46 people, 1,000 "Who likes X?" queries, two
relevant people each), then ``viewrank index``, ``viewrank rerank`` (none = BM25, bi-encoder,
fuse:0.4:bi-encoder), ``viewrank encode`` + ``viewrank search`` (zero-shot MiniLM), each run as a
command. R@2, R@10 and R@100 are computed from the run files with :mod:`viewrank.metrics`
(trec_eval's conventions) and, where ``viewrank eval`` exists, by trec_eval itself
(``--metrics recall.2,10,100 ndcg_cut.10``) as a cross-check. A fusion-weight sweep reorders the
same BM25 and bi-encoder scores as ``fuse:W``.

Free embeddings: ``viewrank limit free`` (see docs/limit.md). Results go to
bench/results/limit.json, one section per part and machine (CPU model, GPU, date).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchcli import bad_input, read_result, write_result  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
RERANKERS = ["none", "bi-encoder", "fuse:0.4:bi-encoder"]


def machine(device: str = "cpu") -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cpus": os.cpu_count(), "date": dt.date.today().isoformat(), "python": platform.python_version()}
    if device.startswith("cuda"):
        import torch

        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def viewrank(*args: str, threads: int, log: Path | None = None) -> str:
    """Run ``viewrank ARGS`` as a user would (a child process); stderr (progress bars) to ``log``."""
    env = {**os.environ, "VIEWRANK_THREADS": str(threads)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "viewrank", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if log is not None:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"$ viewrank {' '.join(args)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        raise SystemExit(f"viewrank {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
    print(f"  viewrank {' '.join(args[:2])} ... ({time.perf_counter() - started:.1f} s)", flush=True)
    return proc.stdout


def flag(command: str, new: str, old: str, threads: int) -> str:
    """The name ``--help`` shows: flags are being renamed to the conventions (--hits, --output)."""
    return new if new in viewrank(command, "--help", threads=threads) else old


def recall_table(run_path: Path, qrels: dict) -> dict:
    from viewrank.metrics import mrr_at_k, ndcg_at_k, recall_at_k
    from viewrank.runs import read_run

    run = read_run(run_path)
    return {"R@2": round(recall_at_k(run, qrels, 2), 4), "R@10": round(recall_at_k(run, qrels, 10), 4),
            "R@100": round(recall_at_k(run, qrels, 100), 4), "nDCG@10": round(ndcg_at_k(run, qrels, 10), 4),
            "MRR@10": round(mrr_at_k(run, qrels, 10), 4)}


def fusion_sweep(first_stage: Path, reranked: Path, qrels: dict, depth: int | None = None) -> dict:
    """R@2 of (1-W)*minmax(reranker) + W*minmax(BM25) over BM25's top ``depth`` (all by default),
    exactly what fuse:W:SPEC computes at that rerank depth."""
    from viewrank.metrics import recall_at_k
    from viewrank.plugins.first_stage import minmax
    from viewrank.runs import read_run

    bm25, bi = read_run(first_stage), read_run(reranked)
    out = {}
    for w in [round(0.1 * i, 1) for i in range(11)]:
        run = {}
        for qid, docs in bm25.items():
            ids = sorted(docs, key=docs.get, reverse=True)[:depth]
            docs = {d: docs[d] for d in ids}
            fused = (1 - w) * minmax([bi[qid][d] for d in ids]) + w * minmax([docs[d] for d in ids])
            run[qid] = {d: float(s) for d, s in zip(ids, fused)}
        out[str(w)] = {"R@2": round(recall_at_k(run, qrels, 2), 4), "R@10": round(recall_at_k(run, qrels, 10), 4)}
    return out


def doc_lengths(dataset: Path) -> dict:
    """Word pieces per document under MiniLM's tokenizer: does the encoder see every attribute?"""
    try:
        from transformers import AutoTokenizer

        from viewrank.datasets import BeirDataset
        from viewrank.manager import get_host

        tok = AutoTokenizer.from_pretrained(str(get_host().resolve_model_path("all-MiniLM-L6-v2")))
        lengths = [len(tok(d.contents)["input_ids"]) for d in BeirDataset(dataset).iter_corpus()]
        return {"min": min(lengths), "max": max(lengths), "mean": round(sum(lengths) / len(lengths), 1)}
    except Exception as exc:  # informational only
        return {"error": f"{type(exc).__name__}: {exc}"}


def run_eval(work: Path, seed: int, threads: int) -> dict:
    from viewrank.datasets import load_qrels

    data, index, dense, runs = work / "limit-small", work / "index", work / "dense", work / "runs"
    log = work / "commands.log"
    log.unlink(missing_ok=True)
    t0 = time.perf_counter()
    made = viewrank("limit", "make", "--preset", "small", "--seed", str(seed), "--output", str(data), "--force",
                    "--json", threads=threads, log=log)
    viewrank("index", "--dataset", str(data), "--index", str(index), "--force", threads=threads, log=log)
    depth = flag("rerank", "--hits", "--depth", threads)
    rerank_args = ["rerank", "--index", str(index), "--dataset", str(data), depth, "100", "--output-dir", str(runs)]
    for spec in RERANKERS:
        rerank_args += ["--reranker", spec]
    viewrank(*rerank_args, threads=threads, log=log)
    viewrank("encode", "--dataset", str(data), "--index", str(dense), "--force", threads=threads, log=log)
    viewrank("search", "--index", str(dense), "--dataset", str(data), "--hits", "100",
                            "--output", str(runs / "dense.trec"), threads=threads, log=log)
    qrels = load_qrels(data / "qrels" / "test.tsv")
    names = {"none": "BM25 (rerank none)", "bi-encoder": "BM25 -> bi-encoder (MiniLM)",
             "fuse:0.4:bi-encoder": "BM25 -> fuse:0.4:bi-encoder", "dense": "dense MiniLM (encode + search)"}
    files = {"none": "none.trec", "bi-encoder": "bi-encoder.trec", "fuse:0.4:bi-encoder": "fuse_0.4_bi-encoder.trec",
             "dense": "dense.trec"}
    results = {spec: {"name": names[spec], **recall_table(runs / f, qrels)} for spec, f in files.items()}
    summary = read_result(runs / "summary.json")
    trec_eval = {r["reranker"]: {k: round(v, 4) for k, v in r["metrics"].items()} for r in summary["runs"]}
    if " eval " in viewrank("--help", threads=threads):  # trec_eval's own R@2/R@10/R@100 on the same runs
        report = json.loads(viewrank("eval", "--run", *(str(runs / f) for f in files.values()), "--qrels",
                                     str(data / "qrels" / "test.tsv"), "--metrics", "recall.2,10,100", "ndcg_cut.10",
                                     "--json", threads=threads, log=log))
        by_file = {Path(r["run"]).name: r["metrics"] for r in report["runs"]}
        trec_eval = {spec: {k: round(v, 4) for k, v in by_file[f].items()} for spec, f in files.items()}
    return {
        "dataset": json.loads(made), "first_stage_depth": 100, "queries": len(qrels),
        "results": results,
        "trec_eval": trec_eval,
        "fusion_sweep_R": fusion_sweep(runs / "none.trec", runs / "bi-encoder.trec", qrels),
        "minilm_wordpieces_per_doc": doc_lengths(data),
        "seconds": round(time.perf_counter() - t0, 1),
        "commands": [line[2:] for line in log.read_text().splitlines() if line.startswith("$ viewrank")],
    }


def run_rerankers(work: Path, specs: list[str], depth: int, threads: int) -> dict:
    """BM25 top 100 with its top ``depth`` reranked by each spec (``viewrank rerank --rerank-depth``)
    on the small set ``run_eval`` made: does a reranker keep BM25's R@2? A spec whose run file is
    already in ``work/runs-d{depth}`` is not run again (the command is recorded as reused)."""
    from viewrank.adapters.pyserini.commands.rerank import run_file_name
    from viewrank.datasets import load_qrels

    data, index, runs = work / "limit-small", work / "index", work / f"runs-d{depth}"
    if not (data / "qrels" / "test.tsv").is_file() or not index.is_dir():
        bad_input(f"{data} or {index} missing: run `python bench/limit.py --skip-free` first")
    qrels = load_qrels(data / "qrels" / "test.tsv")
    out: dict = {"rerank_depth": depth, "first_stage_depth": 100, "queries": len(qrels), "results": {},
                 "commands": []}
    for spec in specs:
        args = ["rerank", "--index", str(index), "--dataset", str(data), "--hits", "100", "--rerank-depth",
                str(depth), "--output-dir", str(runs), "--reranker", spec]
        path = runs / run_file_name(spec)
        if path.is_file():
            out["commands"].append("viewrank " + " ".join(args) + "  # run file already there: reused")
        else:
            viewrank(*args, threads=threads, log=work / "commands-rerank.log")
            out["commands"].append("viewrank " + " ".join(args))
        out["results"][spec] = recall_table(path, qrels)
        out.setdefault("fusion_sweep_R", {})[spec] = fusion_sweep(work / "runs" / "none.trec", path, qrels, depth)
    return out


def pick_weight(sweep: dict) -> str:
    """The fusion weight of a sweep with the best R@2; ties go to the better R@10, then to the
    smaller W (the reranker weighs most)."""
    return max(sweep, key=lambda w: (sweep[w]["R@2"], sweep[w]["R@10"], -float(w)))


def tune_fusion(work: Path, specs: list[str], depth: int, seed: int, queries: int, threads: int) -> dict:
    """``fuse:W:SPEC``'s weight chosen on ANOTHER LIMIT set (``--tune-seed``: other people, other
    attributes, ``--tune-queries`` queries), never on the set it is read on: for each spec, the W
    with the best R@2 there (``pick_weight``)."""
    from viewrank.datasets import load_qrels

    tune = work / f"tune-seed{seed}"
    data, index = tune / "limit-small", tune / "index"
    log = tune / "commands.log"
    tune.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tune / f"runs-d{depth}", ignore_errors=True)  # the set is made afresh: its old runs are stale
    made = viewrank("limit", "make", "--preset", "small", "--queries", str(queries), "--seed", str(seed), "--output",
                    str(data), "--force", "--json", threads=threads, log=log)
    viewrank("index", "--dataset", str(data), "--index", str(index), "--force", threads=threads, log=log)
    viewrank("rerank", "--index", str(index), "--dataset", str(data), "--hits", "100", "--output-dir",
             str(tune / "runs"), "--reranker", "none", threads=threads, log=log)
    section = run_rerankers(tune, specs, depth, threads)
    return {"dataset": json.loads(made), "queries": len(load_qrels(data / "qrels" / "test.tsv")),
            "weights": {spec: pick_weight(section["fusion_sweep_R"][spec]) for spec in specs}, "results": section["results"],
            "fusion_sweep_R": section["fusion_sweep_R"], "commands": section["commands"]}


def run_large_bm25(work: Path, seed: int, threads: int) -> dict:
    """The 50,000-document form with BM25 only (encoding 50,000 documents with MiniLM on a CPU
    takes most of an hour)."""
    from viewrank.datasets import load_qrels

    data, index, run = work / "limit-large", work / "index-large", work / "runs" / "large-none.trec"
    log = work / "commands-large.log"
    log.unlink(missing_ok=True)
    t0 = time.perf_counter()
    made = viewrank("limit", "make", "--preset", "large", "--seed", str(seed), "--output", str(data), "--force",
                    "--json", threads=threads, log=log)
    viewrank("index", "--dataset", str(data), "--index", str(index), "--force", threads=threads, log=log)
    viewrank("rerank", "--index", str(index), "--dataset", str(data), flag("rerank", "--hits", "--depth", threads),
             "100", "--reranker", "none", "--output", str(run), threads=threads, log=log)
    return {"dataset": json.loads(made), "results": {"none": {"name": "BM25 (rerank none)",
                                                              **recall_table(run, load_qrels(data / "qrels" / "test.tsv"))}},
            "seconds": round(time.perf_counter() - t0, 1),
            "commands": [line[2:] for line in log.read_text().splitlines() if line.startswith("$ viewrank")]}


def run_free(dims: str, budget: float, threads: int, device: str, work: Path, plot: str | None) -> dict:
    report = work / f"free-{device.replace(':', '')}.json"
    args = ["limit", "free", "--dims", dims, "--time-budget", str(budget), "--threads", str(threads),
            "--device", device, "--output", str(report)]
    if plot:
        args[-2:-2] = ["--plot", plot]
    t0 = time.perf_counter()
    out = viewrank(*args, threads=threads)
    print(out)
    data = read_result(report)
    data["command"] = "viewrank " + " ".join(args[:-2])
    data["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="runs/limit", help="scratch folder for the dataset, indexes and runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="device for the free-embedding part")
    ap.add_argument("--free-dims", default="4,8,16,32")
    ap.add_argument("--free-budget", type=float, default=120.0, help="seconds per dimension")
    ap.add_argument("--plot", default=None, help="PNG of the free-embedding curve (viewrank limit free --plot)")
    ap.add_argument("--large", action="store_true", help="also the 50,000-document form, BM25 only")
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--skip-free", action="store_true")
    ap.add_argument("--merge-from", default=None, help="add the sections of another results file and stop")
    ap.add_argument("--rerank", action="append", default=[], metavar="SPEC",
                    help="only rerank BM25's top --rerank-depth on the small set with SPEC (repeatable) and record R@2")
    ap.add_argument("--rerank-depth", type=int, default=10)
    ap.add_argument("--tune-seed", type=int, default=None,
                    help="with --rerank: choose each fuse:W:SPEC weight on another LIMIT set made with this seed")
    ap.add_argument("--tune-queries", type=int, default=200, help="queries of the --tune-seed set")
    ap.add_argument("--output", default="bench/results/limit.json")
    args = ap.parse_args(argv)

    out = Path(args.output)
    results = read_result(out, {"bench": "limit", "issue": 20})
    if args.merge_from:
        other = read_result(args.merge_from, what="--merge-from")
        results.update({k: v for k, v in other.items() if k not in ("bench", "issue")})
        write_result(out, results)
        print(f"merged {', '.join(k for k in other if k not in ('bench', 'issue'))} into {out}")
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.rerank:
        section = run_rerankers(work, args.rerank, args.rerank_depth, args.threads)
        section["machine"] = machine("cpu")
        key = f"small_rerank_depth{args.rerank_depth}"
        if args.tune_seed is not None:
            if args.tune_seed == args.seed:
                ap.error(f"--tune-seed {args.tune_seed} is the evaluated set's own seed: choose another")
            tuned = tune_fusion(work, args.rerank, args.rerank_depth, args.tune_seed, args.tune_queries, args.threads)
            section["tuned_fusion"] = {"tune_set": {k: v for k, v in tuned.items() if k != "weights"},
                                       **{spec: {"W": w, **section["fusion_sweep_R"][spec][w]}
                                          for spec, w in tuned["weights"].items()}}
            key += f"_tuned_seed{args.tune_seed}"
        results[key] = section
        for spec, r in section["results"].items():
            print(f"BM25 -> {spec} (top {args.rerank_depth}): R@2 {r['R@2']:.4f}, R@10 {r['R@10']:.4f}, "
                  f"nDCG@10 {r['nDCG@10']:.4f}")
            if "tuned_fusion" in section:
                t = section["tuned_fusion"][spec]
                print(f"  fuse:{t['W']}:{spec} (W from the seed-{args.tune_seed} set): R@2 {t['R@2']:.4f}, R@10 {t['R@10']:.4f}")
        write_result(out, results)
        return 0
    if not args.skip_eval:
        print("LIMIT small: make, index, rerank, encode, search")
        section = run_eval(work, args.seed, args.threads)
        section["machine"] = machine("cpu")
        section["threads"] = args.threads
        results["small_retrieval"] = section
        print(f"\n{'system':<34} {'R@2':>7} {'R@10':>7} {'R@100':>7} {'nDCG@10':>8}")
        for r in section["results"].values():
            print(f"{r['name']:<34} {r['R@2']:>7.4f} {r['R@10']:>7.4f} {r['R@100']:>7.4f} {r['nDCG@10']:>8.4f}")
        write_result(out, results)
    if args.large:
        print("LIMIT large (50,000 documents): make, index, rerank none")
        section = run_large_bm25(work, args.seed, args.threads)
        section["machine"] = machine("cpu")
        results["large_bm25"] = section
        r = section["results"]["none"]
        print(f"BM25 on the large form: R@2 {r['R@2']:.4f}, R@10 {r['R@10']:.4f}, R@100 {r['R@100']:.4f}")
        write_result(out, results)
    if not args.skip_free:
        print(f"free embeddings: dims {args.free_dims}, {args.free_budget:g} s per dimension, {args.device}")
        section = run_free(args.free_dims, args.free_budget, args.threads, args.device, work, args.plot)
        section["machine"] = machine(args.device)
        results[f"free_{'gpu' if args.device.startswith('cuda') else 'cpu'}"] = section
        write_result(out, results)
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
