"""How fast can dynamic int8 be on this CPU? GEMM kernels and an op profile, in one run.

1. GEMM kernels: one MatMul of MiniLM's shapes (32 passages x 256 tokens = 8,192 rows against
   its 384x1536, 1536x384 and 384x384 weights) as torch fp32, ONNX Runtime fp32 and ONNX
   Runtime dynamic int8 (the ``DynamicQuantizeMatMul`` kernel the exported int8 graphs run, with
   each weight format the exporter can write). This is the ceiling of int8 arithmetic on this CPU.
2. The model: torch fp32 ``dense`` against the exported int8 graph on 64 SciFact passages (the
   ``bench/onnx_speed.py`` inputs), the int8 graph's time per operator type (ONNX Runtime's
   profiler), and two upper bounds on the int8 speed-up over torch:
   - *GEMM bound*: every multiply-accumulate of the model (projections, FFN and attention)
     at the measured int8 GEMM rate, and everything else free;
   - *Amdahl bound*: the int8 graph with its ``DynamicQuantizeMatMul`` time set to zero.
3. By input length (``--lengths``): the same passages cut to at most T tokens, on both sides
   (torch ``dense`` and the int8 graph), so one sees where the int8 speed-up grows as the
   attention's share (quadratic in T, fp32 inside QAttention) shrinks.

Usage::

    python bench/int8_ceiling.py --export exports/minilm     # a `viewrank export onnx dense --int8` dir
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

import numpy as np
from onnx_speed import timed  # bench/ is on sys.path when a bench script runs

from benchcli import read_result, write_result  # bench/ is on sys.path when a bench script runs

OUT = Path(__file__).resolve().parent / "results" / "int8_ceiling.json"
SHAPES = ((384, 1536), (1536, 384), (384, 384))
WEIGHTS = {"s8": dict(weight="QInt8", reduce_range=False), "s8-7bit": dict(weight="QInt8", reduce_range=True),
           "u8": dict(weight="QUInt8", reduce_range=False)}


def session(path: Path, threads: int, profile: str | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    if profile:
        opts.enable_profiling, opts.profile_file_prefix = True, profile
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def matmul_graph(path: Path, k: int, n: int) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((k, n)).astype(np.float32) * 0.05, "W")
    graph = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "mm",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["rows", k])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["rows", n])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def gemm_rows(rows: int, threads: int, repeats: int) -> list[dict]:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = []
    x = np.random.default_rng(1).standard_normal((rows, max(k for k, _ in SHAPES))).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        for k, n in SHAPES:
            xs, gops = np.ascontiguousarray(x[:, :k]), 2 * rows * k * n / 1e9
            fp32 = Path(tmp) / f"mm_{k}_{n}.onnx"
            matmul_graph(fp32, k, n)
            wt = torch.randn(k, n) * 0.05
            xt = torch.from_numpy(xs)
            with torch.inference_mode():
                rates = {"torch fp32": gops / timed(lambda: xt @ wt, repeats)}
            s = session(fp32, threads)
            rates["ORT fp32"] = gops / timed(lambda: s.run(None, {"X": xs}), repeats)
            for name, w in WEIGHTS.items():
                q = Path(tmp) / f"mm_{k}_{n}_{name}.onnx"
                quantize_dynamic(str(fp32), str(q), weight_type=getattr(QuantType, w["weight"]), per_channel=True,
                                 reduce_range=w["reduce_range"])
                sq = session(q, threads)
                rates[f"ORT int8 {name}"] = gops / timed(lambda: sq.run(None, {"X": xs}), repeats)
            for backend, rate in rates.items():
                out.append({"shape": f"[{rows}x{k}] @ [{k}x{n}]", "backend": backend, "gop_per_s": round(rate, 1),
                            "vs_torch_fp32": round(rate / rates["torch fp32"], 2),
                            "vs_ort_fp32": round(rate / rates["ORT fp32"], 2)})
                print(f"{out[-1]['shape']:<24} {backend:<18} {rate:7.1f} GOP/s  x{rate / rates['torch fp32']:.2f} torch"
                      f"  x{rate / rates['ORT fp32']:.2f} ORT fp32", flush=True)
    return out


def model_macs(hf: dict, lengths: list[int]) -> float:
    """Multiply-accumulates of a BERT encoder over sequences of these (padded) lengths."""
    h, i, layers = hf["hidden_size"], hf["intermediate_size"], hf["num_hidden_layers"]
    return float(sum(layers * length * (4 * h * h + 2 * h * i + 2 * length * h) for length in lengths))


def profile_model(export: Path, threads: int, repeats: int, passages: int) -> dict:
    import torch

    from viewrank.exporters.parity import scifact_sample
    from viewrank.manager import get_host
    from viewrank.plugins.onnx_runtime.embedder import OnnxEmbedder

    torch.set_num_threads(threads)
    sample = scifact_sample(None, n_queries=8)
    texts = [t for lst in sample.lists for _, t in lst][:passages]
    dense = get_host().embedder("dense")
    with torch.inference_mode():
        t_torch = timed(lambda: dense.embed(texts, role="passage"), repeats)
    int8 = OnnxEmbedder(export, variant="int8", threads=threads, providers="CPUExecutionProvider")
    t_int8 = timed(lambda: int8.embed(texts, role="passage"), repeats)
    # token counts as the runtime pads them (sorted batches of its batch size)
    order = sorted(texts, key=len)
    lengths = []
    for s in range(0, len(order), int8.batch_size):
        feeds = int8.onnx.encode(order[s : s + int8.batch_size])
        lengths += [feeds["input_ids"].shape[1]] * feeds["input_ids"].shape[0]
    cfg = read_result(export / "viewrank_onnx.json")
    with tempfile.TemporaryDirectory() as tmp:
        int8.onnx.session = sess = session(export / cfg["variants"]["int8"], threads, profile=str(Path(tmp) / "prof"))
        for _ in range(2):
            int8.embed(texts, role="passage")
        with open(sess.end_profiling(), encoding="utf-8") as fh:
            events = json.load(fh)
    per_op: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"]
    total = sum(per_op.values())
    ops = [{"op": k, "share": round(v / total, 3)} for k, v in per_op.most_common() if v / total >= 0.001]
    hf = read_result(export / "config.json")
    return {"passages": len(texts), "torch_fp32_s": round(t_torch, 3), "ort_int8_s": round(t_int8, 3),
            "measured_speedup": round(t_torch / t_int8, 2), "model_gmacs": round(model_macs(hf, lengths) / 1e9, 1),
            "int8_ops": ops, "dqmatmul_share": round(per_op["DynamicQuantizeMatMul"] / total, 3)}


def length_sweep(export: Path, threads: int, repeats: int, passages: int, lengths: list[int]) -> list[dict]:
    """torch fp32 vs ORT int8 on the same passages cut to at most T tokens, for each T."""
    import torch

    from viewrank.exporters.parity import scifact_sample
    from viewrank.manager import get_host
    from viewrank.plugins.onnx_runtime.embedder import OnnxEmbedder

    sample = scifact_sample(None, n_queries=8)
    texts = [t for lst in sample.lists for _, t in lst][:passages]
    dense = get_host().embedder("dense")
    int8 = OnnxEmbedder(export, variant="int8", threads=threads, providers="CPUExecutionProvider")
    rows = []
    for length in lengths:
        dense.config.max_length = length
        int8.onnx.tokenizer.enable_truncation(length, strategy="longest_first")
        with torch.inference_mode():
            t_torch = timed(lambda: dense.embed(texts, role="passage"), repeats)
        t_int8 = timed(lambda: int8.embed(texts, role="passage"), repeats)
        tokens = sum(len(e.ids) for e in int8.onnx.tokenizer.encode_batch(texts))
        rows.append({"max_tokens": length, "mean_tokens": round(tokens / len(texts), 1),
                     "torch_fp32_passages_per_s": round(len(texts) / t_torch, 1),
                     "ort_int8_passages_per_s": round(len(texts) / t_int8, 1), "speedup": round(t_torch / t_int8, 2)})
        r = rows[-1]
        print(f"  <= {length:4d} tokens (mean {r['mean_tokens']:6.1f}): torch {r['torch_fp32_passages_per_s']:7.1f} p/s, "
              f"int8 {r['ort_int8_passages_per_s']:7.1f} p/s  x{r['speedup']:.2f}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", help="an exported `dense` dir with an int8 variant (part 2); without it, GEMMs only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rows", type=int, default=8192, help="GEMM rows (tokens in one batch)")
    ap.add_argument("--passages", type=int, default=64)
    ap.add_argument("--lengths", default="32,64,128,256",
                    help="token limits for the length sweep (part 3; needs --export); empty: skip it")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()

    import onnxruntime
    import torch

    from viewrank.exporters.cpu import cpu_info, describe

    torch.set_num_threads(args.threads)
    print(f"CPU: {describe()}; {args.threads} threads; onnxruntime {onnxruntime.__version__}, torch {torch.__version__}")
    gemm = gemm_rows(args.rows, args.threads, args.repeats)
    result = {"bench": "int8_ceiling", "cpu": cpu_info(), "threads": args.threads,
              "onnxruntime": onnxruntime.__version__, "torch": torch.__version__,
              "statistic": f"median of {args.repeats} runs after a warm-up", "gemm": gemm}
    if args.export:
        model = profile_model(Path(args.export), args.threads, args.repeats, args.passages)
        best_int8 = max(r["gop_per_s"] for r in gemm if r["backend"].startswith("ORT int8"))
        gemm_bound = model["torch_fp32_s"] / (2 * model["model_gmacs"] / best_int8)
        amdahl = model["torch_fp32_s"] / (model["ort_int8_s"] * (1 - model["dqmatmul_share"]))
        model.update(gemm_bound_speedup=round(gemm_bound, 2), amdahl_bound_speedup=round(amdahl, 2),
                     best_int8_gop_per_s=best_int8)
        result["model"] = model
        print(f"\nmodel: torch fp32 {model['torch_fp32_s']} s, ORT int8 {model['ort_int8_s']} s for {model['passages']} "
              f"passages: x{model['measured_speedup']}")
        for op in model["int8_ops"]:
            print(f"  {op['op']:<28} {op['share']:6.1%}")
        print(f"GEMM bound (all {model['model_gmacs']} GMAC at {best_int8} GOP/s, nothing else): x{gemm_bound:.2f}")
        print(f"Amdahl bound (DynamicQuantizeMatMul free): x{amdahl:.2f}")
        lengths = [int(x) for x in args.lengths.split(",") if x.strip()]
        if lengths:
            print(f"\nby input length ({model['passages']} passages cut to at most T tokens on both sides):")
            result["by_length"] = length_sweep(Path(args.export), args.threads, args.repeats, args.passages, lengths)
    write_result(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
