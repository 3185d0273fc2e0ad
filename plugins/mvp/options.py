"""Training options for ``viewrank train`` (torch-free, so the CLI can build its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainOptions:
    kind: str = "mvp"  # or "cross-encoder"
    backbone: str = "all-MiniLM-L6-v2"
    dataset: str = "../shared/data/scifact"
    split: str = "train"
    index: str = ""
    extra_triples: str = ""
    extra_limit: int = 0
    out: str = "models/mvp-minilm"
    m: int = 4
    max_length: int = 128
    n: int = 8  # candidates per list: MVP is listwise and gains most from longer lists (bench/mvp_gpu_grid.py)
    neg_depth: int = 30
    epochs: int = 4  # n 8 x 4 epochs: 920 steps, 28 minutes on 2 cores (the most that fits 30)
    batch_size: int = 4
    lr: float = 1.5e-4
    head_lr: float = 1e-3
    warmup: int = 10
    weight_decay: float = 0.01
    temperature: float = 0.8
    target_temperature: float = 0.0  # 0: the same as temperature (the paper)
    orth_weight: float = 1.0
    double_softmax: bool = False
    seed: int = 13
    checkpoint_every: int = 50
    time_budget_min: float = 29.0  # a slower machine stops here (LR already near 0) and saves
    max_steps: int = 0
    threads: int = 2
    device: str = "cpu"  # "cuda", "cuda:1", ...: where the model and batches live while training
    resume: bool = False
