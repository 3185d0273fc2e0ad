"""CPU inference side by side: torch fp32, ONNX Runtime fp32/int8, OpenVINO fp32/int8, and
sentence-transformers' own backends (torch, onnx, onnx dynamic int8, openvino, openvino static int8),
plus CTranslate2 float32/int8 for the embedder when it is installed (the `bench` extra).

One run, the same inputs for every row (issue #18):

- the first ``--queries`` SciFact test queries with qrels and their BM25 top ``--candidates``
  (Pyserini over ``--index``; the gate's in-process BM25 with the same k1/b when the index is
  missing);
- embedders: every distinct candidate passage embedded once per row (passages/s; the queries are
  embedded too, untimed) and nDCG@10 of the candidates ranked by cosine;
- rerankers: each query's candidate list scored in one call (ms/query) and nDCG@10 of that order.

Each row: one warm-up call on a few inputs, then ONE timed pass (the machine is shared and the
bench is bounded; ``uptime``'s load is recorded before and after each row). Threads: ``--threads``
for torch, ONNX Runtime and OpenVINO alike (sentence-transformers' rows set the same).

The exports are made beforehand with the exporters (parity gate included; their gate reports are
copied into the JSON)::

    viewrank export onnx dense --output exports/bench18/onnx-minilm --int8
    viewrank export openvino dense --output exports/bench18/ov-minilm --int8
    viewrank export onnx mvp:models/mvp-minilm --output exports/bench18/onnx-mvp --int8 [--no-parity]
    viewrank export openvino mvp:models/mvp-minilm --output exports/bench18/ov-mvp --int8
    # cross-encoder: --ce-model DIR --ce-note "how it was trained" (e.g. `viewrank train cross-encoder
    # --max-steps 1`: an untrained head, for speed only)
    python bench/cpu_speed.py calibration --out-dir exports/bench18/calibration   # SciFact train texts
    PY_ONNX bench/cpu_speed.py st-prepare --backend onnx --model MINILM --out-dir exports/bench18/st/onnx
    PY_OV bench/cpu_speed.py st-prepare --backend openvino --model MINILM --out-dir exports/bench18/st/openvino \\
        --calibration-dir exports/bench18/calibration
    python bench/cpu_speed.py run --exports exports/bench18

sentence-transformers' onnx backend needs optimum-onnx, which pins transformers < 4.58, and its
openvino backend needs optimum-intel, which pins transformers < 5.6; neither installs beside
this project's transformers 5. Their rows therefore run in a worker process under another
interpreter (``--st-onnx-python``, ``--st-openvino-python``: virtual environments that add those
packages over this one; docs/export.md says how they were made). A row whose interpreter cannot
import its backend is recorded as not measured, with the error.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchcli import bad_input, read_result, write_result  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "cpu_speed.json"
PLOT = ROOT / "bench" / "results" / "cpu_speed.png"
MINILM = "all-MiniLM-L6-v2"
WARMUP = 8


def load() -> float:
    return round(os.getloadavg()[0], 2)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"load average {os.getloadavg()}"


# --------------------------------------------------------------------------------------------
# sentence-transformers worker (runs under the peer interpreter; imports no viewrank module)
# --------------------------------------------------------------------------------------------

ST_ROWS = {  # row name -> (backend, file_name in the prepared folder or None)
    "ST torch": ("torch", None),
    "ST onnx": ("onnx", "onnx/model.onnx"),
    "ST onnx int8 (dynamic)": ("onnx", "onnx/model_*int8_*.onnx"),
    "ST openvino": ("openvino", "openvino/openvino_model.xml"),
    "ST openvino int8 (static)": ("openvino", "openvino/openvino_model_qint8_quantized.xml"),
    # what a user gets without ov_config: OpenVINO's own precision choice (bf16 on AMX/AVX512-BF16 CPUs)
    "ST openvino (OpenVINO default precision)": ("openvino", "openvino/openvino_model.xml"),
    "ST openvino int8 (static, OpenVINO default precision)": ("openvino", "openvino/openvino_model_qint8_quantized.xml"),
}
ST_DEFAULT_PRECISION = "OpenVINO default precision"  # rows without the f32 pin the other rows share


def st_quant_config() -> str:
    """The dynamic int8 config sentence-transformers' docs tell a user to pick for this CPU:
    avx512_vnni where the CPU has it (the AMX machines too), else avx512, else avx2."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    flags = set(text.split("flags")[1].split("\n")[0].split()) if "flags" in text else set()
    return "avx512_vnni" if "avx512_vnni" in flags else "avx512" if "avx512f" in flags else "avx2"


