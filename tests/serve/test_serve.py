"""viewrank serve over real HTTP: ml-commons shapes, limits, auth, and robustness."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT
from tests.serve.conftest import free_port


def test_embed_in_the_ml_commons_default_shape(server):
    r = server.post("/embed", json={"input": ["a b", "abc"]})
    assert r.status_code == 200
    assert r.json() == [[3.0, 1.0, 1.0], [3.0, 0.0, 1.0]]  # a bare list of float lists
    r = server.post("/embed", json={"texts": ["x y"], "role": "query"})
    assert r.json() == {"embeddings": [[3.0, 1.0, -1.0]], "dim": 3}


def test_rerank_in_the_cohere_shape(server):
    body = {"query": "heart attack aspirin", "documents": ["coffee", "aspirin and heart attack", "heart"], "top_n": 2}
    r = server.post("/rerank", json=body)
    assert r.status_code == 200
    assert r.json() == {"results": [{"index": 1, "relevance_score": 3.0}, {"index": 2, "relevance_score": 1.0}]}
    r = server.post("/rerank", json={"query": "q", "documents": []})
    assert r.json() == {"results": []}


@pytest.mark.parametrize("body, status, message", [
    ({"input": ["x"] * 6}, 413, "'input' has 6 texts; the limit is 5"),
    ({"input": ["x" * 51]}, 413, "'input[0]' has 51 characters; the limit is 50"),
    ({"input": [1]}, 422, "'input[0]' must be a string"),
    ({"texts": "nope"}, 422, "'texts' must be a list of strings"),
    ({"texts": ["a"], "role": "doc"}, 422, "'role' must be 'query' or 'passage'"),
])
def test_embed_limits_answer_4xx(server, body, status, message):
    r = server.post("/embed", json=body)
    assert r.status_code == status and message in r.json()["error"]


@pytest.mark.parametrize("body, status, message", [
    ({"query": "", "documents": ["a"]}, 422, "'query' must be a non-empty string"),
    ({"query": "q", "documents": ["a"], "top_n": -1}, 422, "'top_n' must be a non-negative integer"),
    ({"query": "q"}, 422, "'documents' must be a list of strings"),
])
def test_rerank_bad_input_answers_4xx(server, body, status, message):
    r = server.post("/rerank", json=body)
    assert r.status_code == status and message in r.json()["error"]


def test_bad_json_and_bad_utf8_do_not_take_it_down(server):
    r = server.post("/rerank", content=b'{"query": "q", "documents": [', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    r = server.post("/embed", content=b'{"input": ["\xff\xfe"]}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid UTF-8" in r.json()["error"]
    r = server.post("/embed", content=b"[1, 2]")
    assert r.status_code == 422
    assert server.get("/health").json()["status"] == "ok"  # still up


def test_bearer_token_is_required(server):
    r = httpx.post(str(server.base_url) + "/embed", json={"input": ["a"]})
    assert r.status_code == 401 and "bearer token" in r.json()["error"]
    r = httpx.post(str(server.base_url) + "/embed", json={"input": ["a"]}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


def test_metrics_count_requests_and_errors(server):
    server.post("/embed", json={"input": ["a"]})
    server.post("/embed", json={"input": [2]})
    text = server.get("/metrics").text
    assert 'viewrank_requests_total{path="/embed",status="200"}' in text
    assert 'viewrank_requests_total{path="/embed",status="422"}' in text
    assert 'viewrank_request_seconds{path="/embed",quantile="0.95"}' in text


def test_health_names_the_models(server):
    assert server.get("/health").json() == {
        "status": "ok", "embedder": "chars", "reranker": "overlap", "dim": 3,
        "batching": {"max_texts": 64, "wait_ms": 5.0, "rerank": "one list per call"}}


def test_cli_serves_a_registered_reranker_on_loopback():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "viewrank", "serve", "--reranker", "none", "--port", str(port),
                             "--batch-max-texts", "8", "--batch-wait-ms", "2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        r = httpx.post(url + "/rerank", json={"query": "q", "documents": ["a", "b", "c"]})
        # 'none' keeps the first-stage order; every candidate has score 0, so the order is stable
        assert [x["index"] for x in r.json()["results"]] == [0, 1, 2]
        r = httpx.post(url + "/embed", json={"input": ["a"]})
        assert r.status_code == 404 and "no embedder" in r.json()["error"]
        assert httpx.get(url + "/health").json()["batching"] == {"max_texts": 8, "wait_ms": 2.0,
                                                                 "rerank": "one list per call"}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_cli_refuses_to_serve_nothing():
    proc = subprocess.run([sys.executable, "-m", "viewrank", "serve"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "nothing to serve" in proc.stderr


@pytest.mark.parametrize("flags, message", [
    (["--batch-max-texts", "0"], "--batch-max-texts must be positive"),
    (["--batch-wait-ms", "-1"], "--batch-wait-ms must be >= 0"),
])
def test_cli_refuses_bad_batching_flags(flags, message):
    proc = subprocess.run([sys.executable, "-m", "viewrank", "serve", "--reranker", "none", *flags],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr
