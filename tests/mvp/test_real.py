"""Slow checks with the real MiniLM backbone and SciFact (untrained MVP head; < 1 min on 2 cores)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

DATA = SHARED_DATA / "scifact"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_mvp_dir(tmp_path_factory):
    from viewrank.manager import get_host
    from viewrank.plugins.mvp.encoder_model import EncoderMVP

    out = tmp_path_factory.mktemp("mvp-real")
    EncoderMVP.from_backbone(get_host().resolve_model_path("all-MiniLM-L6-v2"), max_length=64).save(out)
    return out


@pytest.mark.skipif(not (DATA / "corpus.jsonl").is_file(), reason="../shared/data/scifact is absent")
def test_real_backbone_invariance_and_round_trip(real_mvp_dir):
    from viewrank.datasets import BeirDataset
    from viewrank.plugins.mvp.loading import load_mvp_model

    ds = BeirDataset(DATA)
    docs = [d.contents for d, _ in zip(ds.iter_corpus(), range(12))]
    model = load_mvp_model(real_mvp_dir)
    base = model.score("Aspirin lowers the risk of stroke.", docs)
    perm = np.random.default_rng(0).permutation(len(docs))
    np.testing.assert_allclose(model.score("Aspirin lowers the risk of stroke.", [docs[i] for i in perm]), base[perm], atol=1e-5)
    assert json.loads((real_mvp_dir / "viewrank_mvp.json").read_text())["variant"] == "encoder"


def test_viewrank_rerank_cli_with_mvp(real_mvp_dir, scifact_dir, scifact_index, tmp_path):
    from viewrank.cli import main

    out = tmp_path / "run.trec"
    rc = main(["rerank", "--index", str(scifact_index), "--dataset", str(scifact_dir), "--split", "test", "--depth", "5",
               "--limit", "2", "--reranker", f"mvp:{real_mvp_dir}", "--output", str(out), "--no-eval"])
    assert rc == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 10 and len({ln.split()[0] for ln in lines}) == 2
