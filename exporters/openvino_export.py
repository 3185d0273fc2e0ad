"""``viewrank export openvino MODEL --output DIR [--int8]``: OpenVINO IR behind the parity gate.

One implementation per job, shared with the ONNX exporter:

- the graph: the model type's export config (``config_for``) and its module (``config.graph``),
  traced by the ONNX exporter's own ``_export_graph`` (torchscript, eager attention, dynamic
  ``[batch|candidates, sequence]`` axes), then converted by ``openvino.convert_model`` and saved
  as fp32 IR (``openvino_model.xml`` / ``.bin``, no fp16 compression);
- int8 (``--int8``): NNCF post-training quantisation of the whole IR (MatMuls, attention and the
  rest, weights and activations: ``ModelType.TRANSFORMER``, SmoothQuant included), calibrated on
  SciFact **train** texts (the gate's lists, built from train queries); the parity gate never
  sees them. When the plain int8 graph misses the gate's int8 criteria on that train sample
  (the max difference with a margin, ``ATOL_MARGIN``: static ranges are fixed on train texts),
  ``--int8-recovery accuracy-aware`` (default) re-quantises with
  ``nncf.quantize_with_accuracy_control``: NNCF ranks the quantisers by their harm to nDCG@10
  on the train sample and returns layers to fp32 until the drop is within the gate's 0.005;
- the gate: the same sample, reference, checks and limits (``parity.check``,
  ``onnx_export.variant_limits``), each variant run by the ``openvino:DIR`` runtime;
- the runtime config (``_runtime_config``: the keys ``onnx:DIR`` reads), the manifest (sha256 of
  every file) and ``staged_save`` (``viewrank_openvino.json`` moved last; a failed gate leaves
  no folder).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.exporters.artifacts import write_json, write_manifest
from viewrank.exporters.openvino_exporter import INT8_RECOVERY, OVERFLOW_FIX, OpenVinoOptions
from viewrank.plugins.openvino_runtime.runtime import CONFIG_NAME, import_openvino
from viewrank.savedir import staged_save

if TYPE_CHECKING:
    from viewrank.context import Context
    from viewrank.exporters.configs import OnnxConfig
    from viewrank.exporters.parity import ParitySample

RUNTIME_CONFIG = CONFIG_NAME  # viewrank_openvino.json: the marker staged_save moves last
FP32_XML = "openvino_model.xml"
INT8_XML = "openvino_model_int8.xml"
BF16_VARIANTS = ("bf16", "int8-bf16")  # judged by the int8 limits (onnx_export.variant_limits)
TRACED = "_traced.onnx"  # the ONNX exporter's graph, converted and then removed
AC_MAX_ITERATIONS = 5  # accuracy-aware rounds (each re-evaluates the int8 graph on the train sample)
# Static int8 fixes activation ranges at export: a test text outside the train texts' ranges moves
# more than any train text did (MiniLM: max difference 0.043 on train, 0.057 on the gate's test
# queries, tolerance 0.05). So on train the int8 graph must stay within this share of the tolerance.
ATOL_MARGIN = 0.8
AC_RANKING_QUERIES = 6  # the worst train queries on which NNCF ranks its quantiser groups (one run per group)
RMS_WEIGHT = 0.01  # the score error's weight in the accuracy-control metric: a tie-breaker, ~1e-4


def _log(msg: str) -> None:
    print(f"[export openvino] {msg}", flush=True)


def check_options(opts: OpenVinoOptions) -> None:
    """Refuse bad options before a model is built."""
    if opts.calibration_queries < 1:
        raise ViewrankError(f"--calibration-queries {opts.calibration_queries}: give 1 or more")
    if opts.parity_queries < 1:
        raise ViewrankError(f"--parity-queries {opts.parity_queries}: give 1 or more")
    if opts.int8_recovery not in INT8_RECOVERY:
        raise ViewrankError(f"unknown int8 recovery {opts.int8_recovery!r}; choose one of {', '.join(INT8_RECOVERY)}")
    if opts.int8_overflow_fix not in OVERFLOW_FIX:
        raise ViewrankError(f"unknown overflow fix {opts.int8_overflow_fix!r}; choose one of {', '.join(OVERFLOW_FIX)}")
    if opts.int8_keep_fp32 is not None and not opts.int8:
        raise ViewrankError("int8_keep_fp32 (--int8-keep-fp32) chooses nodes of the int8 graph: add int8 (--int8)")
    _check_bf16(opts)
    if opts.int8_keep_fp32 is not None:
        import re

        for pattern in _patterns(opts.int8_keep_fp32):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ViewrankError(f"--int8-keep-fp32: {pattern!r} is not a regular expression ({exc})") from None


def _check_bf16(opts: OpenVinoOptions) -> None:
    from viewrank.plugins.onnx_runtime.cpu import describe, native_bf16

    if opts.bf16 and not native_bf16():
        raise ViewrankError(f"--bf16: this CPU ({describe()}) has no native bf16 (AMX or AVX512-BF16), so the gate "
                            f"would judge fp32 arithmetic under the bf16 name; export it on a CPU that has it")
    if opts.bf16 and not opts.parity:
        raise ViewrankError("--bf16 variants exist to be judged by the gate: drop --no-parity")


def _patterns(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def export_openvino(spec: str, out_dir: str | Path, opts: OpenVinoOptions | None = None, *,
                    context: "Context") -> Path:
    """Export ``spec`` (built by ``context.host``) to ``out_dir`` as OpenVINO IR; raises
    :class:`ViewrankError` (and leaves nothing) on failure."""
    opts = opts or OpenVinoOptions()
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ViewrankError(f"{out} already exists and is not empty; choose a new --output")
    check_options(opts)
    import_openvino()
    if opts.int8:
        try:
            import nncf  # noqa: F401
        except ImportError:
            raise ViewrankError("--int8 needs NNCF: pip install 'viewrank[openvino]'") from None
    from viewrank.exporters.configs import config_for
    from viewrank.exporters.onnx_export import build_model

    started = time.perf_counter()
    _log(f"building {spec}")
    kind, model = build_model(spec, context.host)
    config = config_for(model, context.host)
    staged_save(out, lambda tmp: _write_export(tmp, spec, kind, model, config, opts, context), marker=RUNTIME_CONFIG)
    _log(f"done in {time.perf_counter() - started:.1f}s: {out}")
    return out


def _write_export(tmp: Path, spec: str, kind: str, model: Any, config: "OnnxConfig", opts: OpenVinoOptions,
                  context: "Context") -> None:
    import torch

    from viewrank.exporters.onnx_export import EXTERNAL_DATA_BYTES, _example, _export_graph, _runtime_config
    from viewrank.exporters.options import ExportOptions

    ov = import_openvino()
    cfg, tokenizer, backbone = _runtime_config(kind, spec, model, config,
                                               ExportOptions(opset=opts.opset, max_length=opts.max_length))
    external = sum(p.numel() * p.element_size() for p in backbone.parameters()) > EXTERNAL_DATA_BYTES
    _log(f"tracing the {config.task} graph (the ONNX exporter's: torchscript, opset {opts.opset})")
    _export_graph(config.graph(model), config, _example(kind, model), tmp / TRACED, opts.opset, external)
    _log(f"converting to OpenVINO IR (openvino {ov.__version__})")
    ir = ov.convert_model(str(tmp / TRACED))
    inputs = [port.get_any_name() for port in ir.inputs]
    outputs = [port.get_any_name() for port in ir.outputs]
    if inputs != list(config.inputs) or outputs != list(config.outputs):
        raise ViewrankError(f"converted IR has inputs {inputs} / outputs {outputs}; expected "
                            f"{list(config.inputs)} / {list(config.outputs)}")
    ir.reshape({name: ov.PartialShape([-1, -1]) for name in inputs})
    ov.save_model(ir, str(tmp / FP32_XML), compress_to_fp16=False)
    for path in tmp.glob(TRACED + "*"):
        path.unlink()
    tokenizer.save_pretrained(str(tmp / "_tok"))
    if not (tmp / "_tok" / "tokenizer.json").is_file():
        raise ViewrankError(f"{spec}: its tokenizer has no fast (tokenizer.json) form; cannot export it")
    shutil.move(str(tmp / "_tok" / "tokenizer.json"), tmp / "tokenizer.json")
    shutil.rmtree(tmp / "_tok")
    cfg.pop("external_data", None)
    cfg.update(format="openvino", openvino=ov.__version__, exporter="torchscript", device="CPU",
               pad_token_id=int(tokenizer.pad_token_id or 0), pad_token=str(tokenizer.pad_token or "[PAD]"),
               variants={"fp32": FP32_XML})
    write_json(tmp / RUNTIME_CONFIG, cfg)  # the calibration and gate runtimes load the folder with it
    if opts.int8:
        cfg["int8"] = _int8_variant(tmp, kind, config, opts, context)
        cfg["variants"]["int8"] = INT8_XML
    if opts.bf16:  # the same IR files computed in bf16: the runtime reads the precision per variant
        cfg["variants"].update({"bf16": FP32_XML, **({"int8-bf16": INT8_XML} if opts.int8 else {})})
        cfg["precision"] = {v: "bf16" for v in BF16_VARIANTS if v in cfg["variants"]}
    hf_config = {k: v for k, v in backbone.config.to_dict().items() if k != "_name_or_path"}
    write_json(tmp / "config.json", hf_config)
    write_json(tmp / RUNTIME_CONFIG, cfg)
    if opts.parity:
        from viewrank.plugins.onnx_runtime.cpu import cpu_info

        with torch.inference_mode():
            reports, failures = gate_reports(tmp, kind, model, config, cfg["variants"], opts.parity_data,
                                             opts.parity_queries, context.settings.threads)
        cfg["parity"] = reports
        cfg["parity_cpu"] = cpu_info()
        if failures:
            raise ViewrankError("parity gate failed (nothing written): " + "; ".join(failures))
        write_json(tmp / RUNTIME_CONFIG, cfg)
    write_manifest(tmp, {"source": spec, "task": config.task, "format": "openvino", "created_unix": int(time.time()),
                         "torch": torch.__version__, "openvino": ov.__version__})


def load_runtime(folder: Path, kind: str, variant: str, threads: int | None = None, xml: str | None = None):
    """The ``openvino:DIR`` runtime (embedder or reranker) for one variant of ``folder``."""
    if kind == "embedder":
        from viewrank.plugins.openvino_runtime.embedder import OpenVinoEmbedder

        return OpenVinoEmbedder(folder, variant=variant, threads=threads, xml=xml)
    from viewrank.plugins.onnx_runtime.reranker import graph_reranker
    from viewrank.plugins.openvino_runtime.runtime import OvModel

    return graph_reranker(OvModel(folder, variant=variant, threads=threads, xml=xml), folder)


def gate_reports(folder: Path, kind: str, model: Any, config: "OnnxConfig", variants: dict[str, str],
                 parity_data: str | None, parity_queries: int, threads: int | None = None) -> tuple[dict, list[str]]:
    """The ONNX exporter's gate (sample, PyTorch reference, checks, limits), each variant run by OpenVINO."""
    from viewrank.exporters.onnx_export import variant_limits
    from viewrank.exporters.parity import check, scifact_sample, torch_reference

    sample = scifact_sample(parity_data, n_queries=parity_queries)
    _log(f"parity gate: {len(sample.queries)} SciFact test queries x {len(sample.lists[0])} candidates")
    reference = torch_reference(sample, kind, model)
    reports, failures = {}, []
    for variant in variants:
        atol, ndcg_limit, tau, tie = variant_limits(config, variant)
        rep = check(sample, kind, reference, load_runtime(folder, config.kind, variant, threads), variant, atol,
                    ndcg_limit, tau, tie, config.diff_measure)
        reports[variant] = rep.as_dict()
        _log(f"  {variant}: max|diff| {rep.max_abs_diff:.2e} (tol {atol:g}), min tau {rep.min_kendall_tau:.4f}"
             f"{f' (ties: closer than {tie:.0%} of the score scale)' if tie else ''}, "
             f"nDCG@10 torch {rep.ndcg10_torch:.4f} openvino {rep.ndcg10_onnx:.4f} -> {'ok' if rep.passed else 'FAIL'}")
        failures += [f"{variant}: {f}" for f in rep.failures]
    return reports, failures


