"""Dynamic batching in viewrank serve, over real HTTP against a real uvicorn.

The models are real (a tiny random BERT, or small deterministic ones) wrapped so that a test can
see every call they get and hold the model with a request holding the text "gate": the requests
sent meanwhile queue up in the batcher (the /metrics gauge ``viewrank_queued`` says how many),
and are merged when the gate opens. Nothing in the engine is replaced.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from tests.serve.conftest import CharEmbedder, WordOverlap, start_server
from viewrank.types import Candidate, PairScorer, Query


class Gated:
    """Wraps an embedder: records every call (role, texts); a call with the text 'gate' waits until
    :attr:`gate` is set; a call with ``fail_on`` among its texts raises."""

    def __init__(self, inner, fail_on: str | None = None) -> None:
        self.inner, self.fail_on = inner, fail_on
        self.dim = inner.dim
        self.calls: list[tuple[str, list[str]]] = []
        self.gate = threading.Event()

    def embed(self, texts, role="passage"):
        texts = list(texts)
        self.calls.append((role, texts))
        if "gate" in texts:
            assert self.gate.wait(20)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("secret-internal-detail: cannot embed this")
        return self.inner.embed(texts, role=role)

    def texts_per_call(self) -> list[int]:
        return [len(texts) for _, texts in self.calls if texts not in (["gate"], ["ready"])]


class PairOverlap(WordOverlap, PairScorer):
    """WordOverlap declared pointwise: it scores (query, passage) pairs of several queries at once."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()

    def score_pairs(self, queries, passages):
        self.calls.append(list(queries))
        if "gate" in queries:
            assert self.gate.wait(20)
        return np.concatenate([self.score(q, [p]) for q, p in zip(queries, passages)])


