"""Exported ml-commons bundles registered, deployed and run INSIDE a real OpenSearch node (DJL +
ONNX Runtime there, no viewrank serve): the node's outputs equal viewrank's own."""

from __future__ import annotations

import numpy as np
import pytest

from tests.exporters.conftest import SCIFACT, export, needs_scifact, tiny_bert
from viewrank.adapters.opensearch import client as C
from viewrank.errors import ViewrankError
from viewrank.manager import get_host
from viewrank.types import Query

pytestmark = pytest.mark.opensearch

# the names `setup` gives the models of the index "viewrank-test-local": every test that deploys one
# of the two bundles uses them, so the node holds each bundle once (it takes at most 10 local models)
DENSE_NAME, CE_NAME = "viewrank-embed-viewrank-test-local", "viewrank-rerank-viewrank-test-local"
TEXTS = ["Vitamin D deficiency is linked to bone loss.", "Mitochondria make ATP.", "short",
         "A much longer passage about T cells, antibodies and the innate immune response " * 4]


@pytest.fixture(scope="module")
def client(node):
    c = C.connect(node.url)
    C.configure_ml(c)
    before = {h["_id"] for h in c.transport.perform_request("POST", f"{C.ML}/models/_search",
                                                            body={"query": {"match_all": {}}, "size": 1000})["hits"]["hits"]}
    yield c
    after = c.transport.perform_request("POST", f"{C.ML}/models/_search", body={"query": {"match_all": {}}, "size": 1000})
    for hit in after["hits"]["hits"]:  # the node keeps at most 10 deployed local models
        if hit["_id"] not in before and "chunk_number" not in hit["_source"]:
            C.undeploy_model(c, hit["_id"])


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    from viewrank.plugins.mvp.cross_encoder import CrossEncoder

    root = tmp_path_factory.mktemp("ml-commons")
    dense = tiny_bert(root / "dense-model")
    ce = root / "ce-model"
    CrossEncoder.from_backbone(dense, max_length=64).save(ce)
    return {"dense": (dense, export(f"dense:{dense}", root / "dense", ml_commons=True, parity=False)),
            "ce": (ce, export(f"cross-encoder:{ce}", root / "ce", ml_commons=True, parity=False))}


def test_a_local_text_embedding_model_returns_viewrank_embeddings(client, bundles):
    model_dir, export_dir = bundles["dense"]
    model_id = C.register_local_model(client, export_dir, name=DENSE_NAME)
    C.check_model_deployed(client, model_id)
    got = np.array(C.predict_local_embedding(client, model_id, TEXTS))
    want = np.array(get_host().embedder(f"dense:{model_dir}").embed(TEXTS, role="passage"))
    assert got.shape == (len(TEXTS), 24)  # the Matryoshka dim baked into the graph survives ml-commons
    assert np.abs(got - want).max() < 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)


def test_a_local_text_similarity_model_returns_cross_encoder_scores(client, bundles):
    model_dir, export_dir = bundles["ce"]
    model_id = C.register_local_model(client, export_dir, name=CE_NAME)
    got = np.array(C.predict_local_similarity(client, model_id, "what makes ATP?", TEXTS))
    want = np.array(get_host().reranker(f"cross-encoder:{model_dir}").score("what makes ATP?", TEXTS))
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-3


def test_registering_a_folder_without_a_bundle_names_it(client, tmp_path):
    with pytest.raises(ViewrankError, match="--ml-commons"):
        C.register_local_model(client, tmp_path)


def test_register_local_cli_prints_a_deployed_model(node, client, bundles):
    import json

    from tests.conftest import run_cli

    proc = run_cli("opensearch", "register-local", str(bundles["dense"][1]), "--name", DENSE_NAME,
                   "--url", node.url, check=True)
    model_id = json.loads(proc.stdout.strip().splitlines()[-1])["model_id"]
    C.check_model_deployed(client, model_id)
    assert len(C.predict_local_embedding(client, model_id, ["one text"])[0]) == 24


@pytest.fixture(scope="module")
def local_setup(node, client, bundles, tiny_dataset):
    """`setup` with both models inside the node (no viewrank serve), the tiny corpus ingested."""
    from viewrank.adapters.opensearch import workflow

    st = workflow.setup(node.url, None, "viewrank-test-local", replace=True,
                        embedder_export=str(bundles["dense"][1]), reranker_export=str(bundles["ce"][1]))
    report = workflow.ingest(st.index, str(tiny_dataset))
    assert report.indexed == 6 and not report.failed
    return st


