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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_cache
from viewrank.plugins.dense.embedder import DenseEmbedder
from viewrank.plugins.dense.finetune import fine_tuning, save_trained, steps
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
    cached = read_cache(cache_path)
    if isinstance(cached, list) and len(cached) == len(groups):
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
    if len(scores) != len(groups):
        raise ViewrankError(f"distillation: {len(scores)} teacher score lists for {len(groups)} groups")
    for i, ((query, passages), t) in enumerate(zip(groups, scores)):
        if len(t) != len(passages):
            raise ViewrankError(f"distillation: group {i} ({query[:40]!r}) has {len(passages)} passages "
                                f"but {len(t)} teacher scores")
    data = list(zip(groups, scores))
    history = []
    with fine_tuning(embedder, max_length=cfg.max_length, lr=cfg.lr, seed=cfg.seed) as run:
        iterator = steps(cfg.steps, "distill", progress)
        for _ in iterator:
            batch = run.rng.sample(data, min(cfg.batch_size, len(data)))
            q = embedder.encode_tensor([g[0] for g, _ in batch], "query")
            p = embedder.encode_tensor([p for g, _ in batch for p in g[1]], "passage")
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
            value = run.step(loss)
            history.append(round(value, 4))
            if progress:
                iterator.set_postfix(loss=f"{value:.3f}")
    info = asdict(cfg) | {"groups": len(data), "seconds": run.seconds(), "loss": history}
    return save_trained(embedder, out_dir, "viewrank_distill.json", info)
