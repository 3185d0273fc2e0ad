"""Dense, binary and hybrid search with Pyserini's searchers over indexes from :mod:`.dense`.

- ``dense``: ``FaissSearcher`` (float or int8 index) with an :class:`EmbedderQueryEncoder`.
- ``binary``: ``BinaryDenseFaissSearcher`` gives the Hamming top-``k'``; those candidates are
  rescored with the stored ``rescore.npy`` vectors (float query x float or int8 document).
  Without a rescore store, Pyserini's own asymmetric rescoring (float query x +-1 code) is used.
- ``hybrid``: ``HybridSearcher`` over the dense searcher and a ``LuceneSearcher`` (BM25), with
  min-max normalisation and ``alpha`` weighting the sparse score.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from viewrank.adapters.pyserini.dense import RESCORE_NAME, query_encoder, read_meta
from viewrank.adapters.pyserini.java import ensure_java
from viewrank.errors import ViewrankError
from viewrank.plugins.binary.codes import BinaryQuantizer
from viewrank.plugins.binary.int8 import Int8Quantizer
from viewrank.types import Query, RankedList, ScoredDoc

MODES = ("dense", "binary", "hybrid")


@dataclass
class SearchResult:
    ranked: list[RankedList]
    seconds: float
    info: dict = field(default_factory=dict)


def _docids(index_dir: Path) -> list[str]:
    path = index_dir / "docid"
    if not path.is_file():
        raise ViewrankError(f"{index_dir} has no 'docid' file (one document id a line)")
    return path.read_text(encoding="utf-8").splitlines()


def _embedder(spec: str | None, meta: dict, index_dir: Path) -> Any:
    from viewrank.manager import get_host

    spec = spec or meta.get("embedder")
    if not spec:
        raise ViewrankError(f"{index_dir} does not record its embedder: pass --embedder NAME[:ARG]")
    return get_host().embedder(spec)


def _ranked(qid: str, hits: Sequence[Any], docids: list[str] | None = None) -> RankedList:
    items = []
    for hit in hits:
        docid = docids[int(hit.docid)] if docids is not None else hit.docid
        items.append(ScoredDoc(str(docid), float(hit.score)))
    items.sort(key=lambda s: -s.score)
    return RankedList(qid, tuple(items))


def search(
    index_dir: str | Path,
    queries: Sequence[Query],
    mode: str = "dense",
    k: int = 1000,
    embedder: Any | str | None = None,
    bm25_index: str | Path | None = None,
    rerank_depth: int = 100,
    alpha: float = 0.5,
    hybrid_depth: int = 1000,
    threads: int = 2,
) -> SearchResult:
    """Top-``k`` for every query; ``embedder`` is an object, a spec, or None (the index's)."""
    if mode not in MODES:
        raise ViewrankError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    index_dir = Path(index_dir)
    meta = read_meta(index_dir)
    kind = meta.get("kind", "float")
    if mode == "binary" and kind != "binary":
        raise ViewrankError(f"--mode binary needs a binary index; {index_dir} is {kind} (encode with --binary)")
    if mode != "binary" and kind == "binary":
        raise ViewrankError(f"{index_dir} is a binary index: use --mode binary (or encode a float/int8 index)")
    if mode == "hybrid" and bm25_index is None:
        raise ViewrankError("--mode hybrid needs --bm25-index DIR (build it with `viewrank index`)")
    emb = embedder if embedder is not None and not isinstance(embedder, str) else _embedder(embedder, meta, index_dir)
    ensure_java()
    texts = [q.text for q in queries]
    qids = [q.qid for q in queries]
    started = time.perf_counter()
    if mode == "binary":
        ranked, info = _binary(index_dir, meta, emb, texts, qids, k, rerank_depth, threads)
    else:
        from pyserini.search.faiss import FaissSearcher

        enc = query_encoder(emb)
        enc.encode_batch(texts)  # one batched pass; the searchers then hit the memo
        dense = FaissSearcher(str(index_dir), enc)
        info = {"searcher": "FaissSearcher"}
        if mode == "dense":
            results = dense.batch_search(texts, qids, k=k, threads=threads)
        else:
            from pyserini.search.hybrid import HybridSearcher

            from viewrank.adapters.pyserini.lucene import Bm25

            sparse = Bm25(bm25_index).searcher
            hybrid = _safe_hybrid(HybridSearcher)(dense, sparse)
            results = hybrid.batch_search(texts, qids, k0=max(hybrid_depth, k), k=k, threads=threads,
                                          alpha=alpha, normalization=True)
            info = {"searcher": "HybridSearcher", "alpha": alpha, "k0": max(hybrid_depth, k)}
        ranked = [_ranked(qid, results.get(qid, [])) for qid in qids]
    return SearchResult(ranked, time.perf_counter() - started, info)


def _safe_hybrid(base: type) -> type:
    """``HybridSearcher`` whose min-max normalisation survives hits with equal scores.

    Pyserini 1.6.0 divides by ``max - min`` and raises ZeroDivisionError when a query has one
    hit or all hits tie (a one-word query on a small index); those scores become 0 here.
    """

    class SafeHybridSearcher(base):
        @staticmethod
        def _hybrid_results(dense_results, sparse_results, alpha, k, normalization=False, weight_on_dense=False):
            if normalization:  # the same (s - mid) / range as Pyserini, with range 0 -> 0
                dense_results, sparse_results = _normalise(dense_results), _normalise(sparse_results)
            return base._hybrid_results(dense_results, sparse_results, alpha, k, False, weight_on_dense)

    return SafeHybridSearcher


def _normalise(hits: list) -> list:
    if not hits:
        return hits
    from pyserini.search.faiss import DenseSearchResult

    lo, hi = min(h.score for h in hits), max(h.score for h in hits)
    span = hi - lo
    return [DenseSearchResult(h.docid, (float(h.score) - (lo + hi) / 2) / span if span > 0 else 0.0) for h in hits]


def _binary(index_dir: Path, meta: dict, emb: Any, texts: list[str], qids: list[str], k: int,
            depth: int, threads: int) -> tuple[list[RankedList], dict]:
    from pyserini.search.faiss import BinaryDenseFaissSearcher

    quant = BinaryQuantizer.load(index_dir)
    docids = _docids(index_dir)
    enc = query_encoder(emb, quant)
    float_q = enc.float_batch(texts)
    searcher = BinaryDenseFaissSearcher(str(index_dir), enc)
    store_path = index_dir / RESCORE_NAME
    if depth <= 0:  # Hamming ranking only: score = -distance
        results = searcher.batch_search(texts, qids, k=k, rerank=False, threads=threads)
        ranked = [RankedList(qid, tuple(ScoredDoc(docids[int(h.docid)], -float(h.score)) for h in results.get(qid, [])))
                  for qid in qids]
        return ranked, {"searcher": "BinaryDenseFaissSearcher", "rescore": "none"}
    if not store_path.is_file() and not meta.get("idmap", True):  # asymmetric, without an id map
        results = searcher.batch_search(texts, qids, k=depth, rerank=False, threads=threads)
        proj = quant.project(float_q)
        ranked = []
        for qid, q in zip(qids, proj):
            ids = np.array([int(h.docid) for h in results.get(qid, [])], dtype=np.int64)
            bits = np.stack([np.unpackbits(searcher.index.reconstruct(int(i))) for i in ids]) if len(ids) else np.zeros((0, 1))
            scores = (bits.astype(np.float32) * 2 - 1) @ q if len(ids) else np.zeros(0)
            order = np.argsort(-scores, kind="stable")[:k]
            ranked.append(RankedList(qid, tuple(ScoredDoc(docids[ids[i]], float(scores[i])) for i in order)))
        return ranked, {"searcher": "BinaryDenseFaissSearcher", "rescore": "asymmetric", "depth": depth}
    if not store_path.is_file():  # Pyserini's asymmetric rescoring: float query x +-1 codes
        results = searcher.batch_search(texts, qids, k=min(k, depth), binary_k=depth, rerank=True, threads=threads)
        return ([_ranked(qid, results.get(qid, []), docids) for qid in qids],
                {"searcher": "BinaryDenseFaissSearcher", "rescore": "asymmetric", "depth": depth})
    store = np.load(store_path, mmap_mode="r")
    dequant = Int8Quantizer.load(index_dir).dequantize if store.dtype == np.int8 else None
    results = searcher.batch_search(texts, qids, k=depth, rerank=False, threads=threads)
    ranked = []
    for qid, q in zip(qids, float_q):
        ids = np.array([int(h.docid) for h in results.get(qid, [])], dtype=np.int64)
        if len(ids) == 0:
            ranked.append(RankedList(qid))
            continue
        vecs = np.asarray(store[np.sort(ids)], dtype=np.float32) if dequant is None else dequant(store[np.sort(ids)])
        scores = vecs @ q
        order = np.argsort(-scores, kind="stable")[:k]
        ids_sorted = np.sort(ids)
        ranked.append(RankedList(qid, tuple(ScoredDoc(docids[ids_sorted[i]], float(scores[i])) for i in order)))
    return ranked, {"searcher": "BinaryDenseFaissSearcher", "rescore": str(store.dtype), "depth": depth}
