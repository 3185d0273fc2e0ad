"""ONNX export configurations, one per model type: inputs, outputs, dynamic axes, tolerances, graph.

Each config says how one type of model becomes one ONNX graph: which tensors go in (all int64,
``[batch|candidates, sequence]``), which come out, which axes are dynamic, how far ONNX Runtime
may drift from PyTorch (``atol`` for fp32, ``int8_atol`` / ``fp16_atol`` for the variants), and a
``graph(model)`` module whose ``forward`` takes exactly those inputs (:mod:`viewrank.exporters.graphs`:
the model's own pooling, truncation, normalisation, quantiser or scoring head, baked into the graph).

The configs are registered under the model type they handle through
``viewrank_register_export_configs`` (:mod:`viewrank.exporters.plugin`); the exporter reads the
type a loaded model reports (its ``model_type``), looks the config up with
``host.export_config(model_type)`` and fits it to the model with :meth:`OnnxConfig.for_model`.
This module does not import torch (the host imports it to register the configs); the graphs do.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from viewrank.errors import ViewrankError

if TYPE_CHECKING:
    from viewrank.manager import PluginHost

TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def text_inputs(uses_token_types: bool) -> tuple[str, ...]:
    return TEXT_INPUTS if uses_token_types else TEXT_INPUTS[:2]


@dataclass
class OnnxConfig:
    """Base: what every model type declares. The registered instance holds the defaults;
    :meth:`for_model` returns a copy fitted to one loaded model."""

    model_type: ClassVar[str] = ""
    task: ClassVar[str] = ""  # recorded in viewrank_onnx.json; the runtimes and bundles read it
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
    output_dtype: str = "float32"
    diff_measure: str = "abs"  # the gate's difference: "abs" (values) or "bit-fraction" (packed bits)
    extra: dict[str, Any] = field(default_factory=dict)  # more runtime-config keys (MVP: m)

    @classmethod
    def describe(cls) -> str:
        return (cls.__doc__ or cls.__name__).strip().splitlines()[0]

    def for_model(self, model: Any) -> "OnnxConfig":  # pragma: no cover - abstract
        raise NotImplementedError

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        axes = {name: {0: self.batch_axis, 1: "sequence"} for name in self.inputs}
        axes.update({name: {0: self.batch_axis} for name in self.outputs})
        return axes

    def graph(self, model: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def _check_type(config: OnnxConfig, model: Any) -> None:
    got = getattr(model, "model_type", None)
    if got != config.model_type:
        raise ViewrankError(f"the {config.model_type!r} export config got a {type(model).__name__} "
                            f"of model type {got!r}")


@dataclass
class EmbedderOnnxConfig(OnnxConfig):
    """A dense embedder (dense, 2D-Matryoshka folders): backbone + pooling + dim truncation + L2 norm."""

    model_type: ClassVar[str] = "dense"
    task: ClassVar[str] = "text-embedding"
    kind: ClassVar[str] = "embedder"
    outputs: tuple[str, ...] = ("sentence_embedding",)
    atol: float = 1e-4
    int8_atol: float = 0.05

    def for_model(self, embedder: Any) -> "EmbedderOnnxConfig":
        _check_type(self, embedder)
        uses_tt = getattr(embedder.model.config, "type_vocab_size", 0) > 0
        return replace(self, inputs=text_inputs(uses_tt))

    def graph(self, embedder: Any) -> Any:
        from viewrank.exporters.graphs import EmbedderGraph

        return EmbedderGraph(embedder, "token_type_ids" in self.inputs).eval()


@dataclass
class QuantizedEmbedderOnnxConfig(EmbedderOnnxConfig):
    """Base of ``int8:DIR`` / ``binary:DIR``: a dense embedder whose graph ends in its quantiser.

    The values compared are the codes (int8 values; bits for binary), so ``atol`` is in code
    units for int8 (one step at a rounding boundary) and, for binary, the largest fraction of
    one vector's bits that may differ.
    """

    task: ClassVar[str] = "text-embedding-quantized"

    def for_model(self, model: Any) -> "QuantizedEmbedderOnnxConfig":
        _check_type(self, model)
        float_model = model.float_embedder
        if getattr(float_model, "model_type", None) != EmbedderOnnxConfig.model_type:
            raise ViewrankError(f"{model.kind}:DIR wraps a {type(float_model).__name__}; only dense embedders export")
        return replace(self, inputs=EmbedderOnnxConfig().for_model(float_model).inputs)

    def float_graph(self, model: Any) -> Any:
        return EmbedderOnnxConfig(inputs=self.inputs).graph(model.float_embedder)


@dataclass
class Int8EmbedderOnnxConfig(QuantizedEmbedderOnnxConfig):
    """``int8:DIR``: the dense graph + the calibrated per-dimension ranges -> int8 values."""

    model_type: ClassVar[str] = "int8"
    output_dtype: str = "int8"
    atol: float = 1.0
    int8_atol: float = 64.0

    def graph(self, model: Any) -> Any:
        from viewrank.exporters.graphs import Int8Graph

        return Int8Graph(self.float_graph(model), model.quantizer).eval()


@dataclass
class BinaryEmbedderOnnxConfig(QuantizedEmbedderOnnxConfig):
    """``binary:DIR``: the dense graph + shift, rotation and sign -> packed uint8 bits."""

    model_type: ClassVar[str] = "binary"
    output_dtype: str = "uint8"
    diff_measure: str = "bit-fraction"
    atol: float = 0.01
    int8_atol: float = 0.25

    def graph(self, model: Any) -> Any:
        from viewrank.exporters.graphs import BinaryGraph

        return BinaryGraph(self.float_graph(model), model.quantizer).eval()


@dataclass
class CrossEncoderOnnxConfig(OnnxConfig):
    """``cross-encoder:DIR``: (query, passage) pairs -> one score each (backbone + head on [CLS])."""

    model_type: ClassVar[str] = "cross-encoder"
    task: ClassVar[str] = "cross-encoder"
    kind: ClassVar[str] = "reranker"
    batch_axis: ClassVar[str] = "candidates"
    outputs: tuple[str, ...] = ("scores",)
    atol: float = 1e-3
    int8_atol: float = 0.5

    def for_model(self, reranker: Any) -> "CrossEncoderOnnxConfig":
        _check_type(self, reranker)
        return replace(self, inputs=text_inputs(reranker.model.uses_token_types))

    def graph(self, reranker: Any) -> Any:
        from viewrank.exporters.graphs import ScorerGraph

        return ScorerGraph(reranker.model, "token_type_ids" in self.inputs).eval()


@dataclass
class MVPOnnxConfig(CrossEncoderOnnxConfig):
    """``mvp:DIR`` (encoder variant): ONE query's N candidates -> N scores; the anchors see all N."""

    model_type: ClassVar[str] = "mvp-encoder"
    task: ClassVar[str] = "mvp"

    def for_model(self, reranker: Any) -> "MVPOnnxConfig":
        fitted = super().for_model(reranker)
        return replace(fitted, extra={"m": int(reranker.model.config.m)})


# Registered by viewrank.exporters.plugin, keyed by model_type. The T5 MVP variant ("mvp-t5")
# has no config: its graph has never been exported (the exporter reads an encoder backbone).
BUILTIN_CONFIGS: tuple[type[OnnxConfig], ...] = (EmbedderOnnxConfig, Int8EmbedderOnnxConfig, BinaryEmbedderOnnxConfig,
                                                 CrossEncoderOnnxConfig, MVPOnnxConfig)


def config_for(model: Any, host: "PluginHost") -> OnnxConfig:
    """The export config registered for the type ``model`` reports, fitted to ``model``."""
    model_type = getattr(model, "model_type", None)
    known = ", ".join(host.registry.names("export-config")) or "(none registered)"
    if not isinstance(model_type, str) or not model_type:
        raise ViewrankError(f"{type(model).__name__} reports no model_type, so no ONNX export config applies; "
                            f"exportable model types: {known}")
    if model_type not in host.registry.names("export-config"):
        raise ViewrankError(f"no ONNX export config for model type {model_type!r} ({type(model).__name__}); "
                            f"registered model types: {known}")
    return host.export_config(model_type).for_model(model)
