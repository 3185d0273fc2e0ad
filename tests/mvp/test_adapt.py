"""viewrank adapt: pseudo-queries from a corpus, then training from a trained model, no labels read."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import TINY_CORPUS, run_cli, write_beir
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
    assert json.loads((root / "made.json").read_text())["sentences"] == [1, 1]


def test_pseudo_queries_span_consecutive_sentences(tmp_path):
    words = lambda i, n: " ".join(f"w{i}x{j}" for j in range(n))  # noqa: E731
    # d0: five usable sentences; d1: two usable ones split by a 2-word sentence; d2: one long sentence
    texts = {"d0": " ".join(f"Sentence {i} {words(i, 8)}." for i in range(5)),
             "d1": f"First {words(0, 7)}. Too short. Third {words(2, 9)}.",
             "d2": f"Only {words(0, 9)}."}
    root = write_beir(tmp_path / "c", corpus=[{"_id": d, "title": "", "text": t} for d, t in texts.items()], queries=[], qrels=[])
    ds = BeirDataset(root)
    assert pseudo_queries(ds, 3, seed=5) == pseudo_queries(ds, 3, seed=5, span=(1, 1))  # the old default, unchanged
    for seed in range(20):
        pairs = dict((d, q) for q, d in pseudo_queries(ds, 3, seed=seed, span=(2, 3)))
        assert set(pairs) == {"d0"}  # d1 has no two usable sentences in a row, d2 has one sentence
        n = pairs["d0"].count(".")
        assert 2 <= n <= 3 and pairs["d0"] in texts["d0"]
    counts = {pseudo_queries(ds, 3, seed=s, span=(1, 3))[0][0].count(".") for s in range(40)}
    assert counts == {1, 2, 3}  # every span length is drawn
    # a run of A is wanted but B is longer than any passage: the longest run that exists
    assert [q.count(".") for q, d in pseudo_queries(ds, 3, seed=0, span=(1, 9)) if d == "d2"] == [1]
    with pytest.raises(ViewrankError, match="no passage has 4 consecutive"):
        pseudo_queries(BeirDataset(write_beir(tmp_path / "c2", corpus=[{"_id": "d1", "title": "", "text": texts["d1"]}],
                                              queries=[], qrels=[])), 3, seed=0, span=(4, 5))


def test_adapt_cli_checks_query_sentences(tmp_path):
    proc = run_cli("adapt", "mvp", "--corpus", str(tmp_path), "--model", str(tmp_path), "--output", str(tmp_path / "o"),
                   "--query-sentences", "3-1")
    assert proc.returncode == 2 and "'3-1'" in proc.stderr and "--query-sentences" in proc.stderr
    assert not (tmp_path / "o").exists()


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
    longer = adapt(TrainOptions(**{**opts.__dict__, "out": str(tmp_path / "longer"), "epochs": 1}), tiny_dataset,
                   queries=20, host=get_host(), max_length=48)
    assert json.loads((longer / "viewrank_mvp.json").read_text())["max_length"] == 48  # saved at 48
    assert json.loads((longer / "training.json").read_text())["options"]["max_length"] == 48  # and trained at 48
    dropped = adapt(TrainOptions(**{**opts.__dict__, "out": str(tmp_path / "drop"), "epochs": 1, "n": 2,
                                    "pin_positive": False, "val_queries": 0}), tiny_dataset, queries=20, host=get_host())
    report = json.loads((dropped / "training.json").read_text())  # the tiny corpus leaves too few hits to hold some out
    assert report["steps"] > 0 and report["options"]["pin_positive"] is False
    with pytest.raises(ViewrankError, match="--max-length 8"):
        adapt(opts, tiny_dataset, queries=20, host=get_host(), max_length=8)
    with pytest.raises(ViewrankError, match="no training list could be built"):
        adapt(TrainOptions(**{**opts.__dict__, "n": 5, "out": str(tmp_path / "none")}), tiny_dataset, queries=20, host=get_host())


def test_adapt_cli_names_bad_input(tmp_path):
    proc = run_cli("adapt", "mvp", "--corpus", str(tmp_path), "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "nope" in proc.stderr and "Traceback" not in proc.stderr
