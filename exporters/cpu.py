"""Moved to :mod:`viewrank.plugins.onnx_runtime.cpu` (the runtime reads it too, and model code never
imports exporters); these names stay importable from here for the benches."""

from viewrank.plugins.onnx_runtime.cpu import FLAGS, cpu_info, describe, int8_family

__all__ = ["FLAGS", "cpu_info", "describe", "int8_family"]
