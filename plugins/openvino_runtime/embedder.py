"""OpenVinoEmbedder: an exported embedder graph (pooling and normalisation inside it) on OpenVINO."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.plugins.onnx_runtime.embedder import OnnxEmbedder
from viewrank.plugins.openvino_runtime.runtime import OvModel


class OpenVinoEmbedder(OnnxEmbedder):
    """``embed(texts, role)`` as :class:`OnnxEmbedder` (prefixes, batch size, length-sorted
    batches), each batch run by OpenVINO."""

    def __init__(self, model_dir: str | Path, **options) -> None:
        self.onnx = self.ov = OvModel(model_dir, **options)
        cfg = self.ov.config
        if cfg.get("kind") != "embedder":
            raise ViewrankError(f"{model_dir} holds a {cfg.get('task')!r} graph, not an embedder")
        self.dim = int(cfg["dim"])
        self.batch_size = int(cfg.get("batch_size", 32))
        self.prefixes = {"query": cfg.get("query_prefix", ""), "passage": cfg.get("passage_prefix", "")}
        self.dtype = np.dtype(cfg.get("output_dtype", "float32"))
