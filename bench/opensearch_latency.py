"""SciFact on a real local OpenSearch node: quality and latency of BM25, neural, hybrid, BM25+rerank.

    python bench/opensearch_latency.py [--dataset ../shared/data/scifact] [--limit N]
    python bench/opensearch_latency.py --index scifact-local --embedder-export exports/minilm-mlc \
        --reranker-export exports/ce-mlc --reranker cross-encoder:models/cross-encoder-1ep \
        --out bench/results/opensearch_local.json

Starts (or reuses) the node, runs `viewrank serve --embedder dense --reranker RERANKER` in a
child process for each model not given as an ml-commons export (exports run inside the node),
ingests SciFact through the text_embedding pipeline (skipped when the index already holds the
corpus), runs the four modes over the test queries and evaluates each run with Pyserini's
trec_eval. Compares the rerank mode with the same reranker in Python over the node's BM25 hits
and writes bench/results/opensearch.json.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchcli import read_result, write_result  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python_rerank_reference(client, index: str, spec: str, queries, qrels, depth: int) -> float:
    """The same reranker in-process over the node's own BM25 hits: what the rerank mode must match."""
    from viewrank.adapters.opensearch import client as C
    from viewrank.manager import get_host
    from viewrank.metrics import ndcg_at_k
    from viewrank.types import Candidate

    reranker = get_host().reranker(spec)
    run = {}
    for q in queries:
        resp = client.search(index=index, body={"size": depth, "query": {"match": {C.TEXT_FIELD: q.text}}})
        cands = [Candidate(h["_id"], h["_source"][C.TEXT_FIELD], float(h["_score"])) for h in resp["hits"]["hits"]]
        ranked = reranker.rerank(q, cands)
        run[q.qid] = dict(zip(ranked.docids, ranked.scores))
    return round(ndcg_at_k(run, qrels), 4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "scifact"))
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--limit", type=int, default=None, help="first N test queries")
    ap.add_argument("--modes", default="bm25,neural,hybrid,rerank", help="comma-separated modes to run")
    ap.add_argument("--rerank-depth", type=int, default=20, help="BM25 hits the rerank processor reorders")
    ap.add_argument("--index", default="scifact")
    ap.add_argument("--reranker", default="bi-encoder",
                    help="reranker spec: served remotely, and the Python reference (the torch model of --reranker-export)")
    ap.add_argument("--embedder-export", default=None, help="ml-commons export of the embedder: run it inside the node")
    ap.add_argument("--reranker-export", default=None, help="ml-commons export of --reranker: run it inside the node")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "opensearch.json"))
    args = ap.parse_args()
    index = args.index

    from viewrank.adapters.opensearch import client as C
    from viewrank.adapters.opensearch import node, workflow
    from viewrank.adapters.pyserini.evaluate import evaluate_run
    from viewrank.datasets import BeirDataset

    state = node.up()
    serve, url = None, None
    if not (args.embedder_export and args.reranker_export):
        port = free_port()
        serve = subprocess.Popen([sys.executable, "-m", "viewrank", "serve", "--embedder", "dense", "--reranker",
                                  args.reranker, "--port", str(port)], cwd=ROOT)
        url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600 if serve else 0):
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        ds = BeirDataset(args.dataset)
        client = C.connect(state.url)
        n_docs = sum(1 for _ in ds.iter_corpus())
        fresh = not client.indices.exists(index=index) or client.count(index=index)["count"] != n_docs
        st = workflow.setup(state.url, url, index, replace=fresh, embedder_export=args.embedder_export,
                            reranker_export=args.reranker_export)
        ingest = None
        if fresh:
            report = workflow.ingest(index, args.dataset)
            ingest = {"indexed": report.indexed, "failed": len(report.failed), "seconds": round(report.seconds, 1),
                      "docs_per_second": round(report.indexed / report.seconds, 2)}
        queries = ds.queries("test")[: args.limit] if args.limit else ds.queries("test")
        judged = ds.qrels("test")
        qrels = {q.qid: judged[q.qid] for q in queries}
        previous = read_result(args.out, {})
        rows = previous.get("runs", {})
        for mode in args.modes.split(","):
            run_path = ROOT / "runs" / "opensearch" / index / f"{mode}.trec"
            depth = args.rerank_depth if mode == "rerank" else args.depth
            path, lat = workflow.search_run(index, args.dataset, "test", mode, depth, run_path, limit=args.limit)
            ms = sorted(x * 1000 for x in lat)
            rows[mode] = {**evaluate_run(path, qrels), "p50_ms": round(statistics.median(ms), 1),
                          "p95_ms": round(ms[max(0, int(0.95 * len(ms)) - 1)], 1), "queries": len(ms),
                          "depth": depth}
            if mode == "rerank":
                rows[mode]["python_path_nDCG@10"] = python_rerank_reference(client, index, args.reranker, queries,
                                                                             qrels, depth)
            print(f"{mode:<8} " + "  ".join(f"{k} {v}" for k, v in rows[mode].items()), flush=True)
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=30)
    ingest = ingest or previous.get("ingest")
    from viewrank.exporters.cpu import describe

    result = {"opensearch": node.VERSION, "dataset": args.dataset, "index": index, "depth": args.depth,
              "models": {"embedding": st.embedding_source or "remote", "rerank": st.rerank_source or "remote",
                         "reranker": args.reranker},
              "ingest": ingest, "runs": rows,
              "machine": f"{describe()}; OpenSearch (and viewrank serve, for remote models) on the same machine",
              "date": time.strftime("%Y-%m-%d %H:%M")}
    write_result(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
