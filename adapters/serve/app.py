"""The FastAPI app behind ``viewrank serve``.

Request and response shapes are the ones OpenSearch ml-commons remote connectors produce and
read with their built-in functions, so no Painless script is needed:

- ``POST /embed`` ``{"input": ["text", ...]}`` (what ``connector.pre_process.default.embedding``
  puts in ``${parameters.input}``) -> a JSON list of float lists (what
  ``connector.post_process.default.embedding`` reads). ``{"texts": [...], "role": "query"}``
  is accepted too and answers ``{"embeddings": [...], "dim": d}``.
- ``POST /rerank`` ``{"query": "...", "documents": ["...", ...], "top_n": k}`` (Cohere's shape,
  ``connector.pre_process.cohere.rerank``) -> ``{"results": [{"index": i, "relevance_score": s}]}``
  best first (``connector.post_process.cohere.rerank``). The whole list goes to the reranker in
  one call: MVP is listwise.
- ``GET /health`` and ``GET /health/live`` (the process answers), ``GET /health/ready`` (the
  models are loaded and answer a one-text probe; 503 otherwise), ``GET /metrics`` (Prometheus text).

Dynamic batching (on unless ``batching=False``): requests are validated first, then queued; a
worker per endpoint (:mod:`viewrank.adapters.serve.batching`) merges the queued ``/embed``
requests of the same role into one ``embed()`` call of at most ``batch_max_texts`` texts, waiting
at most ``batch_wait_ms`` for requests still being read, and hands each request its own rows.
``/rerank`` merges the (query, passage) pairs of several requests only for a pointwise reranker
(a :class:`viewrank.types.PairScorer`: the cross-encoder, the bi-encoder, an exported
cross-encoder graph; each pair scored on its own); any other reranker
(MVP is listwise: a candidate's score depends on the rest of its list) gets one request's list
per call, from the same queue. One model call runs at a time (a lock shared by the workers and
the readiness probe). ``batching=False``: one request per model call behind that lock.

Bad input answers 4xx with ``{"error": "..."}`` naming what was wrong; a bad request never
takes the service down. What a client can make the server hold is bounded: the body is capped
before it is read (``Content-Length`` over the cap: 413 at once; a chunked body is cut off at
the cap), JSON nested too deeply or holding numbers too long to convert is a 400, at most
``max_queue`` requests are in the server at once, queued ones included (more: 503 with
``Retry-After``), and a request whose answer takes over ``request_timeout`` (queueing included)
answers 504; if its batch has not started yet it is dropped from the queue. A 500 names no
exception internals (they go to the server's log); when a merged call fails, its requests are
run again one at a time, so only the one the model cannot take answers 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import numpy as np
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from viewrank.adapters.serve.batching import Batcher, BatcherClosed
from viewrank.types import Candidate, PairScorer, Query, RankedList

DEFAULT_MAX_TEXTS = 512
DEFAULT_MAX_CHARS = 20_000
DEFAULT_MAX_QUEUE = 64
DEFAULT_REQUEST_TIMEOUT = 120.0
DEFAULT_BATCH_MAX_TEXTS = 64
DEFAULT_BATCH_WAIT_MS = 5.0
READY_TTL_S = 10.0

log = logging.getLogger("viewrank.serve")


def default_max_body(max_texts: int, max_chars: int) -> int:
    """Room for ``max_texts`` texts of ``max_chars`` ASCII characters plus the JSON around them."""
    return max_texts * (max_chars + 16) + 64 * 1024


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Metrics:
    """Counters and latency samples per endpoint, exposed in Prometheus' text format."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.texts: dict[str, int] = defaultdict(int)
        # per path: model calls the batcher made, requests and texts they served, the largest
        self.batches: dict[str, int] = defaultdict(int)
        self.batched_requests: dict[str, int] = defaultdict(int)
        self.batched_texts: dict[str, int] = defaultdict(int)
        self.batch_max_requests: dict[str, int] = defaultdict(int)
        self.batch_max_texts: dict[str, int] = defaultdict(int)
        self.queued: dict[str, Callable[[], int]] = {}  # per path: requests waiting for a batch now

    def record_batch(self, path: str, requests: int, texts: int) -> None:
        with self.lock:
            self.batches[path] += 1
            self.batched_requests[path] += requests
            self.batched_texts[path] += texts
            self.batch_max_requests[path] = max(self.batch_max_requests[path], requests)
            self.batch_max_texts[path] = max(self.batch_max_texts[path], texts)

    def record(self, path: str, status: int, seconds: float, texts: int = 0) -> None:
        with self.lock:
            self.requests[(path, status)] += 1
            samples = self.latency[path]
            samples.append(seconds)
            if len(samples) > 10_000:
                del samples[: len(samples) - 10_000]
            self.texts[path] += texts

    def render(self) -> str:
        lines = ["# TYPE viewrank_requests_total counter"]
        with self.lock:
            for (path, status), n in sorted(self.requests.items()):
                lines.append(f'viewrank_requests_total{{path="{path}",status="{status}"}} {n}')
            lines.append("# TYPE viewrank_texts_total counter")
            for path, n in sorted(self.texts.items()):
                lines.append(f'viewrank_texts_total{{path="{path}"}} {n}')
            lines.append("# TYPE viewrank_request_seconds summary")
            for path, samples in sorted(self.latency.items()):
                for q in (0.5, 0.95):
                    lines.append(f'viewrank_request_seconds{{path="{path}",quantile="{q}"}} {float(np.quantile(samples, q)):.6f}')
                lines.append(f'viewrank_request_seconds_count{{path="{path}"}} {len(samples)}')
            for name, kind, table, what in (
                    ("viewrank_batches_total", "counter", self.batches, "model calls made by the batcher"),
                    ("viewrank_batch_requests_total", "counter", self.batched_requests,
                     "requests those calls answered"),
                    ("viewrank_batch_texts_total", "counter", self.batched_texts,
                     "texts (or pairs, or lists' candidates) in them"),
                    ("viewrank_batch_requests_max", "gauge", self.batch_max_requests,
                     "most requests merged into one call"),
                    ("viewrank_batch_texts_max", "gauge", self.batch_max_texts, "most texts in one call")):
                lines.append(f"# HELP {name} {what}")
                lines.append(f"# TYPE {name} {kind}")
                for path, n in sorted(table.items()):
                    lines.append(f'{name}{{path="{path}"}} {n}')
            lines.append("# HELP viewrank_queued requests validated and waiting for a model call")
            lines.append("# TYPE viewrank_queued gauge")
            for path, queued in sorted(self.queued.items()):
                lines.append(f'viewrank_queued{{path="{path}"}} {queued()}')
        return "\n".join(lines) + "\n"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, never more than ``limit`` bytes of it: a declared length over the limit is
    refused before reading, a longer (chunked) body is cut off when it passes the limit."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest(400, f"Content-Length {declared[:40]!r} is not a number")
        if int(declared) > limit:
            raise BadRequest(413, f"request body is {int(declared)} bytes; the limit is {limit} (--max-body-bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"request body is over {limit} bytes, the limit (--max-body-bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadRequest(400, "JSON nested too deeply") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise BadRequest(400, "a number in the JSON is too long to convert") from None
    if not isinstance(data, dict):
        raise BadRequest(422, f"expected a JSON object, got {type(data).__name__}")
    return data


def text_list(data: dict, field: str, max_texts: int, max_chars: int, allow_str: bool = False) -> list[str]:
    value = data.get(field)
    if allow_str and isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise BadRequest(422, f"'{field}' must be a list of strings")
    if len(value) > max_texts:
        raise BadRequest(413, f"'{field}' has {len(value)} texts; the limit is {max_texts} per request")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise BadRequest(422, f"'{field}[{i}]' must be a string, got {type(item).__name__}")
        if len(item) > max_chars:
            raise BadRequest(413, f"'{field}[{i}]' has {len(item)} characters; the limit is {max_chars}")
    return value


@dataclass
class Work:
    """A validated request, ready for the model: ``items`` go to a model call under ``key``
    (only equal keys share a call), ``render`` turns the outputs of its items into the answer."""

    key: Hashable
    items: list
    render: Callable[[Any], Any]


def create_app(embedder: Any = None, reranker: Any = None, token: str | None = None,
               max_texts: int = DEFAULT_MAX_TEXTS, max_chars: int = DEFAULT_MAX_CHARS,
               names: dict[str, str] | None = None, max_body: int | None = None,
               max_queue: int = DEFAULT_MAX_QUEUE, request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
               batching: bool = True, batch_max_texts: int = DEFAULT_BATCH_MAX_TEXTS,
               batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS):
    """A FastAPI app serving ``embedder`` and/or ``reranker`` (either may be None).

    ``batching``: concurrent requests share model calls (:mod:`.batching`, at most
    ``batch_max_texts`` texts or pairs a call, waiting at most ``batch_wait_ms`` for more);
    False: one request per model call behind a lock (the behaviour before batching)."""
    metrics = Metrics()
    model_lock = threading.Lock()  # one model call at a time: torch already uses every core
    names = names or {}
    body_limit = max_body if max_body is not None else default_max_body(max_texts, max_chars)
    expected = f"Bearer {token}".encode() if token is not None else None
    state = {"in_server": 0, "ready_at": None}
    # a PairScorer scores each pair on its own (pointwise), so several requests' pairs can share a
    # call; any other (MVP is listwise, fuse:W normalises over the list) gets one list a call
    merge_pairs = batching and isinstance(reranker, PairScorer)

    def embed_call(key: Hashable, texts: list) -> np.ndarray:
        vectors = np.asarray(embedder.embed(texts, role=key[1]), dtype=np.float32)
        if vectors.ndim != 2:
            raise RuntimeError(f"the embedder returned an array of shape {vectors.shape}, not (texts, dim)")
        return vectors

    def pairs_call(key: Hashable, pairs: list) -> np.ndarray:
        if not pairs:
            return np.zeros(0)
        return np.asarray(reranker.score_pairs([q for q, _ in pairs], [p for _, p in pairs]), dtype=np.float64)

    def list_call(key: Hashable, lists: list) -> list:
        return [reranker.rerank(Query("q", query), candidates) for query, candidates in lists]

    def on_batch(path: str):
        def record(jobs: int, items: list) -> None:
            texts = sum(len(c) for _, c in items) if path == "/rerank" and not merge_pairs else len(items)
            metrics.record_batch(path, jobs, texts)
        return record

    batchers: dict[str, Batcher] = {}
    if batching:
        wait = batch_wait_ms / 1000.0
        if embedder is not None:
            batchers["/embed"] = Batcher(embed_call, max_items=batch_max_texts, max_wait=wait, lock=model_lock,
                                         on_batch=on_batch("/embed"), name="embed")
        if reranker is not None:
            batchers["/rerank"] = Batcher(pairs_call if merge_pairs else list_call, max_items=batch_max_texts,
                                          max_wait=wait, merge=merge_pairs, lock=model_lock,
                                          on_batch=on_batch("/rerank"), name="rerank")

    metrics.queued = {path: batcher.queued for path, batcher in batchers.items()}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        # uvicorn has let the requests in flight finish (graceful shutdown); the queues are
        # empty unless it gave up on some, whose jobs were cancelled. Stop the workers.
        for batcher in batchers.values():
            if not await run_in_threadpool(batcher.close, 30.0):
                log.warning("%s batcher still running a model call at shutdown", batcher.name)

    app = FastAPI(title="viewrank serve", version="1", lifespan=lifespan)

    def check_auth(request: Request) -> None:
        if expected is None:
            return
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            raise BadRequest(401, "missing or wrong bearer token (send 'Authorization: Bearer <token>')")

    def work_texts(work: Work) -> int:
        """Texts in a request (for the metrics): a list's candidates, or its texts or pairs."""
        if work.key[0] == "list":
            return len(work.items[0][1])
        return len(work.items)

    def run_alone(work: Work) -> Any:
        """No batching: this request's items in one model call, under the lock."""
        call = embed_call if work.key[0] == "embed" else list_call  # (pairs are merged only when batching)
        with model_lock:
            return call(work.key, work.items)

    async def handle(request: Request, path: str, prepare: Callable[[dict], Work]) -> Any:
        started = time.perf_counter()
        status, n = 200, 0
        if state["in_server"] >= max_queue:
            metrics.record(path, 503, time.perf_counter() - started)
            return JSONResponse({"error": f"server busy: {max_queue} requests already queued (--max-queue); retry"},
                                status_code=503, headers={"Retry-After": "1"})
        state["in_server"] += 1
        batcher = batchers.get(path)
        try:
            # validate everything before the model sees it: a bad request never joins a batch
            with batcher.arriving() if batcher is not None else contextlib.nullcontext():
                check_auth(request)
                work = prepare(parse_json(await read_body(request, body_limit)))
                if batcher is not None:
                    try:
                        pending = asyncio.wrap_future(batcher.submit(work.key, work.items))
                    except BatcherClosed:
                        raise BadRequest(503, "the server is shutting down; retry") from None
                else:
                    pending = run_in_threadpool(run_alone, work)
            try:
                outputs = await asyncio.wait_for(pending, timeout=request_timeout)
            except asyncio.TimeoutError:
                raise BadRequest(504, f"the model did not answer within {request_timeout:g} s (--request-timeout)") from None
            answer = JSONResponse(work.render(outputs))
            n = work_texts(work)
            return answer
        except BadRequest as exc:
            status = exc.status
            headers = {"Retry-After": "1"} if exc.status == 503 else None
            return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)
        except Exception:  # a model failure is the server's fault, and must not kill it
            status = 500
            log.exception("%s failed", path)
            return JSONResponse({"error": "internal error while running the model (details are in the server's log)"},
                                status_code=500)
        finally:
            state["in_server"] -= 1
            metrics.record(path, status, time.perf_counter() - started, n)

    def prepare_embed(data: dict) -> Work:
        if embedder is None:
            raise BadRequest(404, "this server has no embedder (start it with --embedder)")
        bare = "input" in data
        if bare:
            texts = text_list(data, "input", max_texts, max_chars, allow_str=True)
        else:
            texts = text_list(data, "texts", max_texts, max_chars)
        role = data.get("role", "passage")
        if role not in ("query", "passage"):
            raise BadRequest(422, f"'role' must be 'query' or 'passage', got {role!r}")

        def render(vectors: np.ndarray) -> Any:
            rows = vectors.tolist()
            return rows if bare else {"embeddings": rows, "dim": int(vectors.shape[1])}

        return Work(("embed", role), texts, render)

    def prepare_rerank(data: dict) -> Work:
        if reranker is None:
            raise BadRequest(404, "this server has no reranker (start it with --reranker)")
        query = data.get("query")
        if not isinstance(query, str) or not query.strip():
            raise BadRequest(422, "'query' must be a non-empty string")
        if len(query) > max_chars:
            raise BadRequest(413, f"'query' has {len(query)} characters; the limit is {max_chars}")
        docs = text_list(data, "documents", max_texts, max_chars)
        top_n = data.get("top_n", len(docs))
        if top_n is None:
            top_n = len(docs)
        if not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 0:
            raise BadRequest(422, f"'top_n' must be a non-negative integer, got {top_n!r}")
        candidates = [Candidate(str(i), text) for i, text in enumerate(docs)]

        def answer(ranked: RankedList) -> Any:
            # 9 significant digits: ml-commons parses longer decimals (float32 scores printed as
            # doubles have 17) as BigDecimal, which its Cohere post-process cannot cast to Double.
            return {"results": [{"index": int(item.docid), "relevance_score": float(f"{item.score:.9g}")}
                                for item in ranked.items[:top_n]]}

        if merge_pairs:  # pointwise scores: this request's pairs may share a call with other requests'
            return Work(("pairs",), [(query, text) for text in docs],
                        lambda scores: answer(RankedList.from_scores("q", candidates, list(scores))))
        # listwise (or unknown): the whole list in one call of its own
        return Work(("list",), [(query, candidates)], lambda ranked: answer(ranked[0]))

    @app.post("/embed")
    async def embed(request: Request):
        return await handle(request, "/embed", prepare_embed)

    @app.post("/rerank")
    async def rerank(request: Request):
        return await handle(request, "/rerank", prepare_rerank)

    batching_info = ({"max_texts": batch_max_texts, "wait_ms": batch_wait_ms,
                      "rerank": None if reranker is None else ("pairs merged" if merge_pairs else "one list per call")}
                     if batching else None)

    @app.get("/health")
    @app.get("/health/live")
    async def health():
        return {"status": "ok", "embedder": names.get("embedder") if embedder is not None else None,
                "reranker": names.get("reranker") if reranker is not None else None,
                "dim": getattr(embedder, "dim", None), "batching": batching_info}

    def probe() -> None:
        with model_lock:
            if embedder is not None:
                embedder.embed(["ready"], role="query")
            if reranker is not None:
                reranker.rerank(Query("ready", "ready"), [Candidate("0", "ready")])

    @app.get("/health/ready")
    async def ready():
        """Ready once the models answer a one-text probe (re-probed at most every 10 s)."""
        now = time.monotonic()
        if state["ready_at"] is None or now - state["ready_at"] > READY_TTL_S:
            try:
                await asyncio.wait_for(run_in_threadpool(probe), timeout=request_timeout)
            except Exception as exc:
                log.warning("readiness probe failed: %s: %s", type(exc).__name__, exc)
                state["ready_at"] = None
                return JSONResponse({"status": "not ready", "error": "the model did not answer the probe"},
                                    status_code=503)
            state["ready_at"] = now
        return {"status": "ready"}

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(metrics.render())

    return app
