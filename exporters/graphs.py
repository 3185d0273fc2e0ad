"""The modules ``torch.onnx`` traces: a loaded model's own building blocks, composed into one graph.

Nothing here re-implements what a model computes: the embedder graph runs the backbone, then the
model's pooling (:func:`viewrank.plugins.dense.pooling.pool`) and its ``finish`` (Matryoshka
truncation, normalisation); the quantised graphs add the quantiser's scheme from the module that
defines it (:func:`viewrank.plugins.binary.int8.int8_codes`,
:func:`viewrank.plugins.binary.codes.binary_projection` and ``pack_bits``), run on tensors; the
scorer graph calls the reranker's ``forward``. So a change to a block changes model and graph alike.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from viewrank.plugins.binary.codes import BIT_WEIGHTS, binary_projection, pack_bits
from viewrank.plugins.binary.int8 import INT8_OFFSET, int8_codes
from viewrank.plugins.dense.pooling import pool


class EmbedderGraph(nn.Module):
    """A dense embedder: backbone, pooling, truncation to ``dim``, normalisation -> ``sentence_embedding``."""

    def __init__(self, embedder: Any, uses_tt: bool) -> None:
        super().__init__()
        self.backbone = embedder.model  # a submodule, so eval() and the eager-attention switch reach it
        self.pooling = embedder.config.pooling
        self.finish = embedder.finish
        self.uses_tt = uses_tt

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.uses_tt and token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.backbone(**kwargs).last_hidden_state
        return self.finish(pool(hidden, attention_mask, self.pooling))


class Int8Graph(nn.Module):
    """The float embedder graph, then the stored int8 ranges: faiss QT_8bit codes minus 128, int8 ``[batch, dim]``."""

    def __init__(self, embedder: nn.Module, quantizer: Any) -> None:
        super().__init__()
        self.embedder = embedder
        self.register_buffer("lo", torch.as_tensor(quantizer.lo, dtype=torch.float32))
        self.register_buffer("width", torch.as_tensor(quantizer.hi - quantizer.lo, dtype=torch.float32))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        vec = self.embedder(input_ids, attention_mask, token_type_ids)
        return (int8_codes(vec, self.lo, self.width, torch) - float(INT8_OFFSET)).to(torch.int8)


class BinaryGraph(nn.Module):
    """The float embedder graph, then the stored thresholds: ``(x - shift) @ R > 0`` packed 8 bits
    per byte, first bit highest (``np.packbits``, faiss's layout), uint8 ``[batch, nbits / 8]``."""

    def __init__(self, embedder: nn.Module, quantizer: Any) -> None:
        super().__init__()
        self.embedder = embedder
        self.register_buffer("shift", torch.as_tensor(quantizer.shift, dtype=torch.float32))
        rot = quantizer.rotation
        self.register_buffer("rotation", None if rot is None else torch.as_tensor(rot, dtype=torch.float32))
        self.register_buffer("bit_weights", torch.tensor(BIT_WEIGHTS, dtype=torch.int32))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        vec = self.embedder(input_ids, attention_mask, token_type_ids)
        bits = (binary_projection(vec, self.shift, self.rotation) > 0).to(torch.int32)
        return pack_bits(bits, self.bit_weights).to(torch.uint8)


class ScorerGraph(nn.Module):
    """One query's ``[N, L]`` candidate inputs -> ``[N]`` scores: the model's own ``forward`` (the MVP export contract)."""

    def __init__(self, model: nn.Module, uses_tt: bool) -> None:
        super().__init__()
        self.model, self.uses_tt = model, uses_tt

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(input_ids, attention_mask, token_type_ids if self.uses_tt else None)