def _st_file(folder: str, pattern: str) -> str:
    """The one file of the prepared folder that ``pattern`` matches (relative to the folder)."""
    found = sorted(Path(folder).glob(pattern))
    if len(found) != 1:
        bad_input(f"{folder}: expected one file matching {pattern!r}, found {[p.name for p in found]}")
    return found[0].relative_to(folder).as_posix()


def _st_model(path: str, backend: str, file_name: str | None, threads: int, pin_f32: bool = True):
    from sentence_transformers import SentenceTransformer

    kwargs = {}
    if backend == "onnx":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        kwargs = {"provider": "CPUExecutionProvider", "session_options": so}
    elif backend == "openvino":
        ov_config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        if pin_f32:
            ov_config["INFERENCE_PRECISION_HINT"] = "f32"
        kwargs = {"ov_config": ov_config}
    if file_name:
        kwargs["file_name"] = file_name
    return SentenceTransformer(path, backend=backend, device="cpu", model_kwargs=kwargs)


def calibration_texts(args: argparse.Namespace) -> int:
    """``DIR/train.jsonl``: the texts viewrank's NNCF calibration sees (SciFact train queries and their
    candidate lists), one ``{"text": ...}`` per line, for sentence-transformers' static int8."""
    from viewrank.exporters.parity import scifact_sample

    sample = scifact_sample(args.data, n_queries=args.queries, split="train")
    texts = [q for _, q in sample.queries] + [t for lst in sample.lists for _, t in lst]
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "train.jsonl", "w", encoding="utf-8") as fh:
        for text in texts:
            fh.write(json.dumps({"text": text}) + "\n")
    print(f"{len(texts)} SciFact train texts ({args.queries} queries and their lists) -> {out / 'train.jsonl'}")
    return 0


def st_prepare(args: argparse.Namespace) -> int:
    """Save ST's exports of MiniLM under ``--out-dir``: onnx (+ dynamic int8) or openvino (+ static
    int8 calibrated on SciFact train texts, a local dataset: nothing is downloaded)."""
    import torch

    torch.set_num_threads(args.threads)
    from sentence_transformers import export_dynamic_quantized_onnx_model, export_static_quantized_openvino_model

    out = Path(args.out_dir)
    model = _st_model(args.model, args.backend, None, args.threads)
    if args.backend == "onnx":
        model.save_pretrained(str(out))
        export_dynamic_quantized_onnx_model(model, st_quant_config(), str(out))
    else:
        from optimum.intel import OVQuantizationConfig

        model.save_pretrained(str(out))
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        export_static_quantized_openvino_model(model, OVQuantizationConfig(num_samples=args.calibration_texts), str(out),
                                               dataset_name=args.calibration_dir, dataset_config_name="default",
                                               dataset_split="train", column_name="text")
    print(f"prepared {args.backend} in {out}: {sorted(p.relative_to(out).as_posix() for p in out.rglob('*.*ml'))}"
          f" {sorted(p.relative_to(out).as_posix() for p in out.rglob('*.onnx'))}")
    return 0


