"""The steps behind ``viewrank opensearch setup|ingest|search|eval``, with their saved state."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from viewrank.adapters.opensearch import client as C
from viewrank.adapters.opensearch.cluster import ClusterState
from viewrank.adapters.opensearch.node import NodeState, cache_root
from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object
from viewrank.runs import RunWriter, atomic_write_text
from viewrank.types import RankedList, ScoredDoc

MODES = ("bm25", "neural", "hybrid", "rerank", "field")


@dataclass
class Setup:
    url: str
    index: str
    serve_url: str | None  # None when both models run inside the node
    embedding_model: str
    rerank_model: str
    dim: int
    ingest_pipeline: str
    hybrid_pipeline: str
    rerank_pipeline: str
    # where each model runs: "remote:<serve url>" or "local:<export dir>"
    embedding_source: str = ""
    rerank_source: str = ""
    # the hybrid pipeline's fusion: "minmax" (normalization-processor) or "rrf" (score-ranker-processor)
    combination: str = "minmax"
    rank_constant: int | None = None
    # a `rerank` by_field pipeline over a stored score field (mode "field"), when set up with one
    rerank_field: str | None = None
    field_pipeline: str | None = None
    vector_mode: str = "in_memory"
    compression: str | None = None

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
        return cls(**read_json_object(path, what="search setup"))


def node_url(url: str | None) -> str:
    """``url`` if given, else the node or cluster ``viewrank opensearch up`` started last (a
    cluster as all its nodes' URLs, comma-separated, so requests fail over)."""
    if url:
        return url
    root = cache_root()
    single, cluster = NodeState.load(root), ClusterState.load(root)
    if cluster is not None and (single is None or ClusterState.path(root).stat().st_mtime >= (root / "state.json").stat().st_mtime):
        return cluster.url
    if single is None:
        raise ViewrankError("no OpenSearch node is known: run `viewrank opensearch up` or pass --url")
    return single.url


def serve_health(serve_url: str, token: str | None, needs: tuple[str, ...]) -> dict:
    """``viewrank serve``'s /health, checked to serve each of ``needs`` ("embedder", "reranker")."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        health = httpx.get(f"{serve_url}/health", headers=headers, timeout=10).json()
    except httpx.HTTPError as exc:
        raise ViewrankError(f"viewrank serve does not answer at {serve_url} ({exc}): start `viewrank serve` first") from None
    missing = [n for n in needs if not health.get(n)]
    if missing:
        flags = " and ".join(f"--{n}" for n in needs)
        raise ViewrankError(f"viewrank serve at {serve_url} must serve {flags} (it has {health})")
    return health


def local_bundle(export_dir: str, function: str, flag: str) -> dict:
    """The register body of an ml-commons bundle, checked to be a ``function`` model."""
    body, _ = C.read_local_bundle(export_dir)
    if body["function_name"] != function:
        raise ViewrankError(f"{flag} {export_dir}: the bundle is a {body['function_name']} model, {flag} needs "
                            f"{function} (export {'dense or dense:DIR' if function == 'TEXT_EMBEDDING' else 'cross-encoder:DIR'} "
                            "with --ml-commons)")
    return body


def setup(url: str | None, serve_url: str | None, index: str, token: str | None = None, data_type: str = "float",
          weights: tuple[float, float] = (0.3, 0.7), replace: bool = False,
          embedder_export: str | None = None, reranker_export: str | None = None, combination: str = "minmax",
          rank_constant: int | None = None, rerank_field: str | None = None, remove_rerank_field: bool = False,
          keep_previous_score: bool = False, vector_mode: str = "in_memory",
          compression: str | None = None, shards: int | None = None, replicas: int | None = None) -> Setup:
    """Models, ingest pipeline, k-NN index and search pipelines.

    Each model runs inside the node when its export is given (``embedder_export``: a TEXT_EMBEDDING
    bundle, ``reranker_export``: a TEXT_SIMILARITY cross-encoder bundle, both from
    ``viewrank export onnx ... --ml-commons``), else remotely on ``viewrank serve`` at ``serve_url``.
    The flags and bundles are checked before anything is sent, the node and ``viewrank serve``
    before the node is changed.

    ``combination`` picks the hybrid pipeline's fusion (``minmax`` weighted by ``weights``, or
    ``rrf`` with ``rank_constant``); ``rerank_field`` adds a ``by_field`` rerank pipeline (mode
    ``field``); ``vector_mode``/``compression`` the k-NN field's disk mode; ``shards``/``replicas``
    the index's (default: by cluster size, see :func:`client.create_index`).
    """
    if (shards is not None and shards < 1) or (replicas is not None and replicas < 0):
        raise ViewrankError(f"--shards must be >= 1 and --replicas >= 0 (got {shards}, {replicas})")
    needs = tuple(role for role, export in (("embedder", embedder_export), ("reranker", reranker_export)) if not export)
    if needs and not serve_url:
        flags = " and ".join(f"--{n}-export DIR" for n in needs)
        raise ViewrankError(f"setup needs --serve-url (viewrank serve) or {flags} (a model run inside the node)")
    emb_body = local_bundle(embedder_export, "TEXT_EMBEDDING", "--embedder-export") if embedder_export else None
    if reranker_export:
        local_bundle(reranker_export, "TEXT_SIMILARITY", "--reranker-export")
    if emb_body is not None and data_type != "float":
        raise ViewrankError(f"--data-type {data_type} needs integer vectors, and the local embedder "
                            f"{embedder_export} returns floats: serve an int8:DIR embedder remotely instead")
    C.hybrid_pipeline_body(combination, weights, rank_constant)  # bad fusion options fail before the node is touched
    C.vector_mapping(1, data_type, vector_mode, compression)  # and bad vector options
    if rerank_field is not None and not rerank_field.strip():
        raise ViewrankError("--rerank-field: name a numeric field of the documents (a dot path for nested ones)")
    if (remove_rerank_field or keep_previous_score) and not rerank_field:
        raise ViewrankError("--remove-rerank-field and --keep-previous-score are options of --rerank-field FIELD")
    url = node_url(url)
    client = C.connect(url)  # a node that is down is named first, then a serve that is
    health = serve_health(serve_url, token, needs) if needs else {}
    dim = int(emb_body["model_config"]["embedding_dimension"]) if emb_body is not None else int(health["dim"])
    C.configure_ml(client)

    def model(kind: str, export: str | None) -> tuple[str, str]:
        name = f"viewrank-{'embed' if kind == 'embedding' else 'rerank'}-{index}"
        if export:
            # replace: an earlier export set up under this name is undeployed (the node holds 10)
            return C.register_local_model(client, export, name=name, replace=True), f"local:{export}"
        return C.register_remote_model(client, kind, serve_url, token, name=name), f"remote:{serve_url}"

    emb, emb_source = model("embedding", embedder_export)
    rr, rr_source = model("rerank", reranker_export)
    names = {k: f"viewrank-{k}-{index}" for k in ("ingest", "hybrid", "rerank", "field")}
    C.create_ingest_pipeline(client, names["ingest"], emb)
    C.create_index(client, index, dim, names["ingest"], data_type=data_type, replace=replace, mode=vector_mode,
                   compression=compression, shards=shards, replicas=replicas)
    client.indices.put_settings(index=index, body={"index": {"default_pipeline": names["ingest"]}})
    C.create_hybrid_pipeline(client, names["hybrid"], weights, combination, rank_constant)
    C.create_rerank_pipeline(client, names["rerank"], rr)
    if rerank_field:
        C.create_by_field_pipeline(client, names["field"], rerank_field, remove_rerank_field, keep_previous_score)
    k = (rank_constant or C.RRF_RANK_CONSTANT) if combination == "rrf" else None
    setup = Setup(url, index, serve_url if needs else None, emb, rr, dim, names["ingest"], names["hybrid"],
                  names["rerank"], emb_source, rr_source, combination, k, rerank_field,
                  names["field"] if rerank_field else None, vector_mode, compression)
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
    if mode == "field" and not st.field_pipeline:
        raise ViewrankError(f"index {index!r} has no by_field rerank pipeline: run `viewrank opensearch setup "
                            f"--index {index} --rerank-field FIELD` first")
    pipeline = {"hybrid": st.hybrid_pipeline, "rerank": st.rerank_pipeline, "field": st.field_pipeline}.get(mode)
    queries = BeirDataset(dataset_dir).queries(split)[:limit] if limit else BeirDataset(dataset_dir).queries(split)
    writer = RunWriter(output, tag=f"opensearch-{mode}", resume=resume)
    latencies = []
    try:
        for q in tqdm([q for q in queries if not writer.is_done(q.qid)], desc=f"opensearch {mode}", unit="q"):
            started = time.perf_counter()
            hits = C.search(client, index, mode, q.text, depth, st.embedding_model, pipeline, st.rerank_field)
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
