"""Training recipe pieces: teacher-ordered lists, the step plan, validation-picked checkpoints."""

from __future__ import annotations

import json
import random

import pytest
import torch

from viewrank.errors import ViewrankError
from viewrank.manager import get_host
from viewrank.plugins.mvp.data import beir_lists, split_validation
from viewrank.plugins.mvp.options import TrainOptions
from viewrank.plugins.mvp.train_command import _gain
from viewrank.plugins.mvp.trainer import _optimizer, check_options, held_out_gain, train

from .test_trainer import DOCS, options


def test_teacher_orders_the_negatives_and_pins_the_positive(tiny_dataset):
    from viewrank.datasets import BeirDataset

    ds = BeirDataset(tiny_dataset)
    qid, rels = sorted(ds.qrels("test").items())[0]
    hits = {qid: [(d, 10.0 - i) for i, d in enumerate(DOCS)]}
    negatives = [d for d in DOCS if d not in rels]
    teacher = {qid: {d: float(i) for i, d in enumerate(negatives)}}  # the reverse of BM25's order
    plain = beir_lists(tiny_dataset, "test", hits, 3, 5, random.Random(0))
    taught = beir_lists(tiny_dataset, "test", hits, 3, 5, random.Random(0), teacher)
    corpus = ds.corpus
    text = {corpus[d].contents: d for d in DOCS}
    for a, b in zip(plain, taught):
        assert a.passages[0] == b.passages[0] and text[b.passages[0]] in rels  # the positive stays first
        order = [text[p] for p in b.passages[1:]]
        assert order == sorted(order, key=lambda d: -teacher[qid][d])
        assert [text[p] for p in a.passages[1:]] == sorted(order, key=DOCS.index)  # same draw, BM25 order
    held = beir_lists(tiny_dataset, "test", hits, 3, 5, random.Random(0), exclude=frozenset({qid}))
    assert held == []


def test_lists_without_the_positive_follow_the_teacher_alone(tiny_dataset):
    from viewrank.datasets import BeirDataset
    from viewrank.plugins.mvp.trainer import teacher_qrels

    ds = BeirDataset(tiny_dataset)
    qid, rels = sorted(ds.qrels("test").items())[0]
    hits = {qid: [(d, 10.0 - i) for i, d in enumerate(DOCS)]}
    negatives = [d for d in DOCS if d not in rels]
    teacher = {qid: {d: float(i) for i, d in enumerate(DOCS)}}  # scores the judged documents too
    lists = beir_lists(tiny_dataset, "test", hits, 3, 5, random.Random(0), teacher, pin_positive=False)
    assert len(lists) == 1  # one list per query, not one per positive
    text = {ds.corpus[d].contents: d for d in DOCS}
    order = [text[p] for p in lists[0].passages]
    assert len(order) == 3 and not set(order) & set(rels) and set(order) <= set(negatives[:5])
    assert order == sorted(order, key=lambda d: -teacher[qid][d]) and lists[0].ranks == (1, 2, 3)
    with pytest.raises(ViewrankError, match="need a teacher"):
        beir_lists(tiny_dataset, "test", hits, 3, 5, random.Random(0), pin_positive=False)
    labels = teacher_qrels(teacher, {qid: rels}, [qid], 2)
    assert labels == {qid: {d: 1 for d in sorted(negatives, key=lambda d: -teacher[qid][d])[:2]}}
    with pytest.raises(ViewrankError, match="--source drop"):
        check_options(TrainOptions(teacher=[], pin_positive=False))


def test_validation_slice_is_seeded_and_bounded(tiny_dataset):
    assert split_validation(tiny_dataset, "test", 2, 1) == split_validation(tiny_dataset, "test", 2, 1)
    assert split_validation(tiny_dataset, "test", 0, 1) == []
    with pytest.raises(ViewrankError, match="--val-queries 9"):
        split_validation(tiny_dataset, "test", 9, 1)


def test_no_weight_decay_on_norms_biases_embeddings(encoder_mvp):
    opt, _ = _optimizer(encoder_mvp, TrainOptions(weight_decay=0.1), {"total": 10})
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] for p in g["params"]}
    names = {n for n, p in encoder_mvp.named_parameters() if id(p) in decayed}
    assert names and all(p.ndim >= 2 for n, p in encoder_mvp.named_parameters() if id(p) in decayed)
    assert not any("embeddings" in n or n.endswith("bias") or "LayerNorm" in n for n in names)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(encoder_mvp.parameters()))
    opt, _ = _optimizer(encoder_mvp, TrainOptions(optimizer="adafactor"), {"total": 10})
    assert isinstance(opt, torch.optim.Adafactor)


