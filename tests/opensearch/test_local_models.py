"""Exported ml-commons bundles registered, deployed and run INSIDE a real OpenSearch node (DJL +
ONNX Runtime there, no viewrank serve): the node's outputs equal viewrank's own."""

from __future__ import annotations

import numpy as np
import pytest

from tests.exporters.conftest import export, tiny_bert
from viewrank.adapters.opensearch import client as C
from viewrank.errors import ViewrankError
from viewrank.manager import get_host

pytestmark = pytest.mark.opensearch

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
    model_id = C.register_local_model(client, export_dir, name="viewrank-test-local-dense")
    C.check_model_deployed(client, model_id)
    got = np.array(C.predict_local_embedding(client, model_id, TEXTS))
    want = np.array(get_host().embedder(f"dense:{model_dir}").embed(TEXTS, role="passage"))
    assert got.shape == (len(TEXTS), 24)  # the Matryoshka dim baked into the graph survives ml-commons
    assert np.abs(got - want).max() < 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)


def test_a_local_text_similarity_model_returns_cross_encoder_scores(client, bundles):
    model_dir, export_dir = bundles["ce"]
    model_id = C.register_local_model(client, export_dir, name="viewrank-test-local-ce")
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

    proc = run_cli("opensearch", "register-local", str(bundles["dense"][1]), "--name", "viewrank-test-cli",
                   "--url", node.url, check=True)
    model_id = json.loads(proc.stdout.strip().splitlines()[-1])["model_id"]
    C.check_model_deployed(client, model_id)
    assert len(C.predict_local_embedding(client, model_id, ["one text"])[0]) == 24
