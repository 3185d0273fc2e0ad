"""OnnxReranker: an exported cross-encoder or MVP graph; one query's whole list per call."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.plugins.onnx_runtime.runtime import OnnxModel
from viewrank.types import ScoringReranker


class OnnxReranker(ScoringReranker):
    """Cross-encoder graphs get (query, passage) pairs; MVP graphs get the MVP text layout."""

    def __init__(self, model_dir: str | Path, **options) -> None:
        self.onnx = OnnxModel(model_dir, **options)
        cfg = self.onnx.config
        if cfg.get("kind") != "reranker":
            raise ViewrankError(f"{model_dir} holds a {cfg.get('task')!r} graph, not a reranker")
        self.task = cfg["task"]

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        passages = list(passages)
        if not passages:
            return np.zeros(0, dtype=np.float32)
        if self.task == "mvp":
            from viewrank.plugins.mvp.text import format_inputs

            return self.onnx.run(format_inputs(query, passages, int(self.onnx.config["m"])))
        return self.onnx.run([query] * len(passages), passages)
