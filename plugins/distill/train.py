"""Score distillation from a reranker teacher into a bi-encoder.

A training group is a query and a few passages (its relevant one, and hard negatives). The
teacher (any :class:`~viewrank.types.ScoringReranker`: the cross-encoder or MVP) scores each
group once; scores are cached as JSON. The student (a :class:`DenseEmbedder`) minimises

    KL( softmax(teacher / T) || softmax(scale * cosine(q, p)) )      over each group's passages
    + ce_weight * in-batch contrastive loss on the first (relevant) passage,

so it learns the teacher's graded preferences among hard candidates, not only the label.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from viewrank.plugins.dense.embedder import DenseEmbedder
from viewrank.runs import atomic_write_text

Group = tuple[str, list[str]]  # (query, passages); passages[0] is the relevant one


@dataclass
class DistillConfig:
    steps: int = 100
    batch_size: int = 8
    lr: float = 2e-5
    scale: float = 20.0
    teacher_temperature: float = 1.0
    ce_weight: float = 0.5
    max_length: int = 192
    seed: int = 0


def teacher_scores(teacher: Any, groups: Sequence[Group], cache_path: str | Path | None = None,
                   progress: bool = True) -> list[list[float]]:
    """The teacher's score of every passage in every group (cached in ``cache_path`` if given)."""
    if cache_path is not None and Path(cache_path).is_file():
        cached = json.loads(Path(cache_path).read_text(encoding="utf-8"))
        if len(cached) == len(groups):
            return cached
    items = groups
    if progress:
        from tqdm import tqdm

        items = tqdm(groups, desc="teacher", unit="query")
    out = [[float(s) for s in np.asarray(teacher.score(q, ps)).tolist()] for q, ps in items]
    if cache_path is not None:
        atomic_write_text(cache_path, json.dumps(out))
    return out


def train_distill(
    embedder: DenseEmbedder,
    groups: Sequence[Group],
    scores: Sequence[Sequence[float]],
    out_dir: str | Path,
    cfg: DistillConfig | None = None,
    progress: bool = True,
) -> Path:
    """Fine-tune ``embedder`` on the teacher's scores and save it to ``out_dir``."""
    cfg = cfg or DistillConfig()
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = embedder.model
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    saved_len, embedder.config.max_length = embedder.config.max_length, cfg.max_length
    data = list(zip(groups, scores))
    iterator = range(cfg.steps)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="distill", unit="step")
    started = time.perf_counter()
    history = []
    for step in iterator:
        batch = rng.sample(data, min(cfg.batch_size, len(data)))
        q = embedder.encode_tensor([g[0] for g, _ in batch], "query")
        flat = [p for g, _ in batch for p in g[1]]
        p = embedder.encode_tensor(flat, "passage")
        loss = torch.zeros(())
        start = 0
        firsts = []
        for i, ((_, passages), t) in enumerate(batch):
            n = len(passages)
            student = (p[start : start + n] @ q[i]) * cfg.scale
            target = torch.tensor(t, dtype=torch.float32) / cfg.teacher_temperature
            loss = loss + F.kl_div(F.log_softmax(student, -1), F.log_softmax(target, -1), log_target=True,
                                   reduction="sum") / len(batch)
            firsts.append(start)
            start += n
        if cfg.ce_weight > 0:
            sims = q @ p.T * cfg.scale
            loss = loss + cfg.ce_weight * F.cross_entropy(sims, torch.tensor(firsts))
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = float(loss.detach())
        history.append(round(value, 4))
        if progress:
            iterator.set_postfix(loss=f"{value:.3f}")
    model.eval()
    embedder.config.max_length = saved_len
    out = embedder.save(out_dir)
    info = asdict(cfg) | {"groups": len(data), "seconds": round(time.perf_counter() - started, 1), "loss": history}
    atomic_write_text(Path(out) / "viewrank_distill.json", json.dumps(info, indent=2))
    return out
