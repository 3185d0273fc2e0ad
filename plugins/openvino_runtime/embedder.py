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
        if self.ov.streams == 1 or isinstance(texts, str) or role not in self.prefixes:
            return super().embed(texts, role)  # one request; also the errors for bad input
        ov = import_openvino()
        texts = [self.prefixes[role] + t for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=self.dtype)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding

        def done(request, idx) -> None:
            out[idx] = request.get_output_tensor(0).data

        queue = ov.AsyncInferQueue(self.ov.compiled, self.ov.streams)
        queue.set_callback(done)
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            queue.start_async(self.ov.encode([texts[i] for i in idx]), userdata=idx)
        queue.wait_all()
        return out
