"""Pyserini integration: encoders, faiss indexes in Pyserini's layout, dense / binary / hybrid search, CLIs."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("pyserini")

from viewrank.errors import ViewrankError  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def java():
    """Pick a Java 21+ before anything imports pyserini's JVM-backed modules."""
    from viewrank.adapters.pyserini.java import ensure_java

    return ensure_java()


@pytest.fixture(scope="module")
def host():
    """The plugin host the adapter looks embedders and index codecs up in (as a command passes its own)."""
    from viewrank.manager import PluginHost

    return PluginHost()


@pytest.fixture(scope="module")
def embedder(tiny_bert):
    from viewrank.plugins.dense.embedder import DenseEmbedder

    return DenseEmbedder(tiny_bert)


@pytest.fixture(scope="module")
def indexes(tiny_bert, emb_dataset, tmp_path_factory, host):
    from viewrank.adapters.pyserini.dense import build_index

    root = tmp_path_factory.mktemp("dense-idx")
    spec = f"dense:{tiny_bert}"
    options = {"binary": {"rescore": "float"}}  # the other codecs take no option
    return {kind: build_index(spec, emb_dataset, root / kind, kind, host=host, **options.get(kind, {}))
            for kind in ("float", "int8", "binary")}


def test_encoders_are_pyserini_subclasses(embedder):
    from pyserini.encode import DocumentEncoder, QueryEncoder

    from viewrank.adapters.pyserini.dense import document_encoder, query_encoder
    from viewrank.plugins.binary.codes import BinaryQuantizer

    q = query_encoder(embedder)
    assert isinstance(q, QueryEncoder) and isinstance(document_encoder(embedder), DocumentEncoder)
    np.testing.assert_allclose(q.encode("a query"), embedder.embed(["a query"], "query")[0], atol=1e-6)
    docs = document_encoder(embedder).encode(["text one"], titles=["Title"])
    np.testing.assert_allclose(docs, embedder.embed(["Title text one"], "passage"), atol=1e-6)
    quant = BinaryQuantizer.calibrate(embedder.embed(["a", "b c", "d e f"]), "median")
    out = query_encoder(embedder, quant).encode("a query")
    assert set(out) == {"dense", "sparse"} and out["sparse"].shape == (32,)


def test_index_layout(indexes, emb_dataset):
    import faiss

    for kind, path in indexes.items():
        meta = json.loads((path / "viewrank_dense_index.json").read_text())
        assert meta["kind"] == kind and meta["documents"] == 8
        assert (path / "docid").read_text().split() == [f"d{i}" for i in range(1, 9)]
    assert faiss.read_index(str(indexes["float"] / "index")).ntotal == 8
    binary = faiss.read_index_binary(str(indexes["binary"] / "index"))
    assert isinstance(binary, faiss.IndexBinaryIDMap) and binary.code_size == 4  # 32 bits
    assert (indexes["int8"] / "viewrank_int8.json").is_file() and (indexes["binary"] / "viewrank_binary.npz").is_file()
    flat = faiss.read_index(str(indexes["float"] / "index"))
    assert flat.d * 4 == 32 * binary.code_size  # 32x less per document


def test_dense_and_binary_search_agree_with_exhaustive_scores(indexes, emb_dataset, embedder, host):
    from viewrank.adapters.pyserini.dense_search import search
    from viewrank.datasets import BeirDataset

    ds = BeirDataset(emb_dataset)
    queries = ds.queries("test")
    docs = list(ds.iter_corpus())
    d = embedder.embed([x.contents for x in docs])
    q = embedder.embed([x.text for x in queries], "query")
    expect = [[docs[j].docid for j in np.argsort(-(d @ v))] for v in q]
    dense = search(indexes["float"], queries, "dense", k=8, embedder=embedder, host=host)
    assert [r.docids for r in dense.ranked] == expect
    # binary: Hamming top-8 (all docs) rescored with the stored float vectors = exact order
    binary = search(indexes["binary"], queries, "binary", k=8, embedder=embedder, rescore_depth=8, host=host)
    assert [r.docids for r in binary.ranked] == expect
    hamming = search(indexes["binary"], queries, "binary", k=5, embedder=embedder, rescore_depth=0, host=host)
    assert all(len(r) == 5 and set(r.docids) <= {x.docid for x in docs} for r in hamming.ranked)
    int8 = search(indexes["int8"], queries, "dense", k=3, embedder=embedder, host=host)
    assert all(len(r) == 3 for r in int8.ranked)
    with pytest.raises(ViewrankError, match="binary index"):
        search(indexes["float"], queries, "binary", embedder=embedder, host=host)


