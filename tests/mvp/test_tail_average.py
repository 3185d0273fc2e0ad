"""--average-last: the saved model is the mean of the weights over the tail of the planned steps."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from tests.mvp.test_trainer import assert_same, options, weights
from viewrank.errors import ViewrankError
from viewrank.manager import get_host
from viewrank.plugins.mvp.tail_average import TailAverage
from viewrank.plugins.mvp.trainer import train


def test_the_mean_covers_exactly_the_tail_and_applied_gives_the_weights_back():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    average = TailAverage(model, fraction=0.5)
    assert average.starts_at(10) == 6  # steps 6..10: the last half of a plan of 10
    seen = []
    for step in range(1, 11):
        with torch.no_grad():
            model.weight.add_(float(step))
        seen.append(model.weight.detach().clone())
        average.update(step, total=10)
    assert average.count == 5 and average.first_step == 6
    last = model.weight.detach().clone()
    with average.applied():
        torch.testing.assert_close(model.weight.detach(), torch.stack(seen[5:]).mean(0))
    torch.testing.assert_close(model.weight.detach(), last)  # the model's own weights are back
    with pytest.raises(RuntimeError, match="no step"):
        with TailAverage(model, 0.0).applied():
            pass
    with pytest.raises(ValueError, match="fraction 1.5"):
        TailAverage(model, 1.5)


def test_training_saves_the_mean_of_the_tail_and_keeps_the_last_step_beside_it(tiny_bert_dir, tiny_dataset, tmp_path):
    host = get_host()
    # 4 planned steps, the last half averaged: the saved model is the mean of the weights after steps 3 and 4
    out = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "avg", lr=1e-3, average_last=0.5), host)
    three = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "three", lr=1e-3, max_steps=3), host)
    step3, step4 = weights(three / "checkpoint"), weights(out / "checkpoint")
    assert_same(weights(out), {k: (step3[k] + step4[k]) / 2 for k in step4})
    assert_same(weights(out / "selected"), step4)  # no held-out slice: the single step kept is the last
    report = json.loads((out / "training.json").read_text())
    assert report["average"] == {"from_step": 3, "to_step": 4, "steps": 2, "val_nDCG@10": None}
    # without the option nothing changes: the last step is the model, no selected/ folder
    assert json.loads((three / "training.json").read_text())["average"] is None
    assert not (three / "selected").exists()

    # --resume carries the running mean: the same model as one uninterrupted run
    train(options(tiny_bert_dir, tiny_dataset, tmp_path / "part", lr=1e-3, average_last=0.5, max_steps=3), host)
    resumed = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "part", lr=1e-3, average_last=0.5, resume=True), host)
    assert_same(weights(out), weights(resumed))


def test_the_average_is_validated_on_the_held_out_slice_and_reported(tiny_bert_dir, tiny_dataset, tmp_path):
    from tests.conftest import run_cli

    out = tmp_path / "cli"
    options(tiny_bert_dir, tiny_dataset, out)  # the mined BM25 lists the trainer reads
    proc = run_cli("train", "mvp", "--backbone", str(tiny_bert_dir), "--dataset", str(tiny_dataset), "--split", "test",
                   "--index", "unused", "--output", str(out), "--views", "2", "--max-length", "32", "--list-size", "3",
                   "--neg-depth", "5", "--epochs", "2", "--batch-size", "1", "--warmup", "1", "--time-budget-min", "0",
                   "--threads", "1", "--val-queries", "1", "--evals", "2", "--teacher", "none",
                   "--average-last", "0.5", check=True)
    report = json.loads((out / "training.json").read_text())
    avg = report["average"]
    assert avg["to_step"] == report["steps"] and avg["steps"] == report["steps"] - avg["from_step"] + 1 >= 2
    assert 0.0 <= avg["val_nDCG@10"] <= 1.0
    assert f"the mean of the weights of steps {avg['from_step']}-{avg['to_step']} saved" in proc.stdout
    assert f"is in {out}/selected" in proc.stdout
    selected = {h["step"]: h for h in report["validation"]}[report["chosen_step"]]
    assert (out / "selected" / "viewrank_mvp.json").is_file() and selected["val_nDCG@10"] >= 0.0


def test_a_fraction_outside_0_1_is_named_before_any_work(tiny_bert_dir, tiny_dataset, tmp_path):
    with pytest.raises(ViewrankError, match="--average-last 2.0"):
        train(options(tiny_bert_dir, tiny_dataset, tmp_path / "bad", average_last=2.0), get_host())
    assert not (tmp_path / "bad" / "training.json").exists()