def test_bad_recipe_options_are_named():
    with pytest.raises(ViewrankError, match="--optimizer 'sgd'"):
        check_options(TrainOptions(optimizer="sgd"))
    with pytest.raises(ViewrankError, match="--neg-depth 5 is smaller"):
        check_options(TrainOptions(n=16, neg_depth=5))
    with pytest.raises(ViewrankError, match="--init-from /nonexistent"):
        check_options(TrainOptions(init_from="/nonexistent"))
    with pytest.raises(ViewrankError, match="--time-budget-min -5: give minutes"):  # accepted before
        check_options(TrainOptions(time_budget_min=-5))
    with pytest.raises(ViewrankError, match="--max-steps -1"):
        check_options(TrainOptions(max_steps=-1))
    with pytest.raises(ViewrankError, match="--epochs 0"):
        check_options(TrainOptions(epochs=0))
    with pytest.raises(ViewrankError, match="--batch-size 0"):
        check_options(TrainOptions(batch_size=0))


def test_a_run_the_budget_stops_early_still_validates_its_last_step(tiny_bert_dir, tiny_dataset, tmp_path):
    """When the budget's safety net ends the loop before the last planned validation (a machine
    slower than its plan), the last step is validated too, so it can be kept."""
    out = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "b", val_queries=1, val_depth=6, evals=2, epochs=3,
                        time_budget_min=1e-6), get_host())
    report = json.loads((out / "training.json").read_text())
    assert report["stopped_early"] and report["steps"] < report["planned_steps"]
    assert [h["step"] for h in report["validation"]] == [0, report["steps"]]
    best = max(report["validation"], key=lambda h: (h["val_nDCG@10"], h["step"]))
    assert report["chosen_step"] == best["step"]


def test_validation_picks_the_checkpoint_and_the_plan_is_recorded(tiny_bert_dir, tiny_dataset, tmp_path):
    out = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "v", val_queries=1, val_depth=6, evals=2, epochs=3), get_host())
    report = json.loads((out / "training.json").read_text())
    steps = [h["step"] for h in report["validation"]]
    assert steps[0] == 0 and len(steps) == 3 and steps[-1] == report["steps"]
    best = max(report["validation"], key=lambda h: (h["val_nDCG@10"], h["step"]))
    assert report["chosen_step"] == best["step"]
    for h in report["validation"]:  # each query's value is kept: the mean is the score
        assert len(h["per_query"]) == 1 and abs(sum(h["per_query"].values()) - h["val_nDCG@10"]) < 1e-4
    gain = report["held_out_gains"].get("kept_over_last")
    assert (gain is None) == (best["step"] == report["steps"])  # only an earlier step kept is tested against the last
    assert not (out / "best").exists()
    cfg = json.loads((out / "viewrank_mvp.json").read_text())
    assert cfg["max_length"] == 32 and cfg["anchor"] == "query"  # the inference length is saved; the default anchor


def test_a_held_out_lead_is_tested_against_the_slice_noise():
    a = {"step": 10, "per_query": {f"q{i}": 0.5 for i in range(12)}}
    noisy = {"step": 20, "per_query": {f"q{i}": 0.51 + (0.1 if i % 2 else -0.1) for i in range(12)}}
    gain = held_out_gain(a, noisy)
    assert gain["queries"] == 12 and gain["diff"] == 0.01 and gain["p"] > 0.5
    clear = {"step": 30, "per_query": {f"q{i}": 0.6 for i in range(12)}}
    assert held_out_gain(a, clear) == {"queries": 12, "diff": 0.1, "p": 0.0}  # exact: 2 of 4096 sign assignments
    assert held_out_gain({"step": 0, "val_nDCG@10": 0.5}, clear) is None  # a history from before per-query values
    assert _gain(gain, "over the last step, 40") == (", +0.0100 over the last step, 40, p 0.77: within the noise of "
                                                     "12 held-out queries")
    assert _gain(held_out_gain(clear, a), "over step 30") == ", -0.1000 over step 30, p < 0.01"
    assert _gain(None, "over step 30") == ""


def test_teacher_spec_trains_and_is_cached(tiny_bert_dir, tiny_dataset, tmp_path):
    out = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "t", teacher=["none"], max_steps=1), get_host())
    cached = json.loads((out / "teacher_scores.json").read_text())
    assert cached["key"]["specs"] == ["none"] and cached["scores"]
    with pytest.raises(ViewrankError, match="--teacher nosuch"):
        train(options(tiny_bert_dir, tiny_dataset, tmp_path / "t2", teacher=["nosuch"], max_steps=1), get_host())


