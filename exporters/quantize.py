"""Variants of an exported fp32 graph: dynamic int8 (CPU) and fp16 (GPU providers, Triton)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Sequence


# Weight formats of the int8 variant (activations are always u8, quantised at run time).
# MLAS's u8 x s8 kernel on CPUs without VNNI (AVX2, plain AVX-512) adds pairs of products in
# 16 bits (vpmaddubsw), which can saturate; 7-bit weights ("s8-7bit", ORT's reduce_range) cannot,
# and u8 weights take MLAS's u8 x u8 path, which widens first.
INT8_WEIGHTS = {"s8": ("QInt8", False), "s8-7bit": ("QInt8", True), "u8": ("QUInt8", False)}


QUANTIZED_OPS = ("MatMul", "Gemm", "Attention")


def quantize_int8(src: Path, dst: Path, weights: str = "s8-7bit", exclude: Sequence[str] = (),
                  only: Sequence[str] | None = None) -> Path:
    """Dynamic int8 quantisation of MatMul/Gemm (and fused Attention) weights, per output channel.

    Per-channel weights cut MiniLM's max embedding error from 0.088 to 0.025 on the parity sample.
    ``exclude``: node names kept in fp32 (mixed precision, :mod:`viewrank.exporters.mixed`);
    ``only``: quantise just these nodes (the search's one-node trials).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from viewrank.errors import ViewrankError

    if weights not in INT8_WEIGHTS:
        raise ViewrankError(f"unknown int8 weight format {weights!r}; choose one of {', '.join(INT8_WEIGHTS)}")
    qtype, reduce_range = INT8_WEIGHTS[weights]
    if only is not None and not only:
        raise ViewrankError("quantize_int8: only= names no node (an empty list would quantise all of them)")
    # the quantiser rewrites Gemm G as MatMul "G_MatMul" + Add before it matches names
    exclude = [n for name in exclude for n in (name, f"{name}_MatMul")]
    only = None if only is None else [n for name in only for n in (name, f"{name}_MatMul")]
    # fused graphs hold contrib ops shape inference cannot type: their tensors are float
    with _quiet_preprocessing_hint():
        quantize_dynamic(str(src), str(dst), weight_type=getattr(QuantType, qtype), per_channel=True,
                         reduce_range=reduce_range, op_types_to_quantize=list(QUANTIZED_OPS),
                         nodes_to_exclude=exclude or None, nodes_to_quantize=only,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return dst


@contextmanager
def _quiet_preprocessing_hint():
    """Drop the quantiser's "consider pre-processing" hint (root logger, once per call): its
    shape-inference pre-pass does not apply to graphs with ONNX Runtime's fused contrib ops, and
    the int8 search quantises once per node."""
    import logging

    class _Hint(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "consider to run pre-processing" not in record.getMessage()

    hint, root = _Hint(), logging.getLogger()
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)


# Hugging Face model types whose encoder blocks ONNX Runtime's "bert" fusions recognise
BERT_LIKE = frozenset({"bert", "roberta", "xlm-roberta", "electra", "camembert"})


def optimize_for_cpu(src: Path, dst: Path, hf_config) -> dict[str, int] | None:
    """Fuse attention, embedding and skip-LayerNorm blocks into ONNX Runtime kernels.

    The result holds ONNX Runtime contrib ops (``com.microsoft``), so it is only the source of
    the int8 (CPU) variant; ``model.onnx`` stays standard ONNX for other runtimes. Returns the
    fused-op counts, or None for an architecture the fusions do not cover (nothing written).
    """
    if getattr(hf_config, "model_type", None) not in BERT_LIKE:
        return None
    import logging

    from onnxruntime.transformers.optimizer import optimize_model

    for name in ("onnxruntime.transformers", "fusion_utils", "onnx_model", "shape_infer_helper"):
        logging.getLogger(name).setLevel(logging.ERROR)
    optimized = optimize_model(str(src), model_type="bert", num_heads=int(hf_config.num_attention_heads),
                               hidden_size=int(hf_config.hidden_size))
    optimized.save_model_to_file(str(dst))
    return {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}


def convert_fp16(src: Path, dst: Path) -> Path:
    """fp16 weights and compute, fp32 inputs/outputs kept (``keep_io_types``) so callers do not change."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    half = convert_float_to_float16(model, keep_io_types=True)
    onnx.save(half, str(dst))
    return dst
