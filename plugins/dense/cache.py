"""Encode a BEIR corpus and its queries once (every layer) and keep the vectors on disk.

Benchmarks derive float / int8 / binary / 2D-Matryoshka variants from the same cached
per-layer pooled vectors instead of re-encoding (minutes per pass on a shared CPU).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from viewrank.datasets import BeirDataset
from viewrank.jsonfile import read_cache
from viewrank.runs import atomic_write_text


def _save_npy(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, arr)
    tmp.replace(path)


def cached_layer_vectors(embedder, dataset_dir: str | Path, cache_dir: str | Path) -> dict:
    """``{"docids", "doc_layers" (L+1, n, H), "qids", "query_layers", "seconds"}``; encodes on first call."""
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    meta_path = cache / "meta.json"
    ds = BeirDataset(dataset_dir)
    meta = read_cache(meta_path)  # written last, so a cache without it (or with a damaged one) is redone
    if not isinstance(meta, dict):
        docs = list(ds.iter_corpus())
        queries = ds.queries(None)
        t0 = time.perf_counter()
        q_layers = embedder.embed_layers([q.text for q in queries], role="query", progress=True)
        tq = time.perf_counter() - t0
        t0 = time.perf_counter()
        d_layers = embedder.embed_layers([d.contents for d in docs], role="passage", progress=True)
        td = time.perf_counter() - t0
        _save_npy(cache / "query_layers.npy", q_layers)
        _save_npy(cache / "doc_layers.npy", d_layers)
        meta = {"docids": [d.docid for d in docs], "qids": [q.qid for q in queries],
                "doc_seconds": td, "query_seconds": tq, "model": str(embedder.model_dir),
                "config": embedder.config.__dict__}
        text = json.dumps(meta)
        atomic_write_text(meta_path, text)
        meta = json.loads(text)  # what a later call reads back, so both calls return the same
    meta["doc_layers"] = np.load(cache / "doc_layers.npy", mmap_mode="r")
    meta["query_layers"] = np.load(cache / "query_layers.npy", mmap_mode="r")
    return meta
