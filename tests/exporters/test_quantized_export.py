"""``int8:DIR`` and ``binary:DIR`` export as graphs that emit the codes themselves."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from viewrank.errors import ViewrankError
from viewrank.manager import get_host

from .conftest import export, needs_scifact

pytestmark = needs_scifact

TEXTS = ["Vitamin D deficiency is linked to bone loss.", "Mitochondria make ATP.", "short", "",
         "A much longer passage about T cells, antibodies and the innate immune response " * 4,
         "Aspirin lowers the risk of a second heart attack.", "Gene expression in yeast under stress."]


@pytest.fixture(scope="module")
def quantized_dir(tiny_dense, tmp_path_factory):
    """The tiny dense model with ITQ binary thresholds and int8 ranges calibrated beside it."""
    from viewrank.plugins.binary.codes import BinaryQuantizer
    from viewrank.plugins.binary.int8 import Int8Quantizer

    folder = tmp_path_factory.mktemp("quantized") / "model"
    shutil.copytree(tiny_dense, folder)
    corpus = [f"{t} ({i})" for i in range(8) for t in TEXTS]
    vecs = get_host().embedder(f"dense:{folder}").embed(corpus)
    BinaryQuantizer.calibrate(vecs, method="itq").save(folder)
    Int8Quantizer.calibrate(vecs).save(folder)
    return folder


def test_binary_export_emits_packed_codes_like_torch(quantized_dir, tmp_path):
    out = export(f"binary:{quantized_dir}", tmp_path / "bin", fp16=True, triton=True)
    cfg = json.loads((out / "viewrank_onnx.json").read_text())
    assert cfg["output_dtype"] == "uint8" and cfg["dim"] == 3 and cfg["quantizer"]["method"] == "itq"
    assert cfg["parity"]["fp32"]["passed"] and cfg["parity"]["fp32"]["max_abs_diff"] <= 0.01  # bit fraction
    want = get_host().embedder(f"binary:{quantized_dir}").embed(TEXTS)
    got = get_host().embedder(f"onnx:{out}").embed(TEXTS)
    assert got.dtype == np.uint8 and got.shape == want.shape == (len(TEXTS), 3)
    assert (np.unpackbits(got, axis=1) != np.unpackbits(want, axis=1)).mean() <= 0.01
    triton = (out / "triton" / "bin" / "config.pbtxt").read_text()
    assert "data_type: TYPE_UINT8" in triton and "dims: [ 3 ]" in triton
    with pytest.raises(ViewrankError, match="float vectors"):
        export(f"binary:{quantized_dir}", tmp_path / "bin-mlc", ml_commons=True, parity=False)
    assert not (tmp_path / "bin-mlc").exists()


def test_int8_export_emits_the_calibrated_int8_values(quantized_dir, tmp_path):
    out = export(f"int8:{quantized_dir}", tmp_path / "i8")
    cfg = json.loads((out / "viewrank_onnx.json").read_text())
    assert cfg["output_dtype"] == "int8" and cfg["dim"] == 24
    want = get_host().embedder(f"int8:{quantized_dir}").embed(TEXTS, role="query")
    got = get_host().embedder(f"onnx:{out}").embed(TEXTS, role="query")
    assert got.dtype == np.int8 and got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # one step where a value sits on a boundary
    assert (got == want).mean() >= 0.99
