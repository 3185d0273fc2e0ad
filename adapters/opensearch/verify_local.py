"""``viewrank opensearch verify-local DIR``: the parity gate, run through the node that serves a bundle.

An export's gate judged its graphs with the exporting machine's ONNX Runtime. A bundle deployed
in OpenSearch runs in ml-commons' DJL with its own ONNX Runtime (1.16.3 in 2.19), its own
tokenizer wrapper and its own pooling step, and int8 kernels differ between runtime versions.
This check deploys the bundle (or reuses the deployed copy), sends the gate's SciFact sample
through ``_predict`` exactly as the ingest pipeline and the rerank processor would (raw texts,
no prefixes), and judges the node's outputs against the PyTorch source model with the gate's
limits for the bundled variant. Nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from viewrank.adapters.opensearch import client as C
from viewrank.exporters import DEFAULT_PARITY_QUERIES

PREDICT_BATCH = 32  # texts per _predict call


class NodeEmbedder:
    """``embed(texts, role)`` by a local TEXT_EMBEDDING model's ``_predict`` (the role is ignored:
    the ingest pipeline and neural queries send raw text)."""

    def __init__(self, client, model_id: str) -> None:
        self.client, self.model_id = client, model_id

    def embed(self, texts: Sequence[str], role: str = "passage") -> np.ndarray:
        out: list[list[float]] = []
        for i in range(0, len(texts), PREDICT_BATCH):
            out += C.predict_local_embedding(self.client, self.model_id, list(texts[i:i + PREDICT_BATCH]))
        return np.asarray(out, dtype=np.float32)


class NodeCrossEncoder:
    """``score(query, texts)`` by a local TEXT_SIMILARITY model's ``_predict``, as the rerank processor calls it."""

    def __init__(self, client, model_id: str) -> None:
        self.client, self.model_id = client, model_id

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(C.predict_local_similarity(self.client, self.model_id, query, list(texts)), np.float32)


def verify_local(client, export_dir: str | Path, model_spec: str | None = None, parity_data: str | None = None,
                 parity_queries: int = DEFAULT_PARITY_QUERIES, name: str | None = None, *, host) -> dict[str, Any]:
    """The node's parity report for the bundle in ``export_dir``: ``passed``, ``failures``, ``report``."""
    from viewrank.exporters.onnx_export import variant_limits
    from viewrank.exporters.parity import check, scifact_sample, torch_reference
    from viewrank.exporters.verify import source_model
    from viewrank.plugins.onnx_runtime.runtime import load_config

    folder = Path(export_dir)
    cfg = load_config(folder)
    body, _ = C.read_local_bundle(folder)
    variant = cfg.get("ml_commons_variant", "fp32")
    spec, kind, model, config = source_model(folder, cfg, model_spec, host=host)
    model_id = C.register_local_model(client, folder, name=name)
    node = NodeEmbedder(client, model_id) if kind == "embedder" else NodeCrossEncoder(client, model_id)
    sample = scifact_sample(parity_data, n_queries=parity_queries)
    reference = torch_reference(sample, kind, model)
    atol, ndcg_limit, tau, tie = variant_limits(config, variant)
    rep = check(sample, kind, reference, node, variant, atol, ndcg_limit, tau, tie)
    return {"dir": str(folder), "source": spec, "model_id": model_id, "function": body["function_name"],
            "variant": variant, "queries": len(sample.queries), "report": rep.as_dict(),
            "failures": [f"{variant} in the node: {f}" for f in rep.failures], "passed": rep.passed}
