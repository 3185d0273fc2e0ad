"""Registers the ``onnx`` exporter (``viewrank export onnx MODEL --out DIR``)."""

from __future__ import annotations

from pathlib import Path

from viewrank import hookimpl


class OnnxExporter:
    """``export(model_spec, out_dir, **options)``; options are :class:`ExportOptions` fields."""

    description = "ONNX graph + int8/fp16 variants, parity-gated on SciFact; ml-commons zip, Triton repository"

    def export(self, model_spec: str, out_dir: str | Path, **options) -> Path:
        from dataclasses import fields

        from viewrank.errors import ViewrankError
        from viewrank.exporters.onnx_export import ExportOptions, export_onnx

        known = {f.name for f in fields(ExportOptions)}
        unknown = sorted(k for k in options if k not in known)
        if unknown:
            raise ViewrankError(f"the onnx exporter has no option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return export_onnx(model_spec, out_dir, ExportOptions(**options))


@hookimpl
def viewrank_register_exporters(registry):
    registry.add("onnx", lambda arg: OnnxExporter(), description=OnnxExporter.description)


@hookimpl
def viewrank_add_commands(subparsers, context):
    from viewrank.exporters.commands import export, verify_export

    export.register(subparsers, context)
    verify_export.register(subparsers, context)
