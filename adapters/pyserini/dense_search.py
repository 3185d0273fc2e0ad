"""Dense, binary and hybrid search with Pyserini's searchers over indexes from :mod:`.dense`.

The index's codec (looked up by the name its metadata records) says which searcher applies:

- ``dense`` (an ``ip`` codec: float, int8): ``FaissSearcher`` with an :class:`EmbedderQueryEncoder`.
- ``binary`` (a ``hamming`` codec): ``BinaryDenseFaissSearcher`` gives the Hamming top-``k'``
  (``rescore_depth``); the codec rescores those candidates with the vectors it stored (float
  query x float or int8 document). Without a rescore store, Pyserini's own asymmetric rescoring
  (float query x +-1 code) is used.
- ``hybrid``: ``HybridSearcher`` over the dense searcher and a ``LuceneSearcher`` (BM25), with
  min-max normalisation and ``alpha`` weighting the sparse score.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from viewrank.adapters.pyserini import host_or_new
from viewrank.adapters.pyserini.dense import query_encoder, read_meta
from viewrank.adapters.pyserini.java import ensure_java
from viewrank.errors import ViewrankError
from viewrank.types import Query, RankedList, ScoredDoc

if TYPE_CHECKING:
    from viewrank.manager import PluginHost
    from viewrank.types import IndexCodecReader

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


def _embedder(spec: str | None, meta: dict, index_dir: Path, host: "PluginHost") -> Any:
    spec = spec or meta.get("embedder")
    if not spec:
        raise ViewrankError(f"{index_dir} does not record its embedder: pass --embedder NAME[:ARG]")
    return host.embedder(spec)


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
    rescore_depth: int = 100,
    alpha: float = 0.5,
    hybrid_depth: int = 1000,
    threads: int = 2,
    *,
    host: "PluginHost | None" = None,
    **deprecated: Any,
) -> SearchResult:
    """Top-``k`` for every query; ``embedder`` is an object, a spec, or None (the index's).

    ``host`` looks up the index's codec and an embedder spec (a script that passes none gets a
    new host). ``rescore_depth`` (binary): Hamming candidates rescored; ``rerank_depth`` is its
    old name, still accepted with a warning.
    """
    if "rerank_depth" in deprecated:
        warnings.warn("search(rerank_depth=...) is deprecated: use rescore_depth", DeprecationWarning, stacklevel=2)
        rescore_depth = deprecated.pop("rerank_depth")
    if deprecated:
        raise TypeError(f"search() got unexpected keyword arguments: {', '.join(sorted(deprecated))}")
    if mode not in MODES:
        raise ViewrankError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    index_dir = Path(index_dir)
    meta = read_meta(index_dir)
    name = meta["codec"]
    host = host_or_new(host)
    codec = host.codec(name)
    if mode == "binary" and codec.metric != "hamming":
        raise ViewrankError(f"--mode binary needs a binary index; {index_dir} is {name} (encode with --codec binary)")
    if mode != "binary" and codec.metric == "hamming":
        raise ViewrankError(f"{index_dir} is a {name} index, searched by Hamming distance: use --mode binary "
                            "(or encode a float/int8 index)")
    if mode == "hybrid" and bm25_index is None:
        raise ViewrankError("--mode hybrid needs --bm25-index DIR (build it with `viewrank index`)")
    reader = codec.open(index_dir, meta)
    emb = embedder if embedder is not None and not isinstance(embedder, str) else _embedder(embedder, meta, index_dir, host)
    ensure_java()
    texts = [q.text for q in queries]
    qids = [q.qid for q in queries]
    started = time.perf_counter()
    if mode == "binary":
        ranked, info = _binary(index_dir, meta, reader, emb, texts, qids, k, rescore_depth, threads)
    else:
        from pyserini.search.faiss import FaissSearcher

        enc = query_encoder(emb, project=reader.project)
        enc.encode_batch(texts)  # one batched pass; the searchers then hit the memo
        dense = FaissSearcher(str(index_dir), enc)
        info = {"searcher": "FaissSearcher", "codec": name}
        if mode == "dense":
            results = dense.batch_search(texts, qids, k=k, threads=threads)
        else:
            from pyserini.search.hybrid import HybridSearcher

            from viewrank.adapters.pyserini.lucene import Bm25

            sparse = Bm25(bm25_index).searcher
            hybrid = _safe_hybrid(HybridSearcher)(dense, sparse)
            results = hybrid.batch_search(texts, qids, k0=max(hybrid_depth, k), k=k, threads=threads,
                                          alpha=alpha, normalization=True)
            info = {"searcher": "HybridSearcher", "codec": name, "alpha": alpha, "k0": max(hybrid_depth, k)}
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


def _binary(index_dir: Path, meta: dict, reader: "IndexCodecReader", emb: Any, texts: list[str], qids: list[str],
            k: int, depth: int, threads: int) -> tuple[list[RankedList], dict]:
    from pyserini.search.faiss import BinaryDenseFaissSearcher

    docids = _docids(index_dir)
    enc = query_encoder(emb, reader)
    float_q = enc.float_batch(texts)
    searcher = BinaryDenseFaissSearcher(str(index_dir), enc)
    name = meta["codec"]
    if depth <= 0:  # Hamming ranking only: score = -distance
        results = searcher.batch_search(texts, qids, k=k, rerank=False, threads=threads)
        ranked = [RankedList(qid, tuple(ScoredDoc(docids[int(h.docid)], -float(h.score)) for h in results.get(qid, [])))
                  for qid in qids]
        return ranked, {"searcher": "BinaryDenseFaissSearcher", "codec": name, "rescore": "none"}
    if reader.rescore_store is None and not meta.get("idmap", True):  # asymmetric, without an id map
        results = searcher.batch_search(texts, qids, k=depth, rerank=False, threads=threads)
        proj = reader.project(float_q)
        ranked = []
        for qid, q in zip(qids, proj):
            ids = np.array([int(h.docid) for h in results.get(qid, [])], dtype=np.int64)
            bits = np.stack([np.unpackbits(searcher.index.reconstruct(int(i))) for i in ids]) if len(ids) else np.zeros((0, 1))
            scores = (bits.astype(np.float32) * 2 - 1) @ q if len(ids) else np.zeros(0)
            order = np.argsort(-scores, kind="stable")[:k]
            ranked.append(RankedList(qid, tuple(ScoredDoc(docids[ids[i]], float(scores[i])) for i in order)))
        return ranked, {"searcher": "BinaryDenseFaissSearcher", "codec": name, "rescore": "asymmetric", "depth": depth}
    if reader.rescore_store is None:  # Pyserini's asymmetric rescoring: float query x +-1 codes
        results = searcher.batch_search(texts, qids, k=min(k, depth), binary_k=depth, rerank=True, threads=threads)
        return ([_ranked(qid, results.get(qid, []), docids) for qid in qids],
                {"searcher": "BinaryDenseFaissSearcher", "codec": name, "rescore": "asymmetric", "depth": depth})
    results = searcher.batch_search(texts, qids, k=depth, rerank=False, threads=threads)
    ranked = []
    for qid, q in zip(qids, float_q):
        ids = np.sort(np.array([int(h.docid) for h in results.get(qid, [])], dtype=np.int64))  # ties: id order
        if len(ids) == 0:
            ranked.append(RankedList(qid))
            continue
        scores = reader.rescore(q, ids)
        order = np.argsort(-scores, kind="stable")[:k]
        ranked.append(RankedList(qid, tuple(ScoredDoc(docids[ids[i]], float(scores[i])) for i in order)))
    return ranked, {"searcher": "BinaryDenseFaissSearcher", "codec": name, "rescore": reader.rescore_store,
                    "depth": depth}
