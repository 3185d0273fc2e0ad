"""OpenVinoEmbedder: an exported embedder graph (pooling and normalisation inside it) on OpenVINO."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.plugins.onnx_runtime.embedder import OnnxEmbedder
from viewrank.plugins.openvino_runtime.runtime import OvModel, import_openvino


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

    def embed(self, texts: Sequence[str], role: str = "passage") -> np.ndarray:
        """As :meth:`OnnxEmbedder.embed`; with ``streams=S`` (S > 1) the batches run S at a time on
        OpenVINO's throughput streams (the threads split between them), each written to its rows."""
        if self.ov.streams == 1:
            return super().embed(texts, role)
        batches = self.batches(texts, role)
        out = np.zeros((len(texts), self.dim), dtype=self.dtype)

        def done(request, rows) -> None:
            out[rows] = request.get_output_tensor(0).data

        queue = import_openvino().AsyncInferQueue(self.ov.compiled, self.ov.streams)
        queue.set_callback(done)
        for rows, batch in batches:
            queue.start_async(self.ov.encode(batch), userdata=rows)
        queue.wait_all()
        return out