def st_worker(args: argparse.Namespace) -> int:
    """Time one ST row on the texts in ``--inputs``; embeddings and timings to ``--result``."""
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    import sentence_transformers

    data = read_result(args.inputs)
    backend, file_name = ST_ROWS[args.row]
    folder = args.model if file_name is None else args.prepared[backend]
    if file_name and "*" in file_name:
        file_name = _st_file(folder, file_name)
    model = _st_model(folder, backend, file_name, args.threads, pin_f32=ST_DEFAULT_PRECISION not in args.row)
    model.encode(data["passages"][:WARMUP], batch_size=32)
    load_before = load()
    t = time.perf_counter()
    passages = model.encode(data["passages"], batch_size=32, convert_to_numpy=True)
    secs = time.perf_counter() - t
    queries = model.encode(data["queries"], batch_size=32, convert_to_numpy=True)
    np.save(args.result + ".passages.npy", passages.astype(np.float32))
    np.save(args.result + ".queries.npy", queries.astype(np.float32))
    Path(args.result).write_text(json.dumps({"seconds": secs, "load_before": load_before, "load_after": load(),
                                             "sentence_transformers": sentence_transformers.__version__,
                                             "model": f"{folder} ({file_name or 'torch weights'})"}))
    return 0


# --------------------------------------------------------------------------------------------
# the bench
# --------------------------------------------------------------------------------------------


def sample_inputs(args: argparse.Namespace):
    """(queries, per-query candidate (docid, text) lists, qrels, passages, where the candidates came from)."""
    from viewrank.datasets import BeirDataset
    from viewrank.types import Query

    ds = BeirDataset(Path(args.data))
    qrels = ds.qrels("test")
    queries = [q for q in ds.queries("test") if q.qid in qrels][: args.queries]
    corpus = {d: doc.contents for d, doc in ds.corpus.items()}
    source = f"Pyserini BM25 (k1 0.9, b 0.4) over {args.index}"
    try:
        from viewrank.manager import get_host

        hits = get_host().retriever(f"bm25:{args.index}").search([Query(q.qid, q.text) for q in queries],
                                                                 args.candidates)
    except Exception as exc:  # no index / no Java here: the gate's in-process BM25, same parameters
        from viewrank.exporters.parity import LexicalIndex

        source = f"in-process BM25 (k1 0.9, b 0.4; Pyserini unavailable: {str(exc).splitlines()[0][:120]})"
        index = LexicalIndex(corpus)
        hits = {q.qid: [(d, 0.0) for d in index.search(q.text, args.candidates)] for q in queries}
    lists = [[(d, corpus[d]) for d, _ in hits[q.qid][: args.candidates] if d in corpus] for q in queries]
    passages = list(dict.fromkeys(d for lst in lists for d, _ in lst))
    return queries, lists, {q.qid: qrels[q.qid] for q in queries}, passages, corpus, source


def ndcg(queries, lists, qrels, scores) -> float:
    from viewrank.metrics import ndcg_at_k

    run = {q.qid: {d: float(s) for (d, _), s in zip(lst, sc)} for q, lst, sc in zip(queries, lists, scores)}
    return float(ndcg_at_k(run, qrels, 10))


def gate_summary(folder: Path) -> dict:
    for name in ("viewrank_openvino.json", "viewrank_onnx.json"):
        path = folder / name
        if path.is_file():
            cfg = read_result(path)
            out = {"dir": str(folder), "variants": cfg.get("variants"), "int8": cfg.get("int8") or cfg.get("int8_mixed")}
            out["gate"] = {v: ({k: r.get(k) for k in ("passed", "max_abs_diff", "min_kendall_tau", "ndcg10_torch",
                                                       "ndcg10_onnx", "failures")} if r else None)
                           for v, r in (cfg.get("parity") or {}).items()} or "not gated (--no-parity)"
            return out
    return {"dir": str(folder), "missing": True}


def bf16_sibling(folder: Path) -> Path:
    """``FOLDER-bf16``: where a separate ``--bf16`` export of the same model sits."""
    return folder.with_name(folder.name + "-bf16")