class GatedOverlap(WordOverlap):
    """The listwise case: not a PairScorer, so every call gets one query's list."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate = threading.Event()

    def score(self, query, passages):
        self.calls.append(query)
        if query == "gate":
            assert self.gate.wait(20)
        return super().score(query, passages)


@pytest.fixture
def serve():
    """Start apps on demand (``make(**create_app kwargs)`` -> (client, uvicorn server, thread));
    every server is stopped at the end of the test."""
    from viewrank.adapters.serve.app import create_app

    started = []

    def make(**kw):
        kw.setdefault("names", {"embedder": "e", "reranker": "r"})
        srv, thread, url = start_server(create_app(**kw))
        started.append((srv, thread))
        return httpx.Client(base_url=url, timeout=30), srv, thread

    yield make
    for srv, thread in started:
        srv.should_exit = True
        thread.join(timeout=10)


def metric(client: httpx.Client, name: str, path: str) -> float | None:
    m = re.search(rf'^{name}{{path="{re.escape(path)}"}} (\S+)$', client.get("/metrics").text, re.M)
    return float(m.group(1)) if m else None


def wait_until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def hold_and_queue(client, model, pool, path: str, bodies: list[dict], gate_body: dict):
    """Send ``gate_body`` (which holds the model), then ``bodies``; return their futures once all
    of them are queued behind it."""
    gate = pool.submit(client.post, path, json=gate_body)
    wait_until(lambda: len(model.calls) >= 1)
    answers = [pool.submit(client.post, path, json=body) for body in bodies]
    wait_until(lambda: metric(client, "viewrank_queued", path) == len(bodies))
    return gate, answers


def test_concurrent_clients_get_exactly_their_own_vectors(serve, tiny_dense):
    model = Gated(tiny_dense)
    client, _, _ = serve(embedder=model, batch_max_texts=64)
    bodies = [{"input": [f"request {i} text {j} " + "word " * (i % 5 + 2 * j) for j in range(1 + i % 4)]}
              for i in range(12)]
    with ThreadPoolExecutor(13) as pool:
        gate, answers = hold_and_queue(client, model, pool, "/embed", bodies, {"input": ["gate"]})
        model.gate.set()
        results = [f.result() for f in answers]
        assert gate.result().status_code == 200
    total = sum(len(b["input"]) for b in bodies)
    assert model.texts_per_call() == [total]  # the 12 requests went through the model in ONE call
    for body, r in zip(bodies, results):
        assert r.status_code == 200
        got = np.asarray(r.json(), dtype=np.float32)
        direct = tiny_dense.embed(body["input"])
        assert got.shape == direct.shape
        np.testing.assert_allclose(got, direct, atol=1e-5)  # its own rows, in its order
    assert metric(client, "viewrank_batch_requests_max", "/embed") == 12
    assert metric(client, "viewrank_batch_texts_max", "/embed") == total


def test_a_batch_never_holds_more_than_batch_max_texts_and_roles_do_not_mix(serve):
    model = Gated(CharEmbedder())
    client, _, _ = serve(embedder=model, batch_max_texts=5)
    passages = [{"input": [f"p{i} a", f"p{i} b c"]} for i in range(6)]
    queries = [{"texts": [f"q{i} x y"], "role": "query"} for i in range(3)]
    big = [{"texts": [f"big {i}" for i in range(7)]}]  # more than the limit: runs alone, whole
    bodies = passages + queries + big
    with ThreadPoolExecutor(len(bodies) + 1) as pool:
        _, answers = hold_and_queue(client, model, pool, "/embed", bodies, {"input": ["gate"]})
        model.gate.set()
        results = [f.result() for f in answers]
    for body, r in zip(bodies, results):
        assert r.status_code == 200
        texts = body.get("input") or body["texts"]
        rows = CharEmbedder().embed(texts, role=body.get("role", "passage")).tolist()
        assert (r.json() if "input" in body else r.json()["embeddings"]) == rows
    sizes = model.texts_per_call()
    assert sorted(sizes) == [3, 4, 4, 4, 7]  # 2+2 passages x3, the 3 queries together, the big one alone
    for role, texts in model.calls[1:]:
        assert all(t.startswith("q") for t in texts) == (role == "query")
    assert metric(client, "viewrank_batch_texts_max", "/embed") == 7
    assert metric(client, "viewrank_batches_total", "/embed") == 6  # the gate's call, then those 5


def test_an_invalid_request_among_valid_ones_fails_alone(serve):
    model = Gated(CharEmbedder(), fail_on="boom")
    client, _, _ = serve(embedder=model, max_texts=5, max_chars=50)
    good = [{"input": [f"good {i}", "x"]} for i in range(4)]
    poison = {"input": ["passes validation", "boom"]}  # valid JSON, but the model raises on it
    with ThreadPoolExecutor(8) as pool:
        _, answers = hold_and_queue(client, model, pool, "/embed", good[:2] + [poison] + good[2:], {"input": ["gate"]})
        # invalid requests are answered at once, while the model is still held: they never queue
        assert client.post("/embed", json={"input": ["ok", 7]}).status_code == 422
        assert client.post("/embed", json={"input": ["y" * 51]}).status_code == 413
        assert not any(f.done() for f in answers)
        model.gate.set()
        results = [f.result() for f in answers]
    bad = results.pop(2)
    assert bad.status_code == 500 and "internal error" in bad.json()["error"]
    assert "secret" not in bad.text and "RuntimeError" not in bad.text
    for body, r in zip(good, results):
        assert r.status_code == 200 and r.json() == CharEmbedder().embed(body["input"]).tolist()
    # the merged call failed, then each request ran alone: only the poisoned one failed
    assert model.texts_per_call() == [10, 2, 2, 2, 2, 2]
    assert client.get("/health/live").status_code == 200


def test_a_request_that_times_out_in_the_queue_never_reaches_the_model(serve):
    model = Gated(CharEmbedder())
    client, _, _ = serve(embedder=model, request_timeout=0.5)
    with ThreadPoolExecutor(2) as pool:
        gate = pool.submit(client.post, "/embed", json={"input": ["gate"]})
        wait_until(lambda: len(model.calls) >= 1)
        t0 = time.monotonic()
        late = client.post("/embed", json={"input": ["late"]})
        assert late.status_code == 504 and "within 0.5 s" in late.json()["error"]
        assert time.monotonic() - t0 < 2.0
        model.gate.set()
        assert gate.result().status_code == 504  # its call ran to the end, after its answer
    assert client.post("/embed", json={"input": ["after"]}).json() == [[5.0, 0.0, 1.0]]
    assert all("late" not in texts for _, texts in model.calls)
    assert metric(client, "viewrank_queued", "/embed") == 0


def test_shutdown_drains_the_queue(serve):
    model = Gated(CharEmbedder())
    client, srv, thread = serve(embedder=model, batch_max_texts=4)
    bodies = [{"input": [f"queued {i}", "z"]} for i in range(6)]
    with ThreadPoolExecutor(7) as pool:
        gate, answers = hold_and_queue(client, model, pool, "/embed", bodies, {"input": ["gate"]})
        srv.should_exit = True  # what SIGTERM does: stop accepting, let what is in flight finish
        time.sleep(0.5)
        assert not any(f.done() for f in answers)
        model.gate.set()
        results = [f.result() for f in answers]
        assert gate.result().status_code == 200
    for body, r in zip(bodies, results):
        assert r.status_code == 200 and r.json() == CharEmbedder().embed(body["input"]).tolist()
    assert model.texts_per_call() == [4, 4, 4]
    thread.join(timeout=10)  # lifespan shutdown joined the batch worker
    assert not thread.is_alive()
    with pytest.raises(httpx.TransportError):
        client.post("/embed", json={"input": ["too late"]})


def test_rerank_merges_pairs_of_a_pointwise_reranker(serve):
    model = PairOverlap()
    client, _, _ = serve(reranker=model, batch_max_texts=100)
    docs = ["aspirin and heart attack", "coffee", "heart", "vitamin d bone", "bone fractures", "sleep"]
    bodies = [{"query": q, "documents": docs[i % 3 :], "top_n": 3}
              for i, q in enumerate(["heart attack aspirin", "vitamin d", "bone fractures", "sleep heart",
                                     "coffee heart", "aspirin"])]
    assert client.get("/health").json()["batching"]["rerank"] == "pairs merged"
    with ThreadPoolExecutor(7) as pool:
        _, answers = hold_and_queue(client, model, pool, "/rerank", bodies,
                                    {"query": "gate", "documents": ["a"]})
        model.gate.set()
        results = [f.result() for f in answers]
    for body, r in zip(bodies, results):
        ranked = WordOverlap().rerank(Query("q", body["query"]), [Candidate(str(i), d) for i, d in enumerate(body["documents"])])
        assert r.status_code == 200
        assert r.json()["results"] == [{"index": int(x.docid), "relevance_score": x.score} for x in ranked.items[:3]]
    assert len(model.calls) == 2 and len(set(model.calls[1])) == len(bodies)  # the gate, then all six in one call
    assert metric(client, "viewrank_batch_requests_max", "/rerank") == len(bodies)


def test_a_listwise_reranker_gets_one_list_per_call(serve):
    model = GatedOverlap()
    client, _, _ = serve(reranker=model)
    assert client.get("/health").json()["batching"]["rerank"] == "one list per call"
    bodies = [{"query": f"word{i} common", "documents": [f"word{i}", f"common word{i}", "none"]} for i in range(5)]
    with ThreadPoolExecutor(6) as pool:
        _, answers = hold_and_queue(client, model, pool, "/rerank", bodies, {"query": "gate", "documents": ["a"]})
        model.gate.set()
        results = [f.result() for f in answers]
    for r in results:
        assert r.status_code == 200 and r.json()["results"] == [{"index": 1, "relevance_score": 2.0},
                                                                {"index": 0, "relevance_score": 1.0},
                                                                {"index": 2, "relevance_score": 0.0}]
    assert sorted(model.calls[1:]) == sorted(b["query"] for b in bodies)  # one query per call
    assert metric(client, "viewrank_batch_requests_max", "/rerank") == 1
    assert metric(client, "viewrank_batch_texts_max", "/rerank") == 3


def test_no_batching_runs_one_request_per_call(serve):
    model = Gated(CharEmbedder())
    client, _, _ = serve(embedder=model, batching=False)
    assert client.get("/health").json()["batching"] is None
    bodies = [{"input": [f"solo {i}", "w"]} for i in range(5)]
    with ThreadPoolExecutor(6) as pool:
        gate = pool.submit(client.post, "/embed", json={"input": ["gate"]})
        wait_until(lambda: len(model.calls) >= 1)
        answers = [pool.submit(client.post, "/embed", json=b) for b in bodies]
        time.sleep(0.5)
        model.gate.set()
        results = [f.result() for f in answers]
        assert gate.result().status_code == 200
    for body, r in zip(bodies, results):
        assert r.status_code == 200 and r.json() == CharEmbedder().embed(body["input"]).tolist()
    assert model.texts_per_call() == [2] * 5
    assert metric(client, "viewrank_batches_total", "/embed") is None


def test_one_client_does_not_wait_for_a_batch(serve):
    model = Gated(CharEmbedder())
    client, _, _ = serve(embedder=model, batch_wait_ms=3000)
    client.post("/embed", json={"input": ["warm"]})
    t0 = time.monotonic()
    assert client.post("/embed", json={"input": ["alone"]}).status_code == 200
    assert time.monotonic() - t0 < 1.0  # nothing else was arriving, so the batch started at once


def test_a_batch_waits_for_a_request_still_arriving(serve):
    """A request whose body is still uploading counts as arriving: the batch waits for it."""
    model = Gated(CharEmbedder())
    client, _, _ = serve(embedder=model, batch_wait_ms=3000)

    def slow_body():
        yield b'{"input": ["slow'
        time.sleep(0.6)
        yield b' one"]}'

    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(client.post, "/embed", content=slow_body(), headers={"content-type": "application/json"})
        time.sleep(0.3)  # its headers are in: the server is reading its body
        fast = client.post("/embed", json={"input": ["fast"]})
        assert slow.result().json() == [[8.0, 1.0, 1.0]]
    assert fast.json() == [[4.0, 0.0, 1.0]]
    assert model.calls == [("passage", ["fast", "slow one"])]
