"""Per-architecture ONNX export configurations: inputs, outputs, dynamic axes, tolerances, graph.

Each config says how one kind of model becomes one ONNX graph: which tensors go in (all int64,
``[batch|candidates, sequence]``), which come out, which axes are dynamic, how far ONNX Runtime
may drift from PyTorch (``atol`` for fp32, ``int8_atol`` / ``fp16_atol`` for the variants), and a
``graph(model)`` wrapper module whose ``forward`` takes exactly those inputs. Everything that
turns token states into the final vector or score (pooling, Matryoshka truncation,
normalisation, the MVP anchor head) is inside the wrapper, so it is baked into the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class OnnxConfig:
    """Base: what every architecture declares."""

    task: ClassVar[str] = ""
    kind: ClassVar[str] = ""  # "embedder" or "reranker"
    batch_axis: ClassVar[str] = "batch"
    inputs: tuple[str, ...] = ("input_ids", "attention_mask")
    outputs: tuple[str, ...] = ()
    atol: float = 1e-4
    int8_atol: float = 0.2
    fp16_atol: float = 2e-2
    tau: float = 0.99
    int8_tau: float = 0.95
    # reference pairs closer than this fraction of the model's score scale (the range of its
    # scores over the whole gate sample) are ties for the int8 tau: trained rerankers squeeze
    # distractors into a few hundredths, and int8 reorders them without touching nDCG@10
    int8_tie: float = 0.05
    extra: dict[str, Any] = field(default_factory=dict)

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        axes = {name: {0: self.batch_axis, 1: "sequence"} for name in self.inputs}
        axes.update({name: {0: self.batch_axis} for name in self.outputs})
        return axes

    def graph(self, model: Any) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError


class _EmbedderGraph(nn.Module):
    """Backbone + pooling + (Matryoshka) truncation + L2 normalisation -> ``sentence_embedding``."""

    def __init__(self, backbone: nn.Module, pooling: str, dim: int | None, normalize: bool, uses_tt: bool) -> None:
        super().__init__()
        self.backbone, self.pooling, self.dim, self.normalize, self.uses_tt = backbone, pooling, dim, normalize, uses_tt

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.uses_tt and token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.backbone(**kwargs).last_hidden_state
        if self.pooling == "cls":
            vec = hidden[:, 0]
        elif self.pooling == "mean":
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            vec = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        else:  # last non-pad token (right padding)
            idx = attention_mask.sum(1).long() - 1
            vec = hidden[torch.arange(hidden.size(0)), idx]
        if self.dim is not None:
            vec = vec[:, : self.dim]
        return torch.nn.functional.normalize(vec, dim=-1) if self.normalize else vec


@dataclass
class EmbedderOnnxConfig(OnnxConfig):
    """A :class:`~viewrank.plugins.dense.embedder.DenseEmbedder` (dense, 2D-Matryoshka folders)."""

    task: ClassVar[str] = "text-embedding"
    kind: ClassVar[str] = "embedder"
    outputs: tuple[str, ...] = ("sentence_embedding",)
    atol: float = 1e-4
    int8_atol: float = 0.05

    @classmethod
    def for_model(cls, embedder: Any) -> "EmbedderOnnxConfig":
        uses_tt = getattr(embedder.model.config, "type_vocab_size", 0) > 0
        return cls(inputs=TEXT_INPUTS if uses_tt else TEXT_INPUTS[:2])

    def graph(self, embedder: Any) -> nn.Module:
        cfg = embedder.config
        return _EmbedderGraph(embedder.model, cfg.pooling, cfg.dim, cfg.normalize,
                              "token_type_ids" in self.inputs).eval()


class _QuantizedGraph(nn.Module):
    """The float embedder graph followed by its stored quantiser, so the graph emits codes.

    ``int8``: faiss QT_8bit codes minus 128 (``Int8Quantizer.quantize``), int8 ``[batch, dim]``.
    ``binary``: ``(x - shift) @ R > 0`` packed 8 bits per byte, most significant bit first
    (``np.packbits``, faiss's layout), uint8 ``[batch, nbits / 8]``.
    """

    def __init__(self, embedder: nn.Module, quantizer: Any) -> None:
        super().__init__()
        self.embedder = embedder
        if hasattr(quantizer, "lo"):  # Int8Quantizer
            self.kind = "int8"
            self.register_buffer("lo", torch.as_tensor(quantizer.lo, dtype=torch.float32))
            self.register_buffer("width", torch.as_tensor(quantizer.hi - quantizer.lo, dtype=torch.float32))
        else:
            self.kind = "binary"
            self.register_buffer("shift", torch.as_tensor(quantizer.shift, dtype=torch.float32))
            rot = quantizer.rotation
            self.register_buffer("rotation", None if rot is None else torch.as_tensor(rot, dtype=torch.float32))
            self.register_buffer("bit_values", torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.int32))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        vec = self.embedder(input_ids, attention_mask, token_type_ids)
        if self.kind == "int8":
            codes = torch.clamp(torch.floor((vec - self.lo) / self.width * 255.0), 0.0, 255.0)
            return (codes - 128.0).to(torch.int8)
        z = vec - self.shift
        if self.rotation is not None:
            z = z @ self.rotation
        bits = (z > 0).to(torch.int32).reshape(z.shape[0], -1, 8)
        return (bits * self.bit_values).sum(-1).to(torch.uint8)


@dataclass
class QuantizedEmbedderOnnxConfig(EmbedderOnnxConfig):
    """``int8:DIR`` / ``binary:DIR``: a dense embedder whose graph ends in its quantiser.

    The values compared are the codes (int8 values; bits for binary), so ``atol`` is in code
    units for int8 (one step at a rounding boundary) and, for binary, the largest fraction of
    one vector's bits that may differ.
    """

    task: ClassVar[str] = "text-embedding-quantized"
    output_dtype: str = "int8"
    diff_measure: str = "abs"
    atol: float = 1.0
    int8_atol: float = 64.0

    @classmethod
    def for_quantized(cls, model: Any) -> "QuantizedEmbedderOnnxConfig":
        base = EmbedderOnnxConfig.for_model(model.float_embedder)
        if model.kind == "binary":
            return cls(inputs=base.inputs, output_dtype="uint8", diff_measure="bit-fraction", atol=0.01, int8_atol=0.25)
        return cls(inputs=base.inputs)

    def graph(self, model: Any) -> nn.Module:
        return _QuantizedGraph(EmbedderOnnxConfig.graph(self, model.float_embedder), model.quantizer).eval()


class _ScorerGraph(nn.Module):
    """One query's ``[N, L]`` candidate inputs -> ``[N]`` scores (the MVP export contract)."""

    def __init__(self, model: nn.Module, uses_tt: bool) -> None:
        super().__init__()
        self.model, self.uses_tt = model, uses_tt

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(input_ids, attention_mask, token_type_ids if self.uses_tt else None)


@dataclass
class CrossEncoderOnnxConfig(OnnxConfig):
    """Pointwise cross-encoder: (query, passage) pairs -> one score each."""

    task: ClassVar[str] = "cross-encoder"
    kind: ClassVar[str] = "reranker"
    batch_axis: ClassVar[str] = "candidates"
    outputs: tuple[str, ...] = ("scores",)
    atol: float = 1e-3
    int8_atol: float = 0.5

    @classmethod
    def for_model(cls, model: Any) -> "CrossEncoderOnnxConfig":
        return cls(inputs=TEXT_INPUTS if model.uses_token_types else TEXT_INPUTS[:2])

    def graph(self, model: Any) -> nn.Module:
        return _ScorerGraph(model, "token_type_ids" in self.inputs).eval()


@dataclass
class MVPOnnxConfig(CrossEncoderOnnxConfig):
    """Listwise MVP: the N candidates of ONE query are a single input; the anchors see all N."""

    task: ClassVar[str] = "mvp"


def config_for(model: Any) -> OnnxConfig:
    """The export config for a built model object (embedder, cross-encoder, MVP)."""
    from viewrank.errors import ViewrankError

    if hasattr(model, "model") and hasattr(model, "config") and hasattr(model.config, "pooling"):
        return EmbedderOnnxConfig.for_model(model)
    if hasattr(model, "quantizer") and hasattr(model, "float_embedder"):  # int8:DIR / binary:DIR
        float_model = model.float_embedder
        if not (hasattr(float_model, "config") and hasattr(float_model.config, "pooling")):
            raise ViewrankError(f"{model.kind}:DIR wraps a {type(float_model).__name__}; only dense embedders export")
        return QuantizedEmbedderOnnxConfig.for_quantized(model)
    inner = getattr(model, "model", model)  # ModelReranker wraps the nn.Module
    variant = getattr(getattr(inner, "config", None), "variant", None)
    if variant == "cross-encoder":
        return CrossEncoderOnnxConfig.for_model(inner)
    if variant in ("encoder", "t5"):
        cfg = MVPOnnxConfig.for_model(inner)
        cfg.extra = {"m": int(inner.config.m)}
        return cfg
    raise ViewrankError(f"no ONNX export config for {type(model).__name__}; exportable: dense embedders, "
                        "cross-encoder:DIR, mvp:DIR")
