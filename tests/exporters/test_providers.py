"""Provider choice for exported directories: what is asked for, what ONNX Runtime really started."""

from __future__ import annotations

import logging

import pytest

from viewrank.errors import ViewrankError
from viewrank.plugins.onnx_runtime.runtime import check_active, choose_providers


def test_a_provider_this_build_lacks_is_named():
    with pytest.raises(ViewrankError, match="NoSuchExecutionProvider.*not available here"):
        choose_providers("NoSuchExecutionProvider,CPUExecutionProvider")


def test_environment_variable_overrides_the_automatic_order(monkeypatch):
    monkeypatch.setenv("VIEWRANK_ORT_PROVIDERS", "CPUExecutionProvider")
    assert choose_providers() == ["CPUExecutionProvider"]
    monkeypatch.delenv("VIEWRANK_ORT_PROVIDERS")
    assert choose_providers()[-1] == "CPUExecutionProvider"


def test_a_named_provider_that_fell_back_is_an_error():
    # what onnxruntime-gpu does when TensorRT is listed but libnvinfer is missing: it runs on the next one
    with pytest.raises(ViewrankError, match="could not start provider.*TensorrtExecutionProvider.*active: "
                                            "CUDAExecutionProvider"):
        check_active(["CUDAExecutionProvider", "CPUExecutionProvider"],
                     ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
                     explicit=True, what="exports/mvp (fp16)")


def test_an_automatic_fallback_is_reported_not_hidden(caplog):
    with caplog.at_level(logging.WARNING, logger="viewrank.onnx"):
        got = check_active(["CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"],
                           explicit=False, what="exports/mvp (fp32)")
    assert got == ["CPUExecutionProvider"]
    assert "CUDAExecutionProvider failed to start; running on CPUExecutionProvider" in caplog.text


def test_the_parity_gate_judges_fp32_and_int8_on_cpu_and_fp16_on_cuda():
    from viewrank.exporters.onnx_export import gate_providers

    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert gate_providers("fp32", gpu) == ["CPUExecutionProvider"]  # not CUDA's TF32 MatMuls
    assert gate_providers("int8", gpu) == ["CPUExecutionProvider"]
    assert gate_providers("fp16", gpu) == ["CUDAExecutionProvider"]
    assert gate_providers("fp16", ["CPUExecutionProvider"]) is None