def test_setup_with_local_models_needs_no_serve(local_setup, bundles):
    assert local_setup.serve_url is None and local_setup.dim == 24
    assert local_setup.embedding_source == f"local:{bundles['dense'][1]}"
    assert local_setup.rerank_source == f"local:{bundles['ce'][1]}"


def test_local_ingest_and_neural_search_match_the_python_path(local_setup, bundles, tiny_dataset):
    from viewrank.datasets import BeirDataset

    ds = BeirDataset(tiny_dataset)
    docs = list(ds.iter_corpus())
    embedder = get_host().embedder(f"dense:{bundles['dense'][0]}")
    dvec = np.array(embedder.embed([d.contents for d in docs], role="passage"))
    for q in ds.queries("test"):
        qv = np.array(embedder.embed([q.text], role="query")[0])
        want = {d.docid: (1 + float(s)) / 2 for d, s in zip(docs, dvec @ qv)}  # Lucene's cosine score
        got = dict(C.search(C.connect(local_setup.url), local_setup.index, "neural", q.text, 6,
                            local_setup.embedding_model))
        assert set(got) == set(want)  # the ingest pipeline embedded every document
        assert max(abs(got[d] - want[d]) for d in got) < 1e-4


def test_the_rerank_pipeline_runs_the_local_cross_encoder(local_setup, bundles, tiny_dataset):
    from viewrank.datasets import BeirDataset

    ds = BeirDataset(tiny_dataset)
    reranker = get_host().reranker(f"cross-encoder:{bundles['ce'][0]}")
    os_client = C.connect(local_setup.url)
    for q in ds.queries("test"):
        bm25 = [d for d, _ in C.search(os_client, local_setup.index, "bm25", q.text, 6)]
        ranked = reranker.rerank(Query(q.qid, q.text), [ds.candidate(d) for d in bm25])
        want = dict(zip(ranked.docids, ranked.scores))
        got = C.search(os_client, local_setup.index, "rerank", q.text, 6, None, local_setup.rerank_pipeline)
        assert [d for d, _ in got] and {d for d, _ in got} == set(bm25)
        assert max(abs(s - want[d]) for d, s in got) < 1e-3
        # the node's order is the cross-encoder's, up to near-ties the tolerance allows
        ordered = [want[d] for d, _ in got]
        assert all(a >= b - 2e-3 for a, b in zip(ordered, ordered[1:]))


def test_setup_again_reuses_the_deployed_local_models(local_setup, node, bundles):
    from viewrank.adapters.opensearch import workflow

    again = workflow.setup(node.url, None, local_setup.index, embedder_export=str(bundles["dense"][1]),
                           reranker_export=str(bundles["ce"][1]))
    assert (again.embedding_model, again.rerank_model) == (local_setup.embedding_model, local_setup.rerank_model)


def test_setup_refuses_a_bundle_in_the_wrong_role_before_touching_the_node(tmp_path, bundles):
    from tests.conftest import run_cli

    proc = run_cli("opensearch", "setup", "--index", "viewrank-test-never", "--url", "http://127.0.0.1:9",
                   "--embedder-export", str(bundles["ce"][1]), "--reranker-export", str(bundles["ce"][1]))
    assert proc.returncode == 2 and "TEXT_SIMILARITY" in proc.stderr and "--embedder-export" in proc.stderr
    proc = run_cli("opensearch", "setup", "--index", "viewrank-test-never", "--url", "http://127.0.0.1:9",
                   "--embedder-export", str(bundles["dense"][1]))
    assert proc.returncode == 2 and "--serve-url" in proc.stderr and "--reranker-export" in proc.stderr
    proc = run_cli("opensearch", "setup", "--index", "viewrank-test-never", "--url", "http://127.0.0.1:9",
                   "--embedder-export", str(bundles["dense"][1]), "--reranker-export", str(bundles["ce"][1]),
                   "--data-type", "byte")
    assert proc.returncode == 2 and "--data-type byte" in proc.stderr


def test_setup_with_a_new_export_undeploys_the_one_it_replaces(node, client, bundles, tmp_path):
    from viewrank.adapters.opensearch import workflow

    newer = export(f"dense:{bundles['dense'][0]}", tmp_path / "dense-again", ml_commons=True, parity=False,
                   name="dense-again")  # the same model under another file name: another zip, another hash
    first = workflow.setup(node.url, None, "viewrank-test-replace", replace=True,
                           embedder_export=str(bundles["dense"][1]), reranker_export=str(bundles["ce"][1]))
    second = workflow.setup(node.url, None, "viewrank-test-replace", embedder_export=str(newer),
                            reranker_export=str(bundles["ce"][1]))
    assert second.embedding_model != first.embedding_model
    assert second.rerank_model == first.rerank_model  # unchanged bundle: reused, still deployed
    state = client.transport.perform_request("GET", f"{C.ML}/models/{first.embedding_model}")["model_state"]
    assert state != "DEPLOYED"
    C.check_model_deployed(client, second.embedding_model)
    C.check_model_deployed(client, second.rerank_model)


