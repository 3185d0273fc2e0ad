"""int8 calibration, binary codes (sign / median / ITQ / STE), packing and Hamming search."""

from __future__ import annotations

import numpy as np
import pytest

from viewrank.errors import ViewrankError
from viewrank.plugins.binary.codes import BinaryQuantizer, hamming_scores
from viewrank.plugins.binary.int8 import Int8Quantizer
from viewrank.plugins.binary.ste import train_ste_codes


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 32)).astype(np.float32) + 0.3
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_int8_single_query_matches_batch_and_never_collapses(corpus, tmp_path):
    q = Int8Quantizer.calibrate(corpus)
    q.save(tmp_path)
    q = Int8Quantizer.load(tmp_path)
    one = q.quantize(corpus[:1])
    assert one.dtype == np.int8 and np.count_nonzero(one) > 16
    np.testing.assert_array_equal(one, q.quantize(corpus)[:1])
    err = np.abs(q.dequantize(q.quantize(corpus)) - corpus).max()
    assert err <= ((q.hi - q.lo) / 255).max() + 1e-6
    with pytest.raises(ViewrankError, match="dim"):
        q.quantize(np.zeros((1, 8), np.float32))


def test_int8_faiss_index_scores_like_dequantized(corpus):
    q = Int8Quantizer.calibrate(corpus)
    index = q.faiss_index()
    index.add(corpus)
    scores, ids = index.search(corpus[:3], 5)
    expect = corpus[:3] @ q.dequantize(q.codes(corpus)).T
    for row in range(3):
        np.testing.assert_allclose(scores[row], expect[row, ids[row]], rtol=1e-4, atol=1e-4)


def test_binary_median_bits_are_balanced_and_packed(corpus, tmp_path):
    q = BinaryQuantizer.calibrate(corpus, "median")
    bits = q.bits(corpus)
    assert np.allclose(bits.mean(0), 0.5, atol=0.01)
    packed = q.pack(corpus)
    assert packed.shape == (300, 4) and packed.dtype == np.uint8
    q.save(tmp_path)
    np.testing.assert_array_equal(BinaryQuantizer.load(tmp_path).pack(corpus), packed)
    sign = BinaryQuantizer.calibrate(corpus, "zero")
    np.testing.assert_array_equal(sign.bits(corpus), (corpus > 0).astype(np.uint8))


def test_itq_rotation_is_orthogonal_and_reduces_quantisation_error(corpus):
    q = BinaryQuantizer.calibrate(corpus, "itq")
    r = q.rotation
    np.testing.assert_allclose(r.T @ r, np.eye(32), atol=1e-4)
    z = corpus - q.shift

    def err(rot):
        v = z @ rot
        return np.linalg.norm(np.sign(v) - v)

    assert err(r) < err(np.eye(32, dtype=np.float32))


def test_hamming_scores_match_faiss(corpus):
    import faiss

    q = BinaryQuantizer.calibrate(corpus, "median")
    codes = q.pack(corpus)
    index = faiss.IndexBinaryFlat(32)
    index.add(codes)
    dist, ids = index.search(codes[:4], 5)
    ours = hamming_scores(codes[:4], codes)
    for row in range(4):
        np.testing.assert_array_equal(-ours[row, ids[row]], dist[row])


def test_ste_training_improves_label_agreement(corpus):
    rng = np.random.default_rng(1)
    queries = corpus[:100] + 0.05 * rng.standard_normal((100, 32)).astype(np.float32)
    pairs = [(i, i) for i in range(100)]
    trained = train_ste_codes(queries, corpus, pairs, corpus, steps=60, batch_size=32, negatives=64)
    assert trained.method == "ste" and trained.rotation.shape == (32, 32)

    def hits(quant):
        s = hamming_scores(quant.pack(queries), quant.pack(corpus))
        return float(np.mean(s.argmax(1) == np.arange(100)))

    assert hits(trained) >= hits(BinaryQuantizer.calibrate(corpus, "itq")) - 0.02


def test_calibrated_model_folder_serves_int8_and_binary_specs(tiny_bert, emb_dataset, tmp_path):
    from viewrank.manager import get_host
    from viewrank.cli import main

    out = tmp_path / "calibrated"
    assert main(["train", "binary", "--embedder", f"dense:{tiny_bert}", "--dataset", str(emb_dataset),
                 "--output", str(out), "--sample", "8"]) == 0
    host = get_host()
    float_vecs = host.embedder(f"dense:{out}").embed(["one query"], "query")
    int8 = host.embedder(f"int8:{out}")
    q = int8.embed(["one query"], "query")
    assert q.dtype == np.int8 and q.shape == (1, 32) and np.count_nonzero(q) > 8
    deq = int8.quantizer.dequantize(q)[0]  # values outside the 8-document ranges are clipped
    assert deq @ float_vecs[0] / np.linalg.norm(deq) > 0.8
    binary = host.embedder(f"binary:{out}")
    assert binary.embed(["a", "b"]).shape == (2, 4) and binary.dim == 4
    with pytest.raises(ViewrankError, match="calibrat"):
        host.embedder(f"int8:{tiny_bert}")
