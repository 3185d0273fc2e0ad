"""Speed of MVP single pass vs the cross-encoder vs the sliding window, same inputs, one run.

    python bench/mvp_speed.py [--queries 8] [--depths 20,50,100]

For each query (SciFact test, BM25 top-K) the three rerankers run back to back (interleaved,
so load from other jobs hits all of them alike); we report the median ms/query and the peak
extra resident memory during a call (RSS sampled every 2 ms from /proc, minus RSS before the
call, after malloc_trim). Writes bench/results/mvp_speed.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

from viewrank.datasets import BeirDataset
from viewrank.manager import get_host

from benchcli import write_result  # bench/ is on sys.path when a bench script runs

PAGE = os.sysconf("SC_PAGE_SIZE")


def trim() -> None:
    """Hand freed heap back to the OS so the next call's RSS growth is its own."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc
        pass


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class PeakRss:
    """Samples RSS in a thread while the block runs; ``.extra`` is peak minus RSS at entry (bytes)."""

    def __enter__(self):
        trim()
        self.base = self.peak = rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss())
        self.extra = self.peak - self.base


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="../shared/data/scifact")
    ap.add_argument("--index", default="indexes/scifact")
    ap.add_argument("--mvp", default="models/mvp-minilm")
    ap.add_argument("--ce", default="models/cross-encoder-minilm")
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--depths", default="20,50,100")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results/mvp_speed.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from viewrank.adapters.pyserini.lucene import bm25_search

    ds = BeirDataset(args.dataset)
    queries = ds.queries("test")[: args.queries + 1]  # the first one only warms up
    depths = [int(d) for d in args.depths.split(",")]
    hits = bm25_search(args.index, queries, max(depths))
    host = get_host()
    systems = {"mvp": host.reranker(f"mvp:{args.mvp}"), "cross-encoder": host.reranker(f"cross-encoder:{args.ce}"),
               "mvp-window": host.reranker(f"mvp-window:{args.mvp}")}
    times = {(s, d): [] for s in systems for d in depths}
    mem = {(s, d): 0 for s in systems for d in depths}
    for qi, q in enumerate(queries):
        for d in depths:
            cands = [ds.candidate(doc, sc) for doc, sc in hits[q.qid][:d]]
            for name, rr in systems.items():
                with PeakRss() as peak:
                    t0 = time.perf_counter()
                    rr.rerank(q, cands)
                    elapsed = time.perf_counter() - t0
                if qi:  # skip the warm-up query
                    times[(name, d)].append(1000 * elapsed)
                    mem[(name, d)] = max(mem[(name, d)], peak.extra)
        print(f"query {qi}/{len(queries) - 1} done", file=sys.stderr)
    rows = {}
    for (name, d), ts in times.items():
        rows.setdefault(name, {})[str(d)] = {"ms_per_query_median": round(statistics.median(ts), 1),
                                              "peak_extra_rss_mib": round(mem[(name, d)] / 2**20, 1)}
    ratios = {str(d): {"window_over_mvp": round(rows["mvp-window"][str(d)]["ms_per_query_median"] / rows["mvp"][str(d)]["ms_per_query_median"], 3),
                       "mvp_over_cross_encoder": round(rows["mvp"][str(d)]["ms_per_query_median"] / rows["cross-encoder"][str(d)]["ms_per_query_median"], 3)}
              for d in depths}
    report = {"bench": "mvp_speed", "queries_timed": args.queries, "warmup_queries": 1, "depths": depths,
              "threads": args.threads, "device": "cpu", "machine": platform.machine(),
              "torch": torch.__version__, "max_length": systems["mvp"].model.config.max_length,
              "note": "2-core CPU shared with other jobs; systems interleaved per query so ratios are comparable",
              "systems": rows, "ratios": ratios,
              "targets": {"window_over_mvp_at_100": ">= 1.8", "mvp_over_cross_encoder_at_100": "<= 1.15"}}
    write_result(Path(args.out), report)
    print(f"{'system':<15}" + "".join(f"{'ms@' + str(d):>10}{'MiB@' + str(d):>9}" for d in depths))
    for name, r in rows.items():
        print(f"{name:<15}" + "".join(f"{r[str(d)]['ms_per_query_median']:>10.1f}{r[str(d)]['peak_extra_rss_mib']:>9.1f}" for d in depths))
    for d in depths:
        print(f"depth {d}: window/mvp = {ratios[str(d)]['window_over_mvp']:.2f}x, mvp/cross-encoder = {ratios[str(d)]['mvp_over_cross_encoder']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
