"""Neural search on a real OpenSearch node: ml-commons models, pipelines, k-NN index, ingest, search.

Models are remote (ml-commons connectors to ``viewrank serve`` using ml-commons' built-in
pre/post-process functions, no Painless) or local (``viewrank export onnx --ml-commons`` bundles
that run inside the node); either way the node runs exactly the models the Python path runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from tqdm.auto import tqdm

from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object

log = logging.getLogger("viewrank.opensearch")

ML = "/_plugins/_ml"
VECTOR_FIELD = "vec"
TEXT_FIELD = "contents"


def connect(url: str, timeout: int = 120):
    """An opensearch-py client; a clear error when no node answers at ``url``.

    ``url`` may list several nodes of one cluster, comma-separated (what ``viewrank opensearch up
    --nodes N`` records): a request to a node that is down is retried on the next one."""
    from opensearchpy import OpenSearch
    from opensearchpy.exceptions import ConnectionError as OSConnectionError

    hosts = [u.strip() for u in url.split(",") if u.strip()]
    if not hosts:
        raise ViewrankError(f"no OpenSearch URL in {url!r}")
    client = OpenSearch(hosts, timeout=timeout, max_retries=max(3, len(hosts)), retry_on_timeout=len(hosts) > 1)
    try:
        client.info()
    except OSConnectionError:
        raise ViewrankError(f"no OpenSearch node answers at {url}: start one with `viewrank opensearch up`") from None
    return client


def configure_ml(client) -> None:
    """Cluster settings that let ml-commons run on one node and call connectors on loopback."""
    client.cluster.put_settings(body={"persistent": {
        "plugins.ml_commons.only_run_on_ml_node": False,
        "plugins.ml_commons.native_memory_threshold": 100,
        "plugins.ml_commons.memory_feature_enabled": False,
        "plugins.ml_commons.trusted_connector_endpoints_regex": [r"^http://127\.0\.0\.1:.*", r"^http://localhost:.*"],
        "plugins.ml_commons.connector.private_ip_enabled": True,
        "plugins.ml_commons.allow_registering_model_via_url": True,
        "plugins.ml_commons.allow_registering_model_via_local_file": True,
    }})


def _wait_task(client, task_id: str, what: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.transport.perform_request("GET", f"{ML}/tasks/{task_id}")
        state = task.get("state")
        if state == "COMPLETED":
            return task
        if state in ("FAILED", "COMPLETED_WITH_ERROR"):
            raise ViewrankError(f"{what} failed in ml-commons: {task.get('error', task)}")
        time.sleep(0.5)
    raise ViewrankError(f"{what} did not finish within {timeout:.0f} s (task {task_id})")


BREAKER_OPEN = "Circuit Breaker is open"


def deploy_model(client, model_id: str, what: str, timeout: float = 300.0) -> None:
    """Deploy a registered model and wait for it. ml-commons refuses a deploy while one of its
    breakers is open (JVM heap use above ``plugins.ml_commons.jvm_heap_memory_threshold``, 85% by
    default, counts garbage not yet collected, so it trips on a small heap and recovers by itself);
    such a refusal is retried with backoff until ``timeout``, any other failure is raised."""
    deadline = time.monotonic() + timeout
    pause = 2.0
    while True:
        deployed = client.transport.perform_request("POST", f"{ML}/models/{model_id}/_deploy")
        try:
            _wait_task(client, deployed["task_id"], what, max(1.0, deadline - time.monotonic()))
            return
        except ViewrankError as exc:
            if BREAKER_OPEN not in str(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("%s: an ml-commons memory breaker is open; deploying again in %.0f s", what, pause)
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


def connector_body(kind: str, endpoint: str, token: str | None = None) -> dict:
    """An ml-commons HTTP connector to ``viewrank serve`` at ``endpoint`` (``http://127.0.0.1:PORT``)."""
    headers = {"content-type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if kind == "embedding":
        action = {"url": f"{endpoint}/embed", "request_body": '{ "input": ${parameters.input} }',
                  "pre_process_function": "connector.pre_process.default.embedding",
                  "post_process_function": "connector.post_process.default.embedding"}
    elif kind == "rerank":
        action = {"url": f"{endpoint}/rerank",
                  "request_body": '{ "query": "${parameters.query}", "documents": ${parameters.documents}, '
                                  '"top_n": ${parameters.top_n} }',
                  "pre_process_function": "connector.pre_process.cohere.rerank",
                  "post_process_function": "connector.post_process.cohere.rerank"}
    else:
        raise ViewrankError(f"unknown model kind {kind!r}: embedding or rerank")
    return {"name": f"viewrank-{kind}", "description": f"viewrank serve {kind} at {endpoint}", "version": "1",
            "protocol": "http", "parameters": {}, "credential": {"token": token or "unused"},
            "actions": [{"action_type": "predict", "method": "POST", "headers": headers, **action}]}


def register_remote_model(client, kind: str, endpoint: str, token: str | None = None, name: str | None = None) -> str:
    """Create the connector, register and deploy the remote model; returns its model id."""
    connector = client.transport.perform_request("POST", f"{ML}/connectors/_create",
                                                 body=connector_body(kind, endpoint, token))
    body = {"name": name or f"viewrank-{kind}", "function_name": "remote",
            "description": f"viewrank serve {kind}", "connector_id": connector["connector_id"]}
    registered = client.transport.perform_request("POST", f"{ML}/models/_register", body=body)
    task = _wait_task(client, registered["task_id"], f"registering the {kind} model")
    model_id = task.get("model_id") or registered.get("model_id")
    deploy_model(client, model_id, f"deploying the {kind} model {model_id}")
    return model_id


def read_local_bundle(export_dir: str | Path) -> tuple[dict, Path]:
    """The register body and zip of a ``viewrank export onnx ... --ml-commons`` directory, checked
    for what uploading needs (both files there, the zip's size as the body says)."""
    from viewrank.exporters.ml_commons import BODY_NAME, ZIP_NAME

    folder = Path(export_dir)
    body_path, zip_path = folder / BODY_NAME, folder / ZIP_NAME
    if not body_path.is_file() or not zip_path.is_file():
        raise ViewrankError(f"{folder} has no {ZIP_NAME} + {BODY_NAME}: export it with "
                            f"`viewrank export onnx MODEL --out {folder} --ml-commons`")
    body = read_json_object(body_path, what="ml-commons register body")
    size = zip_path.stat().st_size
    if size != body["model_content_size_in_bytes"]:
        raise ViewrankError(f"{zip_path} is {size} bytes but {body_path} says "
                            f"{body['model_content_size_in_bytes']}: re-export the directory")
    return body, zip_path


def local_models_named(client, name: str) -> list[dict]:
    """The registered local models called ``name`` (``{"model_id", "model_state", "hash"}``), newest
    first. Upload chunks are stored as models too; they are skipped."""
    found = client.transport.perform_request("POST", f"{ML}/models/_search", body={
        "size": 100, "query": {"bool": {"must_not": {"exists": {"field": "chunk_number"}},
                                        "filter": [{"term": {"name.keyword": name}},
                                                   {"exists": {"field": "model_content_hash_value"}}]}},
        "sort": [{"created_time": {"order": "desc"}}]})
    return [{"model_id": hit["_id"], "model_state": hit["_source"].get("model_state"),
             "hash": hit["_source"].get("model_content_hash_value")}
            for hit in found["hits"]["hits"] if hit["_source"].get("name") == name]


def register_local_model(client, export_dir: str | Path, name: str | None = None, timeout: float = 300.0,
                         reuse: bool = True, replace: bool = False) -> str:
    """Upload a ``viewrank export onnx ... --ml-commons`` bundle to the node in 10 MB chunks
    (``_register_meta`` + ``upload_chunk``), deploy it there, and return its model id.

    The model then runs inside OpenSearch (DJL + ONNX Runtime), no ``viewrank serve`` needed.
    With ``reuse`` (the default) a model of the same name and the same zip (sha256) that the node
    already holds is deployed if needed and returned instead of uploading a copy: running
    ``setup`` again does not fill the node's 10-model limit. With ``replace``, other deployed
    models of that name (an earlier export) are undeployed once this one is deployed.
    A node from ``viewrank opensearch up`` has the native libraries that needs (see
    :func:`viewrank.adapters.opensearch.node.prepare_djl`); another node must reach publish.djl.ai.
    """
    from viewrank.exporters.ml_commons import CHUNK

    body, zip_path = read_local_bundle(export_dir)
    if name:
        body["name"] = name
    what = f"the local model {body['name']}"
    same_name = local_models_named(client, body["name"]) if reuse or replace else []
    known = next((m for m in same_name if m["hash"] == body["model_content_hash_value"]), None) if reuse else None
    if known is not None:
        model_id = known["model_id"]
        if known["model_state"] != "DEPLOYED":
            deploy_model(client, model_id, f"deploying {what} ({model_id})", timeout)
    else:
        data = zip_path.read_bytes()
        meta = client.transport.perform_request("POST", f"{ML}/models/_register_meta", body=body)
        model_id = meta["model_id"]
        for i in tqdm(range(body["total_chunks"]), desc=f"uploading {zip_path.name}", unit="chunk", leave=False):
            client.transport.perform_request("POST", f"{ML}/models/{model_id}/upload_chunk/{i}",
                                             body=data[i * CHUNK:(i + 1) * CHUNK])
        deploy_model(client, model_id, f"deploying {what} ({model_id})", timeout)
    if replace:
        for old in same_name:
            if old["model_id"] != model_id and old["model_state"] in ("DEPLOYED", "PARTIALLY_DEPLOYED"):
                undeploy_model(client, old["model_id"])
    return model_id


def undeploy_model(client, model_id: str) -> None:
    """Unload a model from the node (it holds at most 10 deployed local models by default).
    Deleting a local model also needs delete-by-query (the reindex module), which this node lacks."""
    client.transport.perform_request("POST", f"{ML}/models/{model_id}/_undeploy")


def predict_local_embedding(client, model_id: str, texts: Sequence[str]) -> list[list[float]]:
    """Embeddings from a local TEXT_EMBEDDING model (``_predict/text_embedding``)."""
    out = client.transport.perform_request("POST", f"{ML}/_predict/text_embedding/{model_id}",
                                           body={"text_docs": list(texts), "return_number": True})
    return [r["output"][0]["data"] for r in out["inference_results"]]


def predict_local_similarity(client, model_id: str, query: str, texts: Sequence[str]) -> list[float]:
    """Scores of (query, text) pairs from a local TEXT_SIMILARITY model (a cross-encoder)."""
    out = client.transport.perform_request("POST", f"{ML}/_predict/text_similarity/{model_id}",
                                           body={"query_text": query, "text_docs": list(texts)})
    return [float(r["output"][0]["data"][0]) for r in out["inference_results"]]


def check_model_deployed(client, model_id: str) -> None:
    from opensearchpy.exceptions import NotFoundError

    try:
        model = client.transport.perform_request("GET", f"{ML}/models/{model_id}")
    except NotFoundError:
        raise ViewrankError(f"model {model_id} does not exist on this node: run `viewrank opensearch setup`") from None
    state = model.get("model_state")
    # PARTIALLY_DEPLOYED: a cluster node that held it is down; the others answer
    if state not in ("DEPLOYED", "PARTIALLY_DEPLOYED"):
        raise ViewrankError(f"model {model_id} is {state or 'not deployed'}: deploy it "
                            f"(POST {ML}/models/{model_id}/_deploy) or run `viewrank opensearch setup`")


def predict_embedding(client, model_id: str, texts: Sequence[str]) -> list[list[float]]:
    out = client.transport.perform_request("POST", f"{ML}/models/{model_id}/_predict",
                                           body={"parameters": {"input": list(texts)}})
    return [t["data"] for r in out["inference_results"] for t in r["output"]]


def create_ingest_pipeline(client, name: str, model_id: str) -> None:
    client.ingest.put_pipeline(id=name, body={
        "description": "viewrank: embed contents with the deployed text-embedding model",
        "processors": [{"text_embedding": {"model_id": model_id, "field_map": {TEXT_FIELD: VECTOR_FIELD}}}],
    })


VECTOR_MODES = ("in_memory", "on_disk")
# what this node's k-NN can build: the Maven k-NN zip has no faiss/nmslib natives, so only Lucene
# engines. Lucene takes on_disk at 4x (scalar quantisation); 8x/16x/32x (binary quantisation) are
# faiss-only in 2.19, and a faiss field kills the node at its first write (UnsatisfiedLinkError:
# no opensearchknn_faiss_avx2), so they are refused before the index is created.
LUCENE_COMPRESSIONS = {"in_memory": ("1x",), "on_disk": ("4x",)}
FAISS_COMPRESSIONS = ("8x", "16x", "32x")


def vector_mapping(dim: int, data_type: str = "float", mode: str = "in_memory", compression: str | None = None,
                   space_type: str = "cosinesimil") -> dict:
    """The ``knn_vector`` mapping of ``vec``: Lucene HNSW; ``mode="on_disk"`` with ``compression``
    (the k-NN 2.17 disk mode: quantised graph, full-precision vectors rescored at search)."""
    if data_type not in ("float", "byte"):
        raise ViewrankError(f"data_type {data_type!r}: the Lucene engine here takes float or byte vectors "
                            "(binary needs the faiss engine, which the Maven k-NN zip lacks)")
    if mode not in VECTOR_MODES:
        raise ViewrankError(f"vector mode {mode!r}: choose one of {', '.join(VECTOR_MODES)}")
    if compression is not None and compression in FAISS_COMPRESSIONS:
        raise ViewrankError(f"--compression {compression}: binary quantisation ({', '.join(FAISS_COMPRESSIONS)}) "
                            "needs the faiss engine, whose native libraries the Maven k-NN zip lacks (a faiss field "
                            "stops this node at its first write); the Lucene engine here takes on_disk with "
                            "--compression 4x")
    allowed = LUCENE_COMPRESSIONS[mode]
    if compression is not None and compression not in allowed:
        raise ViewrankError(f"--compression {compression} with --vector-mode {mode}: the Lucene engine here takes "
                            f"{' or '.join(allowed)}")
    if mode == "on_disk" and data_type != "float":
        raise ViewrankError("--vector-mode on_disk quantises float vectors: use --data-type float")
    vector: dict[str, Any] = {"type": "knn_vector", "dimension": dim,
                              "method": {"name": "hnsw", "engine": "lucene", "space_type": space_type}}
    if data_type == "byte":
        vector["data_type"] = "byte"
        vector["method"]["space_type"] = "l2"
    if mode == "on_disk":
        vector["mode"] = "on_disk"
        vector["compression_level"] = compression or "4x"
    return vector


def create_index(client, name: str, dim: int, pipeline: str | None, data_type: str = "float",
                 replace: bool = False, mode: str = "in_memory", compression: str | None = None,
                 extra_fields: dict | None = None, shards: int | None = None, replicas: int | None = None) -> None:
    """A k-NN index (Lucene HNSW, cosine) whose default ingest pipeline embeds ``contents``;
    ``mode``/``compression`` as :func:`vector_mapping` (checked before anything is sent).

    ``shards``/``replicas`` default to the cluster: one shard and no replica on a single node; on a
    cluster one shard per data node (at most 3) and one replica, so losing a node loses nothing."""
    vector = vector_mapping(dim, data_type, mode, compression)
    if client.indices.exists(index=name):
        if not replace:
            return
        client.indices.delete(index=name)
    data_nodes = int(client.cluster.health()["number_of_data_nodes"])
    shards = shards if shards is not None else min(max(data_nodes, 1), 3)
    replicas = replicas if replicas is not None else (1 if data_nodes > 1 else 0)
    if shards < 1 or replicas < 0:
        raise ViewrankError(f"an index needs >= 1 shard and >= 0 replicas (got --shards {shards} --replicas {replicas})")
    settings: dict[str, Any] = {"index": {"knn": True, "number_of_shards": shards, "number_of_replicas": replicas}}
    if pipeline:
        settings["index"]["default_pipeline"] = pipeline
    client.indices.create(index=name, body={"settings": settings, "mappings": {"properties": {
        "docid": {"type": "keyword"}, "title": {"type": "text"}, TEXT_FIELD: {"type": "text"}, VECTOR_FIELD: vector,
        **(extra_fields or {}),
    }}})
    # writes and searches start once every primary and replica is assigned
    wait_health(client, "green" if replicas < data_nodes else "yellow", index=name, within=120.0)


def wait_health(client, status: str, index: str | None = None, nodes: int | None = None, within: float = 300.0) -> dict:
    """Block until the cluster (or ``index``) is at least ``status`` with ``nodes`` nodes; a clear
    error after ``within`` seconds. (opensearch-py takes a ``timeout`` parameter as its own request
    timeout, so the server-side wait is its default 30 s, repeated.)"""
    params = {"wait_for_status": status, **({"wait_for_nodes": str(nodes)} if nodes else {})}
    path = f"/_cluster/health/{index}" if index else "/_cluster/health"
    deadline = time.monotonic() + within
    from opensearchpy.exceptions import TransportError

    while True:
        try:
            health = client.transport.perform_request("GET", path, params=params)
        except TransportError as exc:  # 408: not there yet (the body is the health)
            if exc.status_code != 408:
                raise
            health = {"timed_out": True, **(exc.info if isinstance(exc.info, dict) else {})}
        if not health.get("timed_out"):
            return health
        if time.monotonic() > deadline:
            raise ViewrankError(f"OpenSearch {index or 'cluster'} did not reach {status}"
                                f"{f' with {nodes} nodes' if nodes else ''} within {within:.0f} s: {health}")


@dataclass
class IngestReport:
    indexed: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # docid -> reason
    retries: int = 0
    seconds: float = 0.0


TRANSIENT = {429, 500, 502, 503, 504}
# ml-commons answers 400 illegal_argument_exception "Model not ready yet" while a model is being
# (re)deployed on a node that just joined or rejoined the cluster: it passes once the deploy
# completes (seen on a 3-node cluster after a node restart), so it is retried like a 503.
MODEL_NOT_READY = "Model not ready yet"


def transient(status: Any, reason: Any = "") -> bool:
    """Whether a failed request or bulk item is worth retrying: no answer at all (a node down),
    429/5xx, or a model that is still deploying."""
    return status is None or status == "N/A" or status in TRANSIENT or (status == 400 and MODEL_NOT_READY in str(reason))


def bulk_ingest(client, index: str, docs: Iterable[Any], batch_size: int = 32, max_retries: int = 4,
                total: int | None = None) -> IngestReport:
    """Index documents (``.docid``, ``.title``, ``.contents``) with ``_id = docid``: re-running
    overwrites instead of duplicating. Transient failures are retried with backoff; the rest
    are counted in the report, never dropped silently."""
    from opensearchpy.exceptions import ConnectionError as OSConnectionError
    from opensearchpy.exceptions import TransportError

    report = IngestReport()
    started = time.perf_counter()
    bar = tqdm(total=total, desc=f"ingest {index}", unit="doc")
    batch: list[Any] = []

    def flush(items: list[Any]) -> None:
        pending = items
        for attempt in range(max_retries + 1):
            body: list[dict] = []
            for d in pending:
                body += [{"index": {"_index": index, "_id": d.docid}},
                         {"docid": d.docid, "title": d.title, TEXT_FIELD: d.contents}]
            try:
                resp = client.bulk(body=body, refresh=False)
            except (OSConnectionError, TransportError) as exc:
                status = getattr(exc, "status_code", None)
                if attempt < max_retries and transient(status, getattr(exc, "info", "")):
                    report.retries += 1
                    time.sleep(min(0.5 * 2 ** attempt, 10.0))
                    continue
                for d in pending:
                    report.failed[d.docid] = f"bulk request failed: {exc}"
                return
            retry = []
            for d, item in zip(pending, resp["items"]):
                result = item["index"]
                if result.get("status", 500) < 300:
                    report.indexed += 1
                elif attempt < max_retries and transient(result["status"], result.get("error", {}).get("reason", "")):
                    retry.append(d)
                else:
                    err = result.get("error", {})
                    report.failed[d.docid] = f"{err.get('type', result['status'])}: {err.get('reason', err)}"
            bar.update(len(pending) - len(retry))
            if not retry:
                return
            report.retries += 1
            pending = retry
            time.sleep(min(0.5 * 2 ** attempt, 10.0))

    for doc in docs:
        batch.append(doc)
        if len(batch) >= batch_size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    bar.close()
    client.indices.refresh(index=index)
    report.seconds = time.perf_counter() - started
    return report


def stored_vectors(client, index: str, page: int = 1000) -> dict[str, list[float]]:
    """Every document's stored vector, ``{_id: vector}``, read page by page in ``_id`` order of the
    ``docid`` field (search_after), for checks that an index holds exactly what was written."""
    out: dict[str, list[float]] = {}
    after = None
    while True:
        body: dict[str, Any] = {"size": page, "_source": [VECTOR_FIELD], "sort": [{"docid": "asc"}],
                                "query": {"match_all": {}}}
        if after is not None:
            body["search_after"] = after
        hits = client.search(index=index, body=body, params=NO_PARTIAL)["hits"]["hits"]
        for hit in hits:
            if hit["_id"] in out:
                raise ViewrankError(f"index {index}: document {hit['_id']} was returned twice")
            out[hit["_id"]] = hit["_source"].get(VECTOR_FIELD)
        if len(hits) < page:
            return out
        after = hits[-1]["sort"]


COMBINATIONS = ("minmax", "rrf")
RRF_RANK_CONSTANT = 60  # OpenSearch's default


def hybrid_pipeline_body(combination: str = "minmax", weights: tuple[float, float] = (0.3, 0.7),
                         rank_constant: int | None = None) -> dict:
    """The search pipeline of a ``hybrid`` query: ``minmax`` = the ``normalization-processor``
    (min-max, weighted arithmetic mean); ``rrf`` = the ``score-ranker-processor`` (2.19):
    each document scores sum over the sub-queries of 1 / (rank_constant + rank)."""
    if combination == "minmax":
        if rank_constant is not None:
            raise ViewrankError("--rank-constant is a parameter of --combination rrf, not of minmax")
        return {"description": "viewrank: min-max normalise BM25 and neural scores, weighted mean",
                "phase_results_processors": [{"normalization-processor": {
                    "normalization": {"technique": "min_max"},
                    "combination": {"technique": "arithmetic_mean", "parameters": {"weights": list(weights)}},
                }}]}
    if combination == "rrf":
        k = RRF_RANK_CONSTANT if rank_constant is None else rank_constant
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10000:
            raise ViewrankError(f"--rank-constant {k!r}: an integer from 1 to 10000 (OpenSearch's range)")
        # neural-search 2.19.1 reads rank_constant from combination.parameters (its RRFProcessorFactory
        # hands that map to the rrf normalisation); the documented combination.rank_constant is kept
        # in the stored pipeline but silently ignored there (k stays 60): checked on a real node.
        return {"description": f"viewrank: reciprocal rank fusion of BM25 and neural ranks (k={k})",
                "phase_results_processors": [{"score-ranker-processor": {
                    "combination": {"technique": "rrf", "parameters": {"rank_constant": k}}}}]}
    raise ViewrankError(f"--combination {combination!r}: choose one of {', '.join(COMBINATIONS)}")


def create_hybrid_pipeline(client, name: str, weights: tuple[float, float] = (0.3, 0.7), combination: str = "minmax",
                           rank_constant: int | None = None) -> None:
    client.transport.perform_request("PUT", f"/_search/pipeline/{name}",
                                     body=hybrid_pipeline_body(combination, weights, rank_constant))


def create_by_field_pipeline(client, name: str, target_field: str, remove_target_field: bool = False,
                             keep_previous_score: bool = False) -> None:
    """A ``rerank`` response processor of type ``by_field`` (2.18): the hits are re-sorted by a
    numeric field of their ``_source`` (a score stored at ingest), which becomes ``_score``."""
    if not target_field or not target_field.strip():
        raise ViewrankError("--rerank-field: name a numeric field of the documents (a dot path for nested ones)")
    client.transport.perform_request("PUT", f"/_search/pipeline/{name}", body={
        "description": f"viewrank: rerank the hits by the stored field {target_field}",
        "response_processors": [{"rerank": {"by_field": {
            "target_field": target_field, "remove_target_field": remove_target_field,
            "keep_previous_score": keep_previous_score}}}],
    })


def create_rerank_pipeline(client, name: str, model_id: str) -> None:
    client.transport.perform_request("PUT", f"/_search/pipeline/{name}", body={
        "description": "viewrank: rerank the whole hit list with one call to the reranker",
        "response_processors": [{"rerank": {"ml_opensearch": {"model_id": model_id},
                                            "context": {"document_fields": [TEXT_FIELD]}}}],
    })


def search_body(mode: str, query: str, k: int, model_id: str | None = None, rerank_field: str | None = None) -> dict:
    """``rerank_field``: the stored field a ``by_field`` pipeline reads (kept in ``_source``)."""
    match = {"match": {TEXT_FIELD: query}}
    neural = {"neural": {VECTOR_FIELD: {"query_text": query, "model_id": model_id, "k": k}}}
    if mode == "bm25":
        q: dict = {"query": match}
    elif mode == "neural":
        q = {"query": neural}
    elif mode == "hybrid":
        q = {"query": {"hybrid": {"queries": [match, neural]}}}
    elif mode == "rerank":
        q = {"query": match, "ext": {"rerank": {"query_context": {"query_text": query}}}}
    elif mode == "field":
        q = {"query": match}
    else:
        raise ViewrankError(f"unknown search mode {mode!r}: bm25, neural, hybrid, rerank or field")
    # the rerank processor reads the document text from _source, so keep it for rerank
    source = ["docid", TEXT_FIELD] if mode == "rerank" else ["docid"]
    if mode == "field":
        if not rerank_field:
            raise ViewrankError("search mode field needs the index set up with --rerank-field FIELD")
        source = ["docid", rerank_field]
    return {"size": k, "_source": source, **q}


# A shard copy that fails mid-search (a node dying) fails the whole search, a retriable error,
# instead of answering from the other shards: a partial hit list would be a wrong ranking.
NO_PARTIAL = {"allow_partial_search_results": "false"}


def with_retries(call, attempts: int = 3, wait: float = 0.5):
    """``call()``, retried after a transient failure (see :func:`transient`) with backoff; the last
    failure is raised as it came."""
    from opensearchpy.exceptions import ConnectionError as OSConnectionError
    from opensearchpy.exceptions import TransportError

    for attempt in range(attempts):
        try:
            return call()
        except (OSConnectionError, TransportError) as exc:
            if attempt == attempts - 1 or not transient(getattr(exc, "status_code", None), getattr(exc, "info", "")):
                raise
            time.sleep(wait * 2 ** attempt)


def search(client, index: str, mode: str, query: str, k: int, model_id: str | None = None,
           pipeline: str | None = None, rerank_field: str | None = None) -> list[tuple[str, float]]:
    params = {"search_pipeline": pipeline} if pipeline else {}
    resp = with_retries(lambda: client.search(index=index, body=search_body(mode, query, k, model_id, rerank_field),
                                              params={**params, **NO_PARTIAL}))
    return [(hit["_id"], float(hit["_score"])) for hit in resp["hits"]["hits"]]


def knn_body(vector: Sequence[float], k: int, rescore: bool | float | None = None) -> dict:
    """A ``knn`` query with a query vector. ``rescore`` (k-NN 2.17, for on_disk / quantised
    fields): True, False, or an oversample factor; None leaves the field's default (on for
    on_disk). The ``neural`` query of 2.19 has no ``rescore`` ("[neural] query does not support
    [rescore]"): rescoring is chosen on ``knn`` queries only."""
    inner: dict[str, Any] = {"vector": [float(x) for x in vector], "k": k}
    if rescore is not None:
        inner["rescore"] = rescore if isinstance(rescore, bool) else {"oversample_factor": float(rescore)}
    return {"size": k, "_source": False, "query": {"knn": {VECTOR_FIELD: inner}}}


def knn_search(client, index: str, vector: Sequence[float], k: int,
               rescore: bool | float | None = None) -> list[tuple[str, float]]:
    resp = client.search(index=index, body=knn_body(vector, k, rescore), params=NO_PARTIAL)
    return [(hit["_id"], float(hit["_score"])) for hit in resp["hits"]["hits"]]
