"""SciFact on a real local OpenSearch node: quality and latency of BM25, neural, hybrid, BM25+rerank.

    python bench/opensearch_latency.py [--dataset ../shared/data/scifact] [--limit N]

Starts (or reuses) the node, runs `viewrank serve --embedder dense --reranker bi-encoder` in a
child process, ingests SciFact through the text_embedding pipeline (skipped when the index
already holds the corpus), runs the four modes over the test queries and evaluates each run
with Pyserini's trec_eval. Compares with the Pyserini/Python path (BM25 index + the same
models) and writes bench/results/opensearch.json.
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

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python_rerank_reference(client, queries, qrels, depth: int) -> float:
    """The same reranker in-process over the node's own BM25 hits: what the rerank mode must match."""
    from viewrank.adapters.opensearch import client as C
    from viewrank.manager import get_host
    from viewrank.metrics import ndcg_at_k
    from viewrank.types import Candidate

    reranker = get_host().reranker("bi-encoder")
    run = {}
    for q in queries:
        resp = client.search(index="scifact", body={"size": depth, "query": {"match": {C.TEXT_FIELD: q.text}}})
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
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "opensearch.json"))
    args = ap.parse_args()

    from viewrank.adapters.opensearch import client as C
    from viewrank.adapters.opensearch import node, workflow
    from viewrank.adapters.pyserini.evaluate import evaluate_run
    from viewrank.datasets import BeirDataset
    from viewrank.runs import atomic_write_text

    state = node.up()
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "viewrank", "serve", "--embedder", "dense", "--reranker",
                              "bi-encoder", "--port", str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        ds = BeirDataset(args.dataset)
        client = C.connect(state.url)
        n_docs = sum(1 for _ in ds.iter_corpus())
        fresh = not client.indices.exists(index="scifact") or client.count(index="scifact")["count"] != n_docs
        workflow.setup(state.url, url, "scifact", replace=fresh)
        ingest = None
        if fresh:
            report = workflow.ingest("scifact", args.dataset)
            ingest = {"indexed": report.indexed, "failed": len(report.failed), "seconds": round(report.seconds, 1),
                      "docs_per_second": round(report.indexed / report.seconds, 2)}
        queries = ds.queries("test")[: args.limit] if args.limit else ds.queries("test")
        judged = ds.qrels("test")
        qrels = {q.qid: judged[q.qid] for q in queries}
        previous = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
        rows = previous.get("runs", {})
        for mode in args.modes.split(","):
            run_path = ROOT / "runs" / "opensearch" / f"{mode}.trec"
            depth = args.rerank_depth if mode == "rerank" else args.depth
            path, lat = workflow.search_run("scifact", args.dataset, "test", mode, depth, run_path, limit=args.limit)
            ms = sorted(x * 1000 for x in lat)
            rows[mode] = {**evaluate_run(path, qrels), "p50_ms": round(statistics.median(ms), 1),
                          "p95_ms": round(ms[max(0, int(0.95 * len(ms)) - 1)], 1), "queries": len(ms),
                          "depth": depth}
            if mode == "rerank":
                rows[mode]["python_path_nDCG@10"] = python_rerank_reference(client, queries, qrels, depth)
            print(f"{mode:<8} " + "  ".join(f"{k} {v}" for k, v in rows[mode].items()), flush=True)
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    ingest = ingest or previous.get("ingest")
    result = {"opensearch": node.VERSION, "dataset": args.dataset, "depth": args.depth, "ingest": ingest,
              "runs": rows, "machine": "2 shared CPU cores; serve and OpenSearch on the same machine"}
    atomic_write_text(args.out, json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
