"""Rerankers over an exported graph: a cross-encoder graph is pointwise (pairs of several queries
may share a call), an MVP graph gets one query's whole list per call."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.types import PairScorer, ScoringReranker, pair_count


def reranker_task(model, model_dir) -> str:
    """The graph's task (``cross-encoder`` or ``mvp``); a clear error for an embedder's graph."""
    cfg = model.config
    if cfg.get("kind") != "reranker":
        raise ViewrankError(f"{model_dir} holds a {cfg.get('task')!r} graph, not a reranker")
    return cfg["task"]


class MvpGraphReranker(ScoringReranker):
    """An exported MVP graph (ONNX Runtime or OpenVINO): one query's list per call, MVP's text layout."""

    def __init__(self, model) -> None:
        # the graph runtime, under the names the embedders give it (the exporters' gates reach it so)
        self.onnx = self.ov = model

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        from viewrank.plugins.mvp.text import format_inputs

        passages = list(passages)
        if not passages:
            return np.zeros(0, dtype=np.float32)
        return self.onnx.run(format_inputs(query, passages, int(self.onnx.config["m"])))


class PairGraphReranker(PairScorer):
    """An exported cross-encoder graph (ONNX Runtime or OpenVINO): (query, passage) pairs."""

    def __init__(self, model) -> None:
        # the graph runtime, under the names the embedders give it (the exporters' gates reach it so)
        self.onnx = self.ov = model

    def score_pairs(self, queries: Sequence[str], passages: Sequence[str]) -> np.ndarray:
        if not pair_count(queries, passages):
            return np.zeros(0, dtype=np.float32)
        return self.onnx.run(list(queries), list(passages))


def graph_reranker(model, model_dir) -> ScoringReranker:
    """The reranker for a loaded graph runtime (``OnnxModel`` or ``OvModel``), chosen by its task."""
    return MvpGraphReranker(model) if reranker_task(model, model_dir) == "mvp" else PairGraphReranker(model)