def _record(runtime: Any, sample: "ParitySample", kind: str) -> tuple[list[dict], tuple[list, list]]:
    """Score ``sample`` with the fp32 runtime, keeping every batch it feeds the graph: NNCF's
    calibration items, and the fp32 IR's scores (the train-side reference; the gate holds the
    fp32 IR to PyTorch within ``atol``)."""
    from viewrank.exporters.parity import _scores_and_values

    feeds: list[dict] = []
    ovm = runtime.ov

    def run(first, second=None, dtype=np.float32):
        batch = ovm.encode(first, second)
        feeds.append(batch)
        return np.array(ovm.request.infer(batch)[0], dtype=dtype)

    ovm.run = run
    try:
        reference = _scores_and_values(sample, kind, runtime)
    finally:
        del ovm.run
    return feeds, reference


def _fake_quantize_count(model: Any) -> int:
    return sum(1 for op in model.get_ops() if op.get_type_name() == "FakeQuantize")


def _int8_variant(tmp: Path, kind: str, config: "OnnxConfig", opts: OpenVinoOptions, context: "Context") -> dict:
    """NNCF int8 of the fp32 IR, calibrated on SciFact train; the accuracy-aware retry when the plain
    graph misses the gate's criteria there. Returns what happened (stored as ``int8``)."""
    import nncf
    from nncf.quantization.advanced_parameters import (AdvancedAccuracyRestorerParameters,
                                                       AdvancedQuantizationParameters, OverflowFix)

    from viewrank.exporters.onnx_export import variant_limits
    from viewrank.exporters.parity import check, scifact_sample

    ov = import_openvino()
    threads = context.settings.threads
    sample = scifact_sample(opts.parity_data, n_queries=opts.calibration_queries, split="train")
    fp32_rt = load_runtime(tmp, config.kind, "fp32", threads)
    feeds, reference = _record(fp32_rt, sample, kind)
    _log(f"int8: NNCF calibration on {len(sample.queries)} SciFact train queries x {len(sample.lists[0])} "
         f"candidates ({len(feeds)} batches)")
    ignored = _patterns(opts.int8_keep_fp32)
    common = dict(subset_size=len(feeds), model_type=nncf.ModelType.TRANSFORMER,
                  ignored_scope=nncf.IgnoredScope(patterns=ignored, validate=True) if ignored else None)
    advanced = AdvancedQuantizationParameters(overflow_fix=getattr(OverflowFix, OVERFLOW_FIX[opts.int8_overflow_fix]))
    source = ov.Core().read_model(str(tmp / FP32_XML))
    try:
        quantized = nncf.quantize(source, nncf.Dataset(feeds), advanced_parameters=advanced, **common)
    except nncf.ValidationError as exc:  # an ignored-scope pattern that matches nothing
        raise ViewrankError(f"--int8-keep-fp32: {exc}") from None
    ov.save_model(quantized, str(tmp / INT8_XML), compress_to_fp16=False)
    atol, ndcg_limit, tau, tie = variant_limits(config, "int8")
    atol *= ATOL_MARGIN

    def on_train() -> Any:
        runtime = load_runtime(tmp, config.kind, "int8", threads, xml=INT8_XML)
        return check(sample, kind, reference, runtime, "int8", atol, ndcg_limit, tau, tie, config.diff_measure)

    plain = on_train()
    report = {"method": "nncf.quantize", "nncf": nncf.__version__, "model_type": "transformer",
              "overflow_fix": opts.int8_overflow_fix, "ignored_scope": ignored,
              "calibration": {"split": "train", "queries": len(sample.queries), "batches": len(feeds)},
              "fake_quantize_nodes": _fake_quantize_count(quantized), "plain_on_train": _brief(plain)}
    _log(f"  plain int8 on train: {_describe(plain)}")
    if plain.passed or opts.int8_recovery == "none":
        report["outcome"] = "plain" if plain.passed else "plain (misses the criteria on train; --int8-recovery none)"
        return report
    _log(f"  recovery: NNCF accuracy control on the train sample (the gate's int8 criteria: nDCG@10 drop <= "
         f"{ndcg_limit}, tau and max difference as a penalty)")
    validate = _gate_metric(tmp, kind, config, sample, reference, threads)
    restorer = AdvancedAccuracyRestorerParameters(max_num_iterations=AC_MAX_ITERATIONS, num_ranking_workers=1,
                                                  ranking_subset_size=min(AC_RANKING_QUERIES, len(sample.queries)))
    recovered = nncf.quantize_with_accuracy_control(
        ov.Core().read_model(str(tmp / FP32_XML)), nncf.Dataset(feeds), nncf.Dataset(list(range(len(sample.queries)))),
        validate, max_drop=ndcg_limit, drop_type=nncf.DropType.ABSOLUTE, advanced_quantization_parameters=advanced,
        advanced_accuracy_restorer_parameters=restorer, **common)
    ov.save_model(recovered, str(tmp / INT8_XML), compress_to_fp16=False)
    after = on_train()
    _log(f"  accuracy-aware int8 on train: {_describe(after)} "
         f"({_fake_quantize_count(recovered)} of {report['fake_quantize_nodes']} FakeQuantize nodes kept)")
    report.update(method="nncf.quantize_with_accuracy_control", metric=GATE_METRIC, max_drop=ndcg_limit,
                  max_iterations=AC_MAX_ITERATIONS, ranking_queries=restorer.ranking_subset_size,
                  fake_quantize_nodes_kept=_fake_quantize_count(recovered), recovered_on_train=_brief(after),
                  outcome="accuracy-aware" + ("" if after.passed else " (still misses the criteria on train)"))
    return report


