"""OpenSearch k-NN vector modes vs viewrank's own binary codes on SciFact test (300 queries).

SciFact's 5,183 passages are encoded ONCE with the zero-shot ``dense`` embedder (all-MiniLM-L6-v2,
through the same Pyserini DocumentEncoder as ``viewrank encode``) and cached; every index below is
built from those vectors, and every query vector is computed once too (``role="query"``).

Rows (top 100 per query, nDCG@10 with viewrank's metric, p50 of per-query wall time):

- ``os-float-hnsw``: OpenSearch 2.19.1 ``knn_vector`` float, Lucene HNSW, cosine (in_memory).
- ``os-on_disk-32x-rescore``/``-norescore``: the k-NN 2.17 binary quantisation. NOT RUN: 32x is
  faiss-only in 2.19 and the Maven k-NN zip has no faiss natives; a faiss field stops the node at
  its first write (``UnsatisfiedLinkError: no opensearchknn_faiss_avx2``). Recorded as such.
- ``os-on_disk-4x-rescore``/``-norescore``: what this node's Lucene engine takes in on_disk mode
  (4x scalar quantisation), ``knn`` query with ``rescore: true`` / ``false``.
- ``viewrank-binary-rescore100`` / ``-hamming``: ``viewrank encode --codec binary`` codes (ITQ,
  faiss IndexBinaryIDMap, float32 rescore store) searched as ``viewrank search --mode binary``:
  Hamming top 100 rescored with the float vectors, or Hamming only. nDCG@10 comes from
  viewrank's ``search()`` itself; latency from a per-query loop over the same loaded objects
  (project + pack the query, faiss Hamming search, rescore), whose rankings are checked equal.

Index bytes: OpenSearch ``_stats`` primaries store size after refresh + flush + forcemerge to one
segment, with ``vec`` excluded from ``_source`` (so the number is the vector structures + the
small docid field); viewrank: the files of the index folder (codes ``index`` and ``rescore.npy``
listed apart). Machine (lscpu model), date and ``uptime`` load are recorded in the JSON.

    python bench/opensearch_binary.py --dataset ../shared/data/scifact [--url URL]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from viewrank.plugins.onnx_runtime.cpu import describe  # noqa: E402

from benchcli import write_result  # bench/ is on sys.path when a bench script runs

CACHE = ROOT / ".cache" / "opensearch_binary"
OUT = ROOT / "bench" / "results" / "opensearch_binary.json"
K = 100


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as exc:  # noqa: BLE001 - a machine fact we could not read is recorded as such
        return f"unavailable: {exc}"



def p50(xs: list[float]) -> float:
    return float(np.percentile(np.array(xs) * 1000.0, 50))


def vectors(dataset: str):
    from viewrank.adapters.pyserini.dense import encode_corpus
    from viewrank.datasets import BeirDataset
    from viewrank.manager import get_host

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "scifact-dense.npz"
    queries = BeirDataset(dataset).queries("test")
    emb = get_host().embedder("dense")
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        docids, x, q, seconds = list(z["docids"]), z["x"], z["q"], float(z["seconds"])
    else:
        docids, x, seconds = encode_corpus(emb, dataset)
        q = np.asarray(emb.embed([qq.text for qq in queries], role="query"), dtype=np.float32)
        tmp = CACHE / "scifact-dense.tmp.npz"
        np.savez(tmp, docids=np.array(docids), x=x, q=q, seconds=seconds)
        tmp.replace(path)
    return emb, queries, docids, x, q, seconds


def os_rows(url: str, docids, x, queries, q, qrels) -> list[dict]:
    from viewrank.adapters.opensearch import client as C
    from viewrank.errors import ViewrankError
    from viewrank.metrics import ndcg_at_k

    client = C.connect(url)
    rows = []
    for mode, compression in (("in_memory", None), ("on_disk", "32x"), ("on_disk", "4x")):
        name = f"bench-binary-{mode}-{compression or 'float'}".lower()
        try:
            vec = C.vector_mapping(x.shape[1], "float", mode, compression)
        except ViewrankError as exc:
            for rescore in ("rescore", "norescore"):
                rows.append({"row": f"os-{mode}-{compression}-{rescore}", "ran": False, "why": str(exc)})
            continue
        if client.indices.exists(index=name):
            client.indices.delete(index=name)
        client.indices.create(index=name, body={
            "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
            "mappings": {"_source": {"excludes": [C.VECTOR_FIELD]},
                         "properties": {"docid": {"type": "keyword"}, C.VECTOR_FIELD: vec}}})
        started = time.perf_counter()
        for s in range(0, len(docids), 500):
            body = []
            for d, v in zip(docids[s:s + 500], x[s:s + 500]):
                body += [{"index": {"_index": name, "_id": d}}, {"docid": d, C.VECTOR_FIELD: v.tolist()}]
            resp = client.bulk(body=body, request_timeout=600)
            assert not resp["errors"], "bulk errors"
        client.indices.refresh(index=name)
        client.indices.flush(index=name)
        client.indices.forcemerge(index=name, max_num_segments=1, request_timeout=1800)
        client.indices.refresh(index=name)
        index_s = time.perf_counter() - started
        stats = client.indices.stats(index=name)["indices"][name]["primaries"]
        size = int(stats["store"]["size_in_bytes"])
        assert int(stats["docs"]["count"]) == len(docids)
        variants = [("float-hnsw", None)] if mode == "in_memory" else [("rescore", True), ("norescore", False)]
        for label, rescore in variants:
            for qv in q[:5]:  # warm-up
                C.knn_search(client, name, qv, K, rescore=rescore)
            run, lat = {}, []
            for qq, qv in zip(queries, q):
                t = time.perf_counter()
                hits = C.knn_search(client, name, qv, K, rescore=rescore)
                lat.append(time.perf_counter() - t)
                run[qq.qid] = dict(hits)
            rows.append({"row": f"os-{mode}-{compression or 'float'}-{label}".replace("float-float-hnsw", "float-hnsw"),
                         "ran": True, "index": name, "mapping": vec, "rescore": rescore,
                         "ndcg10": ndcg_at_k({k: v for k, v in run.items() if k in qrels}, qrels),
                         "index_bytes": size, "index_seconds": index_s, "p50_ms": p50(lat),
                         "p95_ms": float(np.percentile(np.array(lat) * 1000, 95))})
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "mapping"}), flush=True)
        client.indices.delete(index=name)
    return rows


def viewrank_rows(emb, docids, x, queries, q, qrels) -> list[dict]:
    import faiss

    from viewrank.adapters.pyserini.dense import write_index
    from viewrank.adapters.pyserini.dense_search import search
    from viewrank.manager import get_host
    from viewrank.metrics import ndcg_at_k

    host = get_host()
    folder = CACHE / "scifact-bin"
    write_index(x, docids, folder, "binary", {"embedder": "dense"}, force=True, host=host)
    files = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    codec = host.codec("binary")
    from viewrank.adapters.pyserini.dense import read_meta

    reader = codec.open(folder, read_meta(folder))
    index = faiss.read_index_binary(str(folder / "index"))
    rows = []
    for depth, label in ((K, "rescore100"), (0, "hamming")):
        res = search(folder, queries, mode="binary", k=K, embedder=emb, rescore_depth=depth, host=host)
        run = {r.qid: dict(zip(r.docids, r.scores)) for r in res.ranked}
        lat, same = [], 0
        for qq, qv in zip(queries, q):
            t = time.perf_counter()
            codes = reader.quantizer.pack(qv[None])
            _, ids = index.search(codes, max(depth, K))
            ids = ids[0][ids[0] >= 0]
            if depth:
                ids = np.sort(ids)  # as viewrank's search: candidates in id order, then a stable sort
                scores = reader.rescore(qv, ids)
                order = np.argsort(-scores, kind="stable")[:K]
                top = [docids[ids[i]] for i in order]
            else:
                top = [docids[i] for i in ids[:K]]
            lat.append(time.perf_counter() - t)
            same += top[:10] == list(run[qq.qid])[:10]
        rows.append({"row": f"viewrank-binary-{label}", "ran": True, "rescore_depth": depth,
                     "ndcg10": ndcg_at_k({k: v for k, v in run.items() if k in qrels}, qrels),
                     "index_bytes": files["index"], "rescore_bytes": files.get("rescore.npy", 0),
                     "folder_bytes": sum(files.values()), "p50_ms": p50(lat),
                     "p95_ms": float(np.percentile(np.array(lat) * 1000, 95)),
                     "loop_top10_equal_to_search": f"{same}/{len(queries)}",
                     "note": "latency excludes query encoding (vectors precomputed, as for the OpenSearch knn rows)"})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True, help="BEIR SciFact folder")
    ap.add_argument("--url", default=None, help="OpenSearch node (default: the one `viewrank opensearch up` started)")
    ap.add_argument("--output", default=str(OUT))
    args = ap.parse_args(argv)
    from viewrank.adapters.opensearch import node, workflow
    from viewrank.datasets import BeirDataset

    started, up0 = datetime.now(timezone.utc), sh(["uptime"])
    emb, queries, docids, x, q, enc_s = vectors(args.dataset)
    qrels = BeirDataset(args.dataset).qrels("test")
    url = workflow.node_url(args.url)
    rows = os_rows(url, docids, x, queries, q, qrels) + viewrank_rows(emb, docids, x, queries, q, qrels)
    report = {"bench": "opensearch_binary", "dataset": "scifact test", "queries": len(queries),
              "documents": len(docids), "dim": int(x.shape[1]), "embedder": "dense (all-MiniLM-L6-v2, zero-shot)",
              "k": K, "opensearch": node.VERSION, "encode_seconds": enc_s,
              "date_utc": started.strftime("%Y-%m-%d %H:%M"), "cpu_model": describe(), "nproc": sh(["nproc"]),
              "uptime_start": up0, "uptime_end": sh(["uptime"]), "rows": rows}
    write_result(args.output, report)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