def test_teacher_scores_are_read_back_from_the_cache(tiny_dataset, tmp_path):
    from viewrank.datasets import BeirDataset
    from viewrank.plugins.mvp.teacher import teacher_scores

    ds = BeirDataset(tiny_dataset)
    pools = {q: [(d, 10.0 - i) for i, d in enumerate(DOCS)] for q in ds.qrels("test")}
    cache = tmp_path / "teacher.json"
    first = teacher_scores(get_host(), ["none"], ds.all_queries, pools, ds.corpus, cache=cache)
    assert all(first[q][DOCS[0]] == 1.0 and first[q][DOCS[-1]] == 0.0 for q in pools)  # BM25 order, min-max scaled
    assert teacher_scores(None, ["none"], ds.all_queries, pools, ds.corpus, cache=cache) == first  # no host needed
    with pytest.raises(AttributeError):  # another spec is not served from the cache
        teacher_scores(None, ["bi-encoder"], ds.all_queries, pools, ds.corpus, cache=cache)


def test_window_documents_and_the_best_window_of_each_document():
    from viewrank.datasets import Document
    from viewrank.plugins.mvp.data import WINDOW_SEP as S, best_windows, window_documents

    corpus = {"a": Document("a", "T", "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10"), "b": Document("b", "", "short text")}
    docs = window_documents(corpus, ["a", "b"], 4)
    assert list(docs) == [f"a{S}0", f"a{S}1", f"a{S}2", f"b{S}0"]
    assert [docs[f"a{S}{k}"].contents for k in range(3)] == ["T w1 w2 w3 w4", "T w5 w6 w7 w8", "T w9 w10"]
    assert docs[f"b{S}0"].contents == "short text"  # a short document is one window: itself
    scores = {"q": {f"a{S}0": 0.1, f"a{S}2": 0.9, f"a{S}1": 0.9, f"b{S}0": 0.5}}
    best, which = best_windows(scores)
    assert best == {"q": {"a": 0.9, "b": 0.5}}
    assert which == {"q": {"a": f"a{S}1", "b": f"b{S}0"}}  # a tie goes to the earlier window


def test_windows_training_lists_hold_each_documents_best_window_by_the_teacher(tiny_bert_dir, tiny_dataset, tmp_path):
    """--windows: the teacher scores every window; a list holds the window it scores highest (checked
    against the teacher model scoring each document's windows on its own), and training runs with
    validation reading windows."""
    from viewrank.datasets import BeirDataset
    from viewrank.plugins.mvp.data import window_documents
    from viewrank.plugins.mvp.trainer import window_teacher
    from viewrank.types import Candidate, Query

    teacher_dir = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "ce", kind="cross-encoder", max_steps=1), get_host())
    spec = f"cross-encoder:{teacher_dir}"
    host = get_host()
    opts = options(tiny_bert_dir, tiny_dataset, tmp_path / "w", teacher=[spec], windows=3, val_queries=1, val_depth=6,
                   evals=1, epochs=1)
    ds = BeirDataset(tiny_dataset)
    pools = {q: [(d, 10.0 - i) for i, d in enumerate(DOCS[:4])] for q in ds.qrels("test")}
    scores, text = window_teacher(host, opts, ds, pools, tmp_path / "teacher.json")
    reranker = host.reranker(spec)
    for qid, rels in ds.qrels("test").items():
        for d in {d for d, _ in pools[qid]} | set(rels):  # the pool plus the judged document
            parts = list(window_documents(ds.corpus, [d], 3).values())
            assert len(parts) > 1
            alone = reranker.rerank(Query(qid, ds.all_queries[qid]), [Candidate(p.docid, p.contents) for p in parts])
            best = max(zip(alone.scores, alone.docids), key=lambda x: x[0])[1]
            assert text(qid, d) == next(p.contents for p in parts if p.docid == best)
        assert max(scores[qid].values()) == 1.0  # min-max over the query's windows
    out = train(opts, host)
    report = json.loads((out / "training.json").read_text())
    assert report["options"]["windows"] == 3 and [h["step"] for h in report["validation"]] == [0, 2]
    with pytest.raises(ViewrankError, match="--windows picks"):
        check_options(TrainOptions(windows=64, teacher=[]))
    with pytest.raises(ViewrankError, match="--windows -1"):
        check_options(TrainOptions(windows=-1))