def bf16_variants(folder: Path) -> list[tuple[Path, str]]:
    """``(folder, variant)`` for the bf16 variants of an OpenVINO export (``viewrank export openvino
    --bf16``), and of ``FOLDER-bf16`` beside it when that exists (a ``--bf16`` export without
    ``--int8``: where the int8-bf16 variant failed its gate, the whole ``--int8 --bf16`` export was refused)."""
    found = []
    for where in (folder, bf16_sibling(folder)):
        variants = gate_summary(where).get("variants") or {} if where.is_dir() else {}
        found += [(where, v) for v in ("bf16", "int8-bf16") if v in variants]
    return found


def gate_label(folder: Path, variant: str) -> str:
    info = gate_summary(folder)
    gate = info.get("gate")
    if not isinstance(gate, dict) or variant not in gate:
        return "no gate"
    return "gate passed" if gate[variant]["passed"] else "gate refused"


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from viewrank.exporters.cpu import cpu_info, describe
    from viewrank.manager import get_host
    from viewrank.errors import ViewrankError

    started, start_uptime = time.time(), uptime()
    host = get_host()
    exports = Path(args.exports)
    queries, lists, qrels, passage_ids, corpus, source = sample_inputs(args)
    passages = [corpus[d] for d in passage_ids]
    pos = {d: i for i, d in enumerate(passage_ids)}
    print(f"{len(queries)} queries x {args.candidates} BM25 candidates ({source}); {len(passages)} distinct passages",
          flush=True)
    rows: list[dict] = []
    work = exports / "_bench_tmp"
    work.mkdir(parents=True, exist_ok=True)
    inputs_file = work / "inputs.json"
    inputs_file.write_text(json.dumps({"passages": passages, "queries": [q.text for q in queries]}))

    def cosine_scores(pvec, qvec):
        return [pvec[[pos[d] for d, _ in lst]] @ qvec[i] for i, lst in enumerate(lists)]

    def record(model_name: str, row: str, rate: float, unit: str, ms_per_query: float | None, score: float,
               load_before: float, note: str = "") -> None:
        base = next((r for r in rows if r["model"] == model_name and r["backend"] == "torch fp32"), None)
        entry = {"model": model_name, "backend": row, "throughput": round(rate, 2), "unit": unit,
                 "ms_per_query": None if ms_per_query is None else round(ms_per_query, 1),
                 "speedup_vs_torch": round(rate / base["throughput"], 2) if base else 1.0,
                 "ndcg10": round(score, 4), "load_before": load_before, "load_after": load(), "note": note}
        rows.append(entry)
        print(f"{model_name:<26} {row:<44} {rate:8.1f} {unit:<12} x{entry['speedup_vs_torch']:<5} "
              f"nDCG@10 {score:.4f}  load {load_before}->{entry['load_after']} {note}", flush=True)

    def embedder_row(name: str, spec: str) -> None:
        try:
            model = host.embedder(spec)
        except ViewrankError as exc:
            return missing("MiniLM embedder", name, spec, exc)
        model.embed(passages[:WARMUP])
        before = load()
        t = time.perf_counter()
        with torch.inference_mode():
            pvec = np.asarray(model.embed(passages, role="passage"), np.float32)
        secs = time.perf_counter() - t
        with torch.inference_mode():
            qvec = np.asarray(model.embed([q.text for q in queries], role="query"), np.float32)
        record("MiniLM embedder", name, len(passages) / secs, "passages/s", None,
               ndcg(queries, lists, qrels, cosine_scores(pvec, qvec)), before)
        del model

    def st_row(name: str) -> None:
        backend = ST_ROWS[name][0]
        python = {"onnx": args.st_onnx_python, "openvino": args.st_openvino_python}.get(backend) or sys.executable
        result = str(work / f"st-{backend}-{len(rows)}.json")
        cmd = [python, __file__, "st-worker", "--row", name, "--model", args.minilm, "--inputs", str(inputs_file),
               "--result", result, "--threads", str(args.threads),
               "--prepared-onnx", str(exports / "st" / "onnx"), "--prepared-openvino", str(exports / "st" / "openvino")]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.row_timeout)
        if done.returncode != 0:
            err = [line for line in done.stderr.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
            rows.append({"model": "MiniLM embedder", "backend": name, "not_measured": err[0][:300], "python": python})
            print(f"{'MiniLM embedder':<26} {name:<44} not measured: {err[0][:200]}", flush=True)
            return
        info = read_result(result)
        pvec, qvec = np.load(result + ".passages.npy"), np.load(result + ".queries.npy")
        record("MiniLM embedder", name, len(passages) / info["seconds"], "passages/s", None,
               ndcg(queries, lists, qrels, cosine_scores(pvec, qvec)), info["load_before"],
               f"sentence-transformers {info['sentence_transformers']} ({Path(python).parent.parent.name}): "
               f"{info['model']}")

    def ct2_row(compute_type: str) -> None:
        """CTranslate2's BERT encoder on the same MiniLM weights (issue #18 item 4): converted once
        into the bench's scratch folder, mean pooling and normalisation as `dense` does, batches of
        32 sorted by length, 256 tokens."""
        name = f"CTranslate2 {compute_type}"
        if importlib.util.find_spec("ctranslate2") is None:
            rows.append({"model": "MiniLM embedder", "backend": name,
                         "not_measured": "ctranslate2 is not installed (pip install -e '.[bench]')"})
            print(f"{'MiniLM embedder':<26} {name:<44} not measured: ctranslate2 is not installed", flush=True)
            return
        import ctranslate2
        from transformers import AutoTokenizer

        folder = work / "ct2-minilm"
        if not (folder / "model.bin").is_file():
            ctranslate2.converters.TransformersConverter(args.minilm).convert(str(folder), force=True)
        encoder = ctranslate2.Encoder(str(folder), device="cpu", compute_type=compute_type, intra_threads=args.threads)
        tok = AutoTokenizer.from_pretrained(args.minilm)

        def embed(texts: list[str]) -> np.ndarray:
            out = np.zeros((len(texts), 384), np.float32)
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            for s in range(0, len(order), 32):
                idx = order[s : s + 32]
                ids = tok([texts[i] for i in idx], truncation=True, max_length=256)["input_ids"]
                hidden = np.asarray(encoder.forward_batch(ids).last_hidden_state, np.float32)
                mask = np.zeros(hidden.shape[:2], np.float32)
                for r, row_ids in enumerate(ids):
                    mask[r, : len(row_ids)] = 1.0
                vec = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
                out[idx] = vec / np.linalg.norm(vec, axis=1, keepdims=True)
            return out

        embed(passages[:WARMUP])
        before = load()
        t = time.perf_counter()
        pvec = embed(passages)
        secs = time.perf_counter() - t
        qvec = embed([q.text for q in queries])
        record("MiniLM embedder", name, len(passages) / secs, "passages/s", None,
               ndcg(queries, lists, qrels, cosine_scores(pvec, qvec)), before,
               f"ctranslate2 {ctranslate2.__version__}")

    def missing(model_name: str, name: str, spec: str, exc: Exception) -> None:
        """A row whose export is not there (its gate refused it, say) is recorded, not fatal."""
        rows.append({"model": model_name, "backend": name, "not_measured": f"{spec}: {exc}"[:300]})
        print(f"{model_name:<26} {name:<44} not measured: {exc}", flush=True)

    def reranker_row(model_name: str, name: str, spec: str, note: str = "") -> None:
        try:
            model = host.reranker(spec)
        except ViewrankError as exc:
            return missing(model_name, name, spec, exc)
        model.score(queries[0].text, [t for _, t in lists[0][:WARMUP]])
        before = load()
        t = time.perf_counter()
        with torch.inference_mode():
            scores = [np.asarray(model.score(q.text, [t for _, t in lst]), np.float32) for q, lst in zip(queries, lists)]
        secs = time.perf_counter() - t
        n = sum(len(lst) for lst in lists)
        record(model_name, name, n / secs, "candidates/s", 1000 * secs / len(queries),
               ndcg(queries, lists, qrels, scores), before, note)
        del model

    threads = f"threads={args.threads}"
    overrides = dict(item.split("=", 1) for item in args.use)

    def export_dir(name: str) -> Path:
        return Path(overrides.get(name, exports / name))

    gates = {}
    if "embedder" in args.models:
        onnx_dir, ov_dir = export_dir("onnx-minilm"), export_dir("ov-minilm")
        gates["MiniLM embedder"] = {"onnx": gate_summary(onnx_dir), "openvino": gate_summary(ov_dir)}
        if bf16_sibling(ov_dir).is_dir():
            gates["MiniLM embedder"]["openvino-bf16"] = gate_summary(bf16_sibling(ov_dir))
        embedder_row("torch fp32", "dense")
        embedder_row("ORT fp32", f"onnx:{onnx_dir}@variant=fp32,{threads},providers=CPUExecutionProvider")
        embedder_row(f"ORT int8 [{gate_label(onnx_dir, 'int8')}]",
                     f"onnx:{onnx_dir}@variant=int8,{threads},providers=CPUExecutionProvider")
        embedder_row("OpenVINO fp32", f"openvino:{ov_dir}@variant=fp32,{threads}")
        embedder_row(f"OpenVINO int8 [{gate_label(ov_dir, 'int8')}]", f"openvino:{ov_dir}@variant=int8,{threads}")
        for where, variant in bf16_variants(ov_dir):
            embedder_row(f"OpenVINO {variant} [{gate_label(where, variant)}]",
                         f"openvino:{where}@variant={variant},{threads}")
        if args.threads > 1:  # the fastest graphs again on two throughput streams (one thread each)
            for where, variant in [(ov_dir, "int8")] + bf16_variants(ov_dir):
                embedder_row(f"OpenVINO {variant} [{gate_label(where, variant)}], streams=2",
                             f"openvino:{where}@variant={variant},{threads},streams=2")
        for name in ST_ROWS:
            st_row(name)
        if not args.no_ct2:
            ct2_row("float32")
            ct2_row("int8")
    for key, label, torch_spec, note in (("mvp", "MVP (encoder, trained)", f"mvp:{args.mvp_model}", ""),
                                         ("ce", "cross-encoder", f"cross-encoder:{args.ce_model}", args.ce_note)):
        if key not in args.models:
            continue
        onnx_dir, ov_dir = export_dir(f"onnx-{key}"), export_dir(f"ov-{key}")
        gates[label] = {"onnx": gate_summary(onnx_dir), "openvino": gate_summary(ov_dir)}
        if bf16_sibling(ov_dir).is_dir():
            gates[label]["openvino-bf16"] = gate_summary(bf16_sibling(ov_dir))
        reranker_row(label, "torch fp32", torch_spec, note)
        reranker_row(label, "ORT fp32", f"onnx:{onnx_dir}@variant=fp32,{threads},providers=CPUExecutionProvider", note)
        reranker_row(label, f"ORT int8 [{gate_label(onnx_dir, 'int8')}]",
                     f"onnx:{onnx_dir}@variant=int8,{threads},providers=CPUExecutionProvider", note)
        reranker_row(label, "OpenVINO fp32", f"openvino:{ov_dir}@variant=fp32,{threads}", note)
        reranker_row(label, f"OpenVINO int8 [{gate_label(ov_dir, 'int8')}]",
                     f"openvino:{ov_dir}@variant=int8,{threads}", note)
        for where, variant in bf16_variants(ov_dir):
            reranker_row(label, f"OpenVINO {variant} [{gate_label(where, variant)}]",
                         f"openvino:{where}@variant={variant},{threads}", note)

    info = cpu_info()
    flags = set(Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0].split()) \
        if Path("/proc/cpuinfo").is_file() else set()
    result = {
        "bench": "cpu_speed", "issue": 18,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)),
        "machine": f"{describe()}; {args.threads} threads for every backend",
        "cpu": {**info, "vnni": bool(flags & {"avx512_vnni", "avx_vnni"}), "amx": "amx_int8" in flags,
                "avx512": "avx512f" in flags, "avx2": "avx2" in flags},
        "threads": args.threads,
        "uptime_start": start_uptime, "uptime_end": uptime(),
        "seconds": round(time.time() - started, 1),
        "versions": versions(),
        "inputs": (f"the first {len(queries)} SciFact test queries with qrels x their top {args.candidates} "
                   f"BM25 candidates ({source}); embedders: the {len(passages)} distinct candidate passages "
                   f"(passages/s) and nDCG@10 of the candidates by cosine; rerankers: one call per query's "
                   f"list (ms/query, candidates/s) and nDCG@10 of its order. One warm-up call, then one timed pass."),
        "exports": gates,
        "notes": args.note,
        "rows": rows,
        "targets": targets(rows),
    }
    write_result(args.out, result)
    plot(rows, args.plot, result)
    print(f"wrote {args.out} and {args.plot} ({result['seconds']} s)")
    return 0


def versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("torch", "transformers", "onnxruntime", "openvino", "nncf", "sentence-transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def targets(rows: list[dict]) -> dict:
    """The issue's targets, judged on this run's rows."""
    measured = [r for r in rows if "throughput" in r]

    def best(model: str, prefix: str, gated_only: bool = True) -> dict | None:
        cands = [r for r in measured if r["model"] == model and r["backend"].startswith(prefix)
                 and (not gated_only or "gate passed" in r["backend"])]
        return max(cands, key=lambda r: r["throughput"], default=None)

    out = {}
    for model, goal in (("MiniLM embedder", 3.0), ("MVP (encoder, trained)", 2.5), ("cross-encoder", 3.0)):
        torch_row = next((r for r in measured if r["model"] == model and r["backend"] == "torch fp32"), None)
        if torch_row is None:
            continue
        for prefix in ("OpenVINO int8", "ORT int8"):
            row = best(model, prefix) or best(model, prefix, gated_only=False)
            if row:
                out[f"{model}: {row['backend']} >= {goal}x torch fp32"] = {
                    "speedup": row["speedup_vs_torch"], "met": row["speedup_vs_torch"] >= goal,
                    "ndcg10_loss_vs_torch": round(torch_row["ndcg10"] - row["ndcg10"], 4)}
    st = [r for r in measured if r["model"] == "MiniLM embedder" and r["backend"].startswith("ST ")]
    ours = [r for r in measured if r["model"] == "MiniLM embedder" and not r["backend"].startswith("ST ")
            and ("gate passed" in r["backend"] or "int8" not in r["backend"])]
    if st and ours:
        peer, mine = max(st, key=lambda r: r["throughput"]), max(ours, key=lambda r: r["throughput"])
        out["MiniLM embedder: fastest viewrank row >= 1.2x the fastest sentence-transformers row"] = {
            "viewrank": mine["backend"], "viewrank_rate": mine["throughput"], "viewrank_ndcg10": mine["ndcg10"],
            "sentence_transformers": peer["backend"], "st_rate": peer["throughput"], "st_ndcg10": peer["ndcg10"],
            "ratio": round(mine["throughput"] / peer["throughput"], 2),
            "met": mine["throughput"] >= 1.2 * peer["throughput"] and mine["ndcg10"] >= peer["ndcg10"]}
    return out


def plot(rows: list[dict], path: str, result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in rows if "throughput" in r))
    fig, axes = plt.subplots(1, max(1, len(models)), figsize=(6 * max(1, len(models)), 5), squeeze=False)
    for ax, model in zip(axes[0], models):
        for r in (r for r in rows if r["model"] == model and "throughput" in r):
            marker = "s" if r["backend"].startswith("ST ") else ("o" if "int8" in r["backend"] else "^")
            ax.scatter(r["speedup_vs_torch"], r["ndcg10"], marker=marker, s=50)
            ax.annotate(r["backend"].replace(" [gate passed]", " (gated)"), (r["speedup_vs_torch"], r["ndcg10"]),
                        fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.axvline(1.0, color="grey", lw=0.5)
        ax.set_xlabel("speed-up vs torch fp32 (same inputs, same threads)")
        ax.set_ylabel("nDCG@10 (bench sample)")
        ax.set_title(model, fontsize=10)
    fig.suptitle(f"{result['machine']} | {result['date_utc']} UTC | load{result['uptime_start'].split('load')[-1]}",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="the bench (one run)")
    r.add_argument("--exports", default="exports/bench18",
                   help="folder holding onnx-minilm, ov-minilm, onnx-mvp, ov-mvp, onnx-ce, ov-ce and st/{onnx,openvino}")
    r.add_argument("--use", nargs="*", default=[], metavar="NAME=DIR",
                   help="another folder for one export (ov-minilm=exports/bench18/ov-minilm-plain)")
    r.add_argument("--note", action="append", default=[], help="a note stored in the JSON (repeatable)")
    r.add_argument("--models", nargs="+", default=["embedder", "mvp", "ce"], choices=("embedder", "mvp", "ce"))
    r.add_argument("--mvp-model", default="models/mvp-minilm")
    r.add_argument("--ce-model", default="exports/bench18/ce-untrained")
    r.add_argument("--ce-note", default="untrained head: speed only",
                   help="what the cross-encoder rows say of the model (how it was trained)")
    r.add_argument("--minilm", default=None, help="MiniLM folder for sentence-transformers (default: what `dense` resolves)")
    r.add_argument("--data", default="../shared/data/scifact")
    r.add_argument("--index", default="indexes/scifact")
    r.add_argument("--queries", type=int, default=20)
    r.add_argument("--candidates", type=int, default=25)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--st-onnx-python", default=None, help="interpreter with sentence-transformers + optimum-onnx")
    r.add_argument("--st-openvino-python", default=None, help="interpreter with sentence-transformers + optimum-intel")
    r.add_argument("--row-timeout", type=int, default=600)
    r.add_argument("--no-ct2", action="store_true", help="skip the CTranslate2 rows of the embedder")
    r.add_argument("--out", default=str(OUT))
    r.add_argument("--plot", default=str(PLOT))
    p = sub.add_parser("st-prepare", help="save sentence-transformers' exports (run under the peer interpreter)")
    p.add_argument("--backend", choices=("onnx", "openvino"), required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--calibration-dir", default=None, help="folder with train.jsonl ({'text': ...}) for static int8")
    p.add_argument("--calibration-texts", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    c = sub.add_parser("calibration", help="write SciFact train texts for sentence-transformers' static int8")
    c.add_argument("--out-dir", required=True)
    c.add_argument("--data", default=None, help="SciFact dir (default: scifact under the data dir)")
    c.add_argument("--queries", type=int, default=50, help="train queries (default 50: the openvino exporter's)")
    w = sub.add_parser("st-worker", help=argparse.SUPPRESS)
    w.add_argument("--row", required=True, choices=tuple(ST_ROWS))
    w.add_argument("--model", required=True)
    w.add_argument("--inputs", required=True)
    w.add_argument("--result", required=True)
    w.add_argument("--threads", type=int, default=2)
    w.add_argument("--prepared-onnx", required=True)
    w.add_argument("--prepared-openvino", required=True)
    args = ap.parse_args()
    if args.cmd == "st-prepare":
        return st_prepare(args)
    if args.cmd == "calibration":
        return calibration_texts(args)
    if args.cmd == "st-worker":
        args.prepared = {"onnx": args.prepared_onnx, "openvino": args.prepared_openvino}
        return st_worker(args)
    if args.minilm is None:
        from viewrank.manager import get_host

        args.minilm = str(get_host().resolve_model_path(MINILM))
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
