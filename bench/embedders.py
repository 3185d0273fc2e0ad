"""Embedder benchmark on SciFact test: BM25, dense, int8, binary (+ rescore), hybrid, 2D grid.

The corpus and all queries are encoded ONCE per model (every layer, one pass) and cached under
``.cache/embedders/`` (git-ignored); every variant below is derived from those vectors. The
float / int8 / binary / hybrid rows go through the real Pyserini path (faiss index in
Pyserini's layout, FaissSearcher / BinaryDenseFaissSearcher / HybridSearcher, trec_eval); the
2D grid is scored exhaustively in numpy (viewrank.metrics) for speed.

    python bench/embedders.py [--dataset ../shared/data/scifact] [--model DIR --name NAME]...

Writes ``bench/results/embedders.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchcli import read_result, write_result  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "embedders"


class CachedEmbedder:
    """An embedder that looks query vectors up in the cache (exact text match)."""

    def __init__(self, texts: list[str], vectors: np.ndarray) -> None:
        self.table = {t: v for t, v in zip(texts, vectors)}
        self.dim = int(vectors.shape[1])

    def embed(self, texts, role="query"):
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def normed(x: np.ndarray, dim: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if dim is not None:
        x = x[:, :dim]
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-9)


def exhaustive_run(q: np.ndarray, d: np.ndarray, qids: list[str], docids: list[str], k: int = 100) -> dict:
    scores = q @ d.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return {qid: {docids[j]: float(scores[i, j]) for j in top[i]} for i, qid in enumerate(qids)}


def load_model_cache(model_dir: Path, name: str, dataset: Path) -> dict:
    import torch

    torch.set_num_threads(2)
    from viewrank.plugins.dense.cache import cached_layer_vectors
    from viewrank.plugins.dense.embedder import DenseEmbedder

    cache_dir = CACHE / f"{dataset.name}-{name}"
    if (cache_dir / "meta.json").is_file():
        from viewrank.plugins.dense.cache import cached_layer_vectors as load

        return load(None, dataset, cache_dir)
    return cached_layer_vectors(DenseEmbedder(model_dir), dataset, cache_dir)


def layer_throughput(model_dir: Path, texts: list[str], layers: list[int]) -> dict[int, float]:
    """Documents per second when the encoder exits after ``layer`` blocks (same texts each time)."""
    from viewrank.plugins.dense.embedder import DenseConfig, DenseEmbedder

    out = {}
    for layer in layers:
        emb = DenseEmbedder(model_dir, DenseConfig.load(model_dir).with_options({"layer": str(layer)}))
        emb.embed(texts[:32])  # warm-up
        t0 = time.perf_counter()
        emb.embed(texts)
        out[layer] = round(len(texts) / (time.perf_counter() - t0), 2)
    return out


def render_markdown(res: dict) -> str:
    """The results JSON as markdown tables (for docs/embedders.md)."""
    rows = res["rows"]
    float_ndcg = rows["dense-float"]["nDCG@10"]
    lines = ["| run | nDCG@10 | % of float | R@100 | index bytes | ratio vs float |", "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        size = f"{r['index_bytes']:,}" if "index_bytes" in r else ""
        extra = f" (+{r['rescore_bytes']:,} rescore)" if r.get("rescore_bytes") else ""
        ratio = f"{r['compression']}x" if "compression" in r else ""
        lines.append(f"| {name} | {r['nDCG@10']:.4f} | {100 * r['nDCG@10'] / float_ndcg:.1f}% | {r['R@100']:.4f} | "
                     f"{size}{extra} | {ratio} |")
    for label, grid in res.get("grid", {}).items():
        layers = sorted({k.split('/')[0] for k in grid}, key=lambda x: int(x[1:]))
        dims = sorted({int(k.split('/d')[1]) for k in grid}, reverse=True)
        lines += ["", f"2D grid, {label}: nDCG@10 (rows: exit layer, columns: dim)", "",
                  "| layer | " + " | ".join(str(d) for d in dims) + " |", "|---" * (len(dims) + 1) + "|"]
        for layer in layers:
            lines.append(f"| {layer} | " + " | ".join(f"{grid[f'{layer}/d{d}']['nDCG@10']:.4f}" for d in dims) + " |")
    for label, tp in res.get("throughput", {}).items():
        lines += ["", f"Encoding throughput ({label}), docs/s by exit layer: "
                  + ", ".join(f"L{k}: {v}" for k, v in tp.items())]
    return "\n".join(lines)


def score_model(model: str, name: str, dataset: Path, test_q, qrels) -> tuple[dict, dict]:
    """``(grid, last-layer row)`` of a model folder from its cached all-layer vectors (numpy)."""
    from viewrank.metrics import evaluate

    cache = load_model_cache(Path(model), name, dataset)
    qpos = {qid: i for i, qid in enumerate(cache["qids"])}
    n_layers = cache["doc_layers"].shape[0] - 1
    qids = [q.qid for q in test_q]
    grid = {}
    for layer in range(1, n_layers + 1):
        q_all = np.asarray(cache["query_layers"][layer][[qpos[q] for q in qids]])
        for dim in (384, 256, 128, 64):
            run = exhaustive_run(normed(q_all, dim), normed(cache["doc_layers"][layer], dim), qids, cache["docids"])
            m = evaluate(run, qrels)
            grid[f"L{layer}/d{dim}"] = {"nDCG@10": round(m["nDCG@10"], 4), "R@100": round(m["R@100"], 4)}
    last = grid[f"L{n_layers}/d384"] | {"scored": "numpy", "model": str(model)}
    return grid, last


def extra_only(args, ds, test_q, qrels) -> int:
    results = read_result(args.output)
    for model, name in zip(args.model, args.name):
        grid, row = score_model(model, name, Path(args.dataset), test_q, qrels)
        results["grid"][name] = grid
        results["rows"][f"dense-{name}"] = row
        print(f"dense-{name}: nDCG@10 {row['nDCG@10']:.4f}  R@100 {row['R@100']:.4f}")
    write_result(args.output, results)
    print(render_markdown(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "scifact"))
    ap.add_argument("--model", action="append", default=[], help="extra model folder to compare (e.g. distilled)")
    ap.add_argument("--name", action="append", default=[], help="name of each --model")
    ap.add_argument("--throughput-docs", type=int, default=128)
    ap.add_argument("--alpha", type=float, default=None, help="hybrid BM25 weight; default: tuned on train queries")
    ap.add_argument("--output", default=str(ROOT / "bench" / "results" / "embedders.json"))
    ap.add_argument("--markdown", action="store_true", help="print the saved JSON as markdown and exit")
    ap.add_argument("--extra-only", action="store_true",
                    help="only score the --model folders (grid + last-layer row) and merge them into the saved JSON")
    args = ap.parse_args(argv)
    if args.markdown:
        print(render_markdown(read_result(args.output)))
        return 0

    import torch

    torch.set_num_threads(2)
    from viewrank.adapters.pyserini.dense import write_index
    from viewrank.adapters.pyserini.dense_search import search
    from viewrank.adapters.pyserini.evaluate import evaluate_run
    from viewrank.adapters.pyserini.lucene import Bm25, build_index
    from viewrank.datasets import BeirDataset
    from viewrank.manager import get_host
    from viewrank.metrics import evaluate
    from viewrank.plugins.binary.codes import BinaryQuantizer
    from viewrank.plugins.binary.ste import train_ste_codes
    from viewrank.runs import RunWriter

    dataset = Path(args.dataset)
    ds = BeirDataset(dataset)
    test_q = ds.queries("test")
    train_q = ds.queries("train")
    qrels = ds.qrels("test")
    minilm = get_host().resolve_model_path("all-MiniLM-L6-v2")
    if args.extra_only:
        return extra_only(args, ds, test_q, qrels)
    cache = load_model_cache(minilm, "minilm", dataset)
    docids = cache["docids"]
    qpos = {qid: i for i, qid in enumerate(cache["qids"])}
    all_texts = {q.qid: q.text for q in ds.queries(None)}
    n_layers = cache["doc_layers"].shape[0] - 1
    results: dict = {"dataset": str(dataset.name), "documents": len(docids), "test_queries": len(test_q),
                     "model": "all-MiniLM-L6-v2", "rows": {}, "grid": {}, "throughput": {}}
    rows = results["rows"]
    work = CACHE / "bench"
    work.mkdir(parents=True, exist_ok=True)

    def queries_of(qs, layer=n_layers, dim=None, source=cache):
        return normed(np.asarray(source["query_layers"][layer][[qpos[q.qid] for q in qs]]), dim)

    def trec_row(name: str, ranked, seconds: float, extra: dict) -> dict:
        run_path = work / "runs" / f"{name}.trec"
        run_path.parent.mkdir(parents=True, exist_ok=True)
        if run_path.exists():
            run_path.unlink()
        with RunWriter(run_path, tag=name) as w:
            w.write_all(ranked)
        m = evaluate_run(run_path, qrels)
        row = {"nDCG@10": round(m["nDCG@10"], 4), "R@100": round(m["R@100"], 4), "search_seconds": round(seconds, 2), **extra}
        rows[name] = row
        print(f"{name:<34} nDCG@10 {row['nDCG@10']:.4f}  R@100 {row['R@100']:.4f}  {extra}", flush=True)
        return row

    # --- BM25 (Pyserini Lucene) -------------------------------------------------------------
    bm25_dir = CACHE / f"bm25-{dataset.name}"
    if not bm25_dir.exists():
        build_index(dataset, bm25_dir)
    from viewrank.types import RankedList, ScoredDoc

    t0 = time.perf_counter()
    hits = Bm25(bm25_dir).search(test_q, 1000)
    bm25_ranked = [RankedList(q.qid, tuple(ScoredDoc(d, s) for d, s in hits[q.qid])) for q in test_q]
    trec_row("bm25", bm25_ranked, time.perf_counter() - t0, {})

    # --- float / int8 / binary indexes from the cached last-layer vectors -----------------------
    doc_float = normed(cache["doc_layers"][n_layers])
    q_texts = [all_texts[q] for q in cache["qids"]]
    q_float_all = normed(cache["query_layers"][n_layers])
    query_emb = CachedEmbedder(q_texts, q_float_all)
    float_bytes = None

    def index(name: str, kind: str, **kw) -> Path:
        out = work / "indexes" / name
        if not out.exists():
            write_index(doc_float, docids, out, kind, {"embedder": "dense", "source": "bench cache"}, **kw)
        return out

    seconds_doc = cache["doc_seconds"]
    results["encode_docs_per_second_all_layers_pass"] = round(len(docids) / seconds_doc, 2)
    for name, kind, kw, mode, depth in [
        ("dense-float", "float", {}, "dense", 0),
        ("dense-int8", "int8", {}, "dense", 0),
    ]:
        path = index(name, kind, **kw)
        res = search(path, test_q, mode=mode, k=1000, embedder=query_emb)
        meta = read_result(path / "viewrank_dense_index.json")
        float_bytes = float_bytes or meta["index_bytes"]
        trec_row(name, res.ranked, res.seconds, {"index_bytes": meta["index_bytes"],
                                                 "compression": round(float_bytes / meta["index_bytes"], 1)})

    # binary: thresholds zero (sign), median, ITQ, trained (STE) -------------------------------
    train_pairs = []
    train_qrels = ds.qrels("train")
    doc_pos = {d: i for i, d in enumerate(docids)}
    for qi, q in enumerate(train_q):
        for d in train_qrels[q.qid]:
            if d in doc_pos:
                train_pairs.append((qi, doc_pos[d]))
    ste = {}
    for variant, cw in (("ste", 1.0), ("ste-unsup", 0.0)):
        ste_path = work / f"{variant}_quantizer"
        if not (ste_path / "viewrank_binary.npz").is_file():
            ste_path.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            quant = train_ste_codes(queries_of(train_q), doc_float, train_pairs, doc_float, contrastive_weight=cw)
            quant.save(ste_path)
            results[f"{variant}_train_seconds"] = round(time.perf_counter() - t0, 1)
        ste[variant] = BinaryQuantizer.load(ste_path)
    for method in ("zero", "median", "itq", "ste-unsup", "ste"):
        extra_kw = {"binary": ste[method]} if method in ste else {"binary_method": method}
        for rescore in ("float", "int8"):
            path = index(f"binary-{method}-{rescore}", "binary", rescore=rescore, **extra_kw)
            meta = read_result(path / "viewrank_dense_index.json")
            sizes = {"index_bytes": meta["index_bytes"], "compression": round(float_bytes / meta["index_bytes"], 1),
                     "rescore_bytes": meta.get("rescore_bytes", 0)}
            if rescore == "float":
                res = search(path, test_q, mode="binary", k=1000, embedder=query_emb, rerank_depth=0)
                trec_row(f"binary-{method}", res.ranked, res.seconds, sizes | {"rescore_bytes": 0})
            res = search(path, test_q, mode="binary", k=100, embedder=query_emb, rerank_depth=100)
            trec_row(f"binary-{method}+rescore100-{rescore}", res.ranked, res.seconds, sizes)
        path = work / "indexes" / f"binary-{method}-float"
        asym = work / "indexes" / f"binary-{method}-asym"
        if not asym.exists():
            import shutil

            shutil.copytree(path, asym)
            (asym / "rescore.npy").unlink()
        res = search(asym, test_q, mode="binary", k=100, embedder=query_emb, rerank_depth=100)
        trec_row(f"binary-{method}+asym-rescore100", res.ranked, res.seconds, sizes | {"rescore_bytes": 0})
    # the same ITQ codes in a plain IndexBinaryFlat (no 8-byte ids): the 32x file
    path = index("binary-itq-flat", "binary", rescore="float", binary_method="itq", idmap=False)
    meta = read_result(path / "viewrank_dense_index.json")
    res = search(path, test_q, mode="binary", k=100, embedder=query_emb, rerank_depth=100)
    trec_row("binary-itq-flat+rescore100-float", res.ranked, res.seconds,
             {"index_bytes": meta["index_bytes"], "compression": round(float_bytes / meta["index_bytes"], 1),
              "rescore_bytes": meta["rescore_bytes"]})

    # reference: float vectors through the supervised STE projection (is the gain the bits or the projection?)
    proj = ste["ste"]
    run = exhaustive_run(normed(proj.project(queries_of(test_q))), normed(proj.project(doc_float)),
                         [q.qid for q in test_q], docids)
    m = evaluate(run, qrels)
    rows["float-through-ste-projection"] = {"nDCG@10": round(m["nDCG@10"], 4), "R@100": round(m["R@100"], 4),
                                            "scored": "numpy", "note": "reference for binary-ste"}
    print(f"{'float-through-ste-projection':<34} nDCG@10 {m['nDCG@10']:.4f}  R@100 {m['R@100']:.4f}")

    # --- hybrid BM25 + dense: alpha tuned on TRAIN queries, then applied to test ----------------
    best = (None, -1.0)
    curve: dict = {}
    train_qrels_map = {q.qid: train_qrels[q.qid] for q in train_q}
    dense_path = work / "indexes" / "dense-float"
    for alpha in (0.1, 0.2, 0.3, 0.5, 0.7, 1.0) if args.alpha is None else ():
        res = search(dense_path, train_q, mode="hybrid", k=100, embedder=query_emb, bm25_index=bm25_dir,
                     alpha=alpha, hybrid_depth=1000)
        run = {r.qid: {s.docid: s.score for s in r.items} for r in res.ranked}
        score = evaluate(run, train_qrels_map)["nDCG@10"]
        print(f"  hybrid alpha={alpha}: train nDCG@10 {score:.4f}", flush=True)
        curve[str(alpha)] = round(score, 4)
        if score > best[1]:
            best = (alpha, score)
    if args.alpha is not None:  # keep an earlier tuning record when the alpha is given
        previous = read_result(args.output, {})
        results["hybrid_alpha_train"] = previous.get("hybrid_alpha_train", {}) | {"alpha": args.alpha}
        best = (args.alpha, 0.0)
    else:
        results["hybrid_alpha_train"] = {"alpha": best[0], "train_nDCG@10": round(best[1], 4), "curve": curve}
    res = search(dense_path, test_q, mode="hybrid", k=1000, embedder=query_emb, bm25_index=bm25_dir,
                 alpha=best[0], hybrid_depth=1000)
    trec_row("hybrid-bm25+dense", res.ranked, res.seconds, {"alpha": best[0], "alpha_tuned_on": "train"})

    # --- 2D grid (layer x dim), zero-shot MiniLM, numpy exhaustive ------------------------------
    def grid(source: dict, label: str) -> dict:
        out = {}
        test_qids = [q.qid for q in test_q]
        for layer in range(1, n_layers + 1):
            for dim in (384, 256, 128, 64):
                run = exhaustive_run(queries_of(test_q, layer, dim, source), normed(source["doc_layers"][layer], dim),
                                     test_qids, source["docids"])
                m = evaluate(run, qrels)
                out[f"L{layer}/d{dim}"] = {"nDCG@10": round(m["nDCG@10"], 4), "R@100": round(m["R@100"], 4)}
        print(f"\n2D grid ({label}) nDCG@10, rows = layer, columns = dim 384/256/128/64")
        for layer in range(1, n_layers + 1):
            print(f"  L{layer}: " + "  ".join(f"{out[f'L{layer}/d{d}']['nDCG@10']:.4f}" for d in (384, 256, 128, 64)))
        return out

    results["grid"]["minilm-zero-shot"] = grid(cache, "MiniLM zero-shot")
    docs = list(ds.iter_corpus())
    sample = [d.contents for d in docs[: args.throughput_docs]]
    results["throughput"]["minilm"] = layer_throughput(minilm, sample, list(range(1, n_layers + 1)))
    print("docs/s per exit layer:", results["throughput"]["minilm"])

    # --- extra models (trained 2DMSE, distilled): full grid + last layer row -------------------
    for model, name in zip(args.model, args.name):
        other = load_model_cache(Path(model), name, dataset)
        results["grid"][name] = grid(other, name)
        run = exhaustive_run(queries_of(test_q, n_layers, None, other), normed(other["doc_layers"][n_layers]),
                             [q.qid for q in test_q], other["docids"])
        m = evaluate(run, qrels)
        rows[f"dense-{name}"] = {"nDCG@10": round(m["nDCG@10"], 4), "R@100": round(m["R@100"], 4), "scored": "numpy"}
        print(f"dense-{name:<28} nDCG@10 {m['nDCG@10']:.4f}  R@100 {m['R@100']:.4f}")

    write_result(args.output, results)
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
