"""viewrank adapt: pseudo-queries from a corpus, then training from a trained model, no labels read."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import TINY_CORPUS, run_cli
from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError
from viewrank.plugins.mvp.adapt import adapt, pseudo_queries, write_pseudo_dataset
from viewrank.plugins.mvp.options import TrainOptions
from viewrank.manager import get_host


def test_pseudo_queries_are_sentences_of_their_passages(tiny_dataset, tmp_path):
    pairs = pseudo_queries(BeirDataset(tiny_dataset), 4, seed=1)
    assert len(pairs) == 4 and pairs == pseudo_queries(BeirDataset(tiny_dataset), 4, seed=1)
    texts = {d["_id"]: d["text"] for d in TINY_CORPUS}
    assert all(q in texts[d] and len(q.split()) >= 6 for q, d in pairs)
    root = write_pseudo_dataset(tiny_dataset, tmp_path / "pq", 50, seed=1)
    ds = BeirDataset(root)
    assert len(ds.queries("train")) == 6  # one per document that has a usable sentence
    assert sorted(d for rels in ds.qrels("train").values() for d in rels) == sorted(texts)
    assert not (root / "qrels" / "test.tsv").exists()  # the collection's own labels are not copied


@pytest.mark.slow
def test_adapt_fine_tunes_a_trained_model(tiny_bert_dir, tiny_dataset, tiny_index, tmp_path):
    from viewrank.plugins.mvp.encoder_model import EncoderMVP

    start = EncoderMVP.from_backbone(tiny_bert_dir, m=2, max_length=32).save(tmp_path / "start")
    opts = TrainOptions(kind="mvp", init_from=str(start), out=str(tmp_path / "adapted"), index=str(tiny_index),
                        teacher=["none"], n=2, neg_depth=5, epochs=2, batch_size=2, time_budget_min=0, threads=1)
    out = adapt(opts, tiny_dataset, queries=20, host=get_host())
    report = json.loads((out / "training.json").read_text())
    assert report["steps"] > 0 and report["options"]["dataset"].endswith("pseudo-queries")
    before, after = load_file(str(start / "mvp_head.safetensors")), load_file(str(out / "mvp_head.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before)
    cfg = json.loads((out / "viewrank_mvp.json").read_text())
    assert cfg["max_length"] == 32 and cfg["m"] == 2  # the model's own settings, not the defaults
    with pytest.raises(ViewrankError, match="no training list could be built"):
        adapt(TrainOptions(**{**opts.__dict__, "n": 5, "out": str(tmp_path / "none")}), tiny_dataset, queries=20, host=get_host())


def test_adapt_cli_names_bad_input(tmp_path):
    proc = run_cli("adapt", "mvp", "--corpus", str(tmp_path), "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "nope" in proc.stderr and "Traceback" not in proc.stderr