GATE_METRIC = ("per query: nDCG@10, minus 1 when the query breaks the gate's int8 tau (5% ties) or "
               f"{ATOL_MARGIN:g} x its max-difference limit against the fp32 IR, minus {RMS_WEIGHT:g} x its score "
               "RMS error over the score scale (a tie-breaker for NNCF's ranking); NNCF keeps the drop of the mean "
               "within the nDCG@10 limit")


def _gate_metric(tmp: Path, kind: str, config: "OnnxConfig", sample: "ParitySample", reference: tuple[list, list],
                 threads: int | None):
    """NNCF's ``validation_fn``: the gate's int8 criteria on the train sample as one number, so that
    "drop <= 0.005" means what the gate means (NNCF compares it with the fp32 IR's value, which has
    no penalty: tau 1, difference 0)."""
    from viewrank.exporters.onnx_export import variant_limits
    from viewrank.exporters.parity import ParitySample, _per_query_ndcg, _scores_and_values, kendall_tau

    atol, _, tau_limit, tie = variant_limits(config, "int8")
    atol *= ATOL_MARGIN
    ref_scores, ref_values = reference
    scale = float(max(r.max() for r in ref_scores) - min(r.min() for r in ref_scores))
    runtime = load_runtime(tmp, config.kind, "fp32", threads)

    def validate(compiled: Any, indices) -> tuple[float, list[float]]:
        idx = [int(i) for i in indices]
        part = ParitySample([sample.queries[i] for i in idx], [sample.lists[i] for i in idx],
                            {sample.queries[i][0]: sample.qrels[sample.queries[i][0]] for i in idx})
        runtime.ov.use(compiled)
        scores, values = _scores_and_values(part, kind, runtime)
        per_query = _per_query_ndcg(part, scores)
        for j, i in enumerate(idx):
            gap = np.abs(ref_values[i] - values[j])
            diff = float(gap.mean(1).max() if config.diff_measure == "bit-fraction" else gap.max())
            if kendall_tau(ref_scores[i], scores[j], tie * scale) < tau_limit or not diff <= atol:
                per_query[j] -= 1.0
            # a tie-breaker for NNCF's ranking of its quantisers (one query at a time): the score error
            rms = float(np.sqrt(np.mean((ref_scores[i] - scores[j]).astype(np.float64) ** 2)))
            per_query[j] -= RMS_WEIGHT * (rms / scale if scale > 0 else rms)
        return float(per_query.mean()), [float(v) for v in per_query]

    return validate


def _brief(rep: Any) -> dict:
    return {k: rep.as_dict()[k] for k in ("max_abs_diff", "min_kendall_tau", "ndcg10_torch", "ndcg10_onnx",
                                          "ndcg10_change_sd", "passed", "failures")}


def _describe(rep: Any) -> str:
    return (f"max|diff| {rep.max_abs_diff:.3g}, min tau {rep.min_kendall_tau:.4f}, nDCG@10 fp32 {rep.ndcg10_torch:.4f} "
            f"int8 {rep.ndcg10_onnx:.4f} -> {'meets the gate criteria' if rep.passed else '; '.join(rep.failures)}")
