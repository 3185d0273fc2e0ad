"""Latency of reranking 100 candidates on a GPU: ONNX Runtime's CUDA provider (fp16 and fp32
exported graphs) against the same model in PyTorch (fp32 and fp16) on the same card.

Inputs: the parity gate's fixed SciFact sample widened to ``--depth`` candidates per query
(relevant documents, nearby queries' relevant documents, then a fixed stride of the corpus), so
nDCG@10 is comparable between backends. Each timed call is one query's whole list, end to end
(tokenisation included), as ``viewrank rerank`` makes it. Statistic: median and p95 of per-call
milliseconds over ``--repeats`` passes of every query, after one warm-up pass. Usage (needs a CUDA
device and onnxruntime-gpu)::

    python bench/gpu_latency.py --model models/mvp-minilm --export exports/mvp   # exported --fp16
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from benchcli import write_result  # bench/ is on sys.path when a bench script runs

OUT = Path(__file__).resolve().parent / "results" / "gpu_latency.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="torch model dir the export came from (mvp:DIR or cross-encoder:DIR)")
    ap.add_argument("--kind", default="mvp", choices=["mvp", "cross-encoder"])
    ap.add_argument("--export", required=True, help="directory written by `viewrank export onnx ... --fp16`")
    ap.add_argument("--data", default=None, help="SciFact in BEIR layout (default ../shared/data/scifact)")
    ap.add_argument("--queries", type=int, default=10)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch

    if not torch.cuda.is_available() or "CUDAExecutionProvider" not in ort.get_available_providers():
        print(f"needs a CUDA device and onnxruntime-gpu (torch.cuda: {torch.cuda.is_available()}, "
              f"ORT providers: {ort.get_available_providers()})", file=sys.stderr)
        return 2
    from viewrank.exporters.parity import _mean_ndcg, scifact_sample
    from viewrank.manager import get_host

    host = get_host()
    sample = scifact_sample(args.data, n_queries=args.queries, list_size=args.depth)
    lists = [[t for _, t in lst] for lst in sample.lists]
    texts = [q for _, q in sample.queries]

    def torch_model(half: bool):
        model = host.reranker(f"{args.kind}:{args.model}").model
        model = model.half() if half else model.float()
        return model.to("cuda").eval()

    def ort_model(variant: str, tf32: bool = True):
        model = host.reranker(f"onnx:{args.export}@variant={variant},providers=CUDAExecutionProvider")
        if not tf32:  # ORT's CUDA provider runs fp32 MatMuls in TF32 unless told otherwise
            graph = model.onnx.dir / model.onnx.config["variants"][variant]
            model.onnx.session = ort.InferenceSession(str(graph), providers=[("CUDAExecutionProvider", {"use_tf32": "0"})])
        return model

    def tokenize(model, graph: bool, query, passages):
        if graph:  # an exported graph's reranker: its runtime tokenises MVP's text layout
            from viewrank.plugins.mvp.text import format_inputs

            return model.onnx.encode(format_inputs(query, passages, int(model.onnx.config["m"])))
        return model.tokenize(query, passages)

    backends = {  # name: (make, is an exported graph)
        "torch fp32 CUDA": (lambda: torch_model(False), False),
        "torch fp16 CUDA": (lambda: torch_model(True), False),
        "ORT fp32 CUDA": (lambda: ort_model("fp32"), True),
        "ORT fp32 CUDA (TF32 off)": (lambda: ort_model("fp32", tf32=False), True),
        "ORT fp16 CUDA": (lambda: ort_model("fp16"), True),
    }
    rows, reference = [], None
    for name, (make, graph) in backends.items():
        model = make()
        active = model.onnx.session.get_providers() if graph else None
        for q, lst in zip(texts, lists):  # warm-up: CUDA kernels, cuDNN/cuBLAS handles, ORT arenas
            model.score(q, lst)
        times = []
        for _ in range(args.repeats):
            for q, lst in zip(texts, lists):
                t = time.perf_counter()
                model.score(q, lst)
                times.append((time.perf_counter() - t) * 1000)
        tok_times = []
        for q, lst in zip(texts, lists):
            t = time.perf_counter()
            tokenize(model, graph, q, lst)
            tok_times.append((time.perf_counter() - t) * 1000)
        scores = [np.asarray(model.score(q, lst), dtype=np.float64) for q, lst in zip(texts, lists)]
        if reference is None:
            reference = scores
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(scores, reference))
        ndcg = _mean_ndcg(sample, scores)
        times.sort()
        row = {"backend": name, "median_ms": round(statistics.median(times), 2),
               "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2), "calls": len(times),
               "tokenize_median_ms": round(statistics.median(tok_times), 2),
               "ndcg10": round(ndcg, 4), "max_abs_diff_vs_torch_fp32": float(f"{diff:.3g}")}
        if active:
            row["active_providers"] = active
        rows.append(row)
        print(f"{name:<26} median {row['median_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms  "
              f"(tokenising {row['tokenize_median_ms']:.2f} ms)  "
              f"nDCG@10 {ndcg:.4f}  max|diff| {diff:.2e}", flush=True)
        del model
        torch.cuda.empty_cache()
    base = rows[0]["median_ms"]
    for row in rows:
        row["speedup_vs_torch_fp32"] = round(base / row["median_ms"], 2)
    result = {
        "bench": "gpu_latency",
        "model": f"{args.kind}:{args.model}", "export": str(args.export),
        "device": torch.cuda.get_device_name(0),
        "software": {"torch": torch.__version__, "onnxruntime": ort.__version__, "python": platform.python_version(),
                     "cpu_threads": os.cpu_count()},
        "inputs": f"{len(texts)} SciFact test queries x {args.depth} candidates (parity sample widened); "
                  "one call per query, tokenisation included",
        "statistic": f"median and p95 of {args.repeats} passes over every query, after one warm-up pass",
        "rows": rows,
    }
    write_result(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
