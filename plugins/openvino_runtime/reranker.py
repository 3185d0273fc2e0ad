"""OpenVinoReranker: an exported cross-encoder or MVP graph on OpenVINO; one query's list per call."""

from __future__ import annotations

from pathlib import Path

from viewrank.errors import ViewrankError
from viewrank.plugins.onnx_runtime.reranker import OnnxReranker
from viewrank.plugins.openvino_runtime.runtime import OvModel


class OpenVinoReranker(OnnxReranker):
    """``score(query, passages)`` as :class:`OnnxReranker` (pairs, or MVP's text layout), run by OpenVINO."""

    def __init__(self, model_dir: str | Path, **options) -> None:
        self.onnx = self.ov = OvModel(model_dir, **options)
        cfg = self.ov.config
        if cfg.get("kind") != "reranker":
            raise ViewrankError(f"{model_dir} holds a {cfg.get('task')!r} graph, not a reranker")
        self.task = cfg["task"]
