"""The training loop of ``viewrank train embedder``: one loop, the recipes are options of it.

Each step draws ``batch_size`` (query, positive) examples, ``negatives`` mined hard negatives per
query (uniformly, or along PEG's curriculum), encodes queries and candidates and minimises
InfoNCE over them (in-batch + hard negatives). A candidate that is a judged positive of a query
is masked for that query; so is one whose own-model similarity to the query exceeds
``fn_margin`` x the positive's (a likely false negative). Options add KaLM-Embedding-V2's focal
reweighting and hard-negative mixing, the 2DMSE loss (:mod:`viewrank.plugins.matryoshka.train`),
a warm-up stage on ICT / BFS examples, and distillation from a teacher: with ``distill_weight`` W,
each query whose example carries teacher scores (``Example.teacher``: candidate text -> score over
its pool) adds W x KL(softmax(teacher / teacher_temperature) || softmax(cosine / temperature)) over
a group of its positive, its sampled hard negatives and ``distill_group`` more pooled candidates.
Teacher scoring happens before training (the caller's job); the budget counts training only.

The number of steps is planned from the machine (:mod:`viewrank.budget`): the held-out validation
of the start model is timed, then the first steps (re-planned once on more steps); the plan fits what is left of ``time_budget_min`` (less the
validations still to run and a 5% margin). The checkpoint kept is the best on the held-out slice
of TRAIN queries (the start model included), never on test.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from viewrank.budget import new_plan, update_plan
from viewrank.plugins.dense.embedder import DenseEmbedder, pool
from viewrank.plugins.dense.finetune import fine_tuning, save_trained
from viewrank.plugins.embedder_train.losses import distill_kl, info_nce, mix_negatives
from viewrank.plugins.embedder_train.negatives import sample_negatives
from viewrank.plugins.embedder_train.validate import HeldOut

RECORD_NAME = "viewrank_embedder_train.json"
PROBE_STEPS = 5


@dataclass
class Example:
    """A query, one positive, its ranked mined negatives and the texts judged relevant to it;
    ``teacher``: the teacher's score of each text of the query's pool (None: no KL term for it)."""

    query: str
    positive: str
    negatives: Sequence[str] = ()
    judged: frozenset = frozenset()
    teacher: Mapping[str, float] | None = None


@dataclass
class EmbedderTrainConfig:
    temperature: float = 0.05
    batch_size: int = 32
    negatives: int = 1           # mined hard negatives per query in a step
    neg_skip: int = 0            # uniform sampling skips the top ranks
    fn_margin: float = 0.95      # 0 disables the own-model false-negative filter
    focal: float = 0.0
    mix_negatives: int = 0
    mix_hardest: int = 4
    curriculum: bool = False
    matryoshka: bool = False
    dims: tuple[int, ...] = (384, 256, 128, 64)
    kl_weight: float = 1.0       # 2DMSE's last-to-shallow KL
    distill_weight: float = 0.0  # teacher KL (0: off)
    teacher_temperature: float = 0.1
    distill_group: int = 8       # pooled candidates per query added to its KL group
    pretrain_steps: int = 0
    lr: float = 1e-4
    warmup: float = 0.1
    max_length: int = 128
    time_budget_min: float = 0.0
    steps: int = 200             # the plan without a time budget; an upper bound with one
    evals: int = 2
    seed: int = 0
    history: list = field(default_factory=list)


def _encode(embedder: DenseEmbedder, texts: list[str], role: str, layers: bool):
    batch = embedder.tokenize(texts, role)
    out = embedder.model(**batch, output_hidden_states=layers)
    pooled = pool(out.last_hidden_state, batch["attention_mask"], embedder.config.pooling)
    states = None
    if layers:
        states = [pool(h, batch["attention_mask"], embedder.config.pooling) for h in out.hidden_states]
    return F.normalize(pooled, dim=-1), states


def contrastive_step(embedder: DenseEmbedder, batch: Sequence[Example], cfg: EmbedderTrainConfig,
                     rng: random.Random, progress: float, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
    """The loss of one batch and what it did (masked candidates, mixed negatives, mean p_pos)."""
    queries = [e.query for e in batch]
    cands = [e.positive for e in batch]
    groups: list[list[int]] = [[i] for i in range(len(batch))]  # columns of each query's KL group
    for i, e in enumerate(batch):
        if cfg.negatives and e.negatives:
            sampled = sample_negatives(e.negatives, cfg.negatives, rng,
                                       progress=progress if cfg.curriculum else None, skip=cfg.neg_skip)
            groups[i] += range(len(cands), len(cands) + len(sampled))
            cands += sampled
    n_cands = len(cands)
    distill = cfg.distill_weight > 0 and any(e.teacher for e in batch)
    if distill:  # the pooled extras are encoded with the candidates, but only the KL term sees them
        for i, e in enumerate(batch):
            if not e.teacher:
                continue
            taken = {cands[j] for j in groups[i]}
            rest = [t for t in e.teacher if t not in taken]
            pooled = rng.sample(rest, min(cfg.distill_group, len(rest)))
            groups[i] += range(len(cands), len(cands) + len(pooled))
            cands += pooled
    q, q_states = _encode(embedder, queries, "query", cfg.matryoshka)
    d_all, d_states = _encode(embedder, cands, "passage", cfg.matryoshka)
    d = d_all[:n_cands]
    if d_states is not None:
        d_states = [h[:n_cands] for h in d_states]
    texts, cands = cands, cands[:n_cands]
    rows = torch.arange(len(batch))
    positives = rows.clone()
    mask = torch.tensor([[c in e.judged and j != i for j, c in enumerate(cands)] for i, e in enumerate(batch)],
                        dtype=torch.bool).reshape(len(batch), len(cands))
    with torch.no_grad():
        sims = q @ d.T
        if cfg.fn_margin > 0:
            pos = sims[rows, positives].unsqueeze(1)
            false_neg = (sims > cfg.fn_margin * pos) & (pos > 0)  # a margin of a negative cosine means nothing
            false_neg[rows, positives] = False
            filtered = int((false_neg & ~mask).sum())
            mask |= false_neg
        else:
            filtered = 0
    extra = valid = None
    if cfg.mix_negatives:
        ok = ~mask
        ok[rows, positives] = False
        extra, valid = mix_negatives(q, d, ok, cfg.mix_negatives, cfg.mix_hardest, gen)
    loss, p_pos = info_nce(q, d, positives, cfg.temperature, mask, cfg.focal, extra, valid)
    if cfg.matryoshka:
        loss = loss + _matryoshka_loss(embedder, q_states, d_states, positives, mask, cfg, rng)
    stats = {"candidates": n_cands, "filtered": filtered, "p_pos": round(float(p_pos.mean()), 4)}
    if distill:
        kl = _distill_loss(q, d_all, texts, groups, batch, cfg)
        loss = loss + cfg.distill_weight * kl
        stats["kl"] = round(float(kl.detach()), 4)
    return loss, stats


def _distill_loss(q: torch.Tensor, d: torch.Tensor, texts: list[str], groups: list[list[int]],
                  batch: Sequence[Example], cfg: EmbedderTrainConfig) -> torch.Tensor:
    """KL(teacher || student) over each query's group (columns of ``d``); a query without teacher
    scores, or a candidate the teacher did not score, is masked out."""
    width = max(len(g) for g in groups)
    idx = torch.zeros(len(batch), width, dtype=torch.long)
    target = torch.zeros(len(batch), width)
    ok = torch.zeros(len(batch), width, dtype=torch.bool)
    for i, (e, g) in enumerate(zip(batch, groups)):
        for k, j in enumerate(g):
            idx[i, k] = j
            score = (e.teacher or {}).get(texts[j])
            if score is not None:
                target[i, k], ok[i, k] = float(score), True
    student = torch.einsum("bh,bgh->bg", q, d[idx])
    return distill_kl(student, target, cfg.temperature, cfg.teacher_temperature, ok)


def _matryoshka_loss(embedder, q_states, d_states, positives, mask, cfg: EmbedderTrainConfig, rng) -> torch.Tensor:
    """2DMSE's terms (Li et al.) on top of the full-size loss: InfoNCE at every Matryoshka
    dimension of the last layer and of one sampled shallower layer, plus the KL from the last
    layer's distribution to the shallow one's. Similarities come from 2DMSE's own function."""
    from viewrank.plugins.matryoshka.train import _sims

    n_layers = len(q_states) - 1
    hidden = q_states[-1].size(1)
    dims = tuple(x for x in cfg.dims if x <= hidden) or (hidden,)
    shallow = rng.randint(1, n_layers - 1) if n_layers > 1 else n_layers
    total = torch.zeros(())
    sims = {}
    for layer in (n_layers, shallow):
        for dim in dims:
            s = _sims(q_states[layer], d_states[layer], dim).masked_fill(mask, float("-inf"))
            sims[(layer, dim)] = s
            total = total + F.cross_entropy(s / cfg.temperature, positives) / len(dims)
    if cfg.kl_weight > 0 and shallow != n_layers:
        teacher = F.log_softmax(sims[(n_layers, dims[0])].detach() / cfg.temperature, -1)
        student = F.log_softmax(sims[(shallow, dims[0])] / cfg.temperature, -1)
        finite = torch.isfinite(teacher)
        kl = (teacher.exp() * (teacher - student)).masked_fill(~finite, 0.0).sum(1).mean()
        total = total + cfg.kl_weight * kl
    return total


