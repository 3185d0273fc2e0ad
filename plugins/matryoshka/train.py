"""2DMSE training (Li et al., "2D Matryoshka Sentence Embeddings").

Each step: in-batch contrastive loss (scaled cosine, in-batch + hard negatives) at the LAST layer
and at ONE SAMPLED shallower layer, each at every Matryoshka dimension (e.g. 384/256/128/64),
plus a KL term pulling the shallow layer's query->passage similarity distribution towards the
last layer's (teacher detached). The result is a normal encoder folder whose
``viewrank_dense.json`` records the trained dims, so ``matryoshka:DIR@layer=L,dim=D`` serves any cell.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from viewrank.plugins.dense.embedder import DenseEmbedder, pool
from viewrank.runs import atomic_write_text


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
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = embedder.model
    model.train()
    n_layers = embedder.num_layers
    hidden = int(model.config.hidden_size)
    dims = tuple(d for d in cfg.dims if d <= hidden) or (hidden,)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    saved_len = embedder.config.max_length
    embedder.config.max_length = cfg.max_length
    data = list(examples)
    iterator = range(cfg.steps)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="2dmse", unit="step")
    started = time.perf_counter()
    for step in iterator:
        batch = rng.sample(data, min(cfg.batch_size, len(data)))
        queries = [b[0] for b in batch]
        passages = [b[1] for b in batch] + [b[2] for b in batch if b[2]]
        qb = embedder.tokenize(queries, "query")
        pb = embedder.tokenize(passages, "passage")
        q_states = model(**qb, output_hidden_states=True).hidden_states
        p_states = model(**pb, output_hidden_states=True).hidden_states
        shallow = rng.randint(cfg.min_layer, n_layers - 1) if n_layers > 1 else n_layers
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
        opt.zero_grad()
        loss.backward()
        opt.step()
        cfg.history.append({"step": step, "layer": shallow, "loss": round(float(loss.detach()), 4)})
        if progress:
            iterator.set_postfix(loss=f"{float(loss.detach()):.3f}", layer=shallow)
    model.eval()
    embedder.config.max_length = saved_len
    out = embedder.save(out_dir)
    info = asdict(cfg) | {"seconds": round(time.perf_counter() - started, 1), "examples": len(data)}
    atomic_write_text(Path(out) / "viewrank_2dmse.json", json.dumps(info, indent=2))
    return out
