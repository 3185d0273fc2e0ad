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
