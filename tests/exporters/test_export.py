"""Real exports of tiny random models, real ONNX Runtime sessions, the real parity gate."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from viewrank.errors import ViewrankError
from viewrank.manager import get_host
from viewrank.types import PairScorer

from .conftest import export, needs_scifact

pytestmark = needs_scifact

TEXTS = ["Vitamin D deficiency is linked to bone loss.", "Mitochondria make ATP.", "short", "",
         "A much longer passage about T cells, antibodies and the innate immune response " * 4]


@pytest.fixture(scope="module")
def dense_export(tiny_dense, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "dense"
    return export(f"dense:{tiny_dense}", out, int8=True, fp16=True, ml_commons=True, triton=True)


def test_embedder_export_writes_every_artifact(dense_export):
    from viewrank.exporters.artifacts import verify_manifest

    names = {p.relative_to(dense_export).as_posix() for p in dense_export.rglob("*") if p.is_file()}
    for want in ("model.onnx", "model_int8.onnx", "model_fp16.onnx", "tokenizer.json", "config.json",
                 "viewrank_onnx.json", "manifest.json", "ml_commons.zip", "ml_commons_register.json",
                 "triton/dense/config.pbtxt", "triton/dense/1/model.onnx", "triton/dense_fp16/1/model.onnx"):
        assert want in names
    assert verify_manifest(dense_export) == []
    cfg = json.loads((dense_export / "viewrank_onnx.json").read_text())
    assert cfg["dim"] == 24 and cfg["pooling"] == "mean" and cfg["max_length"] == 64  # Matryoshka dim baked in
    assert cfg["parity"]["fp32"]["passed"] and cfg["parity"]["int8"]["passed"]
    assert cfg["parity"]["fp32"]["min_kendall_tau"] >= 0.99 and cfg["parity"]["fp32"]["ndcg10_diff"] <= 0.002
    assert not list(dense_export.parent.glob(".dense.*"))  # staged_save's build folder is gone
    assert cfg["exporter"] == "torchscript" and cfg["opset"] == 17
    assert cfg["int8_weights"] == "s8-7bit"  # the default: no 16-bit saturation on CPUs without VNNI
    # the int8 variant is quantised from the graph fused for ONNX Runtime; model.onnx stays standard ONNX
    assert cfg["int8_fused_ops"]["Attention"] == 2 and cfg["int8_fused_ops"]["SkipLayerNormalization"] == 4
    assert not list(dense_export.glob("_fused*"))
    import onnx

    domains = lambda name: {n.domain for n in onnx.load(str(dense_export / name)).graph.node}  # noqa: E731
    assert domains("model.onnx") <= {"", "ai.onnx"} and "com.microsoft" in domains("model_int8.onnx")


@pytest.mark.slow  # the dynamo exporter: about 9 s
def test_dynamo_exporter_and_unfused_int8(tiny_dense, tmp_path):
    out = export(f"dense:{tiny_dense}", tmp_path / "dyn", int8=True, exporter="dynamo", opset=18, optimize=False)
    cfg = json.loads((out / "viewrank_onnx.json").read_text())
    assert cfg["exporter"] == "dynamo" and cfg["opset"] == 18 and "int8_fused_ops" not in cfg
    assert cfg["parity"]["fp32"]["passed"] and cfg["parity"]["int8"]["passed"]
    a = get_host().embedder(f"dense:{tiny_dense}").embed(TEXTS)
    b = get_host().embedder(f"onnx:{out}@providers=CPUExecutionProvider").embed(TEXTS)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_onnx_embedder_matches_torch_at_any_batch_and_length(dense_export, tiny_dense):
    torch_emb = get_host().embedder(f"dense:{tiny_dense}")
    onnx_emb = get_host().embedder(f"onnx:{dense_export}@providers=CPUExecutionProvider")
    assert onnx_emb.dim == torch_emb.dim == 24
    for texts in (TEXTS, TEXTS[:1], TEXTS[1:3]):
        for role in ("query", "passage"):
            a, b = torch_emb.embed(texts, role=role), onnx_emb.embed(texts, role=role)
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-4)
    assert np.allclose(np.linalg.norm(onnx_emb.embed(TEXTS), axis=1), 1.0, atol=1e-5)  # normalised in the graph


def test_int8_variant_loads_and_stays_close(dense_export, tiny_dense):
    a = get_host().embedder(f"dense:{tiny_dense}").embed(TEXTS)
    b = get_host().embedder(f"onnx:{dense_export}@variant=int8").embed(TEXTS)
    assert np.abs(a - b).max() < 0.1


def test_ml_commons_bundle_is_consistent(dense_export):
    body = json.loads((dense_export / "ml_commons_register.json").read_text())
    assert body["function_name"] == "TEXT_EMBEDDING" and body["model_format"] == "ONNX"
    assert body["model_config"]["embedding_dimension"] == 24 and body["model_config"]["model_type"] == "bert"
    with zipfile.ZipFile(dense_export / "ml_commons.zip") as zf:
        names = zf.namelist()
    assert sorted(names) == ["dense.onnx", "tokenizer.json"]
    import hashlib

    assert body["model_content_hash_value"] == hashlib.sha256((dense_export / "ml_commons.zip").read_bytes()).hexdigest()


def test_ml_commons_graph_emits_the_embedding_as_one_token(dense_export, tmp_path):
    """ml-commons pools the first output as [batch, tokens, dim]: the bundle's graph hands it the
    finished embedding as a single token (CLS pooling), equal to model.onnx's sentence_embedding."""
    import onnxruntime as ort

    from viewrank.exporters.ml_commons import BUNDLE_OUTPUT

    body = json.loads((dense_export / "ml_commons_register.json").read_text())
    assert body["model_config"]["pooling_mode"] == "CLS"
    with zipfile.ZipFile(dense_export / "ml_commons.zip") as zf:
        (tmp_path / "bundle.onnx").write_bytes(zf.read("dense.onnx"))
    bundle = ort.InferenceSession(str(tmp_path / "bundle.onnx"), providers=["CPUExecutionProvider"])
    plain = ort.InferenceSession(str(dense_export / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in bundle.get_outputs()] == [BUNDLE_OUTPUT]
    ids = np.array([[101, 7592, 2088, 102, 0], [101, 2054, 2003, 2009, 102]], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": (ids > 0).astype(np.int64), "token_type_ids": np.zeros_like(ids)}
    got, want = bundle.run(None, feeds)[0], plain.run(["sentence_embedding"], feeds)[0]
    assert got.shape == (2, 1, 24)
    np.testing.assert_allclose(got[:, 0, :], want, atol=1e-6)


def test_ml_commons_check_refuses_a_pooled_mode_on_the_pooled_graph(dense_export):
    from viewrank.exporters.ml_commons import check_bundle

    body = json.loads((dense_export / "ml_commons_register.json").read_text())
    cfg = json.loads((dense_export / "viewrank_onnx.json").read_text())
    body["model_config"]["pooling_mode"] = "MEAN"
    assert any("CLS" in p for p in check_bundle(body, cfg, dense_export / "ml_commons.zip"))


def test_ml_commons_check_names_a_mismatch(dense_export):
    from viewrank.exporters.ml_commons import check_bundle

    body = json.loads((dense_export / "ml_commons_register.json").read_text())
    cfg = json.loads((dense_export / "viewrank_onnx.json").read_text())
    body["model_config"]["model_type"] = "distilbert"
    problems = check_bundle(body, cfg, dense_export / "ml_commons.zip")
    assert any("token_type_ids" in p for p in problems)


def test_triton_config_declares_dynamic_batching_and_gpu(dense_export):
    text = (dense_export / "triton" / "dense" / "config.pbtxt").read_text()
    assert 'backend: "onnxruntime"' in text and "dynamic_batching" in text and "KIND_GPU" in text
    assert 'name: "sentence_embedding"' in text and "dims: [ 24 ]" in text


def test_cross_encoder_export_scores_like_torch(tiny_cross_encoder, tmp_path):
    out = export(f"cross-encoder:{tiny_cross_encoder}", tmp_path / "ce", ml_commons=True, triton=True)
    body = json.loads((out / "ml_commons_register.json").read_text())
    assert body["function_name"] == "TEXT_SIMILARITY"
    torch_rr = get_host().reranker(f"cross-encoder:{tiny_cross_encoder}")
    onnx_rr = get_host().reranker(f"onnx:{out}")
    for n in (1, 3, 5):
        np.testing.assert_allclose(torch_rr.score("vitamin D and bones", TEXTS[:n]),
                                   onnx_rr.score("vitamin D and bones", TEXTS[:n]), atol=1e-4)
    # pointwise: the pairs of two queries in one call score as each query's own list
    assert isinstance(onnx_rr, PairScorer)
    queries = ["vitamin D and bones", "aspirin"] * 2
    np.testing.assert_allclose(onnx_rr.score_pairs(queries, TEXTS[:4]),
                               [onnx_rr.score(q, [t])[0] for q, t in zip(queries, TEXTS[:4])], atol=1e-5)
    assert "reshape" in (out / "triton" / "ce" / "config.pbtxt").read_text()


def test_mvp_exports_as_one_listwise_graph(tiny_mvp, tmp_path):
    out = export(f"mvp:{tiny_mvp}", tmp_path / "mvp", int8=True, triton=True)
    cfg = json.loads((out / "viewrank_onnx.json").read_text())
    assert cfg["task"] == "mvp" and cfg["m"] == 2
    torch_rr = get_host().reranker(f"mvp:{tiny_mvp}")
    onnx_rr = get_host().reranker(f"onnx:{out}")
    for n in (1, 2, 5):
        np.testing.assert_allclose(torch_rr.score("vitamin D and bones", TEXTS[:n]),
                                   onnx_rr.score("vitamin D and bones", TEXTS[:n]), atol=1e-4)
    # listwise: a candidate's score depends on the rest of the list, in the graph as in torch
    assert not isinstance(onnx_rr, PairScorer)
    alone = onnx_rr.score("q", TEXTS[:1])[0]
    assert not np.isclose(alone, onnx_rr.score("q", TEXTS)[0], atol=1e-6)
    triton = (out / "triton" / "mvp" / "config.pbtxt").read_text()
    assert "max_batch_size: 0" in triton and "dynamic_batching" not in triton
    with pytest.raises(ViewrankError, match="listwise"):
        export(f"mvp:{tiny_mvp}", tmp_path / "mvp2", ml_commons=True, parity=False)
    assert not (tmp_path / "mvp2").exists()


def test_failed_parity_gate_leaves_no_directory(tiny_dense, tmp_path, monkeypatch):
    import viewrank.exporters.onnx_export as ox

    monkeypatch.setitem(ox.NDCG_LIMITS, "fp32", -1.0)  # no export can meet a negative limit
    with pytest.raises(ViewrankError, match="parity gate failed"):
        export(f"dense:{tiny_dense}", tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused(tiny_dense, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ViewrankError, match="not empty"):
        export(f"dense:{tiny_dense}", tmp_path / "out", parity=False)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_onnx_spec_errors_name_the_problem(tmp_path):
    with pytest.raises(ViewrankError, match="viewrank_onnx.json missing"):
        get_host().embedder(f"onnx:{tmp_path}")
    with pytest.raises(ViewrankError, match="known: variant"):
        get_host().embedder(f"onnx:{tmp_path}@colour=red")


@pytest.mark.slow  # two viewrank child processes: about 10 s
def test_cli_export_and_unknown_format(tiny_dense, tmp_path):
    cmd = [sys.executable, "-m", "viewrank", "export", "onnx", f"dense:{tiny_dense}", "--output", str(tmp_path / "x"),
           "--no-parity"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x" / "model.onnx").is_file()
    bad = subprocess.run([sys.executable, "-m", "viewrank", "export", "tflite", "dense", "--output", str(tmp_path / "y")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "onnx" in bad.stderr


def test_serve_answers_from_an_exported_graph(dense_export, tiny_dense):
    """``viewrank serve --embedder onnx:DIR`` shape, over real HTTP to a real uvicorn."""
    import httpx

    from tests.serve.conftest import start_server
    from viewrank.adapters.serve.app import create_app

    app = create_app(embedder=get_host().embedder(f"onnx:{dense_export}"))
    srv, thread, url = start_server(app)
    try:
        got = httpx.post(url + "/embed", json={"input": TEXTS[:2]}, timeout=30).json()
        want = get_host().embedder(f"dense:{tiny_dense}").embed(TEXTS[:2])
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-4)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_int8_tau_ignores_reorders_the_reference_calls_ties_but_not_real_swaps():
    from viewrank.exporters.parity import kendall_tau

    # a trained reranker: one relevant passage far ahead, distractors within 0.03 of each other
    ref = np.array([0.5, -0.35, -0.36, -0.37, -0.38])
    noisy = np.array([0.49, -0.37, -0.35, -0.38, -0.36])  # int8-sized noise reorders the distractors
    assert kendall_tau(ref, noisy) < 0.6  # plain tau: a failure
    assert kendall_tau(ref, noisy, margin=0.044) == 1.0  # gaps under 0.044 (5% of the 0.88 range) are ties
    swapped = np.array([-0.40, 0.5, -0.36, -0.37, -0.38])  # the relevant passage falls to the bottom
    assert kendall_tau(ref, swapped, margin=0.044) < 0.0
    assert kendall_tau(ref, ref[::-1], margin=0.044) == -1.0
    assert kendall_tau(np.ones(4), np.arange(4.0), margin=0.044) == 1.0  # nothing separated: nothing to judge


def test_ml_commons_variant_is_checked_before_anything_is_built(tiny_dense, tmp_path):
    with pytest.raises(ViewrankError, match="add ml_commons"):
        export(f"dense:{tiny_dense}", tmp_path / "a", ml_commons_variant="int8", int8=True)
    with pytest.raises(ViewrankError, match="add int8"):
        export(f"dense:{tiny_dense}", tmp_path / "b", ml_commons=True, ml_commons_variant="int8")
    with pytest.raises(ViewrankError, match="choose one of fp32, int8"):
        export(f"dense:{tiny_dense}", tmp_path / "c", ml_commons=True, ml_commons_variant="fp16", fp16=True)
    assert not any(tmp_path.iterdir())


def test_an_int8_ml_commons_bundle_holds_the_int8_graph_with_only_used_domains(tiny_dense, tmp_path):
    import onnx

    out = export(f"dense:{tiny_dense}", tmp_path / "e", int8=True, ml_commons=True, ml_commons_variant="int8",
                 parity=False)
    with zipfile.ZipFile(out / "ml_commons.zip") as zf:
        graph = onnx.load_from_string(zf.read(next(n for n in zf.namelist() if n.endswith(".onnx"))))
    ops = {n.op_type for n in graph.graph.node}
    assert "DynamicQuantizeMatMul" in ops or "QAttention" in ops or "MatMulInteger" in ops
    used = {n.domain or "" for n in graph.graph.node}
    assert {o.domain or "" for o in graph.opset_import} <= used | {""}
    assert json.loads((out / "viewrank_onnx.json").read_text())["ml_commons_variant"] == "int8"
    assert "int8" in json.loads((out / "ml_commons_register.json").read_text())["description"]
