"""Variants of an exported fp32 graph: dynamic int8 (CPU) and fp16 (GPU providers, Triton)."""

from __future__ import annotations

from pathlib import Path


def quantize_int8(src: Path, dst: Path) -> Path:
    """Dynamic int8 quantisation of MatMul/Gemm weights, per output channel (activations at run time).

    Per-channel weights cut MiniLM's max embedding error from 0.088 to 0.025 on the parity sample.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gemm"])
    return dst


def convert_fp16(src: Path, dst: Path) -> Path:
    """fp16 weights and compute, fp32 inputs/outputs kept (``keep_io_types``) so callers do not change."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    half = convert_float_to_float16(model, keep_io_types=True)
    onnx.save(half, str(dst))
    return dst
