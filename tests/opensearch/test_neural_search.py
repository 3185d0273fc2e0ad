"""Neural search on a real local OpenSearch node (no mocks): pipelines, parity with Python, faults."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.serve.conftest import free_port
from viewrank.adapters.opensearch import client as C
from viewrank.adapters.opensearch import workflow
from viewrank.datasets import BeirDataset
from viewrank.metrics import ndcg_at_k
from viewrank.runs import read_run
from viewrank.types import Query

pytestmark = pytest.mark.opensearch


def test_the_node_has_the_neural_plugins(node):
    client = C.connect(node.url)
    plugins = {p["component"] for p in client.cat.plugins(format="json")}
    assert {"opensearch-ml", "opensearch-knn", "opensearch-neural-search", "opensearch-job-scheduler"} <= plugins
    assert node.url.startswith("http://127.0.0.1:")


def test_every_mode_writes_an_evaluated_run(tiny_setup, tiny_dataset, tmp_path):
    for mode in [m for m in workflow.MODES if m != "field"]:  # field needs setup --rerank-field: test_fusion_rerank
        proc = run_cli("opensearch", "search", "--dataset", str(tiny_dataset), "--index", tiny_setup.index,
                       "--mode", mode, "--hits", "6", "--output", str(tmp_path / f"{mode}.trec"), check=True)
        assert proc.stdout.startswith(mode) and "nDCG@10" in proc.stdout and "p95" in proc.stdout
        assert set(read_run(tmp_path / f"{mode}.trec")) == {"q1", "q2", "q3", "q4"}


def test_neural_and_rerank_match_the_python_path(tiny_setup, tiny_dataset, models, tmp_path):
    embedder, reranker = models
    ds = BeirDataset(tiny_dataset)
    qrels = ds.qrels("test")
    docs = list(ds.iter_corpus())
    dvec = embedder.embed([d.contents for d in docs])
    client = C.connect(tiny_setup.url)
    py_run, os_run, py_rr, os_rr = {}, {}, {}, {}
    for q in ds.queries("test"):
        qv = embedder.embed([q.text], role="query")[0]
        py_run[q.qid] = {d.docid: float(s) for d, s in zip(docs, dvec @ qv)}
        os_run[q.qid] = dict(C.search(client, tiny_setup.index, "neural", q.text, 6, tiny_setup.embedding_model))
        bm25 = C.search(client, tiny_setup.index, "bm25", q.text, 6)
        cands = [ds.candidate(d, s) for d, s in bm25]
        ranked = reranker.rerank(Query(q.qid, q.text), cands)
        py_rr[q.qid] = dict(zip(ranked.docids, ranked.scores))
        os_rr[q.qid] = dict(C.search(client, tiny_setup.index, "rerank", q.text, 6, None, tiny_setup.rerank_pipeline))
        # same documents in the same order from OpenSearch and from Python
        assert sorted(os_run[q.qid], key=os_run[q.qid].get, reverse=True)[:3] == \
            sorted(py_run[q.qid], key=py_run[q.qid].get, reverse=True)[:3]
        assert list(os_rr[q.qid]) == ranked.docids
        assert np.allclose([os_rr[q.qid][d] for d in ranked.docids], ranked.scores, atol=1e-5)
    assert abs(ndcg_at_k(os_run, qrels) - ndcg_at_k(py_run, qrels)) <= 0.01
    assert abs(ndcg_at_k(os_rr, qrels) - ndcg_at_k(py_rr, qrels)) <= 0.01


def test_reingest_is_idempotent(tiny_setup, tiny_dataset):
    report = workflow.ingest(tiny_setup.index, str(tiny_dataset))
    assert report.indexed == 6 and not report.failed
    client = C.connect(tiny_setup.url)
    assert client.count(index=tiny_setup.index)["count"] == 6


def test_node_down_is_a_clear_error(tiny_dataset, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    proc = run_cli("opensearch", "setup", "--url", dead, "--serve-url", dead, "--index", "x")
    assert proc.returncode == 2 and f"no OpenSearch node answers at {dead}" in proc.stderr


def test_connector_endpoint_down_is_a_clear_error(node):
    dead = f"http://127.0.0.1:{free_port()}"
    proc = run_cli("opensearch", "setup", "--url", node.url, "--serve-url", dead, "--index", "x")
    assert proc.returncode == 2 and f"viewrank serve does not answer at {dead}" in proc.stderr


def test_model_not_deployed_is_a_clear_error(tiny_setup, tiny_dataset, tmp_path):
    client = C.connect(tiny_setup.url)
    client.transport.perform_request("POST", f"/_plugins/_ml/models/{tiny_setup.rerank_model}/_undeploy")
    try:
        proc = run_cli("opensearch", "search", "--dataset", str(tiny_dataset), "--index", tiny_setup.index,
                       "--mode", "rerank", "--output", str(tmp_path / "r.trec"))
        assert proc.returncode == 2 and f"model {tiny_setup.rerank_model} is" in proc.stderr
        assert "run `viewrank opensearch setup`" in proc.stderr and not (tmp_path / "r.trec").exists()
    finally:
        deployed = client.transport.perform_request("POST", f"/_plugins/_ml/models/{tiny_setup.rerank_model}/_deploy")
        C._wait_task(client, deployed["task_id"], "redeploy")


def test_a_failing_document_is_counted_and_a_rerun_completes(node, models, tiny_dataset):
    """The embedding service refuses one over-long document: it is reported, not dropped, and a
    re-run after the fix indexes it without duplicating the others."""
    from tests.conftest import TINY_CORPUS, write_beir

    corpus = TINY_CORPUS + [{"_id": "long", "title": "Long", "text": "word " * 200}]
    ds_dir = write_beir(tiny_dataset.parent / "with-long", corpus=corpus)
    import threading
    import time

    import uvicorn

    from viewrank.adapters.serve.app import create_app

    port = free_port()  # the connector's URL: the fixed service comes back on the same port

    def start(max_chars):
        embedder, reranker = models
        app = create_app(embedder, reranker, max_chars=max_chars, names={"embedder": "dense", "reranker": "bi-encoder"})
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        return server, thread

    server, thread = start(max_chars=300)
    try:
        st = workflow.setup(node.url, f"http://127.0.0.1:{port}", "viewrank-test-faults", replace=True)
        report = workflow.ingest(st.index, str(ds_dir), batch_size=4)
        assert report.indexed == 6 and list(report.failed) == ["long"]
        assert "long" in report.failed and report.failed["long"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    server, thread = start(max_chars=20_000)
    try:
        report = workflow.ingest(st.index, str(ds_dir), batch_size=4)
        assert report.indexed == 7 and not report.failed
        client = C.connect(node.url)
        assert client.count(index=st.index)["count"] == 7
    finally:
        server.should_exit = True
        thread.join(timeout=10)
