"""The steps behind ``viewrank opensearch setup|ingest|search|eval``, with their saved state."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from viewrank.adapters.opensearch import client as C
from viewrank.adapters.opensearch.node import NodeState, cache_root
from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError
from viewrank.runs import RunWriter, atomic_write_text
from viewrank.types import RankedList, ScoredDoc

MODES = ("bm25", "neural", "hybrid", "rerank")


@dataclass
class Setup:
    url: str
    index: str
    serve_url: str
    embedding_model: str
    rerank_model: str
    dim: int
    ingest_pipeline: str
    hybrid_pipeline: str
    rerank_pipeline: str

    @staticmethod
    def path(index: str) -> Path:
        return cache_root() / f"setup-{index}.json"

    def save(self) -> Path:
        return atomic_write_text(self.path(self.index), json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, index: str) -> "Setup":
        path = cls.path(index)
        if not path.is_file():
            raise ViewrankError(f"index {index!r} was not set up ({path} missing): run `viewrank opensearch setup`")
        return cls(**json.loads(path.read_text()))


def node_url(url: str | None) -> str:
    if url:
        return url
    state = NodeState.load(cache_root())
    if state is None:
        raise ViewrankError("no OpenSearch node is known: run `viewrank opensearch up` or pass --url")
    return state.url


def serve_dim(serve_url: str, token: str | None) -> int:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        health = httpx.get(f"{serve_url}/health", headers=headers, timeout=10).json()
    except httpx.HTTPError as exc:
        raise ViewrankError(f"viewrank serve does not answer at {serve_url} ({exc}): start `viewrank serve` first") from None
    if not health.get("embedder") or not health.get("reranker"):
        raise ViewrankError(f"viewrank serve at {serve_url} must serve both --embedder and --reranker (it has {health})")
    return int(health["dim"])


def setup(url: str | None, serve_url: str, index: str, token: str | None = None, data_type: str = "float",
          weights: tuple[float, float] = (0.3, 0.7), replace: bool = False) -> Setup:
    """Models (remote, on viewrank serve), ingest pipeline, k-NN index and search pipelines."""
    url = node_url(url)
    client = C.connect(url)
    dim = serve_dim(serve_url, token)
    C.configure_ml(client)
    emb = C.register_remote_model(client, "embedding", serve_url, token, name=f"viewrank-embed-{index}")
    rr = C.register_remote_model(client, "rerank", serve_url, token, name=f"viewrank-rerank-{index}")
    names = {k: f"viewrank-{k}-{index}" for k in ("ingest", "hybrid", "rerank")}
    C.create_ingest_pipeline(client, names["ingest"], emb)
    C.create_index(client, index, dim, names["ingest"], data_type=data_type, replace=replace)
    client.indices.put_settings(index=index, body={"index": {"default_pipeline": names["ingest"]}})
    C.create_hybrid_pipeline(client, names["hybrid"], weights)
    C.create_rerank_pipeline(client, names["rerank"], rr)
    setup = Setup(url, index, serve_url, emb, rr, dim, names["ingest"], names["hybrid"], names["rerank"])
    setup.save()
    return setup


def ingest(index: str, dataset_dir: str, limit: int | None = None, batch_size: int = 32) -> C.IngestReport:
    st = Setup.load(index)
    client = C.connect(st.url)
    C.check_model_deployed(client, st.embedding_model)
    ds = BeirDataset(dataset_dir)
    docs = list(ds.iter_corpus())[:limit] if limit else list(ds.iter_corpus())
    return C.bulk_ingest(client, index, docs, batch_size=batch_size, total=len(docs))


def search_run(index: str, dataset_dir: str, split: str, mode: str, depth: int, output: str | Path,
               resume: bool = False, limit: int | None = None) -> tuple[Path, list[float]]:
    """One TREC run from OpenSearch; returns the run path and per-query latencies (seconds)."""
    if mode not in MODES:
        raise ViewrankError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    st = Setup.load(index)
    client = C.connect(st.url)
    if mode in ("neural", "hybrid"):
        C.check_model_deployed(client, st.embedding_model)
    if mode == "rerank":
        C.check_model_deployed(client, st.rerank_model)
    pipeline = {"hybrid": st.hybrid_pipeline, "rerank": st.rerank_pipeline}.get(mode)
    queries = BeirDataset(dataset_dir).queries(split)[:limit] if limit else BeirDataset(dataset_dir).queries(split)
    writer = RunWriter(output, tag=f"opensearch-{mode}", resume=resume)
    latencies = []
    try:
        for q in tqdm([q for q in queries if not writer.is_done(q.qid)], desc=f"opensearch {mode}", unit="q"):
            started = time.perf_counter()
            hits = C.search(client, index, mode, q.text, depth, st.embedding_model, pipeline)
            latencies.append(time.perf_counter() - started)
            writer.write(RankedList(q.qid, tuple(ScoredDoc(d, s) for d, s in hits)))
    except BaseException as exc:
        writer.abandon()
        if isinstance(exc, ViewrankError):
            raise
        if type(exc).__module__.startswith("opensearchpy"):
            raise ViewrankError(f"OpenSearch {mode} search failed: {exc}") from exc
        raise
    return writer.close(), latencies
