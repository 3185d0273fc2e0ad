"""Mixed-precision int8 (``--int8-keep-fp32``): real exports of tiny random models, real sessions.

The tiny random cross-encoder is a hard case for int8: its scores span 6e-4, so quantising every
node reorders them (the gate refuses the plain int8 graph); the search must find the nodes to
keep in fp32 on SciFact train queries and the gate, on test queries, must then pass.
"""

from __future__ import annotations

import json

import onnx
import pytest

from viewrank.errors import ViewrankError
from viewrank.exporters.mixed import KeepRequest, fp32_share, quantizable_nodes, resolve_patterns, short_name

from .conftest import export, needs_scifact

pytestmark = needs_scifact

QUANT_OPS = {"MatMulInteger", "DynamicQuantizeMatMul", "QAttention"}


def _ops_by_name(path) -> dict[str, str]:
    return {n.name: n.op_type for n in onnx.load(str(path)).graph.node}


def _quantised(path) -> set[str]:
    """Names of the source nodes the int8 graph quantised (the quantiser suffixes them ``_quant``)."""
    return {name.removesuffix("_quant").removesuffix("_MatMul") for name, op in _ops_by_name(path).items()
            if op in QUANT_OPS}


@pytest.fixture(scope="module")
def ce_auto(tiny_cross_encoder, tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed") / "ce-auto"
    return export(f"cross-encoder:{tiny_cross_encoder}", out, int8=True, int8_keep_fp32="auto",
                  int8_fp32_budget=1.0, int8_calibration_queries=10)


def test_plain_int8_of_the_tiny_cross_encoder_is_refused(tiny_cross_encoder, tmp_path):
    with pytest.raises(ViewrankError, match="parity gate failed.*int8"):
        export(f"cross-encoder:{tiny_cross_encoder}", tmp_path / "plain", int8=True)
    assert not (tmp_path / "plain").exists() and not list(tmp_path.glob(".plain.*"))


@pytest.mark.slow  # builds ce_auto (the mixed-precision search): about 7 s
def test_auto_search_keeps_the_most_sensitive_nodes_and_the_gate_passes(ce_auto):
    cfg = json.loads((ce_auto / "viewrank_onnx.json").read_text())
    mixed = cfg["int8_mixed"]
    kept = mixed["fp32_nodes"]
    ranking = [r["node"] for r in mixed["ranking"]]
    errors = [r["rel_rms"] for r in mixed["ranking"]]
    assert errors == sorted(errors, reverse=True) and len(ranking) == mixed["quantisable_nodes"] == 9
    assert 1 <= len(kept) < 9 and kept == ranking[: len(kept)]  # the most error-prone first
    assert mixed["calibration"] == {"split": "train", "queries": 10, "ranking_queries": 8}
    steps = mixed["steps"]
    assert not steps[0]["accepted"] and steps[0]["fp32_nodes"] == 0  # all-int8 tried first, and refused
    assert steps[-1]["accepted"] and steps[-1]["fp32_nodes"] == len(kept)
    assert all(not s["accepted"] for s in steps[:-1])  # the fewest nodes that pass
    last = steps[-1]  # accepted: within the limit after the margin for the calibration's noise
    assert -last["ndcg10_change"] <= last["loss_bound"] <= 0.005
    # in the graph: exactly the kept nodes are left in fp32
    quantised = _quantised(ce_auto / "model_int8.onnx")
    assert quantised.isdisjoint(kept) and quantised | set(kept) == set(ranking)
    assert cfg["parity"]["int8"]["passed"]  # the gate, on test queries, passes what the plain int8 failed
    assert not list(ce_auto.glob("_int8_trial*"))


def test_names_and_globs_keep_those_nodes(tiny_dense, tmp_path):
    out = export(f"dense:{tiny_dense}", tmp_path / "glob", int8=True, parity=False,
                 int8_keep_fp32="*layer.1/*,Attention_0")
    cfg = json.loads((out / "viewrank_onnx.json").read_text())
    kept = cfg["int8_mixed"]["fp32_nodes"]
    assert "Attention_0" in kept and len(kept) == 4  # layer.1: output proj, FFN in, FFN out; plus Attention_0
    assert all("layer.1/" in k for k in kept if k != "Attention_0")
    assert _quantised(out / "model_int8.onnx").isdisjoint(kept)
    assert {"Attention_1"} <= _quantised(out / "model_int8.onnx")
    assert 0 < cfg["int8_mixed"]["fp32_weight_share"] < 1


def test_count_keeps_the_n_most_sensitive(tiny_dense, tmp_path):
    out = export(f"dense:{tiny_dense}", tmp_path / "two", int8=True, int8_keep_fp32="2", int8_calibration_queries=8)
    cfg = json.loads((out / "viewrank_onnx.json").read_text())
    ranking = [r["node"] for r in cfg["int8_mixed"]["ranking"]]
    assert cfg["int8_mixed"]["fp32_nodes"] == ranking[:2]
    assert _quantised(out / "model_int8.onnx") == set(ranking[2:])


def test_bad_requests_name_the_problem_and_write_nothing(tiny_dense, tiny_cross_encoder, tmp_path):
    with pytest.raises(ViewrankError, match="'nosuchnode\\*' matches none of the graph's 8 quantisable nodes"):
        export(f"dense:{tiny_dense}", tmp_path / "a", int8=True, int8_keep_fp32="nosuchnode*", parity=False)
    with pytest.raises(ViewrankError, match="add int8"):
        export(f"dense:{tiny_dense}", tmp_path / "b", int8_keep_fp32="auto")
    with pytest.raises(ViewrankError, match="give 1 to 8"):
        export(f"dense:{tiny_dense}", tmp_path / "c", int8=True, int8_keep_fp32="40", parity=False)
    # a budget too small for this model: refused on the calibration queries, nothing written
    with pytest.raises(ViewrankError, match="no mixed-precision graph keeping at most 10%"):
        export(f"cross-encoder:{tiny_cross_encoder}", tmp_path / "d", int8=True, int8_keep_fp32="auto",
               int8_fp32_budget=0.1, int8_calibration_queries=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_keep_request_parsing_and_helpers(tiny_dense, tmp_path):
    assert KeepRequest.parse(None).mode == "none" and KeepRequest.parse("auto").mode == "auto"
    assert KeepRequest.parse("3").count == 3
    assert KeepRequest.parse(" a*, b ").patterns == ["a*", "b"]
    with pytest.raises(ViewrankError, match="auto, a count"):
        KeepRequest.parse(",")
    out = export(f"dense:{tiny_dense}", tmp_path / "plain", int8=True, parity=False, optimize=False)
    nodes = quantizable_nodes(out / "model.onnx")
    assert nodes and all(n.op == "MatMul" for n in nodes)
    weighted = [n.name for n in nodes if n.weights]
    assert fp32_share(nodes, weighted) == 1.0 and fp32_share(nodes, []) == 0.0
    assert resolve_patterns([weighted[0], weighted[0]], nodes) == [weighted[0]]
    assert short_name("/model/backbone/encoder/layer.3/output/dense/MatMul") == "layer.3/output/dense/MatMul"


def test_quantize_refuses_an_empty_only_list(tmp_path):
    from viewrank.exporters.quantize import quantize_int8

    with pytest.raises(ViewrankError, match="empty list would quantise all"):
        quantize_int8(tmp_path / "x.onnx", tmp_path / "y.onnx", only=[])


def test_calibration_uses_train_queries_not_the_gates():
    from viewrank.exporters.parity import scifact_sample, subsample

    test, train = scifact_sample(None, 10), scifact_sample(None, 10, split="train")
    assert not {q for q, _ in test.queries} & {q for q, _ in train.queries}
    part = subsample(train, 3)
    assert part.queries == train.queries[:3] and set(part.qrels) == {q for q, _ in part.queries}
    with pytest.raises(ViewrankError, match="no dev split"):
        scifact_sample(None, 3, split="dev")


def test_loss_bound_adds_the_sampling_margin():
    from types import SimpleNamespace

    from viewrank.exporters.mixed import loss_bound

    rep = SimpleNamespace(ndcg10_torch=0.80, ndcg10_onnx=0.798, ndcg10_change_sd=0.05)
    # a 0.002 loss + 1.28 x 0.05 / sqrt(100): within 0.005 as measured, not with the margin
    assert loss_bound(rep, 100) == pytest.approx(0.002 + 1.28 * 0.005)
    assert loss_bound(SimpleNamespace(ndcg10_torch=0.8, ndcg10_onnx=0.8, ndcg10_change_sd=0.0), 10) == 0


def test_smoothing_keeps_the_fp32_function_and_feeds_the_int8_graph(tiny_dense, tmp_path):
    import numpy as np

    from viewrank.exporters.smooth import apply_smoothing, smoothable
    from viewrank.plugins.onnx_runtime.embedder import OnnxEmbedder

    out = export(f"dense:{tiny_dense}", tmp_path / "smooth", int8=True, int8_smooth=0.5)
    cfg = json.loads((out / "viewrank_onnx.json").read_text())
    assert cfg["int8_smooth"]["nodes"] == 8 and cfg["int8_smooth"]["alpha"] == 0.5  # 2 Attention + 6 MatMul
    assert cfg["parity"]["int8"]["passed"] and not list(out.glob("_smooth*"))
    ops = _ops_by_name(out / "model_int8.onnx")
    assert sum(1 for name, op in ops.items() if op == "Mul" and name.endswith("_smooth")) == 8
    # the rewrite itself is exact in fp32: scale channels by 1/s, weight rows by s
    src = tmp_path / "plain.onnx"
    onnx.save(onnx.load(str(out / "model.onnx")), str(src))
    model = onnx.load(str(src))
    rng = np.random.default_rng(0)
    maxima = {act: rng.uniform(0.1, 20, size=next(i for i in model.graph.initializer if i.name == w).dims[0])
              for act, w in smoothable(model).values()}
    apply_smoothing(src, out / "_smoothed_test.onnx", maxima, 0.5)
    texts = ["Vitamin D deficiency is linked to bone loss.", "Mitochondria make ATP.", "short"]
    a = OnnxEmbedder(out, variant="fp32").embed(texts)
    b = OnnxEmbedder(out, variant="fp32", graph="_smoothed_test.onnx").embed(texts)
    assert np.abs(a - b).max() < 1e-5
    with pytest.raises(ViewrankError, match="between 0 and 1"):
        apply_smoothing(src, tmp_path / "x.onnx", maxima, 1.5)
    with pytest.raises(ViewrankError, match="shapes the int8 graph|add int8"):
        export(f"dense:{tiny_dense}", tmp_path / "e", int8_smooth=0.5)


def test_every_export_option_is_documented():
    import argparse
    from pathlib import Path

    from viewrank.cli import build_parser

    def subcommand(parser, name):
        return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]

    onnx = subcommand(subcommand(build_parser(), "export"), "onnx")  # viewrank export onnx
    flags = [f for action in onnx._actions for f in action.option_strings
             if f.startswith("--") and f != "--help" and action.help != argparse.SUPPRESS]  # not deprecated aliases
    docs = (Path(__file__).resolve().parents[2] / "docs" / "export.md").read_text(encoding="utf-8")
    assert "--int8-keep-fp32" in flags and "--int8-smooth" in flags
    assert [f for f in flags if f"`{f}" not in docs and f"[{f}" not in docs] == []
