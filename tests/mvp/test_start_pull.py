"""--l2sp: the backbone pulled toward its starting weights (decoupled L2-SP); the head left alone."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from tests.mvp.test_trainer import assert_same, options, weights
from viewrank.errors import ViewrankError
from viewrank.manager import get_host
from viewrank.plugins.mvp.start_pull import StartPull
from viewrank.plugins.mvp.trainer import train


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(3, 2)
        self.head = nn.Linear(2, 1)


def test_one_step_moves_each_backbone_weight_back_by_lr_times_rate_and_leaves_the_head():
    torch.manual_seed(0)
    model = Tiny()
    pull = StartPull(model, model, rate=10.0)
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    assert pull.drift(model) == 0.0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # an optimiser step moved everything by 1
    moved = {k: v.detach().clone() for k, v in model.named_parameters()}
    pull.step(lr=0.01)  # pulls back by 0.01 * 10 = 10% of the distance
    for name, p in model.named_parameters():
        if name.startswith("head."):
            torch.testing.assert_close(p, moved[name])
        else:
            torch.testing.assert_close(p, start[name] + 0.9)
    size = sum(float(start[k].pow(2).sum()) for k in ("body.weight", "body.bias"))
    assert pull.drift(model) == pytest.approx((8 * 0.9 ** 2 / size) ** 0.5)  # 8 backbone numbers, 0.9 away each
    StartPull(model, model, rate=0.0).step(lr=0.01)  # rate 0: nothing moves
    assert pull.drift(model) == pytest.approx((8 * 0.9 ** 2 / size) ** 0.5)


def test_a_start_of_another_shape_is_refused():
    other = Tiny()
    other.body = nn.Linear(4, 2)
    with pytest.raises(ValueError, match="body.weight"):
        StartPull(Tiny(), other, rate=1.0)


def test_training_with_l2sp_stays_nearer_the_backbone_and_resumes_exactly(tiny_bert_dir, tiny_dataset, tmp_path):
    host = get_host()
    free = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "free", lr=1e-3), host)
    held = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "held", lr=1e-3, l2sp=500.0), host)
    drift_free = json.loads((free / "training.json").read_text())["backbone_drift"]
    drift_held = json.loads((held / "training.json").read_text())["backbone_drift"]
    assert drift_free > 0 and drift_held < 0.8 * drift_free
    # the head is not pulled: it trains as before (it differs from the unregularised run's only
    # through the backbone it sits on), and the backbone does move
    assert json.loads((held / "training.json").read_text())["options"]["l2sp"] == 500.0
    assert drift_held > 0

    # --resume rebuilds the start from the backbone: the same weights as one uninterrupted run
    train(options(tiny_bert_dir, tiny_dataset, tmp_path / "part", lr=1e-3, l2sp=500.0, max_steps=2), host)
    resumed = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "part", lr=1e-3, l2sp=500.0, resume=True), host)
    assert_same(weights(held), weights(resumed))


def test_a_negative_rate_is_named_before_any_work(tiny_bert_dir, tiny_dataset, tmp_path):
    with pytest.raises(ViewrankError, match="--l2sp -1.0"):
        train(options(tiny_bert_dir, tiny_dataset, tmp_path / "bad", l2sp=-1.0), get_host())
    assert not (tmp_path / "bad" / "training.json").exists()
