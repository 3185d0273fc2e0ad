"""Registers the ``onnx`` exporter (``viewrank export onnx MODEL --output DIR``), the ``openvino``
exporter (:mod:`viewrank.exporters.openvino_exporter`: the same configs and gate, OpenVINO IR), the export configs
(one per model type: ``dense``, ``int8``, ``binary``, ``cross-encoder``, ``mvp-encoder``) and the
``export`` / ``verify-export`` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from viewrank import hookimpl
from viewrank.context import Context
from viewrank.exporters.options import ExportOptions


class OnnxExporter:
    """``export(model_spec, out_dir, **options)``; the options are :class:`ExportOptions` fields.

    What an exporter offers ``viewrank export FORMAT``: ``description``, ``options`` (a dataclass:
    the keyword arguments ``export`` takes), ``add_arguments(parser)`` (a flag per option, its
    ``dest`` the field's name) and ``export``. The context (host and settings) comes from the
    factory, so the model spec is built by the host that registered this exporter.
    """

    description = "ONNX graph + int8/fp16 variants, parity-gated on SciFact; ml-commons zip, Triton repository"
    options = ExportOptions

    def __init__(self, context: Context) -> None:
        self.context = context

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from viewrank.exporters.options import add_arguments

        add_arguments(parser)

    def export(self, model_spec: str, out_dir: str | Path, **options) -> Path:
        from dataclasses import fields

        from viewrank.errors import ViewrankError
        from viewrank.exporters.onnx_export import export_onnx

        known = {f.name for f in fields(ExportOptions)}
        unknown = sorted(k for k in options if k not in known)
        if unknown:
            raise ViewrankError(f"the onnx exporter has no option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return export_onnx(model_spec, out_dir, ExportOptions(**options), context=self.context)


@hookimpl
def viewrank_register_exporters(registry, context):
    registry.add("onnx", lambda arg: OnnxExporter(context), description=OnnxExporter.description)
    from viewrank.exporters.openvino_exporter import OpenVinoExporter  # no openvino/torch import until export

    registry.add("openvino", lambda arg: OpenVinoExporter(context), description=OpenVinoExporter.description)


@hookimpl
def viewrank_register_export_configs(registry):
    from viewrank.exporters.configs import BUILTIN_CONFIGS

    for config in BUILTIN_CONFIGS:
        registry.add(config.model_type, lambda arg, config=config: config(), description=config.describe())


@hookimpl
def viewrank_add_commands(subparsers, context):
    from viewrank.exporters.commands import export, verify_export

    export.register(subparsers, context)
    verify_export.register(subparsers, context)
