"""Training pieces: batching, collation, triples parsing, and a short resumable run on a tiny model."""

from __future__ import annotations

import random

import pytest
import torch

from viewrank.errors import ViewrankError
from viewrank.plugins.mvp.data import TrainList, batches, triple_lists
from viewrank.plugins.mvp.trainer import collate


def test_batches_group_by_length_and_are_seeded():
    lists = [TrainList("q", ("a",) * (2 + i % 2), tuple(range(1, 3 + i % 2))) for i in range(10)]
    b1 = batches(lists, 3, random.Random(5))
    b2 = batches(lists, 3, random.Random(5))
    assert b1 == b2
    assert all(len({len(x.passages) for x in b}) == 1 for b in b1)
    assert sum(map(len, b1)) == 10


def test_collate_pads_to_one_length(encoder_mvp):
    items = [TrainList("cat", ("the cat is big", "a dog"), (1, 2)), TrainList("moon", ("sun", "the moon is red and big"), (1, 2))]
    inputs, ranks = collate(encoder_mvp, items)
    assert inputs["input_ids"].shape[:2] == (2, 2) and ranks.tolist() == [[1, 2], [1, 2]]
    scores, anchors = encoder_mvp.score_lists(**inputs)
    assert scores.shape == (2, 2) and anchors.shape == (2, 4, 32)
    single = encoder_mvp.score("cat", ["the cat is big", "a dog"])
    torch.testing.assert_close(scores[0].detach(), torch.from_numpy(single), atol=1e-5, rtol=0)


def test_triples(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text("q1\tpos\tneg\nq2\tp2\tn2\n", encoding="utf-8")
    assert triple_lists(p) == [TrainList("q1", ("pos", "neg"), (1, 2)), TrainList("q2", ("p2", "n2"), (1, 2))]
    assert len(triple_lists(p, limit=1)) == 1
    p.write_text("only\ttwo\n", encoding="utf-8")
    with pytest.raises(ViewrankError, match=r"t.tsv:1"):
        triple_lists(p)
