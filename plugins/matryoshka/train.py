"""2DMSE training (Li et al., "2D Matryoshka Sentence Embeddings").

Each step: in-batch contrastive loss (scaled cosine, in-batch + hard negatives) at the LAST layer
and at ONE SAMPLED shallower layer, each at every Matryoshka dimension (e.g. 384/256/128/64),
plus a KL term pulling the shallow layer's query->passage similarity distribution towards the
last layer's (teacher detached). The result is a normal encoder folder whose
``viewrank_dense.json`` records the trained dims, so ``matryoshka:DIR@layer=L,dim=D`` serves any cell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from viewrank.plugins.dense.embedder import DenseEmbedder, pool
from viewrank.plugins.dense.finetune import fine_tuning, save_trained, steps


@dataclass
class TwoDConfig:
    dims: tuple[int, ...] = (384, 256, 128, 64)
    steps: int = 100
    batch_size: int = 16
    lr: float = 2e-5
    scale: float = 20.0
    kl_weight: float = 1.0
    kl_temperature: float = 1.0
    max_length: int = 192
    seed: int = 0
    min_layer: int = 1
    history: list = field(default_factory=list)


def _sims(q: torch.Tensor, d: torch.Tensor, dim: int) -> torch.Tensor:
    return F.normalize(q[:, :dim], dim=-1) @ F.normalize(d[:, :dim], dim=-1).T


def train_2dmse(
    embedder: DenseEmbedder,
    examples: Sequence[tuple[str, str, str | None]],
    out_dir: str | Path,
    cfg: TwoDConfig | None = None,
    progress: bool = True,
) -> Path:
    """Fine-tune ``embedder`` in place on ``(query, positive, negative-or-None)`` and save it."""
    cfg = cfg or TwoDConfig()
    model = embedder.model
    n_layers = embedder.num_layers
    hidden = int(model.config.hidden_size)
    dims = tuple(d for d in cfg.dims if d <= hidden) or (hidden,)
    data = list(examples)
    with fine_tuning(embedder, max_length=cfg.max_length, lr=cfg.lr, seed=cfg.seed) as run:
        iterator = steps(cfg.steps, "2dmse", progress)
        for step in iterator:
            batch = run.rng.sample(data, min(cfg.batch_size, len(data)))
            queries = [b[0] for b in batch]
            passages = [b[1] for b in batch] + [b[2] for b in batch if b[2]]
            qb = embedder.tokenize(queries, "query")
            pb = embedder.tokenize(passages, "passage")
            q_states = model(**qb, output_hidden_states=True).hidden_states
            p_states = model(**pb, output_hidden_states=True).hidden_states
            shallow = run.rng.randint(cfg.min_layer, n_layers - 1) if n_layers > 1 else n_layers
            labels = torch.arange(len(queries))
            loss = torch.zeros(())
            sims = {}
            for layer in (n_layers, shallow):
                q = pool(q_states[layer], qb["attention_mask"], embedder.config.pooling)
                p = pool(p_states[layer], pb["attention_mask"], embedder.config.pooling)
                for dim in dims:
                    s = _sims(q, p, dim)
                    sims[(layer, dim)] = s
                    loss = loss + F.cross_entropy(s * cfg.scale, labels) / len(dims)
            if cfg.kl_weight > 0 and shallow != n_layers:
                t = cfg.kl_temperature
                teacher = F.log_softmax(sims[(n_layers, dims[0])].detach() * cfg.scale / t, -1)
                student = F.log_softmax(sims[(shallow, dims[0])] * cfg.scale / t, -1)
                loss = loss + cfg.kl_weight * F.kl_div(student, teacher, log_target=True, reduction="batchmean")
            value = run.step(loss)
            cfg.history.append({"step": step, "layer": shallow, "loss": round(value, 4)})
            if progress:
                iterator.set_postfix(loss=f"{value:.3f}", layer=shallow)
    info = asdict(cfg) | {"seconds": run.seconds(), "examples": len(data)}
    return save_trained(embedder, out_dir, "viewrank_2dmse.json", info)
