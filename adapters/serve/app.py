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
- ``GET /health``, ``GET /metrics`` (Prometheus text).

Bad input answers 4xx with ``{"error": "..."}`` naming what was wrong; a bad request never
takes the service down.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from viewrank.types import Candidate, Query

DEFAULT_MAX_TEXTS = 512
DEFAULT_MAX_CHARS = 20_000


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
        return "\n".join(lines) + "\n"


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
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


def create_app(embedder: Any = None, reranker: Any = None, token: str | None = None,
               max_texts: int = DEFAULT_MAX_TEXTS, max_chars: int = DEFAULT_MAX_CHARS,
               names: dict[str, str] | None = None):
    """A FastAPI app serving ``embedder`` and/or ``reranker`` (either may be None)."""
    app = FastAPI(title="viewrank serve", version="1")
    metrics = Metrics()
    model_lock = threading.Lock()  # one model call at a time: torch already uses every core
    names = names or {}

    def check_auth(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        if header != f"Bearer {token}":
            raise BadRequest(401, "missing or wrong bearer token (send 'Authorization: Bearer <token>')")

    async def handle(request: Request, path: str, work) -> Any:
        started = time.perf_counter()
        status, n = 200, 0
        try:
            check_auth(request)
            data = parse_json(await request.body())
            payload, n = await run_in_threadpool(work, data)
            return JSONResponse(payload)
        except BadRequest as exc:
            status = exc.status
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except Exception as exc:  # a model failure is the server's fault, and must not kill it
            status = 500
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=500)
        finally:
            metrics.record(path, status, time.perf_counter() - started, n)

    def do_embed(data: dict) -> tuple[Any, int]:
        if embedder is None:
            raise BadRequest(404, "this server has no embedder (start it with --embedder)")
        if "input" in data:
            texts = text_list(data, "input", max_texts, max_chars, allow_str=True)
            role = data.get("role", "passage")
        else:
            texts = text_list(data, "texts", max_texts, max_chars)
            role = data.get("role", "passage")
        if role not in ("query", "passage"):
            raise BadRequest(422, f"'role' must be 'query' or 'passage', got {role!r}")
        with model_lock:
            vectors = np.asarray(embedder.embed(texts, role=role), dtype=np.float32)
        rows = vectors.tolist()
        if "input" in data:
            return rows, len(texts)
        return {"embeddings": rows, "dim": int(vectors.shape[1]) if vectors.ndim == 2 else 0}, len(texts)

    def do_rerank(data: dict) -> tuple[Any, int]:
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
        with model_lock:
            ranked = reranker.rerank(Query("q", query), candidates)
        # 9 significant digits: ml-commons parses longer decimals (float32 scores printed as
        # doubles have 17) as BigDecimal, which its Cohere post-process cannot cast to Double.
        results = [{"index": int(item.docid), "relevance_score": float(f"{item.score:.9g}")}
                   for item in ranked.items[:top_n]]
        return {"results": results}, len(docs)

    @app.post("/embed")
    async def embed(request: Request):
        return await handle(request, "/embed", do_embed)

    @app.post("/rerank")
    async def rerank(request: Request):
        return await handle(request, "/rerank", do_rerank)

    @app.get("/health")
    async def health():
        return {"status": "ok", "embedder": names.get("embedder") if embedder is not None else None,
                "reranker": names.get("reranker") if reranker is not None else None,
                "dim": getattr(embedder, "dim", None)}

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(metrics.render())

    return app
