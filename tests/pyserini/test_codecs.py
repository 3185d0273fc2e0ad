"""Index codecs come from viewrank_register_index_codecs: the adapter looks them up by name in the
host, so a disabled plugin's codecs are absent and a third-party plugin can add one."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, run_cli
from viewrank import hookimpl
from viewrank.errors import ViewrankError
from viewrank.manager import PluginHost

faiss = pytest.importorskip("faiss")


class ToyEmbedder:
    """A hashed bag of words (numpy only), so these tests load no model."""

    dim = 16

    def embed(self, texts, role="passage"):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row] += np.random.default_rng(zlib.crc32(word.encode())).standard_normal(self.dim)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


class _AsIs:
    rescore_store = None

    def project(self, queries):
        return np.asarray(queries, dtype=np.float32)

    def rescore(self, query, ids):  # pragma: no cover - never called without a store
        raise AssertionError


class Fp16Codec:
    """Half-precision scalar quantiser: an ``ip`` codec the adapter has never heard of."""

    name = "fp16"
    metric = "ip"
    options: dict = {}

    def write(self, vectors, folder, **options):
        index = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.add(vectors)
        faiss.write_index(index, str(Path(folder) / "index"))
        return {"bytes_per_dim": 2}

    def open(self, folder, meta):
        return _AsIs()


class Fp16Plugin:
    """A third-party plugin object (an instance: pluggy needs it hashable)."""

    @hookimpl
    def viewrank_register_index_codecs(self, registry, context):
        registry.add("fp16", lambda arg: Fp16Codec(), description="faiss QT_fp16 scalar quantiser")

    @hookimpl
    def viewrank_register_embedders(self, registry, context):
        registry.add("toy", lambda arg: ToyEmbedder(), description="hashed bag of words")


@pytest.fixture(scope="module")
def host():
    return PluginHost(extra_plugins={"fp16-codec": Fp16Plugin()})


def test_builtin_codecs_come_from_their_plugins(host):
    who = {e.name: e.plugin for e in host.registry.entries("codec")}
    assert who == {"float": "pyserini", "int8": "binary", "binary": "binary", "fp16": "fp16-codec"}
    assert host.codec("binary").metric == "hamming" and host.codec("int8").metric == "ip"


def test_a_plugin_codec_through_encode_and_search(host, tiny_dataset, tmp_path, capsys):
    """viewrank_register_index_codecs from a plugin object: `encode --codec fp16` writes the index,
    `search` finds its codec by the name the index records and ranks like exhaustive scoring."""
    from viewrank.adapters.pyserini.dense_search import search
    from viewrank.cli import build_parser
    from viewrank.datasets import BeirDataset

    parser = build_parser(host)
    out = tmp_path / "fp16"
    args = parser.parse_args(["encode", "--embedder", "toy", "--dataset", str(tiny_dataset), "--index", str(out),
                              "--codec", "fp16"])
    assert args.func(args) == 0
    assert "into a fp16 index" in capsys.readouterr().out
    meta = json.loads((out / "viewrank_dense_index.json").read_text())
    assert meta["codec"] == "fp16" and meta["bytes_per_dim"] == 2 and meta["embedder"] == "toy"

    ds = BeirDataset(tiny_dataset)
    queries, docs = ds.queries("test"), list(ds.iter_corpus())
    emb = ToyEmbedder()
    d, q = emb.embed([x.contents for x in docs]), emb.embed([x.text for x in queries], "query")
    expect = [[docs[j].docid for j in np.argsort(-(d @ v), kind="stable")] for v in q]
    res = search(out, queries, "dense", k=len(docs), host=host)  # the embedder the index records
    assert res.info == {"searcher": "FaissSearcher", "codec": "fp16"}
    for got, want in zip(res.ranked, expect):  # fp16 may swap near-ties only
        assert got.docids[0] == want[0] and sorted(got.docids) == sorted(want)

    bad = parser.parse_args(["encode", "--embedder", "toy", "--dataset", str(tiny_dataset), "--index",
                             str(tmp_path / "bad"), "--codec", "fp16", "--rescore", "int8"])
    with pytest.raises(ViewrankError, match="the fp16 codec has no option rescore"):
        bad.func(bad)
    assert not (tmp_path / "bad").exists()


def test_disabled_binary_plugin_means_no_binary_codec(tiny_dataset, tmp_path):
    """VIEWRANK_DISABLE_PLUGINS=binary removes the int8 and binary codecs; encode says why, exit 2."""
    env = {"VIEWRANK_DISABLE_PLUGINS": "binary"}
    for flags in (["--binary"], ["--codec", "binary"]):
        proc = run_cli("encode", "--dataset", str(tiny_dataset), "--index", str(tmp_path / "idx"), *flags, env=env)
        assert proc.returncode == 2, proc.stderr
        assert ("the binary codec is unavailable: the codec 'binary' comes from plugin 'binary', which "
                "VIEWRANK_DISABLE_PLUGINS disables") in proc.stderr
        assert "Traceback" not in proc.stderr and not (tmp_path / "idx").exists()
        assert ("--binary is deprecated" in proc.stderr) == (flags == ["--binary"])


def test_search_on_an_index_whose_codec_is_disabled(tiny_dataset, tmp_path):
    index = tmp_path / "bin"
    index.mkdir()
    (index / "index").write_bytes(b"")
    (index / "docid").write_text("d1\n")
    (index / "viewrank_dense_index.json").write_text(json.dumps({"kind": "binary", "embedder": "dense"}))
    proc = run_cli("search", "--index", str(index), "--dataset", str(tiny_dataset), "--mode", "binary",
                   "--output", str(tmp_path / "run.trec"), env={"VIEWRANK_DISABLE_PLUGINS": "binary"})
    assert proc.returncode == 2 and "the codec 'binary' comes from plugin 'binary'" in proc.stderr
    assert "VIEWRANK_DISABLE_PLUGINS disables" in proc.stderr and not (tmp_path / "run.trec").exists()


def test_deprecated_flags_still_parse(host, capsys):
    from viewrank.adapters.pyserini.commands.encode import codec_name
    from viewrank.cli import build_parser

    parser = build_parser(host)
    base = ["encode", "--dataset", "d", "--index", "i"]
    assert codec_name(parser.parse_args(base)) == "float"
    assert codec_name(parser.parse_args(base + ["--codec", "int8"])) == "int8"
    assert codec_name(parser.parse_args(base + ["--int8"])) == "int8"
    assert codec_name(parser.parse_args(base + ["--binary"])) == "binary"
    err = capsys.readouterr().err
    assert "--int8 is deprecated and will be removed; use --codec int8" in err
    assert "--binary is deprecated and will be removed; use --codec binary" in err
    with pytest.raises(SystemExit):
        parser.parse_args(base + ["--codec", "int8", "--binary"])
    capsys.readouterr()

    search = ["search", "--index", "i", "--dataset", "d", "--output", "r"]
    assert parser.parse_args(search).rescore_depth == 100
    assert parser.parse_args(search + ["--rescore-depth", "7"]).rescore_depth == 7
    assert parser.parse_args(search + ["--rerank-depth", "9"]).rescore_depth == 9
    assert "--rerank-depth is deprecated and will be removed; use --rescore-depth" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["search", "--help"])
    shown = capsys.readouterr().out
    assert "--rescore-depth" in shown and "--rerank-depth" not in shown  # the alias is hidden

    rerank = ["rerank", "--index", "i", "--dataset", "d"]
    args = parser.parse_args(rerank + ["--output-dir", "runs", "--depth", "50", "--rerank-depth", "10"])
    assert (args.output_dir, args.hits, args.rerank_depth) == ("runs", 50, 10)  # --depth: alias of --hits
    assert args.threads == host.context.settings.threads


def test_binary_codec_rescores_from_its_store(tmp_path):
    from viewrank.plugins.binary.codes import BinaryCodec
    from viewrank.plugins.binary.int8 import Int8Quantizer

    x = np.random.default_rng(0).standard_normal((40, 16)).astype(np.float32)
    q = x[3] + 0.1
    codec = BinaryCodec()
    for store in ("float", "int8", "none"):
        folder = tmp_path / store
        folder.mkdir()
        meta = codec.write(x, folder, rescore=store, binary_method="median")
        assert meta["rescore"] == store and meta["nbits"] == 16 and meta["idmap"] is True
        reader = codec.open(folder, meta)
        assert np.array_equal(reader.project(x[:2]) > 0, reader.quantizer.bits(x[:2]).astype(bool))
        if store == "none":
            assert reader.rescore_store is None and "rescore_bytes" not in meta
            continue
        ids = np.array([7, 1, 30, 3])  # any order: scores come back in the order asked
        want = x[ids] @ q if store == "float" else Int8Quantizer.load(folder).dequantize(Int8Quantizer.load(folder).quantize(x[ids])) @ q
        np.testing.assert_allclose(reader.rescore(q, ids), want, rtol=1e-5, atol=1e-5)
        assert reader.rescore_store == ("float32" if store == "float" else "int8")
    with pytest.raises(ViewrankError, match="binary codec has no option thresholds"):
        codec.write(x, tmp_path, thresholds="itq")


def test_index_is_staged_then_swapped(tmp_path, host):
    from viewrank.adapters.pyserini.dense import write_index

    x = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    out = tmp_path / "idx"
    write_index(x, [f"d{i}" for i in range(5)], out, "float", {"embedder": "toy"}, host=host)
    assert faiss.read_index(str(out / "index")).ntotal == 5
    with pytest.raises(ViewrankError, match="--force"):
        write_index(x, list("abcde"), out, "float", host=host)

    class Broken(Fp16Codec):
        def write(self, vectors, folder, **options):
            (Path(folder) / "index").write_bytes(b"half")
            raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError, match="crash"):
        write_index(x[:2], ["a", "b"], out, Broken(), force=True)
    assert (out / "docid").read_text().split() == [f"d{i}" for i in range(5)]  # the old index, whole
    write_index(x[:2], ["a", "b"], out, "int8", host=host, force=True)
    assert (out / "docid").read_text().split() == ["a", "b"] and (out / "viewrank_int8.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # no staging folder left behind


def test_adapter_imports_no_quantiser_and_no_process_wide_host():
    for path in (ROOT / "adapters" / "pyserini").rglob("*.py"):
        text = path.read_text()
        assert "viewrank.plugins" not in text, path
        assert "get_host(" not in text, path
