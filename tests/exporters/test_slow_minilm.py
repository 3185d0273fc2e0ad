"""The packaged all-MiniLM-L6-v2, exported for real with the SciFact parity gate (fp32 + int8)."""

from __future__ import annotations

import json

import pytest

from viewrank.exporters import DEFAULT_PARITY_QUERIES

from .conftest import export, needs_scifact


@pytest.mark.slow
@needs_scifact
def test_minilm_export_passes_the_parity_gate(tmp_path):
    out = export("dense", tmp_path / "minilm", int8=True, parity_queries=DEFAULT_PARITY_QUERIES)  # the CLI's sample
    parity = json.loads((out / "viewrank_onnx.json").read_text())["parity"]
    assert parity["fp32"]["max_abs_diff"] < 1e-4 and parity["fp32"]["min_kendall_tau"] >= 0.99
    assert parity["fp32"]["ndcg10_diff"] <= 0.002
    int8 = parity["int8"]  # the gate fails a loss; int8 noise may also raise nDCG@10 (reported)
    assert int8["passed"] and int8["ndcg10_torch"] - int8["ndcg10_onnx"] <= 0.005
    assert int8["max_abs_diff"] < 0.05 and int8["min_kendall_tau"] >= 0.95
