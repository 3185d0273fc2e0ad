"""The Python/Pyserini path of OpenSearch's hybrid query, for a like-for-like comparison.

    python bench/hybrid_reference.py --dense-index indexes/scifact-dense [--bm25-index indexes/scifact]

OpenSearch's hybrid mode (adapters/opensearch/client.py) runs a BM25 ``match`` and a ``neural``
query for the top ``k`` each, min-max normalises each sub-query's scores over its own hits,
and combines them with the normalization-processor's weighted arithmetic mean (weights 0.3 BM25,
0.7 neural; a document missing from a sub-query counts 0 there). This script applies the same
rule to Pyserini's BM25 (LuceneSearcher) and Pyserini's FaissSearcher over a ``viewrank encode``
index of the same MiniLM, and compares with the node's number in bench/results/opensearch.json.
Writes bench/results/hybrid_reference.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewrank.datasets import BeirDataset
from viewrank.metrics import evaluate
from viewrank.plugins.first_stage import minmax

from benchcli import read_result, write_result  # bench/ is on sys.path when a bench script runs


def combine(bm25: list[tuple[str, float]], dense: list[tuple[str, float]], weights=(0.3, 0.7)) -> dict[str, float]:
    fused: dict[str, float] = {}
    for hits, w in ((bm25, weights[0]), (dense, weights[1])):
        for (docid, _), s in zip(hits, minmax([s for _, s in hits])):
            fused[docid] = fused.get(docid, 0.0) + w * float(s)
    total = sum(weights)
    return {d: s / total for d, s in fused.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="../shared/data/scifact")
    ap.add_argument("--bm25-index", default="indexes/scifact")
    ap.add_argument("--dense-index", required=True, help="viewrank encode --embedder dense index")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--weights", default="0.3,0.7", help="BM25,neural weights (as the OpenSearch pipeline)")
    ap.add_argument("--opensearch-results", default="bench/results/opensearch.json")
    ap.add_argument("--out", default="bench/results/hybrid_reference.json")
    args = ap.parse_args(argv)
    weights = tuple(float(x) for x in args.weights.split(","))

    from viewrank.adapters.pyserini.dense_search import search
    from viewrank.adapters.pyserini.lucene import Bm25

    ds = BeirDataset(args.dataset)
    queries = ds.queries("test")
    qrels = ds.qrels("test")
    bm25 = Bm25(args.bm25_index).search(queries, args.k)
    dense = {r.qid: list(zip(r.docids, r.scores)) for r in search(args.dense_index, queries, mode="dense", k=args.k).ranked}
    runs = {
        "bm25": {q.qid: dict(bm25[q.qid]) for q in queries},
        "dense": {q.qid: dict(dense[q.qid]) for q in queries},
        "hybrid": {q.qid: combine(bm25[q.qid], dense[q.qid], weights) for q in queries},
    }
    metrics = {name: {k: round(v, 4) for k, v in evaluate(run, {q.qid: qrels[q.qid] for q in queries}).items()}
               for name, run in runs.items()}
    node = {}
    if Path(args.opensearch_results).is_file():
        node = {m: r.get("nDCG@10") for m, r in read_result(args.opensearch_results, what="--opensearch-results")["runs"].items()}
    print(f"SciFact test, top {args.k} per sub-query, min-max + weighted mean {weights}")
    print(f"{'run':<8}{'Python nDCG@10':>16}{'OpenSearch':>12}{'diff':>8}")
    for name, m in metrics.items():
        other = node.get({"dense": "neural"}.get(name, name))
        diff = f"{m['nDCG@10'] - other:+.4f}" if other is not None else "-"
        print(f"{name:<8}{m['nDCG@10']:>16.4f}{(other if other is not None else float('nan')):>12.4f}{diff:>8}")
    report = {"bench": "hybrid_reference", "k": args.k, "weights": list(weights), "python_path": metrics,
              "opensearch_nDCG@10": node}
    write_result(Path(args.out), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
