"""``viewrank serve``: /embed, /rerank, /health, /metrics over HTTP (127.0.0.1 by default), with
dynamic batching of concurrent requests (``--batch-max-texts``, ``--batch-wait-ms``, ``--no-batching``)."""

from __future__ import annotations

import argparse
import functools
import os

from viewrank.errors import ViewrankError
from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("serve", help="HTTP inference service (/embed, /rerank) for ml-commons remote connectors")
    p.add_argument("--embedder", default=None, metavar="NAME[:ARG]", help="registered embedder, e.g. dense")
    p.add_argument("--reranker", default=None, metavar="NAME[:ARG]", help="registered reranker, e.g. mvp:DIR")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--token", default=os.environ.get("VIEWRANK_SERVE_TOKEN"),
                   help="require 'Authorization: Bearer TOKEN' (default: $VIEWRANK_SERVE_TOKEN, else none)")
    p.add_argument("--max-texts", type=int, default=512, help="texts per request (default 512)")
    p.add_argument("--max-chars", type=int, default=20_000, help="characters per text (default 20000)")
    p.add_argument("--max-body-bytes", type=int, default=None,
                   help="request body cap, enforced before reading (default: room for --max-texts x --max-chars)")
    p.add_argument("--max-queue", type=int, default=64,
                   help="requests held at once; more answer 503 with Retry-After (default 64)")
    p.add_argument("--request-timeout", type=float, default=120.0,
                   help="seconds a model call may take before the request answers 504 (default 120)")
    p.add_argument("--batch-max-texts", type=int, default=64,
                   help="dynamic batching: most texts (or rerank pairs) one model call merges from concurrent "
                        "requests; a larger request runs alone (default 64)")
    p.add_argument("--batch-wait-ms", type=float, default=5.0,
                   help="dynamic batching: most milliseconds a batch waits for requests still arriving (default 5)")
    p.add_argument("--no-batching", dest="batching", action="store_false",
                   help="one request per model call behind a lock (the behaviour before batching)")
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    if not args.embedder and not args.reranker:
        raise ViewrankError("nothing to serve: give --embedder and/or --reranker")
    for flag, value in (("--max-queue", args.max_queue), ("--max-texts", args.max_texts), ("--max-chars", args.max_chars),
                        ("--max-body-bytes", args.max_body_bytes if args.max_body_bytes is not None else 1),
                        ("--request-timeout", args.request_timeout), ("--batch-max-texts", args.batch_max_texts)):
        if value <= 0:
            raise ViewrankError(f"{flag} must be positive, got {value}")
    if args.batch_wait_ms < 0:
        raise ViewrankError(f"--batch-wait-ms must be >= 0, got {args.batch_wait_ms}")
    import uvicorn

    from viewrank.adapters.serve.app import create_app

    host = context.host
    embedder = host.embedder(args.embedder) if args.embedder else None
    reranker = host.reranker(args.reranker) if args.reranker else None
    app = create_app(embedder, reranker, token=args.token, max_texts=args.max_texts, max_chars=args.max_chars,
                     names={"embedder": args.embedder, "reranker": args.reranker}, max_body=args.max_body_bytes,
                     max_queue=args.max_queue, request_timeout=args.request_timeout, batching=args.batching,
                     batch_max_texts=args.batch_max_texts, batch_wait_ms=args.batch_wait_ms)
    # SIGTERM/SIGINT: stop accepting, finish the requests in flight and queued (up to 30 s), then
    # stop the batch workers and exit
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=30)
    return 0
