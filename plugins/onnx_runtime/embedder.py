"""OnnxEmbedder: an exported embedder graph (pooling and normalisation inside it) on ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.plugins.onnx_runtime.runtime import OnnxModel


class OnnxEmbedder:
    """``embed(texts, role)`` with the exported prefixes and batch size; vectors come out finished
    (float32, or the int8 values / packed binary codes of a quantised export)."""

    def __init__(self, model_dir: str | Path, **options) -> None:
        self.onnx = OnnxModel(model_dir, **options)
        self.configure(model_dir)

    def configure(self, model_dir: str | Path) -> None:
        """Dimension, batch size, prefixes and output type from the loaded graph's config
        (shared with the OpenVINO embedder, whose model has the same ``config``)."""
        cfg = self.onnx.config
        if cfg.get("kind") != "embedder":
            raise ViewrankError(f"{model_dir} holds a {cfg.get('task')!r} graph, not an embedder")
        self.dim = int(cfg["dim"])
        self.batch_size = int(cfg.get("batch_size", 32))
        self.prefixes = {"query": cfg.get("query_prefix", ""), "passage": cfg.get("passage_prefix", "")}
        # int8:DIR / binary:DIR exports emit codes: int8 values, or packed bits as uint8
        self.dtype = np.dtype(cfg.get("output_dtype", "float32"))

    def embed(self, texts: Sequence[str], role: str = "passage") -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=self.dtype)
        for rows, batch in self.batches(texts, role):
            out[rows] = self.onnx.run(batch, dtype=self.dtype)
        return out

    def batches(self, texts: Sequence[str], role: str) -> list[tuple[list[int], list[str]]]:
        """``(rows, prefixed texts)`` per batch of at most ``batch_size``, sorted by length (less padding)."""
        if isinstance(texts, str):
            raise ViewrankError("embed() takes a list of texts, not a single string")
        if role not in self.prefixes:
            raise ViewrankError(f"unknown role {role!r}; use 'query' or 'passage'")
        texts = [self.prefixes[role] + t for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        return [(order[s : s + self.batch_size], [texts[i] for i in order[s : s + self.batch_size]])
                for s in range(0, len(order), self.batch_size)]
