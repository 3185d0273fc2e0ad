"""``viewrank export onnx MODEL --output DIR``: graph, variants, parity gate, artifacts, bundles.

Everything is written with :func:`viewrank.savedir.staged_save`: built in a temporary directory
beside ``DIR`` and moved into place (``viewrank_onnx.json``, the file runtimes check, last) only
when every requested variant passed the parity gate, so a failed export leaves nothing behind.
The model is built, and its export config looked up, by the host of the context passed in.
"""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from viewrank.errors import ViewrankError
from viewrank.exporters.artifacts import write_json, write_manifest
from viewrank.exporters.configs import OnnxConfig, config_for
from viewrank.exporters.options import EXPORTERS, ExportOptions
from viewrank.savedir import staged_save

if TYPE_CHECKING:
    from viewrank.context import Context
    from viewrank.manager import PluginHost

RUNTIME_CONFIG = "viewrank_onnx.json"
EXTERNAL_DATA_BYTES = 1_800_000_000  # past ~2 GB protobuf's limit: weights go to model.onnx.data
NDCG_LIMITS = {"fp32": 0.002, "int8": 0.005, "fp16": 0.002}
LIMITS_OF = {"bf16": "int8", "int8-bf16": "int8"}  # variants judged by another variant's limits


def _log(msg: str) -> None:
    print(f"[export] {msg}", flush=True)


def build_model(spec: str, host: "PluginHost") -> tuple[str, Any]:
    """Build the registered model a spec names in ``host``: embedder first, then reranker."""
    name = spec.partition(":")[0]
    if name in host.registry.names("embedder") and name not in host.registry.names("reranker"):
        return "embedder", host.embedder(spec)
    if name in host.registry.names("reranker"):
        return "reranker", host.reranker(spec)
    known = sorted(set(host.registry.names("embedder")) | set(host.registry.names("reranker")))
    raise ViewrankError(f"unknown model {spec!r}; registered: {', '.join(known)}")


@contextmanager
def eager_attention(module: torch.nn.Module):
    """Hugging Face attention as plain MatMul/Softmax ops while exporting, then restored.

    The graph stays standard ONNX either way; eager attention is the pattern ONNX Runtime's
    transformer optimizer recognises and fuses into its Attention kernel (SDPA's is not).
    """
    saved = []
    for sub in module.modules():
        impl = getattr(getattr(sub, "config", None), "_attn_implementation", None)
        if impl and impl != "eager" and hasattr(sub, "set_attn_implementation"):
            sub.set_attn_implementation("eager")
            saved.append((sub, impl))
    try:
        yield
    finally:
        for sub, impl in saved:
            sub.set_attn_implementation(impl)


def _export_graph(graph: torch.nn.Module, config: OnnxConfig, example: dict[str, torch.Tensor], path: Path,
                  opset: int, external: bool, exporter: str = "torchscript") -> None:
    """Write ``graph`` to ``path`` with dynamic batch/candidate and sequence axes.

    ``torchscript`` (default) traces the module on ``example`` (which holds padding, so the mask
    path is traced) at the requested opset; ``dynamo`` uses ``torch.export`` (opset 18 and up).
    Both are checked by the parity gate.
    """
    import warnings

    args = tuple(example[n] for n in config.inputs)
    graph.eval()
    with warnings.catch_warnings(), eager_attention(graph):
        warnings.simplefilter("ignore")
        if exporter == "torchscript" and not external:
            torch.onnx.export(graph, args, str(path), input_names=list(config.inputs),
                              output_names=list(config.outputs), dynamic_axes=config.dynamic_axes(),
                              opset_version=opset, do_constant_folding=True, dynamo=False)
        else:  # dynamo, and models past the 2 GB protobuf limit (external data)
            from torch.export import Dim

            batch, seq = Dim(config.batch_axis), Dim("sequence")
            shapes = tuple({0: batch, 1: seq} for _ in config.inputs)
            program = torch.onnx.export(graph, args, input_names=list(config.inputs),
                                        output_names=list(config.outputs), dynamic_shapes=shapes,
                                        opset_version=opset, dynamo=True, external_data=external, verbose=False)
            program.save(str(path), external_data=external)
    graph.eval()


