"""Load test of ``viewrank serve`` from a second process: throughput, p50/p95 latency, errors.

Starts ``viewrank serve`` as a subprocess on 127.0.0.1 (a free port), then drives ``/embed``
(8 SciFact passages per request) and ``/rerank`` (one query, 20 candidates per request) with
1, 4 and 16 concurrent clients (threads with their own httpx client) for a fixed number of
requests each, and reads the server's resident memory (``/proc/PID/status``) before and after.

    python bench/serve_load.py --embedder onnx:DIR@variant=int8 --reranker onnx:DIR --requests 40
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchcli import write_result  # bench/ is on sys.path when a bench script runs

OUT = Path(__file__).resolve().parent / "results" / "serve_load.json"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(flags: list[str], env: dict | None = None, **popen) -> tuple[subprocess.Popen, str]:
    """``viewrank serve FLAGS`` on 127.0.0.1 and a free port, once ``/health/ready`` answers 200."""
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "viewrank", "serve", *flags, "--port", str(port)], env=env, **popen)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health/ready", timeout=30).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("viewrank serve did not start")


def drive(url: str, path: str, bodies: list[dict], clients: int, total: int,
          samples: list[float] | None = None) -> dict:
    """``total`` requests from ``clients`` threads (each request waits for the previous answer of
    its thread); latencies in seconds are also appended to ``samples`` when given."""
    import httpx

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=120) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t = time.perf_counter()
                try:
                    ok = client.post(path, json=bodies[i % len(bodies)]).status_code == 200
                except httpx.HTTPError:
                    ok = False
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    errors += 0 if ok else 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - started
    lat = sorted(latencies)
    if samples is not None:
        samples.extend(latencies)
    return {"path": path, "clients": clients, "requests": total, "errors": errors,
            "seconds": round(wall, 3), "throughput_rps": round(total / wall, 2),
            "p50_ms": round(1000 * statistics.median(lat), 1),
            "p95_ms": round(1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="dense")
    ap.add_argument("--reranker", default="bi-encoder")
    ap.add_argument("--requests", type=int, default=40, help="requests per (endpoint, concurrency) cell")
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()

    from viewrank.exporters.parity import scifact_sample

    sample = scifact_sample(None, n_queries=8, max_chars=600)
    embed_bodies = [{"input": [t for _, t in lst[:8]]} for lst in sample.lists]
    rerank_bodies = [{"query": q, "documents": [t for _, t in lst], "top_n": 10}
                     for (_, q), lst in zip(sample.queries, sample.lists)]
    env = dict(os.environ, OMP_NUM_THREADS="2", VIEWRANK_ORT_THREADS="2")
    proc, url = start_serve(["--embedder", args.embedder, "--reranker", args.reranker], env=env)
    try:
        mem_before = rss_mb(proc.pid)
        rows = []
        for path, bodies in (("/embed", embed_bodies), ("/rerank", rerank_bodies)):
            drive(url, path, bodies, 1, 3)  # warm-up
            for c in (int(x) for x in args.clients.split(",")):
                row = drive(url, path, bodies, c, args.requests)
                rows.append(row)
                print(f"{path:<8} clients {c:>2}: {row['throughput_rps']:6.2f} req/s  p50 {row['p50_ms']:7.1f} ms  "
                      f"p95 {row['p95_ms']:7.1f} ms  errors {row['errors']}", flush=True)
        mem_after = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    from viewrank.exporters.cpu import describe

    result = {"bench": "serve_load", "machine": f"{describe()}; server and clients on it; "
                                                  f"load {os.getloadavg()[0]:.1f} at the end",
              "date": time.strftime("%Y-%m-%d %H:%M"),
              "embedder": args.embedder, "reranker": args.reranker,
              "workload": "/embed: 8 SciFact passages per request; /rerank: 1 query x 20 candidates, top_n 10",
              "server_rss_mb_before": round(mem_before, 1), "server_rss_mb_after": round(mem_after, 1), "rows": rows}
    write_result(args.out, result)
    print(f"server RSS {mem_before:.0f} MB -> {mem_after:.0f} MB; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
