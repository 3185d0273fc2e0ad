"""``viewrank train embedder``: the loss, KaLM's focal weights and negative mixing, PEG's
curriculum, ICT/BFS examples, Self-Positioning merging and the command line, on tiny models."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from viewrank.cli import main
from viewrank.datasets import Document
from viewrank.plugins.dense.embedder import DenseEmbedder
from viewrank.plugins.embedder_train.losses import focal_weights, info_nce, mix_negatives
from viewrank.plugins.embedder_train.merge import merge_states, search_weights
from viewrank.plugins.embedder_train.negatives import curriculum_window, sample_negatives
from viewrank.plugins.embedder_train.pretrain import bfs_examples, ict_examples, sentences
from viewrank.plugins.embedder_train.trainer import EmbedderTrainConfig, Example, train_embedder

TOPICS = ["vitamin d bone fractures", "statins cholesterol heart", "malaria artemisinin therapy",
          "smoking lung cancer", "sleep obesity children", "coffee mortality risk"]


def _examples():
    out = []
    for i, t in enumerate(TOPICS):
        pos = f"A study of {t} in a large cohort."
        negs = [f"A study of {TOPICS[j]} in a large cohort." for j in range(len(TOPICS)) if j != i]
        out.append(Example(t, pos, negs, frozenset([pos])))
    return out


def test_loss_decreases_on_a_toy_set(tiny_bert, tmp_path):
    cfg = EmbedderTrainConfig(batch_size=6, negatives=1, fn_margin=0, steps=30, lr=1e-3, warmup=0.0,
                              max_length=32, temperature=0.1, seed=0)
    out = train_embedder(DenseEmbedder(tiny_bert), _examples(), tmp_path / "m", cfg, progress=False)
    losses = [h["loss"] for h in json.loads((out / "viewrank_embedder_train.json").read_text())["history"]]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_info_nce_masks_judged_columns_and_focal_downweights_easy_examples():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(2, 8), dim=-1)
    d = torch.cat([q[0:1], F.normalize(torch.randn(1, 8), dim=-1), F.normalize(torch.randn(3, 8), dim=-1)])
    # query 0 is easy (its positive is itself), query 1 hard (a random positive)
    _, p = info_nce(q, d, torch.tensor([0, 1]), 0.05)
    assert p[0] > 0.9 and p[1] < p[0]
    w = focal_weights(p, 2.0)
    assert w[0] < 0.01 and w[1] > w[0] and not w.requires_grad
    plain, _ = info_nce(q, d, torch.tensor([0, 1]), 0.05)
    focal, _ = info_nce(q, d, torch.tensor([0, 1]), 0.05, focal=2.0)
    assert focal < plain
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[1, 0] = True  # column 0 is judged relevant to query 1 too: not a negative for it
    masked, p_masked = info_nce(q, d, torch.tensor([0, 1]), 0.05, mask=mask)
    assert p_masked[1] > p[1] and masked < plain


def test_mixing_makes_unit_vectors_between_two_hardest_negatives():
    d = torch.eye(6)[:5]                      # orthonormal candidates: a mixture shows its parents
    q = F.normalize(torch.tensor([[5.0, 4.0, 3.0, 2.0, 0.1, 0.0]]), dim=-1)
    ok = torch.tensor([[False, True, True, True, True]])   # column 0 is the positive
    gen = torch.Generator().manual_seed(0)
    mixed, valid = mix_negatives(q, d, ok, k=20, hardest=3, generator=gen)
    assert mixed.shape == (1, 20, 6) and valid.all()
    for m in mixed[0]:
        assert torch.isclose(m.norm(), torch.tensor(1.0), atol=1e-5)
        support = set(torch.nonzero(m > 1e-6).flatten().tolist())
        assert len(support) == 2 and support <= {1, 2, 3}  # two of the 3 hardest negatives, never the positive
        assert (m >= 0).all()                                 # a convex mixture
    none_ok = torch.tensor([[False, True, False, False, False]])
    _, valid = mix_negatives(q, d, none_ok, k=2, hardest=3)
    assert not valid.any()  # one negative cannot be mixed
    loss_all, _ = info_nce(q, d, torch.tensor([0]), 0.05, extra=mixed, extra_valid=torch.ones(1, 20, dtype=torch.bool))
    loss_none, _ = info_nce(q, d, torch.tensor([0]), 0.05, extra=mixed, extra_valid=torch.zeros(1, 20, dtype=torch.bool))
    plain, _ = info_nce(q, d, torch.tensor([0]), 0.05)
    assert torch.isclose(loss_none, plain) and loss_all > plain


def test_curriculum_draws_deep_ranks_early_and_the_hardest_late_from_a_growing_pool():
    lo0, hi0 = curriculum_window(0.0, 40)
    lo1, hi1 = curriculum_window(1.0, 40)
    assert (lo0, hi0) == (30, 40) and (lo1, hi1) == (0, 20)
    assert hi1 - lo1 > hi0 - lo0
    mids = [curriculum_window(t / 10, 40)[0] for t in range(11)]
    assert mids == sorted(mids, reverse=True)
    ranked = [f"d{i}" for i in range(40)]
    rng = random.Random(0)
    early = sample_negatives(ranked, 5, rng, progress=0.0)
    late = sample_negatives(ranked, 5, rng, progress=1.0)
    assert min(int(d[1:]) for d in early) >= 30 and max(int(d[1:]) for d in late) < 20
    assert len(set(sample_negatives(ranked, 50, rng))) == 40  # no curriculum: the whole list


DOC = Document("d1", "Vitamin D", "Vitamin D is made in skin. Deficiency is common. Fractures rise with it. "
                                  "Supplements reduce falls. The effect is small.")


def test_ict_and_bfs_examples():
    sents = sentences(DOC.text)
    assert len(sents) == 5 and sents[1] == "Deficiency is common."
    for q, p, n in ict_examples([DOC] * 20, random.Random(0), keep=0.0):
        assert q in sents and q not in p and p.startswith("Vitamin D ") and n is None
        assert sum(s in p for s in sents) == 4
    for q, p, n in bfs_examples([DOC] * 20, random.Random(1), first=2):
        assert q in sents[:2]
        assert p == "Vitamin D " + " ".join(sents[2:])
    short = Document("d2", "T", "One sentence only.")
    assert ict_examples([short], random.Random(0)) == [] and bfs_examples([short], random.Random(0)) == []


def test_merging_with_weight_one_and_zero_reproduces_a_parent(tiny_bert):
    base = DenseEmbedder(tiny_bert).model.state_dict()
    torch.manual_seed(1)
    parents = [{k: v + 0.1 * torch.randn_like(v) if torch.is_floating_point(v) else v for k, v in base.items()}
               for _ in range(2)]
    for weights, want in (((1.0, 0.0), parents[0]), ((0.0, 1.0), parents[1]), ((0.0, 0.0), base)):
        merged = merge_states(base, parents, weights)
        assert all(torch.allclose(merged[k], want[k], atol=1e-6) for k in base)
    avg = merge_states(base, parents, (0.5, 0.5))
    key = next(k for k in base if torch.is_floating_point(base[k]))
    assert torch.allclose(avg[key], (parents[0][key] + parents[1][key]) / 2, atol=1e-6)
    best, score, tried = search_weights(2, lambda w: -abs(w[0] - 0.75) - abs(w[1] - 0.25), max_evals=20)
    assert best == (0.75, 0.25) and len(tried) <= 20


def test_cli_trains_loads_as_dense_and_merges(tiny_bert, emb_dataset, tmp_path):
    a, b, m = tmp_path / "a", tmp_path / "b", tmp_path / "m"
    common = ["train", "embedder", "--model", str(tiny_bert), "--dataset", str(emb_dataset), "--negatives", "none",
              "--batch-size", "2", "--steps", "2", "--time-budget-min", "0", "--val-queries", "1", "--evals", "1",
              "--max-length", "32", "--threads", "1"]
    assert main(common + ["--output", str(a)]) == 0
    assert main(common + ["--output", str(b), "--focal", "1", "--lr", "1e-3", "--seed", "0"]) == 0
    record = json.loads((a / "viewrank_embedder_train.json").read_text())
    assert record["steps_run"] == 2 and len(record["val_queries"]) == 1
    assert [s["step"] for s in record["selection"]] == [0, 2]   # start model and the end, on held-out TRAIN
    from viewrank.manager import get_host

    assert get_host().embedder(f"dense:{a}").embed(["x"]).shape == (1, 32)
    assert main(["train", "embedder", "--model", str(tiny_bert), "--dataset", str(emb_dataset), "--negatives", "none",
                 "--merge", f"{a},{b}", "--output", str(m), "--val-queries", "1", "--merge-evals", "3"]) == 0
    info = json.loads((m / "viewrank_embedder_merge.json").read_text())
    assert len(info["weights"]) == 2 and len(info["tried"]) <= 3


@pytest.mark.parametrize("bad", [
    ["--negatives", "dense"], ["--pretrain", "mlm"], ["--temperature", "0"], ["--focal", "-1"],
    ["--batch-size", "1"], ["--dims", "a,b"], ["--merge", "only-one"], ["--triples", "/nonexistent.tsv"],
    ["--dataset", "/nonexistent"], [],
])
def test_cli_rejects_bad_input_with_exit_2(bad, tmp_path, capsys):
    out = [] if bad == [] else ["--output", str(tmp_path / "o")]
    assert main(["train", "embedder", *out, *bad]) == 2
    err = capsys.readouterr().err
    assert (bad[0] if bad else "--output") in err


def test_merge_rejects_a_folder_that_is_not_a_model(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    assert main(["train", "embedder", "--merge", f"{tmp_path / 'x'},{tmp_path / 'y'}", "--output", str(tmp_path / "m")]) == 2
    assert "--merge" in capsys.readouterr().err
