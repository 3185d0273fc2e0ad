"""A complete third-party viewrank plugin: one reranker, one embedder, one exporter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from viewrank import hookimpl
from viewrank.types import ScoringReranker


class ShortestFirst(ScoringReranker):
    """Scores a passage by minus its length in words (optionally capped by ARG)."""

    def __init__(self, cap: int | None = None) -> None:
        self.cap = cap

    def score(self, query, passages):
        lengths = [len(p.split()) for p in passages]
        if self.cap is not None:
            lengths = [min(n, self.cap) for n in lengths]
        return -np.asarray(lengths, dtype=float)


class LengthEmbedder:
    """A 2-d 'embedding': word count and character count."""

    dim = 2

    def embed(self, texts, role="passage"):
        return np.asarray([[len(t.split()), len(t)] for t in texts], dtype=np.float32).reshape(len(texts), 2)


class JsonExporter:
    """Writes the model spec to a JSON file: the smallest possible export format."""

    def export(self, model_spec, out_dir, **options):
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.json").write_text(json.dumps({"model": model_spec, **options}))
        return out


@hookimpl
def viewrank_register_rerankers(registry):
    registry.add("shortest-first", lambda arg: ShortestFirst(int(arg) if arg else None),
                 arg_help="CAP", description="prefers short passages (sample plugin)")


@hookimpl
def viewrank_register_embedders(registry):
    registry.add("length", lambda arg: LengthEmbedder(), description="word and character counts (sample plugin)")


@hookimpl
def viewrank_register_exporters(registry):
    registry.add("json", lambda arg: JsonExporter(), description="the model spec as JSON (sample plugin)")


@hookimpl
def viewrank_resolve_model_path(name):
    if name == "sample-model":
        return Path(__file__).parent
    return None