def _opset(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return int(next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")))


def _graph_io(path: Path) -> tuple[list[str], list[str]]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [i.name for i in sess.get_inputs()], [o.name for o in sess.get_outputs()]


def _runtime_config(kind: str, spec: str, model: Any, config: OnnxConfig, opts: ExportOptions) -> tuple[dict, Any, Any]:
    """The runtime JSON, the tokenizer and the torch module whose forward the graph reproduces."""
    base = {"format_version": 1, "kind": config.kind, "task": config.task, "model_type": config.model_type, "source": spec,
            "inputs": list(config.inputs), "outputs": list(config.outputs), "opset": opts.opset,
            "atol": config.atol, "int8_atol": config.int8_atol, "fp16_atol": config.fp16_atol,
            "tau": config.tau, "int8_tau": config.int8_tau, "int8_tie": config.int8_tie}
    if config.kind == "embedder":
        dense = getattr(model, "float_embedder", model)  # int8:DIR / binary:DIR wrap a dense embedder
        c = dense.config
        if opts.max_length:
            c.max_length = int(opts.max_length)
        base.update(pooling=c.pooling, normalize=c.normalize, query_prefix=c.query_prefix,
                    passage_prefix=c.passage_prefix, max_length=c.max_length, dim=int(model.dim),
                    matryoshka_dim=c.dim, layer=c.layer, batch_size=c.batch_size,
                    output_dtype=config.output_dtype)
        if dense is not model:
            base["quantizer"] = {"kind": model.kind, "method": getattr(model.quantizer, "method", "faiss QT_8bit"),
                                 "input_dim": int(model.quantizer.dim)}
        return base, dense.tokenizer, dense.model
    inner = model.model
    if opts.max_length:
        inner.config.max_length = int(opts.max_length)
    base.update(max_length=int(inner.config.max_length), **config.extra)
    return base, inner.tokenizer, inner.backbone


def _example(kind: str, model: Any) -> dict[str, torch.Tensor]:
    texts = ["a short example text", "a second, somewhat longer example text for tracing"]
    if kind == "embedder":
        batch = getattr(model, "float_embedder", model).tokenize(texts, "passage")
    else:
        batch = model.model.tokenize("example query", texts + ["a third candidate"])
    out = {k: v.cpu() for k, v in batch.items()}
    if "token_type_ids" not in out:
        out["token_type_ids"] = torch.zeros_like(out["input_ids"])
    return out


def export_onnx(spec: str, out_dir: str | Path, opts: ExportOptions | None = None, *, context: "Context") -> Path:
    """Export ``spec`` (built by ``context.host``) to ``out_dir``; raises :class:`ViewrankError`
    (and leaves nothing) on failure."""
    opts = opts or ExportOptions()
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ViewrankError(f"{out} already exists and is not empty; choose a new --output")
    started = time.perf_counter()
    _log(f"building {spec}")
    if opts.exporter not in EXPORTERS:
        raise ViewrankError(f"unknown exporter {opts.exporter!r}; choose one of {', '.join(EXPORTERS)}")
    from viewrank.exporters.quantize import INT8_WEIGHTS

    if opts.int8_weights not in INT8_WEIGHTS:
        raise ViewrankError(f"unknown int8 weight format {opts.int8_weights!r}; choose one of {', '.join(INT8_WEIGHTS)}")
    if opts.int8_smooth is not None and not opts.int8:
        raise ViewrankError("int8_smooth (--int8-smooth) shapes the int8 graph: add int8 (--int8)")
    if opts.int8_smooth is not None:
        from viewrank.exporters.smooth import check_alpha

        check_alpha(opts.int8_smooth)
    if opts.int8_keep_fp32 is not None:
        from viewrank.exporters.mixed import KeepRequest

        if not opts.int8:
            raise ViewrankError("int8_keep_fp32 (--int8-keep-fp32) chooses nodes of the int8 graph: add int8 (--int8)")
        KeepRequest.parse(opts.int8_keep_fp32)  # bad syntax fails before the model is built
        if opts.int8_calibration_queries < 1:
            raise ViewrankError(f"--int8-calibration-queries {opts.int8_calibration_queries}: give 1 or more")
    if opts.ml_commons_variant != "fp32" and not opts.ml_commons:
        raise ViewrankError("ml_commons_variant (--ml-commons-variant) picks the graph of the ml-commons zip: "
                            "add ml_commons (--ml-commons)")
    if opts.ml_commons:
        from viewrank.exporters.ml_commons import check_variant

        # before the model is built: the variants this export will write
        check_variant(opts.ml_commons_variant, ["fp32"] + ["int8"] * opts.int8 + ["fp16"] * opts.fp16)
    kind, model = build_model(spec, context.host)
    config = config_for(model, context.host)
    staged_save(out, lambda tmp: _write_export(tmp, spec, out.name, kind, model, config, opts), marker=RUNTIME_CONFIG)
    _log(f"done in {time.perf_counter() - started:.1f}s: {out}")
    return out


def _write_export(tmp: Path, spec: str, default_name: str, kind: str, model: Any, config: OnnxConfig,
                  opts: ExportOptions) -> None:
    """Everything an export holds, written into ``tmp`` (staged_save moves it into place)."""
    cfg, tokenizer, backbone = _runtime_config(kind, spec, model, config, opts)
    nbytes = sum(p.numel() * p.element_size() for p in backbone.parameters())
    external = nbytes > EXTERNAL_DATA_BYTES
    cfg["external_data"] = external
    graph = config.graph(model)
    _log(f"exporting {config.task} graph (opset {opts.opset}, torch.onnx {opts.exporter} exporter)")
    _export_graph(graph, config, _example(kind, model), tmp / "model.onnx", opts.opset, external, opts.exporter)
    cfg["exporter"] = opts.exporter
    inputs, outputs = _graph_io(tmp / "model.onnx")
    cfg["opset"] = _opset(tmp / "model.onnx")
    if cfg["opset"] != opts.opset:
        _log(f"note: the graph has opset {cfg['opset']} (down-conversion to {opts.opset} was not possible)")
    if inputs != list(config.inputs) or outputs != list(config.outputs):
        raise ViewrankError(f"exported graph has inputs {inputs} / outputs {outputs}; expected "
                            f"{list(config.inputs)} / {list(config.outputs)}")
    tokenizer.save_pretrained(str(tmp / "_tok"))
    if not (tmp / "_tok" / "tokenizer.json").is_file():
        raise ViewrankError(f"{spec}: its tokenizer has no fast (tokenizer.json) form; cannot export it")
    shutil.move(str(tmp / "_tok" / "tokenizer.json"), tmp / "tokenizer.json")
    shutil.rmtree(tmp / "_tok")
    cfg["pad_token_id"] = int(tokenizer.pad_token_id or 0)
    cfg["pad_token"] = str(tokenizer.pad_token or "[PAD]")
    write_json(tmp / RUNTIME_CONFIG, cfg)  # the int8 search's trial graphs load with it
    variants = {"fp32": "model.onnx"}
    if opts.int8:
        _int8_variant(tmp, kind, model, config, backbone, cfg, opts)
        variants["int8"] = "model_int8.onnx"
    if opts.fp16:
        from viewrank.exporters.quantize import convert_fp16

        _log("converting to fp16 (fp32 inputs/outputs kept)")
        convert_fp16(tmp / "model.onnx", tmp / "model_fp16.onnx")
        variants["fp16"] = "model_fp16.onnx"
    cfg["variants"] = variants
    if opts.ml_commons:
        cfg["ml_commons_variant"] = opts.ml_commons_variant  # what verify-local judges the bundle as
    hf_config = {k: v for k, v in backbone.config.to_dict().items() if k != "_name_or_path"}
    write_json(tmp / "config.json", hf_config)
    write_json(tmp / RUNTIME_CONFIG, cfg)
    if opts.parity:
        from viewrank.plugins.onnx_runtime.cpu import cpu_info

        cfg["parity"] = run_gate(tmp, kind, model, config, variants, opts)
        cfg["parity_cpu"] = cpu_info()  # int8 kernels differ by instruction set: what the gate judged
        write_json(tmp / RUNTIME_CONFIG, cfg)
    name = opts.name or default_name
    if opts.ml_commons:
        from viewrank.exporters.ml_commons import write_bundle

        _log("writing the ml-commons bundle")
        write_bundle(tmp, cfg, hf_config, name, opts.ml_commons_variant)
    if opts.triton:
        from viewrank.exporters.triton import write_repository

        _log("writing the Triton model repository")
        write_repository(tmp, cfg, name)
    write_manifest(tmp, {"source": spec, "task": config.task, "created_unix": int(time.time()),
                         "torch": torch.__version__})


def _int8_variant(tmp: Path, kind: str, model: Any, config: OnnxConfig, backbone: Any, cfg: dict,
                  opts: ExportOptions) -> None:
    """Fuse (BERT family), choose the nodes kept fp32 (``--int8-keep-fp32``), quantise."""
    from viewrank.exporters.mixed import KeepRequest, choose_fp32_nodes
    from viewrank.exporters.quantize import quantize_int8

    request = KeepRequest.parse(opts.int8_keep_fp32)
    source = tmp / "model.onnx"
    if opts.optimize:
        from viewrank.exporters.quantize import optimize_for_cpu

        fused = optimize_for_cpu(source, tmp / "_fused.onnx", backbone.config)
        if fused is not None:
            _log(f"fused for ONNX Runtime before int8: {fused}")
            cfg["int8_fused_ops"] = fused
            source = tmp / "_fused.onnx"
    if opts.int8_smooth is not None:
        source = _smooth(tmp, kind, model, config, source, opts, cfg)
    kept, report = choose_fp32_nodes(request, lambda: _calibration(tmp, kind, model, config, source, opts),
                                     source, opts.int8_fp32_budget, _log)
    mixed = f", {len(kept)} nodes kept fp32" if kept else ""
    _log(f"quantising to int8 (dynamic, MatMul/Gemm weights as {opts.int8_weights}{mixed})")
    quantize_int8(source, tmp / "model_int8.onnx", opts.int8_weights, exclude=kept)
    cfg["int8_weights"] = opts.int8_weights
    if request.mode != "none":
        cfg["int8_mixed"] = report
    (tmp / "_fused.onnx").unlink(missing_ok=True)
    (tmp / "_smoothed.onnx").unlink(missing_ok=True)


SMOOTH_QUERIES = 20  # SciFact train queries whose texts give the activation ranges


def _smooth(tmp: Path, kind: str, model: Any, config: OnnxConfig, source: Path, opts: ExportOptions, cfg: dict) -> Path:
    """Activation smoothing of the int8 source graph, ranges measured on SciFact train texts."""
    from viewrank.exporters.parity import _scores_and_values, scifact_sample
    from viewrank.exporters.smooth import _Recorder, apply_smoothing, channel_maxima

    sample = scifact_sample(opts.parity_data, n_queries=SMOOTH_QUERIES, split="train")

    def run_sample(graph_file: str) -> dict:
        runtime, _ = _load_runtime(tmp, config.kind, "fp32", graph=graph_file)
        session = runtime.onnx.session
        recorder = _Recorder(session, [o.name for o in session.get_outputs()[1:]])
        runtime.onnx.session = recorder
        _scores_and_values(sample, kind, runtime)
        return recorder.maxima

    _log(f"smoothing int8 inputs (alpha {opts.int8_smooth}; ranges from {len(sample.queries)} SciFact train queries)")
    summary = apply_smoothing(source, tmp / "_smoothed.onnx", channel_maxima(source, tmp, run_sample), opts.int8_smooth)
    _log(f"  smoothed {summary['nodes']} nodes (largest channel max / median channel max: "
         f"{summary['max_over_median_channel']})")
    cfg["int8_smooth"] = summary
    return tmp / "_smoothed.onnx"


def _calibration(tmp: Path, kind: str, model: Any, config: OnnxConfig, source: Path, opts: ExportOptions):
    """The int8 search's calibration: SciFact train queries, PyTorch's scores, a trial runner."""
    from viewrank.exporters.mixed import RANKING_QUERIES, Calibration
    from viewrank.exporters.parity import check, scifact_sample, subsample, torch_reference

    sample = scifact_sample(opts.parity_data, n_queries=opts.int8_calibration_queries, split="train")
    ranking = subsample(sample, min(RANKING_QUERIES, len(sample.queries)))
    _log(f"int8 search: PyTorch scores of {len(sample.queries)} SciFact train queries x {len(sample.lists[0])} candidates")
    scores, values = torch_reference(sample, kind, model)
    n = len(ranking.queries)

    def evaluate(graph_file: str, on_ranking: bool):
        part, ref = (ranking, (scores[:n], values[:n])) if on_ranking else (sample, (scores, values))
        runtime, _ = _load_runtime(tmp, config.kind, "int8", graph=graph_file)
        return check(part, kind, ref, runtime, "int8", config.int8_atol, NDCG_LIMITS["int8"],
                     config.int8_tau, config.int8_tie, config.diff_measure)

    return Calibration(source, tmp, opts.int8_weights, evaluate, sample, ranking)


def run_gate(tmp: Path, kind: str, model: Any, config: OnnxConfig, variants: dict[str, str],
             opts: ExportOptions) -> dict:
    """Parity of every variant against PyTorch; raises with every failure named."""
    reports, failures = gate_reports(tmp, kind, model, config, variants, opts.parity_data, opts.parity_queries)
    if failures:
        raise ViewrankError("parity gate failed (nothing written): " + "; ".join(failures))
    return reports


def variant_limits(config: OnnxConfig, variant: str) -> tuple[float, float, float, float]:
    """The gate's limits for a variant: (max abs diff, nDCG@10 loss, Kendall tau, tie margin).

    OpenVINO's bf16 variants (``bf16``, ``int8-bf16``) are judged by the int8 limits: bf16 keeps 8
    bits of mantissa, and its rounding moves scores about as far as int8's does."""
    variant = LIMITS_OF.get(variant, variant)
    atol = {"fp32": config.atol, "int8": config.int8_atol, "fp16": config.fp16_atol}[variant]
    tau, tie = (config.int8_tau, config.int8_tie) if variant == "int8" else (config.tau, 0.0)
    return atol, NDCG_LIMITS[variant], tau, tie


def gate_reports(folder: Path, kind: str, model: Any, config: OnnxConfig, variants: dict[str, str],
                 parity_data: str | None, parity_queries: int) -> tuple[dict, list[str]]:
    """Every variant's parity report against PyTorch, and the failures (``variant: what``)."""
    from viewrank.exporters.parity import check, scifact_sample, torch_reference

    sample = scifact_sample(parity_data, n_queries=parity_queries)
    _log(f"parity gate: {len(sample.queries)} SciFact queries x {len(sample.lists[0])} candidates")
    reference = torch_reference(sample, kind, model)
    reports, failures = {}, []
    for variant in variants:
        runtime, skipped = _load_runtime(folder, config.kind, variant)
        if runtime is None:
            reports[variant] = {"skipped": skipped}
            _log(f"  {variant}: not checked ({skipped})")
            continue
        atol, ndcg_limit, tau, tie = variant_limits(config, variant)
        rep = check(sample, kind, reference, runtime, variant, atol, ndcg_limit, tau, tie,
                    config.diff_measure)
        reports[variant] = rep.as_dict()
        _log(f"  {variant}: max|diff| {rep.max_abs_diff:.2e} (tol {atol:g}), min tau {rep.min_kendall_tau:.4f}"
             f"{f' (ties: closer than {tie:.0%} of the score scale)' if tie else ''}, "
             f"nDCG@10 torch {rep.ndcg10_torch:.4f} onnx {rep.ndcg10_onnx:.4f} -> {'ok' if rep.passed else 'FAIL'}")
        failures += [f"{variant}: {f}" for f in rep.failures]
    return reports, failures


def gate_providers(variant: str, available: list[str]) -> list[str] | None:
    """Where the gate runs a variant: fp32 and int8 on the CPU provider, fp16 on CUDA (None: skip).

    The gate judges the exported graph, so it uses the provider that computes it as written.
    On a GPU machine the automatic choice would be CUDA, whose fp32 MatMuls run in TF32 by
    default on Ampere and later: on an H100 that moved a trained MVP's scores by up to 6.1e-4 and
    swapped one near-tied pair (Kendall tau 0.9895), failing a graph that is exact on CPU.
    """
    if variant == "fp16":
        return ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else None
    return ["CPUExecutionProvider"]


def _load_runtime(tmp: Path, kind: str, variant: str, graph: str | None = None):
    import onnxruntime as ort

    providers = gate_providers(variant, ort.get_available_providers())
    if providers is None:
        return None, "no provider here runs this variant (fp16 needs CUDA)"
    from viewrank.plugins.onnx_runtime.embedder import OnnxEmbedder
    from viewrank.plugins.onnx_runtime.reranker import graph_reranker
    from viewrank.plugins.onnx_runtime.runtime import OnnxModel

    try:
        if kind == "embedder":
            return OnnxEmbedder(tmp, variant=variant, providers=providers, graph=graph), ""
        return graph_reranker(OnnxModel(tmp, variant=variant, providers=providers, graph=graph), tmp), ""
    except ViewrankError as exc:
        if variant != "fp16":
            raise
        # onnxruntime-gpu lists CUDA on machines without a usable GPU (or without cuDNN)
        return None, f"the CUDA provider is listed but did not start: {exc}"
