"""Trained binary codes: a projection learnt through ``sign`` with a straight-through estimator.

In the spirit of Binary Paragraph Vectors: the forward pass uses hard bits (``sign``), the
backward pass the gradient of ``tanh`` (a straight-through estimator). The projection starts
from the ITQ rotation and is trained on frozen float embeddings with two terms:
- contrastive: a query's code must be nearer its relevant passage's code than other passages';
- distillation: the softmax over binary similarities must match the one over float cosines
  (keeps the codes faithful to the float space beyond the few labelled pairs).
Training runs on cached vectors (no encoder forward pass), seconds on a CPU.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from viewrank.plugins.binary.codes import BinaryQuantizer


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(z)
        return torch.where(z > 0, 1.0, -1.0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (z,) = ctx.saved_tensors
        return grad * (1 - torch.tanh(z) ** 2)


def ste_sign(z: torch.Tensor) -> torch.Tensor:
    return _SignSTE.apply(z)


def train_ste_codes(
    queries: np.ndarray,
    passages: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    corpus: np.ndarray,
    init: BinaryQuantizer | None = None,
    steps: int = 300,
    batch_size: int = 64,
    negatives: int = 192,
    lr: float = 1e-3,
    temperature: float = 0.05,
    distill_weight: float = 1.0,
    contrastive_weight: float = 1.0,
    seed: int = 0,
) -> BinaryQuantizer:
    """Learn a projection for binary codes.

    ``queries[i]`` / ``passages[j]`` are float vectors and ``pairs`` lists relevant ``(i, j)``;
    ``corpus`` supplies random negatives and pseudo-queries for the distillation term.
    ``contrastive_weight=0`` trains without labels (distillation from the float space only).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    init = init or BinaryQuantizer.calibrate(corpus, "itq")
    shift = torch.from_numpy(init.shift)
    start = init.rotation if init.rotation is not None else np.eye(init.dim, dtype=np.float32)
    w = torch.nn.Parameter(torch.from_numpy(start.copy()))
    opt = torch.optim.Adam([w], lr=lr)
    q_all = torch.from_numpy(np.asarray(queries, np.float32))
    p_all = torch.from_numpy(np.asarray(passages, np.float32))
    c_all = torch.from_numpy(np.asarray(corpus, np.float32))
    pairs_arr = np.asarray(pairs, dtype=np.int64)
    nbits = w.shape[1]

    def code(x: torch.Tensor) -> torch.Tensor:
        return ste_sign((x - shift) @ w)

    for _ in range(steps):
        sel = pairs_arr[rng.integers(0, len(pairs_arr), batch_size)]
        q = q_all[sel[:, 0]]
        pos = p_all[sel[:, 1]]
        neg = c_all[rng.integers(0, len(c_all), negatives)]
        docs = torch.cat([pos, neg])
        sim = code(q) @ code(docs).T / nbits
        loss = contrastive_weight * torch.nn.functional.cross_entropy(sim / temperature, torch.arange(len(q)))
        if distill_weight > 0:
            pseudo = torch.cat([q, c_all[rng.integers(0, len(c_all), batch_size)]])
            teacher = torch.nn.functional.normalize(pseudo, dim=-1) @ torch.nn.functional.normalize(docs, dim=-1).T
            student = code(pseudo) @ code(docs).T / nbits
            loss = loss + distill_weight * torch.nn.functional.kl_div(
                torch.log_softmax(student / temperature, -1), torch.log_softmax(teacher / temperature, -1),
                log_target=True, reduction="batchmean",
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return BinaryQuantizer(init.shift.copy(), w.detach().numpy().astype(np.float32), "ste")
