"""2DMSE and distillation training on tiny models: losses fall, files are written, specs load."""

from __future__ import annotations

import json

import numpy as np
import torch

from viewrank.plugins.dense.embedder import DenseEmbedder
from viewrank.plugins.distill.train import DistillConfig, teacher_scores, train_distill
from viewrank.plugins.matryoshka.train import TwoDConfig, train_2dmse

PAIRS = [("vitamin d fractures", "Vitamin D deficiency and bone fractures", None),
         ("statins cholesterol", "Statins lower LDL cholesterol", "Coffee and mortality"),
         ("malaria drugs", "Artemisinin treats malaria", None),
         ("smoking cancer", "Smoking causes lung cancer", "Sleep and obesity in children")]


def test_2dmse_training_writes_a_loadable_model(tiny_bert, tmp_path):
    torch.manual_seed(0)
    emb = DenseEmbedder(tiny_bert)
    cfg = TwoDConfig(dims=(32, 16, 8), steps=12, batch_size=4, lr=1e-3, max_length=32)
    out = train_2dmse(emb, PAIRS, tmp_path / "m", cfg, progress=False)
    info = json.loads((out / "viewrank_2dmse.json").read_text())
    losses = [h["loss"] for h in info["history"]]
    assert np.mean(losses[-4:]) < np.mean(losses[:4])
    assert {h["layer"] for h in info["history"]} <= {1, 2}  # shallow layers sampled below the last (3)
    from viewrank.manager import get_host

    cell = get_host().embedder(f"matryoshka:{out}@layer=2,dim=8")
    assert cell.embed(["x"]).shape == (1, 8)


class _Teacher:
    """A deterministic teacher: prefers passages sharing more words with the query."""

    def score(self, query, passages):
        q = set(query.lower().split())
        return np.array([len(q & set(p.lower().split())) * 2.0 for p in passages])


def test_distillation_moves_student_towards_teacher(tiny_bert, tmp_path):
    torch.manual_seed(0)
    groups = [(q, [p, n or "unrelated text here", "another unrelated passage"]) for q, p, n in PAIRS]
    scores = teacher_scores(_Teacher(), groups, tmp_path / "scores.json", progress=False)
    assert json.loads((tmp_path / "scores.json").read_text()) == scores
    student = DenseEmbedder(tiny_bert)

    def kl(emb):
        total = 0.0
        for (q, ps), t in zip(groups, scores):
            s = emb.embed(ps) @ emb.embed([q], "query")[0] * 20
            p_t = np.exp(t - np.max(t)) / np.exp(t - np.max(t)).sum()
            log_s = s - np.max(s) - np.log(np.exp(s - np.max(s)).sum())
            total += float(np.sum(p_t * (np.log(p_t + 1e-12) - log_s)))
        return total

    before = kl(student)
    out = train_distill(student, groups, scores, tmp_path / "d",
                        DistillConfig(steps=15, batch_size=4, lr=1e-3, max_length=32), progress=False)
    assert kl(DenseEmbedder(out)) < before
    assert (out / "viewrank_distill.json").is_file()


def test_fine_tuning_restores_the_embedder_when_the_loop_fails(tiny_bert):
    from viewrank.plugins.dense.finetune import fine_tuning

    emb = DenseEmbedder(tiny_bert)
    own_len = emb.config.max_length
    try:
        with fine_tuning(emb, max_length=7, lr=1e-3, seed=0) as run:
            assert emb.model.training and emb.config.max_length == 7
            run.step(emb.encode_tensor(["a b c"]).sum())
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert not emb.model.training and emb.config.max_length == own_len


def test_distillation_names_a_group_whose_scores_do_not_fit(tiny_bert, tmp_path):
    import pytest

    from viewrank.errors import ViewrankError

    groups = [(q, [p, "unrelated text here"]) for q, p, _ in PAIRS]
    scores = [[1.0, 0.0]] * len(groups)
    scores[2] = [1.0, 0.0, 0.5]
    with pytest.raises(ViewrankError, match="group 2 .*2 passages but 3 teacher scores"):
        train_distill(DenseEmbedder(tiny_bert), groups, scores, tmp_path / "d", progress=False)
    assert not (tmp_path / "d").exists()
