"""``viewrank serve`` /embed with dynamic batching on vs off: throughput and p50/p95, interleaved.

Starts two ``viewrank serve --embedder SPEC`` processes from the same code, one with batching
(``--batch-max-texts``, ``--batch-wait-ms``) and one with ``--no-batching`` (one request per model
call behind a lock, the behaviour before batching), both on 127.0.0.1 with the same torch thread
count. Then, for each workload and client count, runs ``--rounds`` rounds; each round drives both
servers one after the other with the same requests, alternating which goes first, so a change in
the machine's load (a shared machine) hits both modes alike. Only one server is driven at a time.

Workloads (SciFact test split):

- ``queries``: ``{"input": [one query]}``: what ml-commons sends per search (a query embedding);
- ``passages``: ``{"input": [8 passages of at most 600 characters]}``: ingest-shaped.

Per (workload, clients, mode) it records the per-round throughputs, their total (requests /
seconds over all rounds), p50/p95 over all requests, errors, and for the batching server the mean
requests and texts per model call (from its /metrics). The ratio is batching's throughput over the
lock's, as totals and as the median of the per-round (paired) ratios.

    python bench/serve_batching.py [--embedder dense] [--clients 1,16,64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import drive, rss_mb, start_serve  # noqa: E402
from viewrank.plugins.onnx_runtime.cpu import describe  # noqa: E402

from benchcli import write_result  # bench/ is on sys.path when a bench script runs

OUT = Path(__file__).resolve().parent / "results" / "serve_batching.json"
ROOT = Path(__file__).resolve().parent.parent



def batch_counters(url: str) -> tuple[float, float, float]:
    """(model calls, requests, texts) the batching server's /embed batcher has served so far."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=30).text
    values = []
    for name in ("viewrank_batches_total", "viewrank_batch_requests_total", "viewrank_batch_texts_total"):
        m = re.search(rf'^{name}{{path="/embed"}} (\S+)$', text, re.M)
        values.append(float(m.group(1)) if m else 0.0)
    return values[0], values[1], values[2]


def quantile(samples: list[float], q: float) -> float:
    lat = sorted(samples)
    return lat[min(len(lat) - 1, int(q * len(lat)))]


