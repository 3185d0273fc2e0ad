"""Training options for ``viewrank train`` (torch-free, so the CLI can build its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass, field

OPTIMIZERS = ("adamw", "adafactor")


@dataclass
class TrainOptions:
    kind: str = "mvp"  # or "cross-encoder"
    backbone: str = "all-MiniLM-L6-v2"
    init_from: str = ""  # a trained model folder to continue from (viewrank adapt); backbone is then unused
    dataset: str = "../shared/data/scifact"
    split: str = "train"
    index: str = ""
    extra_triples: str = ""
    extra_limit: int = 0
    out: str = "models/mvp-minilm"
    m: int = 4
    # "query": a learned query per view (learns within the CPU budget); "list": the paper's list-aware
    # anchors, which in this recipe's CPU budget do not learn from lists of 8 (SciFact 0.12) and
    # stay below BM25 with lists of 16 (0.67; docs/mvp-results.md).
    # "" = "query" for a new model, the --init-from model's own form otherwise; a form given with
    # --init-from switches that model's anchors (a warm start: encoder and decoder block kept)
    anchor: str = ""
    max_length: int = 128  # tokens per candidate while training
    # tokens per candidate saved in the model's config (inference, validation); 0 = max_length. Keep them
    # equal: trained at 128 and run at 256, the cross-encoder fell from 0.748 to 0.657 (bench/mvp_ablation.py)
    infer_max_length: int = 0
    n: int = 8  # candidates per list: per unit of compute, lists of 8 beat lists of 16 (bench/results/mvp_gpu_grid.json)
    neg_depth: int = 30
    # > 0: lists hold windows of this many words (each document's window the teacher scores highest)
    # and validation reads every window (MaxP): a model to run as maxp:WORDS:mvp:OUT. 0: whole passages
    windows: int = 0
    # reranker specs ordering each list's negatives; several = an ensemble; "none" or [] = BM25's order.
    # The default is free and general: the zero-shot bi-encoder fused with BM25.
    teacher: list[str] = field(default_factory=lambda: ["fuse:0.4:bi-encoder"])
    # True: each list is the judged positive first plus teacher-ordered negatives. False (adapt
    # --source drop): lists leave the judged document out and the teacher orders all n candidates;
    # validation then scores agreement with the teacher's top VAL_TEACHER_TOP on held-out queries
    pin_positive: bool = True
    epochs: int = 6  # an upper bound: the step plan also fits time_budget_min (see viewrank.budget)
    batch_size: int = 4
    optimizer: str = "adamw"
    lr: float = 1.5e-4
    head_lr: float = 1e-3
    warmup: int = 0  # warm-up steps; 0 = warmup_ratio of the planned steps
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0  # applied to weight matrices only (never to norms, biases, embeddings)
    # > 0: after each step every backbone weight moves back toward its starting value by lr * l2sp * (w - w0)
    # (L2-SP in decoupled form, plugins/mvp/start_pull.py): keeps the fine-tuned backbone near the general one
    l2sp: float = 0.0
    # > 0: the saved model is the mean of the weights over the last FRACTION of the planned steps
    # (plugins/mvp/tail_average.py); the step the held-out slice would have kept goes to OUT/selected
    average_last: float = 0.0
    temperature: float = 0.8
    target_temperature: float = 0.0  # 0: the same as temperature (the paper)
    orth_weight: float = 1.0
    double_softmax: bool = False
    val_queries: int = 50  # judged queries of the split held out to pick the checkpoint (never test)
    val_depth: int = 30  # the validation reranks each held-out query's BM25 top K
    evals: int = 4  # validations spread over the planned steps (plus one before training)
    seed: int = 13
    checkpoint_every: int = 50
    time_budget_min: float = 35.0  # the plan fits training + validations in this; 0 = no limit
    max_steps: int = 0
    threads: int = 2
    device: str = "cpu"  # "cuda", "cuda:1", ...: where the model and batches live while training
    # forward passes in bf16 (torch autocast; weights, optimiser and loss stay fp32): CPUs with AMX
    # (the trainer refuses others: slower than fp32 there) and CUDA GPUs that have it; the step plan
    # then fits more steps
    bf16: bool = False
    resume: bool = False
