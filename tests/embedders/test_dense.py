"""DenseEmbedder: pooling, normalisation, prefixes, batching, layer exit, dim truncation, config."""

from __future__ import annotations

import numpy as np
import pytest

from viewrank.errors import ViewrankError
from viewrank.plugins.dense.embedder import DenseConfig, DenseEmbedder, parse_options

TEXTS = ["short", "a somewhat longer text about cells", "mid length text", "x", "the longest text of them all, by far"]


def test_embed_normalised_and_order_independent_of_batching(tiny_bert):
    emb = DenseEmbedder(tiny_bert)
    assert emb.config.batch_size == 3  # from the saved viewrank_dense.json
    out = emb.embed(TEXTS)
    assert out.shape == (5, 32) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([emb.embed([t]) for t in TEXTS])
    np.testing.assert_allclose(out, one_by_one, atol=1e-5)


def test_empty_and_string_input(tiny_bert):
    emb = DenseEmbedder(tiny_bert)
    assert emb.embed([]).shape == (0, 32)
    with pytest.raises(ViewrankError):
        emb.embed("not a list")


def test_pooling_prefix_and_normalisation_options(tiny_bert):
    base = DenseConfig.load(tiny_bert)
    mean = DenseEmbedder(tiny_bert, base).embed(TEXTS)
    cls = DenseEmbedder(tiny_bert, base.with_options({"pooling": "cls"})).embed(TEXTS)
    assert not np.allclose(mean, cls)
    pref = DenseEmbedder(tiny_bert, base.with_options({"query_prefix": "query: "}))
    assert np.allclose(pref.embed(TEXTS, "passage"), mean, atol=1e-6)
    assert not np.allclose(pref.embed(TEXTS, "query"), mean, atol=1e-4)
    raw = DenseEmbedder(tiny_bert, base.with_options({"normalize": "false"})).embed(TEXTS)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    with pytest.raises(ViewrankError, match="unknown embedder option"):
        base.with_options({"poolin": "cls"})
    with pytest.raises(ViewrankError, match="pooling"):
        DenseConfig(pooling="max")


def test_layer_exit_and_dim_truncation_match_all_layer_pass(tiny_bert):
    full = DenseEmbedder(tiny_bert)
    layers = full.embed_layers(TEXTS)
    assert layers.shape == (4, 5, 32)  # embeddings + 3 blocks
    early = DenseEmbedder(tiny_bert, DenseConfig.load(tiny_bert).with_options({"layer": "1", "dim": "8"}))
    assert len(early.model.encoder.layer) == 1 and early.dim == 8
    expect = layers[1][:, :8] / np.linalg.norm(layers[1][:, :8], axis=1, keepdims=True)
    np.testing.assert_allclose(early.embed(TEXTS), expect, atol=1e-5)
    with pytest.raises(ViewrankError, match="layers"):
        DenseEmbedder(tiny_bert, DenseConfig(layer=9))
    with pytest.raises(ViewrankError, match="hidden size"):
        DenseEmbedder(tiny_bert, DenseConfig(dim=64))


def test_save_round_trip(tiny_bert, tmp_path):
    emb = DenseEmbedder(tiny_bert, DenseConfig.load(tiny_bert).with_options({"query_prefix": "q: ", "dim": "16"}))
    emb.save(tmp_path / "m")
    again = DenseEmbedder(tmp_path / "m")
    assert again.config.query_prefix == "q: " and again.dim == 16
    np.testing.assert_allclose(again.embed(TEXTS, "query"), emb.embed(TEXTS, "query"), atol=1e-5)


def test_spec_options_and_registry(tiny_bert):
    assert parse_options("DIR@layer=2,dim=8") == ("DIR", {"layer": "2", "dim": "8"})
    assert parse_options("@dim=8") == (None, {"dim": "8"})
    with pytest.raises(ViewrankError, match="KEY=VALUE"):
        parse_options("DIR@layer")
    from viewrank.manager import get_host

    host = get_host()
    assert host.embedder(f"dense:{tiny_bert}@dim=16").dim == 16
    m = host.embedder(f"matryoshka:{tiny_bert}@layer=2,dim=8")
    assert m.dim == 8 and len(m.model.encoder.layer) == 2
    scores = host.reranker(f"bi-encoder:{tiny_bert}").score("q", ["a", "b"])
    assert scores.shape == (2,)


def test_bi_encoder_scores_pairs_of_several_queries_as_their_own_lists(tiny_bert):
    """The bi-encoder is pointwise: pairs of several queries in one call score as in each query's
    own list (each distinct query embedded once), so `viewrank serve` may merge its requests."""
    from viewrank.manager import get_host
    from viewrank.types import PairScorer

    rr = get_host().reranker(f"bi-encoder:{tiny_bert}")
    assert isinstance(rr, PairScorer)
    queries = ["cells", "x", "cells", "mid"]
    got = rr.score_pairs(queries, TEXTS[:4])
    want = [rr.score(q, [t])[0] for q, t in zip(queries, TEXTS[:4])]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert not np.allclose(got, rr.score("cells", TEXTS[:4]), atol=1e-4)  # the query of each pair counts
    assert not isinstance(get_host().reranker(f"fuse:0.4:bi-encoder:{tiny_bert}"), PairScorer)  # min-max over the list
