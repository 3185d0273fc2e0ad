"""``viewrank verify-export DIR``: check an exported directory where it will run.

The export's parity gate judged its graphs on the exporting machine; int8 kernels differ by
instruction set (see :mod:`viewrank.plugins.onnx_runtime.cpu`) and files can be damaged in transit. This
re-checks both on the machine at hand, without writing anything: every file against
``manifest.json``, then the parity gate of each variant that can run here against the PyTorch
model the directory was exported from (``source`` in its config, or ``--model``). Both export
formats are checked the same way: an ONNX folder (``viewrank_onnx.json``) runs its graphs in ONNX
Runtime, an OpenVINO folder (``viewrank_openvino.json``) in OpenVINO, each with its exporter's gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from viewrank.errors import ViewrankError
from viewrank.exporters import DEFAULT_PARITY_QUERIES

if TYPE_CHECKING:
    from viewrank.manager import PluginHost


def verify_export(export_dir: str | Path, model_spec: str | None = None, variants: Sequence[str] | None = None,
                  parity_data: str | None = None, parity_queries: int = DEFAULT_PARITY_QUERIES, *,
                  host: "PluginHost") -> dict[str, Any]:
    """The verification report: ``passed``, ``failures``, per-variant ``reports``, both CPUs.
    ``host`` builds the PyTorch model (the command passes its context's host)."""
    from viewrank.exporters.artifacts import MANIFEST, verify_manifest
    from viewrank.plugins.onnx_runtime.cpu import cpu_info

    folder = Path(export_dir)
    cfg, gate_reports = _export_format(folder)
    if not (folder / MANIFEST).is_file():
        raise ViewrankError(f"{folder}: {MANIFEST} missing; cannot tell whether its files are the exported ones")
    problems = verify_manifest(folder)
    if problems:
        raise ViewrankError(f"{folder}: files differ from {MANIFEST}: " + "; ".join(problems))
    exported = cfg.get("variants", {})
    chosen = list(variants or exported)
    unknown = [v for v in chosen if v not in exported]
    if unknown:
        raise ViewrankError(f"{folder} has no {', '.join(unknown)} graph; exported variants: {', '.join(exported)}")
    spec, kind, model, config = source_model(folder, cfg, model_spec, host=host)
    import torch

    with torch.inference_mode():
        reports, failures = gate_reports(folder, kind, model, config, {v: exported[v] for v in chosen},
                                         parity_data, parity_queries)
    return {"dir": str(folder), "source": spec, "cpu": cpu_info(), "gate_cpu": cfg.get("parity_cpu"),
            "queries": parity_queries, "reports": reports, "failures": failures, "passed": not failures}


def _export_format(folder: Path) -> tuple[dict, Any]:
    """``(config, gate_reports)`` of the format whose runtime config the folder holds."""
    from viewrank.plugins.onnx_runtime.runtime import CONFIG_NAME as ONNX_CONFIG
    from viewrank.plugins.openvino_runtime.runtime import CONFIG_NAME as OPENVINO_CONFIG

    if (folder / OPENVINO_CONFIG).is_file():
        from viewrank.exporters.openvino_export import gate_reports
        from viewrank.plugins.openvino_runtime.runtime import load_config

        return load_config(folder), gate_reports
    if not (folder / ONNX_CONFIG).is_file():
        raise ViewrankError(f"{folder} is not an export of `viewrank export onnx` or `viewrank export openvino` "
                            f"(neither {ONNX_CONFIG} nor {OPENVINO_CONFIG} is there)")
    from viewrank.exporters.onnx_export import gate_reports
    from viewrank.plugins.onnx_runtime.runtime import load_config

    return load_config(folder), gate_reports


def source_model(folder: Path, cfg: dict, model_spec: str | None = None, *,
                 host: "PluginHost") -> tuple[str, str, Any, Any]:
    """The PyTorch model an export came from (``source`` in its config, or ``model_spec``), set to
    cut texts where the exported tokenizer does: ``(spec, kind, model, OnnxConfig)``.

    ``host`` (the caller's context's host) builds it and holds the export configs."""
    from viewrank.exporters.configs import config_for
    from viewrank.exporters.onnx_export import build_model

    spec = model_spec or cfg.get("source")
    if not spec:
        raise ViewrankError(f"{folder}: its config names no source model; pass --model SPEC")
    kind, model = build_model(spec, host)
    config = config_for(model, host)
    if config.kind != cfg.get("kind"):
        raise ViewrankError(f"{spec} is a {config.kind}, but {folder} holds a {cfg.get('kind')} graph")
    if cfg.get("model_type", config.model_type) != config.model_type:  # exports before 0.2 do not record it
        raise ViewrankError(f"{spec} is a {config.model_type!r} model, but {folder} holds a {cfg['model_type']!r} graph")
    # int8:DIR / binary:DIR wrap a dense embedder, whose config holds the token limit
    target = getattr(model, "float_embedder", model).config if kind == "embedder" else model.model.config
    target.max_length = int(cfg["max_length"])
    return spec, kind, model, config
