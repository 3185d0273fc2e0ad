"""What an oversize or hostile request costs ``viewrank serve``: time to refuse, server RSS growth.

Starts ``viewrank serve --reranker none`` (127.0.0.1, a free port) and sends, one at a time:
a 100 MB body with its Content-Length, the same 100 MB chunked (no length), JSON nested 5,000
deep, a 5,000-digit ``top_n``; then a normal request to show the server is still up. Records the
status, seconds and the server's RSS before and after each (``/proc/PID/status``).

    python bench/serve_bounds.py [--mb 100]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import rss_mb, start_serve  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "serve_bounds.json"
ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    proc, url = start_serve(["--reranker", "none"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = int(url.rsplit(":", 1)[1])
    rows = []
    try:
        big = b'{"query": "q", "documents": ["' + b"x" * (args.mb * 1_000_000) + b'"]}'

        def chunked():
            for i in range(0, len(big), 1 << 20):
                yield big[i : i + (1 << 20)]

        # A declared length: the answer comes before the client has sent the body (raw socket:
        # headers and the first 64 KiB, then wait for the server's answer).
        import socket

        before = rss_mb(proc.pid)
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(f"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(big)}\r\n\r\n".encode() + big[: 1 << 16])
            answer = sock.recv(4096).decode("latin-1")
        secs = time.perf_counter() - t0
        time.sleep(0.2)
        status = int(answer.split(" ", 2)[1])
        rows.append({"case": f"{args.mb} MB declared (headers + 64 KiB sent, then the answer awaited)", "status": status,
                     "error": answer.split("\r\n\r\n", 1)[-1][:200], "seconds": round(secs, 3),
                     "rss_before_mb": round(before, 1), "rss_after_mb": round(rss_mb(proc.pid), 1)})
        print(f"{rows[-1]['case'][:34]:<34} {status} {secs:7.3f} s  RSS {before:7.1f} -> {rows[-1]['rss_after_mb']:7.1f} MB")
        cases = [
            (f"{args.mb} MB body, Content-Length, sent whole", dict(content=big)),
            (f"{args.mb} MB body, chunked", dict(content=chunked())),
            ("JSON nested 5,000 deep", dict(content=b'{"query": ' + b"[" * 5000 + b"]" * 5000 + b"}")),
            ("5,000-digit top_n", dict(content=b'{"query": "q", "documents": ["a"], "top_n": ' + b"9" * 5000 + b"}")),
            ("a normal request after them", dict(json={"query": "q", "documents": ["a", "b"]})),
        ]
        with httpx.Client(timeout=60) as client:
            for name, kw in cases:
                before = rss_mb(proc.pid)
                t0 = time.perf_counter()
                try:
                    r = client.post(url + "/rerank", headers={"content-type": "application/json"}, **kw)
                    status, error = r.status_code, (r.json().get("error") if r.status_code != 200 else None)
                except httpx.HTTPError as exc:  # the server may close the connection on a refused upload
                    status, error = None, f"{type(exc).__name__}: {exc}"
                secs = time.perf_counter() - t0
                time.sleep(0.2)
                rows.append({"case": name, "status": status, "error": error, "seconds": round(secs, 3),
                             "rss_before_mb": round(before, 1), "rss_after_mb": round(rss_mb(proc.pid), 1)})
                print(f"{name:<34} {status} {secs:7.3f} s  RSS {before:7.1f} -> {rows[-1]['rss_after_mb']:7.1f} MB  {error or ''}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    Path(args.out).write_text(json.dumps({"bench": "serve_bounds", "date": time.strftime("%Y-%m-%d"),
                                          "cpu": platform.processor() or platform.machine(), "cases": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
