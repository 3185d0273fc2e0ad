"""``viewrank verify-export``: an intact export passes here; damaged files and another model fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from viewrank.errors import ViewrankError
from viewrank.exporters.verify import verify_export
from viewrank.manager import get_host

from .conftest import damaged_copy, export, needs_scifact

pytestmark = needs_scifact


@pytest.fixture(scope="module")
def exported(tiny_dense, tmp_path_factory):
    return export(f"dense:{tiny_dense}", tmp_path_factory.mktemp("verify") / "dense", int8=True)


@pytest.mark.slow  # a viewrank child process and two gates: about 8 s
def test_intact_export_passes_on_this_machine(exported, tmp_path):
    report = verify_export(exported, parity_queries=3, host=get_host())
    assert report["passed"] and report["failures"] == []
    assert set(report["reports"]) == {"fp32", "int8"} and report["reports"]["int8"]["passed"]
    assert report["gate_cpu"]["int8_kernels"] == report["cpu"]["int8_kernels"]
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "viewrank", "verify-export", str(exported), "--parity-queries", "3",
                           "--variant", "fp32", "--report", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ok on" in done.stdout and set(json.loads(out.read_text())["reports"]) == {"fp32"}


def test_damaged_file_is_named_before_any_gate(exported, tmp_path):
    copy = damaged_copy(exported, tmp_path / "copy", "model_int8.onnx")
    with pytest.raises(ViewrankError, match="model_int8.onnx: sha256 differs"):
        verify_export(copy, parity_queries=3, host=get_host())
    with pytest.raises(ViewrankError, match="no fp16 graph"):
        verify_export(exported, variants=["fp16"], parity_queries=3, host=get_host())


@pytest.mark.slow  # two viewrank child processes: about 11 s
def test_another_model_fails_the_gate_with_exit_status_1(exported, tiny_dense, tmp_path):
    import torch
    from transformers import BertModel

    other = tmp_path / "other"
    shutil.copytree(tiny_dense, other)
    model = BertModel.from_pretrained(other)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    model.save_pretrained(other)
    done = subprocess.run([sys.executable, "-m", "viewrank", "verify-export", str(exported), "--model", f"dense:{other}",
                           "--parity-queries", "3"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout and "fp32: max abs diff" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "viewrank", "verify-export", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "neither viewrank_onnx.json nor viewrank_openvino.json" in bad.stderr


def test_the_commands_sample_the_same_default_number_of_queries():
    import inspect

    from viewrank.cli import build_parser
    from viewrank.exporters.onnx_export import ExportOptions
    from viewrank.exporters.verify import verify_export as verify

    parser = build_parser()
    export_args = parser.parse_args(["export", "onnx", "dense", "--output", "x"])
    verify_args = parser.parse_args(["verify-export", "x"])
    default = ExportOptions().parity_queries
    assert default == 100  # docs/export.md: 30 queries made the int8 nDCG@10 check a coin toss
    assert export_args.parity_queries == verify_args.parity_queries == default
    assert inspect.signature(verify).parameters["parity_queries"].default == default