def _pretrain_step(embedder, batch, cfg: EmbedderTrainConfig) -> torch.Tensor:
    q, _ = _encode(embedder, [b[0] for b in batch], "query", False)
    d, _ = _encode(embedder, [b[1] for b in batch], "passage", False)
    loss, _ = info_nce(q, d, torch.arange(len(batch)), cfg.temperature)
    return loss


def train_embedder(embedder: DenseEmbedder, examples: Sequence[Example], out_dir: str | Path,
                   cfg: EmbedderTrainConfig, held_out: HeldOut | None = None,
                   pretrain: Sequence[tuple[str, str, None]] = (), info: dict | None = None,
                   progress: bool = True) -> Path:
    """Fine-tune ``embedder`` in place and save the best checkpoint to ``out_dir``."""
    t0 = time.monotonic()
    budget = cfg.time_budget_min * 60
    data = list(examples)
    if not data:
        from viewrank.errors import ViewrankError

        raise ViewrankError("no training examples (check the dataset's train qrels)")
    plan = new_plan(cfg.steps, budget)
    selection: list[dict] = []
    best = {"score": float("-inf"), "state": None, "step": None}
    model = embedder.model

    def validate(step: int) -> None:
        if held_out is None or cfg.evals == 0:  # evals 0: the slice is only kept out of training
            return
        t = time.monotonic()
        model.eval()
        saved = embedder.config.max_length
        embedder.config.max_length = infer_length
        try:
            score = held_out.ndcg(embedder)
        finally:
            embedder.config.max_length = saved
            model.train()
        plan["eval_s"] = time.monotonic() - t
        selection.append({"step": step, "heldout_ndcg@10": score, "seconds": round(plan["eval_s"], 1)})
        if score > best["score"]:
            best.update(score=score, step=step, state={k: v.detach().clone() for k, v in model.state_dict().items()})

    infer_length = embedder.config.max_length
    gen = torch.Generator().manual_seed(cfg.seed)
    with fine_tuning(embedder, max_length=cfg.max_length, lr=cfg.lr, seed=cfg.seed) as run:
        rng = run.rng
        from tqdm import tqdm

        if pretrain and cfg.pretrain_steps:
            pre = list(pretrain)
            for step in tqdm(range(cfg.pretrain_steps), desc="pre-train", unit="step", disable=not progress):
                value = run.step(_pretrain_step(embedder, rng.sample(pre, min(cfg.batch_size, len(pre))), cfg))
                cfg.history.append({"stage": "pretrain", "step": step, "loss": round(value, 4)})
        validate(0)

        def factor(step: int) -> float:
            total = max(1, plan["total"])
            warm = max(1, int(cfg.warmup * total))
            return (step + 1) / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))

        sched = torch.optim.lr_scheduler.LambdaLR(run.optimizer, factor)
        evals_done, step, times = 0, 0, []
        order: list[int] = []
        bar = tqdm(total=plan["total"], desc="train embedder", unit="step", disable=not progress)
        while step < plan["total"]:
            if len(order) < cfg.batch_size:
                perm = list(range(len(data)))
                rng.shuffle(perm)
                order += perm
            batch = [data[i] for i in order[: cfg.batch_size]]
            del order[: cfg.batch_size]
            ts = time.monotonic()
            loss, stats = contrastive_step(embedder, batch, cfg, rng, step / max(1, plan["total"]), gen)
            value = run.step(loss)
            sched.step()
            times.append(time.monotonic() - ts)
            step += 1
            cfg.history.append({"step": step, "loss": round(value, 4), **stats})
            if update_plan(plan, times, step, cfg.steps, time.monotonic() - t0, budget,
                           cfg.evals - evals_done if held_out else 0, PROBE_STEPS):
                bar.total = plan["total"]
            bar.update(1)
            bar.set_postfix(loss=f"{value:.3f}")
            if held_out is not None and evals_done < cfg.evals and (
                    step >= plan["total"] or step == round(plan["total"] * (evals_done + 1) / cfg.evals)):
                evals_done += 1
                validate(step)
        bar.close()
        if held_out is not None and cfg.evals and evals_done == 0:
            validate(step)
        if best["state"] is not None:
            model.load_state_dict(best["state"])
    record = asdict(cfg) | (info or {}) | {
        "steps_run": step, "planned_steps": plan["total"], "plans": plan["plans"], "step_seconds": plan["step_s"] and round(plan["step_s"], 3),
        "selection": selection, "kept_step": best["step"], "heldout_ndcg@10": best["score"] if selection else None,
        "seconds": round(time.monotonic() - t0, 1), "examples": len(data), "pretrain_examples": len(pretrain)}
    return save_trained(embedder, out_dir, RECORD_NAME, record)
