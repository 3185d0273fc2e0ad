"""What every bi-encoder fine-tuning loop (2DMSE, distillation) sets up and undoes.

``fine_tuning`` seeds Python and torch, puts the model in train mode with the loop's own
``max_length`` and yields an AdamW optimiser; on the way out (also when the loop raises or is
interrupted) the model is back in eval mode with its own ``max_length``, so an embedder object
is never left half-configured for the caller. ``save_trained`` writes the model and the loop's
record (options, time, losses) beside it.
"""

from __future__ import annotations

import json
import random
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch

from viewrank.plugins.dense.embedder import DenseEmbedder
from viewrank.runs import atomic_write_text


class FineTuning:
    """The state one loop shares: its random generator, optimiser and start time."""

    def __init__(self, rng: random.Random, optimizer: torch.optim.Optimizer) -> None:
        self.rng, self.optimizer, self.started = rng, optimizer, time.perf_counter()

    def step(self, loss: torch.Tensor) -> float:
        """One optimiser step on ``loss``; returns its value."""
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 1)


@contextmanager
def fine_tuning(embedder: DenseEmbedder, *, max_length: int, lr: float, seed: int) -> Iterator[FineTuning]:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model = embedder.model
    saved_len = embedder.config.max_length
    model.train()
    embedder.config.max_length = max_length
    try:
        yield FineTuning(rng, torch.optim.AdamW(model.parameters(), lr=lr))
    finally:
        model.eval()
        embedder.config.max_length = saved_len


def steps(n: int, desc: str, progress: bool) -> Iterable[int]:
    """``range(n)``, with a tqdm bar when ``progress``."""
    if not progress:
        return range(n)
    from tqdm import tqdm

    return tqdm(range(n), desc=desc, unit="step")


def save_trained(embedder: DenseEmbedder, out_dir: str | Path, record_name: str, record: dict[str, Any]) -> Path:
    """Save the model, then its training record as ``record_name`` inside it."""
    out = embedder.save(out_dir)
    atomic_write_text(Path(out) / record_name, json.dumps(record, indent=2))
    return out
