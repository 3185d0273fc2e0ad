"""One node vs a 3-node local cluster on SciFact, and the 3-node fault run.

    python bench/opensearch_cluster.py [--dataset ../shared/data/scifact] [--export exports/minilm-mlc]
                                       [--kills 3] [--limit-docs N] [--out bench/results/opensearch_cluster.json]

The zero-shot MiniLM embedder runs INSIDE the nodes (an ``export onnx dense --ml-commons`` bundle,
exported first when ``--export`` is missing). For each layout, one node (1 shard, no replica) and
three nodes (3 shards, 1 replica, all on this machine's cores): ingest SciFact's corpus through the
``text_embedding`` pipeline (documents/s), then the 300 test queries as ``neural`` and ``hybrid``
(min-max, 0.3/0.7) searches, top 100 (p50/p95 wall time, nDCG@10). The layouts run one after the
other, never side by side.

Then the fault run on the cluster: the corpus is ingested again into a second index while a node
is SIGKILLed and restarted ``--kills`` times (:mod:`viewrank.adapters.opensearch.faults`), with
searches on the finished index running throughout; the faulted index is compared with the clean
one (ids, duplicates, stored vectors). Machine (lscpu model), date and load go in the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from benchcli import read_result, write_result  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name:")), "")
    return {"cpu": model, "cores": os.cpu_count(), "date": datetime.now(timezone.utc).isoformat(timespec="minutes")}


def pct(values: list[float], p: float) -> float:
    xs = sorted(values)
    return round(xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] * 1000, 1)


def layout_row(url: str, export: Path, index: str, docs, queries, qrels) -> tuple[dict, str, object]:
    from viewrank.adapters.opensearch import client as C
    from viewrank.metrics import ndcg_at_k

    client = C.connect(url)
    C.configure_ml(client)
    model_id = C.register_local_model(client, export, name="viewrank-embed-bench-cluster", replace=True)
    pipeline, hybrid = "viewrank-bench-cluster-ingest", "viewrank-bench-cluster-hybrid"
    C.create_ingest_pipeline(client, pipeline, model_id)
    C.create_index(client, index, 384, pipeline, replace=True)
    C.create_hybrid_pipeline(client, hybrid)
    load0 = os.getloadavg()[0]
    report = C.bulk_ingest(client, index, docs, batch_size=32, total=len(docs))
    health = client.cluster.health()
    settings = client.indices.get_settings(index=index)[index]["settings"]["index"]
    row = {"nodes": health["number_of_nodes"], "shards": int(settings["number_of_shards"]),
           "replicas": int(settings["number_of_replicas"]), "docs": len(docs), "indexed": report.indexed,
           "failed": len(report.failed), "ingest_seconds": round(report.seconds, 1),
           "ingest_docs_per_s": round(report.indexed / report.seconds, 1), "ingest_load_before": round(load0, 2)}
    for mode in ("neural", "hybrid"):
        lat, run = [], {}
        for q in queries:
            t = time.perf_counter()
            hits = C.search(client, index, mode, q.text, 100, model_id, hybrid if mode == "hybrid" else None)
            lat.append(time.perf_counter() - t)
            run[q.qid] = dict(hits)
        row[mode] = {"p50_ms": pct(lat, 0.5), "p95_ms": pct(lat, 0.95), "ndcg@10": round(ndcg_at_k(run, qrels), 4),
                     "queries": len(queries)}
        print(f"  {mode}: p50 {row[mode]['p50_ms']} ms p95 {row[mode]['p95_ms']} ms nDCG@10 {row[mode]['ndcg@10']}",
              flush=True)
    row["load_after"] = round(os.getloadavg()[0], 2)
    return row, model_id, client


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "scifact"))
    ap.add_argument("--export", type=Path, default=ROOT / "exports" / "minilm-mlc")
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--limit-docs", type=int, default=None)
    ap.add_argument("--heap", default="1g")
    ap.add_argument("--skip-single", action="store_true", help="only the cluster rows (a single-node row is kept)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "opensearch_cluster.json")
    args = ap.parse_args()

    from viewrank.adapters.opensearch import cluster as K
    from viewrank.adapters.opensearch import faults as F
    from viewrank.adapters.opensearch import node as N
    from viewrank.datasets import BeirDataset

    from viewrank.exporters.ml_commons import ZIP_NAME

    if not (args.export / ZIP_NAME).is_file():
        subprocess.run([sys.executable, "-m", "viewrank", "export", "onnx", "dense", "--output", str(args.export),
                        "--ml-commons"], check=True, cwd=ROOT)
    ds = BeirDataset(args.dataset)
    docs = list(ds.iter_corpus())[: args.limit_docs] if args.limit_docs else list(ds.iter_corpus())
    queries = ds.queries("test")
    qrels = ds.qrels("test")
    result = read_result(args.out, {})
    result.update(machine=machine(), setup={"dataset": args.dataset, "docs": len(docs), "queries": len(queries),
                                            "embedder": f"in-node ml-commons bundle {args.export.name} (all-MiniLM-L6-v2, fp32)",
                                            "heap_per_node": args.heap, "depth": 100})

    def save() -> None:
        write_result(args.out, result)

    K.down()
    if not args.skip_single:
        print("one node", flush=True)
        single = N.up(heap=args.heap)
        result["single"], _, _ = layout_row(single.url, args.export, "bench-cluster-1", docs, queries, qrels)
        save()
        N.down()
    print("three nodes", flush=True)
    t = time.monotonic()
    state = K.up(nodes=3, heap=args.heap)
    result["cluster_start_seconds"] = round(time.monotonic() - t, 1)
    row, model_id, client = layout_row(state.url, args.export, "bench-cluster-3", docs, queries, qrels)
    result["cluster"] = row
    save()
    print(f"fault run: {args.kills} kills", flush=True)
    from viewrank.adapters.opensearch import client as C

    C.create_index(client, "bench-cluster-3-faulted", 384, "viewrank-bench-cluster-ingest", replace=True)
    search_queries = [(m, q.text) for q in queries[:20] for m in ("bm25", "neural")]
    t = time.monotonic()
    run = F.ingest_with_faults(client, state, "bench-cluster-3-faulted", docs, model_id, kills=args.kills,
                               search_index="bench-cluster-3", queries=search_queries, batch_size=32)
    cmp = F.compare_indexes(client, "bench-cluster-3-faulted", "bench-cluster-3", {d.docid for d in docs})
    ov = run.searches.neural_overlaps
    result["faults"] = {"kills": args.kills, "wall_seconds": round(time.monotonic() - t, 1),
                        "ingest": {"indexed": run.report.indexed, "failed": len(run.report.failed),
                                   "retries": run.report.retries, "seconds": round(run.report.seconds, 1)},
                        "events": [asdict(e) for e in run.events], "compare": cmp,
                        "searches": {"answered": run.searches.answered, "wrong": len(run.searches.wrong),
                                     "wrong_examples": run.searches.wrong[:10], "errors": run.searches.errors,
                                     "unexpected_errors": run.searches.unexpected[:10],
                                     "neural_overlap_min": min(ov, default=None),
                                     "neural_overlap_mean": round(sum(ov) / len(ov), 4) if ov else None},
                        "model_available_while_down": run.model_available_while_down}
    model = client.transport.perform_request("GET", f"{C.ML}/models/{model_id}")
    result["faults"]["model_after"] = {k: model.get(k) for k in ("model_state", "current_worker_node_count",
                                                                  "planning_worker_node_count")}
    save()
    print(json.dumps(result["faults"]["compare"]), json.dumps(result["faults"]["searches"]), flush=True)
    K.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
