"""Torch fp32 vs ONNX Runtime fp32 vs ONNX Runtime int8 on this CPU, same inputs in one run.

Embedder: SciFact passages/s (``embed``). Cross-encoder and MVP: candidates/s for one query's
list of 20 (one call per query). Quality: nDCG@10 of each backend on the parity gate's fixed
sample (``--queries`` SciFact test queries x 20 candidates: the relevant documents and BM25
distractors). Medians of ``--repeats`` timed passes after one warm-up. Usage::

    python bench/onnx_speed.py --dense DIR --cross-encoder DIR --mvp DIR   # exported dirs (with --int8)

Each of ``--dense``, ``--cross-encoder`` and ``--mvp`` takes one or more exported dirs of the
same model (for example a plain and a mixed-precision ``--int8-keep-fp32`` export): the first
one's fp32 graph and every dir's int8 graph are timed in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from benchcli import read_result, write_result  # bench/ is on sys.path when a bench script runs


OUT = Path(__file__).resolve().parent / "results" / "onnx_speed.json"


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cuda_latency() -> str:
    """Where the CUDA fp16 number lives: this CPU bench cannot measure it, bench/gpu_latency.py can."""
    path = OUT.parent / "gpu_latency.json"
    if not path.is_file():
        return "not measured (no GPU lent; bench/gpu_latency.py measures it on one)"
    gpu = read_result(path)
    rows = [r for r in gpu.get("rows", []) if r.get("backend") == "ORT fp16 CUDA"]
    if not rows:
        return f"not in {path.name}"
    return f"{rows[0]['median_ms']} ms median on {gpu.get('device', 'a GPU')} (see {path.name})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dense", nargs="+", help="exported dir(s) of `dense` (with --int8)")
    ap.add_argument("--cross-encoder", dest="ce", nargs="+", help="exported dir(s) of the --ce-model cross-encoder")
    ap.add_argument("--mvp", nargs="+", help="exported dir(s) of the --mvp-model MVP")
    ap.add_argument("--ce-model", default="models/cross-encoder-minilm", help="torch model the --cross-encoder dir was exported from")
    ap.add_argument("--mvp-model", default="models/mvp-minilm", help="torch model the --mvp dir was exported from")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--passages", type=int, default=64, help="passages for the embedder timing")
    ap.add_argument("--queries", type=int, default=30, help="queries in the nDCG@10 sample (default 30; the gate uses 100)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from viewrank.exporters.cpu import cpu_info, describe
    from viewrank.exporters.parity import _mean_ndcg, _scores_and_values, scifact_sample
    from viewrank.manager import get_host

    host = get_host()
    sample = scifact_sample(None, n_queries=args.queries)
    passages = [t for lst in sample.lists for _, t in lst][: args.passages]
    rows = []

    def int8_label(cfg: dict) -> str:
        how = [cfg.get("exporter", "dynamo")] + (["fused"] if "int8_fused_ops" in cfg else [])
        kept = (cfg.get("int8_mixed") or {}).get("fp32_nodes")
        if kept:
            how.append(f"{len(kept)} nodes fp32")
        gate = (cfg.get("parity") or {}).get("int8")
        how.append("no gate" if gate is None else ("gate passed" if gate.get("passed") else "gate refused"))
        return f"ORT int8 [{', '.join(how)}]"

    def run_backends(label: str, torch_spec: str, onnx_dirs: list[str] | None, kind: str) -> None:
        if not onnx_dirs:
            return
        make = host.embedder if kind == "embedder" else host.reranker
        backends = {"torch fp32": lambda m=make: m(torch_spec)}
        for i, folder in enumerate(onnx_dirs):
            cfg = read_result(Path(folder) / "viewrank_onnx.json")
            for variant in ("fp32", "int8") if i == 0 else ("int8",):
                if variant in cfg["variants"]:
                    spec = f"onnx:{folder}@variant={variant},threads={args.threads},providers=CPUExecutionProvider"
                    name = "ORT fp32" if variant == "fp32" else int8_label(cfg)
                    name = name if name not in backends else f"{name} ({Path(folder).name})"
                    backends[name] = (lambda s=spec, m=make: m(s))
        base = None
        for name, build in backends.items():
            model = build()
            if kind == "embedder":
                secs = timed(lambda: model.embed(passages, role="passage"), args.repeats)
                rate, unit = len(passages) / secs, "passages/s"
            else:
                lists = sample.lists[:4]
                secs = timed(lambda: [model.score(q, [t for _, t in lst]) for (_, q), lst in zip(sample.queries, lists)],
                             args.repeats)
                rate, unit = sum(len(x) for x in lists) / secs, "candidates/s"
            with torch.inference_mode():
                scores, _ = _scores_and_values(sample, kind, model)
            ndcg = _mean_ndcg(sample, scores)
            if base is None:
                base = (rate, ndcg)
            rows.append({"model": label, "backend": name, "throughput": round(rate, 2), "unit": unit,
                         "speedup_vs_torch": round(rate / base[0], 2), "ndcg10": round(ndcg, 4),
                         "ndcg10_loss_vs_torch": round(base[1] - ndcg, 4)})
            print(f"{label:<14} {name:<52} {rate:9.1f} {unit:<13} x{rate / base[0]:5.2f}  nDCG@10 {ndcg:.4f}", flush=True)

    run_backends("MiniLM embed", "dense", args.dense, "embedder")
    run_backends("cross-encoder", f"cross-encoder:{args.ce_model}", args.ce, "reranker")
    run_backends("MVP", f"mvp:{args.mvp_model}", args.mvp, "reranker")
    result = {
        "bench": "onnx_speed",
        "machine": f"{describe()}; {args.threads} threads for torch and ORT; "
                   f"load {os.getloadavg()[0]:.1f} at the end",
        "cpu": cpu_info(),
        "inputs": f"{args.passages} SciFact passages (embedder); 4 queries x 20 candidates per pass (rerankers); "
                  f"nDCG@10 on {args.queries} SciFact test queries x 20 candidates (the parity sample: relevant + BM25 distractors)",
        "repeats": args.repeats, "statistic": "median seconds per pass, after one warm-up",
        "cuda_fp16_latency_100_candidates": cuda_latency(),
        "rows": rows,
    }
    write_result(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
