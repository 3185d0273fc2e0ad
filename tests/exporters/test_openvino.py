"""``viewrank export openvino`` and ``openvino:DIR`` on tiny random models: real OpenVINO, real NNCF,
the real parity gate (a few SciFact queries)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from viewrank.errors import ViewrankError
from viewrank.manager import get_host
from viewrank.types import Candidate, PairScorer, Query

from .conftest import damaged_copy, needs_scifact

pytest.importorskip("openvino")
pytest.importorskip("nncf")

pytestmark = needs_scifact

TEXTS = ["Vitamin D deficiency is linked to bone loss.", "Mitochondria make ATP.", "short", "",
         "A much longer passage about T cells, antibodies and the innate immune response " * 4,
         "Aspirin lowers the risk of a second heart attack."]


def ov_export(spec: str, out, **options):
    options.setdefault("parity_queries", 3)
    return get_host().exporter("openvino").export(spec, out, **options)


@pytest.fixture(scope="module")
def dense_ov(tiny_dense, tmp_path_factory):
    out = tmp_path_factory.mktemp("ov") / "dense"
    return ov_export(f"dense:{tiny_dense}", out, int8=True, calibration_queries=5)


@pytest.mark.slow  # with the next test: builds dense_ov (fp32 + NNCF int8 export), about 6 s
def test_dense_export_fp32_matches_torch_and_int8_is_gated(dense_ov, tiny_dense):
    from viewrank.exporters.artifacts import verify_manifest

    names = {p.name for p in dense_ov.iterdir()}
    assert {"openvino_model.xml", "openvino_model.bin", "openvino_model_int8.xml", "openvino_model_int8.bin",
            "tokenizer.json", "config.json", "viewrank_openvino.json", "manifest.json"} <= names
    assert not any(n.startswith("_") for n in names)  # the traced ONNX graph is not left behind
    assert verify_manifest(dense_ov) == []
    manifest = json.loads((dense_ov / "manifest.json").read_text())
    assert set(manifest["files"]) == names - {"manifest.json"}
    cfg = json.loads((dense_ov / "viewrank_openvino.json").read_text())
    assert cfg["format"] == "openvino" and cfg["variants"] == {"fp32": "openvino_model.xml",
                                                                 "int8": "openvino_model_int8.xml"}
    assert cfg["parity"]["fp32"]["passed"] and cfg["parity"]["fp32"]["max_abs_diff"] < 1e-4
    assert cfg["parity"]["int8"]["passed"]  # the gate's report, per variant
    int8 = cfg["int8"]
    assert int8["calibration"] == {"split": "train", "queries": 5, "batches": int8["calibration"]["batches"]}
    assert int8["fake_quantize_nodes"] > 0 and int8["outcome"].startswith(("plain", "accuracy-aware"))
    want = get_host().embedder(f"dense:{tiny_dense}").embed(TEXTS)
    fp32 = get_host().embedder(f"openvino:{dense_ov}")
    np.testing.assert_allclose(fp32.embed(TEXTS), want, atol=1e-4)
    q8 = get_host().embedder(f"openvino:{dense_ov}@variant=int8").embed(TEXTS)
    assert q8.shape == want.shape and np.abs(q8 - want).max() <= cfg["int8_atol"]
    assert not list(dense_ov.parent.glob(".dense.*"))  # staged_save's build folder is gone


@pytest.mark.slow  # an fp32 + int8 + two bf16 export where the CPU has bf16: about 8 s
def test_bf16_variants_are_gated_where_the_cpu_computes_bf16(tiny_dense, tmp_path):
    from viewrank.plugins.onnx_runtime.cpu import native_bf16

    with pytest.raises(ViewrankError, match="drop --no-parity"):
        ov_export(f"dense:{tiny_dense}", tmp_path / "unjudged", bf16=True, parity=False)
    out = tmp_path / "bf16"
    if not native_bf16():  # the gate would judge f32 arithmetic under the bf16 name
        with pytest.raises(ViewrankError, match="no native bf16"):
            ov_export(f"dense:{tiny_dense}", out, bf16=True)
        assert not out.exists() and not (tmp_path / "unjudged").exists()
        return
    ov_export(f"dense:{tiny_dense}", out, int8=True, bf16=True, calibration_queries=5)
    cfg = json.loads((out / "viewrank_openvino.json").read_text())
    assert cfg["variants"] == {"fp32": "openvino_model.xml", "int8": "openvino_model_int8.xml",
                               "bf16": "openvino_model.xml", "int8-bf16": "openvino_model_int8.xml"}
    assert cfg["precision"] == {"bf16": "bf16", "int8-bf16": "bf16"}
    assert all(cfg["parity"][v]["passed"] for v in cfg["variants"])
    want = get_host().embedder(f"dense:{tiny_dense}").embed(TEXTS)
    runs = {v: get_host().embedder(f"openvino:{out}@variant={v}") for v in ("fp32", "bf16")}
    assert {v: r.ov.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() for v, r in runs.items()} == \
        {"fp32": "f32", "bf16": "bf16"}
    diff = np.abs(runs["bf16"].embed(TEXTS) - want).max()
    assert 1e-5 < diff <= cfg["int8_atol"]  # bf16 rounding moved the vectors, within the gate's limit


@pytest.mark.slow  # uses dense_ov (see above); two gates in OpenVINO, about 4 s
def test_verify_export_checks_an_openvino_folder_with_openvino(dense_ov, tmp_path):
    from viewrank.exporters.verify import verify_export

    report = verify_export(dense_ov, parity_queries=3, host=get_host())
    assert report["passed"] and set(report["reports"]) == {"fp32", "int8"}
    assert report["reports"]["fp32"]["max_abs_diff"] < 1e-4 and report["source"].startswith("dense:")
    copy = damaged_copy(dense_ov, tmp_path / "copy", "openvino_model_int8.bin")
    with pytest.raises(ViewrankError, match="openvino_model_int8.bin: sha256 differs"):
        verify_export(copy, parity_queries=3, host=get_host())
    (copy / "viewrank_openvino.json").unlink()
    with pytest.raises(ViewrankError, match="neither viewrank_onnx.json nor viewrank_openvino.json"):
        verify_export(copy, parity_queries=3, host=get_host())


@pytest.mark.slow  # uses dense_ov (see above)
def test_runtime_compiles_once_for_any_shape_and_takes_threads_from_settings(dense_ov):
    from viewrank.context import Context
    from viewrank.settings import Settings

    emb = get_host().embedder(f"openvino:{dense_ov}")
    compiled = emb.ov.compiled
    assert all(port.get_partial_shape().is_dynamic for port in compiled.inputs)
    for batch in (TEXTS[:1], TEXTS, TEXTS * 7):  # different batch sizes and lengths, one compiled model
        assert emb.embed(batch).shape == (len(batch), 24)
    assert emb.ov.compiled is compiled
    assert emb.ov.threads == get_host().context.settings.threads
    from viewrank.plugins.openvino_runtime.plugin import make_embedder

    one = make_embedder(str(dense_ov), Context(get_host(), Settings.resolve(threads=1)))
    assert one.ov.threads == 1 and int(one.ov.compiled.get_property("INFERENCE_NUM_THREADS")) == 1
    assert get_host().embedder(f"openvino:{dense_ov}@threads=1").ov.threads == 1


@pytest.mark.slow  # uses dense_ov (see above)
def test_streams_run_batches_in_parallel_with_the_same_vectors(dense_ov):
    many = TEXTS * 12  # 72 texts: three batches of 32 or fewer
    one = get_host().embedder(f"openvino:{dense_ov}@threads=2")
    two = get_host().embedder(f"openvino:{dense_ov}@threads=2,streams=2")
    assert str(two.ov.compiled.get_property("PERFORMANCE_HINT")) == "THROUGHPUT"
    assert int(two.ov.compiled.get_property("NUM_STREAMS")) == 2
    np.testing.assert_allclose(two.embed(many), one.embed(many), atol=1e-5)
    np.testing.assert_allclose(two.embed(many, role="query")[:6], one.embed(TEXTS, role="query"), atol=1e-5)
    with pytest.raises(ViewrankError, match="streams= takes a whole number from 1 to the threads"):
        get_host().embedder(f"openvino:{dense_ov}@threads=2,streams=3")
    with pytest.raises(ViewrankError, match="a whole number"):
        get_host().embedder(f"openvino:{dense_ov}@streams=two")
    with pytest.raises(ViewrankError, match="streams= is for embedders"):
        get_host().reranker(f"openvino:{dense_ov}@threads=2,streams=2")


@pytest.mark.parametrize("kind", ["cross-encoder", "mvp"])
def test_reranker_export_ranks_like_torch(kind, tiny_cross_encoder, tiny_mvp, tmp_path):
    folder = tiny_cross_encoder if kind == "cross-encoder" else tiny_mvp
    out = ov_export(f"{kind}:{folder}", tmp_path / kind)
    cfg = json.loads((out / "viewrank_openvino.json").read_text())
    assert cfg["kind"] == "reranker" and cfg["parity"]["fp32"]["passed"]
    torch_rr, ov_rr = get_host().reranker(f"{kind}:{folder}"), get_host().reranker(f"openvino:{out}")
    query = "vitamin D and bones"
    want, got = torch_rr.score(query, TEXTS), ov_rr.score(query, TEXTS)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert isinstance(ov_rr, PairScorer) == (kind == "cross-encoder")  # serve merges pairs only when pointwise
    cands = [Candidate(f"d{i}", t) for i, t in enumerate(TEXTS)]
    assert ov_rr.rerank(Query("q", query), cands).docids == torch_rr.rerank(Query("q", query), cands).docids


def test_failed_gate_leaves_no_folder(tiny_dense, tmp_path, monkeypatch):
    import viewrank.exporters.onnx_export as ox

    monkeypatch.setitem(ox.NDCG_LIMITS, "fp32", -1.0)  # no export can meet a negative limit
    with pytest.raises(ViewrankError, match="parity gate failed.*fp32"):
        ov_export(f"dense:{tiny_dense}", tmp_path / "out", parity_queries=2)
    assert list(tmp_path.iterdir()) == []


def test_quantized_embedder_specs_export(tiny_dense, tmp_path):
    """``int8:DIR`` exports the graph that ends in the calibrated int8 codes, as the ONNX exporter does."""
    from viewrank.plugins.binary.int8 import Int8Quantizer

    folder = tmp_path / "model"
    shutil.copytree(tiny_dense, folder)
    Int8Quantizer.calibrate(get_host().embedder(f"dense:{folder}").embed([f"{t} {i}" for i in range(6) for t in TEXTS])
                            ).save(folder)
    out = ov_export(f"int8:{folder}", tmp_path / "i8", parity_queries=2)
    cfg = json.loads((out / "viewrank_openvino.json").read_text())
    assert cfg["output_dtype"] == "int8" and cfg["parity"]["fp32"]["passed"]
    want = get_host().embedder(f"int8:{folder}").embed(TEXTS, role="query")
    got = get_host().embedder(f"openvino:{out}").embed(TEXTS, role="query")
    assert got.dtype == np.int8 and np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_bad_input_is_refused(tiny_dense, tmp_path):
    with pytest.raises(ViewrankError, match="viewrank_openvino.json missing"):
        get_host().embedder(f"openvino:{tmp_path}")
    with pytest.raises(ViewrankError, match="known: variant=, threads="):
        get_host().embedder(f"openvino:{tmp_path}@providers=CPU")
    with pytest.raises(ViewrankError, match="add int8"):
        ov_export(f"dense:{tiny_dense}", tmp_path / "x", int8_keep_fp32="MatMul")
    with pytest.raises(ViewrankError, match="calibration-queries 0"):
        ov_export(f"dense:{tiny_dense}", tmp_path / "x", int8=True, calibration_queries=0)
    assert not (tmp_path / "x").exists()


@pytest.mark.slow  # a viewrank child process: about 7 s on 2 shared cores
def test_cli_refuses_a_spec_that_cannot_be_exported(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "viewrank", "export", "openvino", "bi-encoder",
                          "--output", str(tmp_path / "y")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2, bad.stderr
    assert "reports no model_type" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "y").exists()


@pytest.mark.slow  # two NNCF int8 runs, one with accuracy control: about 19 s
def test_int8_recovery_runs_nncf_accuracy_control_on_train(tiny_cross_encoder, tmp_path):
    """The tiny random cross-encoder's plain int8 graph reorders its near-tied scores (tau far below
    0.95 on train), so the accuracy-aware retry runs and its report is stored; ``none`` keeps plain."""
    out = ov_export(f"cross-encoder:{tiny_cross_encoder}", tmp_path / "ac", int8=True, calibration_queries=4,
                    parity=False)
    report = json.loads((out / "viewrank_openvino.json").read_text())["int8"]
    assert not report["plain_on_train"]["passed"]
    assert report["method"] == "nncf.quantize_with_accuracy_control" and report["max_drop"] == 0.005
    assert report["outcome"].startswith("accuracy-aware") and "recovered_on_train" in report
    assert 0 < report["fake_quantize_nodes_kept"] <= report["fake_quantize_nodes"]
    plain = ov_export(f"cross-encoder:{tiny_cross_encoder}", tmp_path / "plain", int8=True, calibration_queries=4,
                      parity=False, int8_recovery="none")
    report = json.loads((plain / "viewrank_openvino.json").read_text())["int8"]
    assert report["method"] == "nncf.quantize" and report["outcome"].startswith("plain (misses")