@needs_scifact
def test_verify_local_runs_the_gate_through_the_node(client, bundles):
    from viewrank.adapters.opensearch.verify_local import verify_local
    from viewrank.manager import get_host

    for key, name in (("dense", DENSE_NAME), ("ce", CE_NAME)):
        report = verify_local(client, bundles[key][1], parity_data=str(SCIFACT), parity_queries=3, name=name,
                              host=get_host())
        assert report["passed"], report["failures"]
        assert report["variant"] == "fp32" and report["report"]["min_kendall_tau"] == 1.0
        assert report["report"]["max_abs_diff"] < 1e-3
        C.check_model_deployed(client, report["model_id"])


@needs_scifact
def test_verify_local_fails_a_bundle_that_is_not_the_model_it_claims(client, bundles, tmp_path):
    from tests.conftest import run_cli
    from viewrank.plugins.mvp.cross_encoder import CrossEncoder

    other = tmp_path / "other-ce"  # the same backbone with another random scoring head
    CrossEncoder.from_backbone(bundles["dense"][0], max_length=64, seed=123).save(other)
    out = tmp_path / "report.json"
    proc = run_cli("opensearch", "verify-local", str(bundles["ce"][1]), "--model", f"cross-encoder:{other}",
                   "--parity-data", str(SCIFACT), "--parity-queries", "3", "--report", str(out), "--name", CE_NAME)
    assert proc.returncode == 1 and "FAILED in the node" in proc.stdout
    import json

    report = json.loads(out.read_text())
    assert not report["passed"] and any("max abs diff" in f for f in report["failures"])


def test_an_int8_bundle_deploys_and_runs_the_int8_graph(client, bundles, tmp_path):
    """onnx 1.23 stamps ai.onnx.ml opset 5 on the quantiser's output, which ml-commons' ONNX
    Runtime 1.16.3 refuses at deploy; the bundle drops unused domains."""
    model_dir = bundles["dense"][0]
    out = export(f"dense:{model_dir}", tmp_path / "dense-int8", int8=True, ml_commons=True,
                 ml_commons_variant="int8", parity=False, name="dense-int8")
    model_id = C.register_local_model(client, out)
    got = np.array(C.predict_local_embedding(client, model_id, TEXTS))
    fp32 = np.array(get_host().embedder(f"dense:{model_dir}").embed(TEXTS, role="passage"))
    int8 = np.array(get_host().embedder(f"onnx:{out}@variant=int8").embed(TEXTS, role="passage"))
    assert got.shape == (len(TEXTS), 24) and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert 1e-6 < np.abs(got - fp32).max() < 0.05  # quantised: not the fp32 graph, and close to it
    assert np.abs(got - int8).max() < 0.05


def test_a_deploy_refused_by_an_open_memory_breaker_is_retried_until_it_closes(client, bundles, caplog):
    import threading
    import time

    # the breaker CI hit: ml-commons refuses deploys while JVM heap use is above its threshold
    # (85% by default, garbage included); threshold 0 keeps it open until the test closes it
    model_id = C.register_local_model(client, bundles["dense"][1], name="viewrank-breaker-test", replace=True)
    C.undeploy_model(client, model_id)

    def threshold(value):
        client.cluster.put_settings(body={"transient": {"plugins.ml_commons.jvm_heap_memory_threshold": value}})

    threshold(0)
    closer = threading.Timer(6.0, threshold, args=(None,))
    try:
        closer.start()
        started = time.monotonic()
        with caplog.at_level("WARNING", logger="viewrank.opensearch"):
            C.deploy_model(client, model_id, "deploying the breaker test model", timeout=120)
        assert time.monotonic() - started >= 5.0  # refused while the breaker was open
        assert any("memory breaker is open" in r.getMessage() for r in caplog.records)
        C.check_model_deployed(client, model_id)
    finally:
        closer.join()
        threshold(None)
    with pytest.raises(ViewrankError, match="Circuit Breaker is open"):  # a breaker that stays open is reported
        threshold(0)
        try:
            C.undeploy_model(client, model_id)
            C.deploy_model(client, model_id, "deploying the breaker test model", timeout=5)
        finally:
            threshold(None)
