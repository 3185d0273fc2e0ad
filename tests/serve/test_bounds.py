"""viewrank serve bounds what a client can make it hold: body size, nesting, numbers, queue, time."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import numpy as np
import pytest

from tests.serve.conftest import CharEmbedder, WordOverlap, start_server
from viewrank.types import ScoringReranker


class Slow(ScoringReranker):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def score(self, query, passages):
        time.sleep(self.seconds)
        return np.zeros(len(passages))


class Broken(ScoringReranker):
    def score(self, query, passages):
        raise RuntimeError("secret-internal-detail at /srv/models/x.py line 7")


@pytest.fixture
def serve():
    """Start apps on demand; every server is stopped at the end of the test."""
    from viewrank.adapters.serve.app import create_app

    started = []

    def make(**kw):
        kw.setdefault("names", {"embedder": "chars", "reranker": "r"})
        srv, thread, url = start_server(create_app(**kw))
        started.append((srv, thread))
        return httpx.Client(base_url=url, timeout=30)

    yield make
    for srv, thread in started:
        srv.should_exit = True
        thread.join(timeout=10)


def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(serve):
    client = serve(embedder=CharEmbedder(), max_body=1000)
    r = client.post("/embed", content=b"x" * 2000, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "2000 bytes; the limit is 1000" in r.json()["error"]
    assert client.post("/embed", json={"input": ["a"]}).status_code == 200


def test_a_chunked_body_is_cut_off_at_the_cap(serve):
    client = serve(embedder=CharEmbedder(), max_body=1000)

    def chunks():
        yield b'{"input": ["'
        for _ in range(50):
            yield b"y" * 100
        yield b'"]}'

    r = client.post("/embed", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers  # really chunked
    assert r.status_code == 413 and "over 1000 bytes" in r.json()["error"]


def test_deep_nesting_and_huge_numbers_are_400_not_500(serve):
    client = serve(reranker=WordOverlap())
    r = client.post("/rerank", content=b'{"query": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]
    r = client.post("/rerank", content=b'{"query": "q", "documents": ["a"], "top_n": ' + b"9" * 5000 + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and "too long to convert" in r.json()["error"]
    assert client.get("/health/live").json()["status"] == "ok"


def test_a_500_names_no_internals(serve):
    client = serve(reranker=Broken())
    r = client.post("/rerank", json={"query": "q", "documents": ["a"]})
    assert r.status_code == 500 and "internal error" in r.json()["error"]
    assert "secret" not in r.text and "RuntimeError" not in r.text
    assert client.get("/health/ready").status_code == 503  # the model does not answer
    assert client.get("/health/live").status_code == 200


def test_a_full_queue_answers_503_with_retry_after(serve):
    client = serve(reranker=Slow(1.0), max_queue=2)
    body = {"query": "q", "documents": ["a"]}
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: client.post("/rerank", json=body), range(6)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(200) >= 1 and codes.count(503) >= 1 and set(codes) <= {200, 503}
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.headers["retry-after"] == "1" and "--max-queue" in busy.json()["error"]


def test_a_slow_model_call_answers_504(serve):
    client = serve(reranker=Slow(1.5), request_timeout=0.3)
    t0 = time.monotonic()
    r = client.post("/rerank", json={"query": "q", "documents": ["a"]})
    assert r.status_code == 504 and "within 0.3 s" in r.json()["error"]
    assert time.monotonic() - t0 < 1.4


def test_ready_when_the_models_answer(serve):
    client = serve(embedder=CharEmbedder(), reranker=WordOverlap())
    assert client.get("/health/ready").json() == {"status": "ready"}


def _json_values():
    from hypothesis import strategies as st

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
    return st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), kids, max_size=4)),
                        max_leaves=20)


def test_fuzzed_requests_never_take_it_down(serve):
    """Property: whatever the body (wrong types, nesting, numbers, bytes, empty), every answer is
    JSON, 2xx or 4xx naming the problem, and the server stays up."""
    import json

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client = serve(embedder=CharEmbedder(), reranker=WordOverlap(), max_texts=5, max_chars=50, max_body=4096)
    fields = st.fixed_dictionaries({}, optional={"query": _json_values(), "documents": _json_values(),
                                                 "top_n": _json_values(), "input": _json_values(),
                                                 "texts": _json_values(), "role": _json_values()})
    bodies = st.one_of(fields.map(lambda d: json.dumps(d).encode()), st.binary(max_size=300),
                       st.integers(1, 3000).map(lambda n: b'{"input": ' + b"[" * n + b"]" * n + b"}"),
                       st.integers(4000, 6000).map(lambda n: b'{"top_n": ' + b"7" * n + b"}"))

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(path=st.sampled_from(["/embed", "/rerank"]), body=bodies)
    def check(path, body):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code in (200, 400, 401, 404, 413, 422), (r.status_code, r.text[:200])
        answer = r.json()
        if r.status_code != 200:
            assert isinstance(answer, dict) and answer["error"]

    check()
    assert client.get("/health/ready").json() == {"status": "ready"}