def workloads(n_queries: int) -> dict[str, list[dict]]:
    from viewrank.datasets import BeirDataset
    from viewrank.exporters.parity import scifact_sample
    from viewrank.settings import Settings

    ds = BeirDataset(Settings.resolve().dataset("scifact"))
    queries = [q.text for q in ds.queries("test")][:n_queries]
    sample = scifact_sample(None, n_queries=8, max_chars=600)
    return {"queries": [{"input": [q]} for q in queries],
            "passages": [{"input": [t for _, t in lst[:8]]} for lst in sample.lists]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="dense", help="embedder spec (default: dense, the packaged MiniLM)")
    ap.add_argument("--workloads", default="queries,passages")
    ap.add_argument("--clients", default="1,16,64", help="client counts (comma-separated)")
    ap.add_argument("--passage-clients", default="16", help="client counts for the passages workload")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved on/off rounds per cell")
    ap.add_argument("--per-client", type=int, default=6,
                    help="requests per client per round for the queries workload (bounded: at least 16, at most 256)")
    ap.add_argument("--passage-requests", type=int, default=32, help="requests per round for the passages workload")
    ap.add_argument("--threads", type=int, default=2, help="torch threads in each server (OMP_NUM_THREADS)")
    ap.add_argument("--batch-max-texts", type=int, default=64)
    ap.add_argument("--batch-wait-ms", type=float, default=5.0)
    ap.add_argument("--note", default="", help="conditions worth recording (e.g. other jobs on the machine)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()

    bodies = workloads(64)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               VIEWRANK_THREADS=str(args.threads), VIEWRANK_ORT_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false")
    quiet = dict(cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    on_flags = ["--embedder", args.embedder, "--batch-max-texts", str(args.batch_max_texts),
                "--batch-wait-ms", str(args.batch_wait_ms)]
    off_flags = ["--embedder", args.embedder, "--no-batching"]
    load_start = os.getloadavg()
    started = time.time()
    servers = {"batching": start_serve(on_flags, env=env, **quiet), "lock": start_serve(off_flags, env=env, **quiet)}
    cells = []
    try:
        rss_before = {mode: round(rss_mb(proc.pid), 1) for mode, (proc, _) in servers.items()}
        for workload in args.workloads.split(","):
            counts = args.clients if workload == "queries" else args.passage_clients
            for mode, (_, url) in servers.items():  # warm-up: the first calls of each shape
                drive(url, "/embed", bodies[workload], 2, 4)
            for clients in (int(c) for c in counts.split(",")):
                if workload == "queries":
                    total = max(clients, min(256, max(16, clients * args.per_client)))
                else:
                    total = max(clients, args.passage_requests)
                cell = {"workload": workload, "clients": clients, "requests_per_round": total, "modes": {}}
                samples = {mode: [] for mode in servers}
                rounds = {mode: [] for mode in servers}
                calls = [0.0, 0.0, 0.0]
                for r in range(args.rounds):
                    order = ["batching", "lock"] if r % 2 == 0 else ["lock", "batching"]
                    for mode in order:
                        url = servers[mode][1]
                        before = batch_counters(url) if mode == "batching" else None
                        row = drive(url, "/embed", bodies[workload], clients, total, samples[mode])
                        if before is not None:
                            after = batch_counters(url)
                            calls = [c + (a - b) for c, a, b in zip(calls, after, before)]
                        rounds[mode].append(row)
                        print(f"{workload:<8} clients {clients:>2} round {r} {mode:<8}: {row['throughput_rps']:7.2f} req/s  "
                              f"p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  errors {row['errors']}", flush=True)
                for mode in servers:
                    rows = rounds[mode]
                    n = sum(x["requests"] for x in rows)
                    cell["modes"][mode] = {
                        "throughput_rps": round(n / sum(x["seconds"] for x in rows), 2),
                        "round_throughputs_rps": [x["throughput_rps"] for x in rows],
                        "p50_ms": round(1000 * statistics.median(samples[mode]), 1),
                        "p95_ms": round(1000 * quantile(samples[mode], 0.95), 1),
                        "requests": n, "errors": sum(x["errors"] for x in rows)}
                if calls[0]:
                    cell["modes"]["batching"]["requests_per_model_call"] = round(calls[1] / calls[0], 2)
                    cell["modes"]["batching"]["texts_per_model_call"] = round(calls[2] / calls[0], 2)
                on, off = cell["modes"]["batching"], cell["modes"]["lock"]
                cell["speedup_total"] = round(on["throughput_rps"] / off["throughput_rps"], 2)
                cell["speedup_median_of_rounds"] = round(statistics.median(
                    a / b for a, b in zip(on["round_throughputs_rps"], off["round_throughputs_rps"])), 2)
                cells.append(cell)
                print(f"{workload:<8} clients {clients:>2}: batching {on['throughput_rps']:.2f} req/s vs lock "
                      f"{off['throughput_rps']:.2f} -> x{cell['speedup_total']} (median of rounds "
                      f"x{cell['speedup_median_of_rounds']})", flush=True)
        rss_after = {mode: round(rss_mb(proc.pid), 1) for mode, (proc, _) in servers.items()}
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            proc.wait(timeout=60)
    result = {
        "bench": "serve_batching",
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": {"cpu": describe(), "cores": os.cpu_count(), "torch_threads_per_server": args.threads,
                    "loadavg_1m_start": round(load_start[0], 2), "loadavg_1m_end": round(os.getloadavg()[0], 2),
                    "note": args.note},
        "setup": {"embedder": args.embedder, "batching_flags": on_flags[2:], "lock_flags": off_flags[2:],
                  "clients": "threads in this process, one httpx client each, each waiting for its answer before "
                             "sending the next; both servers and the clients on this machine",
                  "interleaving": f"{args.rounds} rounds per cell, each round drives both servers, "
                                  "alternating which goes first"},
        "workloads": {"queries": "1 SciFact test query per request ({'input': [q]}, as ml-commons sends at search)",
                      "passages": "8 SciFact passages of at most 600 characters per request"},
        "server_rss_mb_before": rss_before, "server_rss_mb_after": rss_after,
        "cells": cells,
    }
    write_result(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
