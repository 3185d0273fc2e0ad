"""OpenVinoEmbedder: an exported embedder graph (pooling and normalisation inside it) on OpenVINO."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from viewrank.plugins.onnx_runtime.embedder import OnnxEmbedder
from viewrank.plugins.openvino_runtime.runtime import OvModel, import_openvino


class OpenVinoEmbedder(OnnxEmbedder):
    """``embed(texts, role)`` as :class:`OnnxEmbedder` (prefixes, batch size, length-sorted
    batches), each batch run by OpenVINO."""

    def __init__(self, model_dir: str | Path, **options) -> None:
        self.onnx = self.ov = OvModel(model_dir, **options)
        self.configure(model_dir)

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