def test_binary_without_idmap_is_32x_and_asymmetric_rescoring_matches(tiny_bert, emb_dataset, embedder, tmp_path, host):
    import faiss

    from viewrank.adapters.pyserini.dense import build_index
    from viewrank.adapters.pyserini.dense_search import search
    from viewrank.datasets import BeirDataset

    spec = f"dense:{tiny_bert}"
    flat = build_index(spec, emb_dataset, tmp_path / "flat", "binary", host=host, rescore="none", idmap=False)
    mapped = build_index(spec, emb_dataset, tmp_path / "mapped", "binary", host=host, rescore="none")
    assert isinstance(faiss.read_index_binary(str(flat / "index")), faiss.IndexBinaryFlat)
    queries = BeirDataset(emb_dataset).queries("test")
    a = search(flat, queries, "binary", k=8, embedder=embedder, rescore_depth=8, host=host)  # ours
    b = search(mapped, queries, "binary", k=8, embedder=embedder, rescore_depth=8, host=host)  # Pyserini's
    for x, y in zip(a.ranked, b.ranked):
        np.testing.assert_allclose(sorted(x.scores), sorted(y.scores), atol=1e-4)


@pytest.mark.slow  # a Lucene index build, hybrid search and the encode/search CLIs: about 5 s
def test_hybrid_search_and_clis(indexes, emb_dataset, tiny_bert, tmp_path, capsys, host):
    from viewrank.adapters.pyserini.dense_search import search
    from viewrank.adapters.pyserini.lucene import build_index
    from viewrank.cli import main
    from viewrank.datasets import BeirDataset
    from viewrank.runs import read_run

    bm25 = build_index(emb_dataset, tmp_path / "bm25")
    queries = BeirDataset(emb_dataset).queries("test")
    res = search(indexes["float"], queries, "hybrid", k=5, bm25_index=bm25, alpha=0.5, host=host)
    assert res.info["searcher"] == "HybridSearcher" and all(len(r) == 5 for r in res.ranked)
    with pytest.raises(ViewrankError, match="bm25-index"):
        search(indexes["float"], queries, "hybrid", host=host)

    out = tmp_path / "cli-idx"
    assert main(["encode", "--embedder", f"dense:{tiny_bert}", "--dataset", str(emb_dataset), "--index", str(out),
                 "--codec", "binary"]) == 0
    assert main(["encode", "--embedder", f"dense:{tiny_bert}", "--dataset", str(emb_dataset), "--index", str(out)]) == 2
    run = tmp_path / "run.trec"
    assert main(["search", "--index", str(out), "--dataset", str(emb_dataset), "--mode", "binary",
                 "--rescore-depth", "4", "--output", str(run)]) == 0
    assert set(read_run(run)) == {"q1", "q2", "q3", "q4"}
    printed = capsys.readouterr().out
    assert "nDCG@10" in printed and "BinaryDenseFaissSearcher" in printed
    run2 = tmp_path / "hybrid.trec"
    assert main(["search", "--index", str(indexes["float"]), "--dataset", str(emb_dataset), "--mode", "hybrid",
                 "--bm25-index", str(bm25), "--hits", "5", "--output", str(run2)]) == 0
    assert all(len(v) == 5 for v in read_run(run2).values())


def test_dense_retriever_is_the_search_of_its_index(indexes, emb_dataset, host):
    from viewrank.adapters.pyserini.dense_search import search
    from viewrank.datasets import BeirDataset

    queries = BeirDataset(emb_dataset).queries("test")
    hits = host.retriever(f"dense:{indexes['float']}").search(queries, 3)
    direct = search(indexes["float"], queries, mode="dense", k=3, host=host).ranked
    assert hits == {r.qid: [(d.docid, d.score) for d in r.items] for r in direct}
    assert all(len(h) == 3 and [s for _, s in h] == sorted((s for _, s in h), reverse=True) for h in hits.values())
    with pytest.raises(ViewrankError, match="not a dense index"):
        host.retriever(f"dense:{emb_dataset}")
    with pytest.raises(ViewrankError, match="--mode binary"):  # Hamming codes are not an inner-product index
        host.retriever(f"dense:{indexes['binary']}").search(queries, 3)


def test_train_embedder_mines_dense_negatives(indexes, emb_dataset, tiny_bert, tmp_path, capsys):
    from viewrank.cli import main

    from .conftest import QUERIES

    spec = f"dense:{indexes['float']}"
    out = tmp_path / "o"
    common = ["train", "embedder", "--model", str(tiny_bert), "--dataset", str(emb_dataset), "--batch-size", "2",
              "--steps", "1", "--time-budget-min", "0", "--val-queries", "0", "--evals", "0", "--max-length", "32",
              "--threads", "1", "--neg-depth", "3", "--output", str(out)]
    assert main(common + ["--negatives", spec]) == 0
    cache = json.loads((tmp_path / ".o.negatives.json").read_text())
    judged = {q: d for q, _, d in QUERIES}
    assert cache["source"] == spec and set(cache["hits"]) == {"q1", "q2"}  # the train split's queries
    assert all(len(h) == 3 and judged[q] not in h for q, h in cache["hits"].items())  # positives are never negatives
    record = json.loads((out / "viewrank_embedder_train.json").read_text())
    assert record["negatives_source"] == record["negatives_mined_by"] == spec
    assert not (tmp_path / ".o.mined.json").exists()  # no BM25 was mined for it
    assert main(common + ["--negatives", "nosuch:x"]) == 2
    assert "--negatives nosuch:x: unknown retriever 'nosuch'" in capsys.readouterr().err
