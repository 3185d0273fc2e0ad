"""Training loop for MVP and the cross-encoder: same lists, same listwise loss, seeded, resumable."""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch
from tqdm.auto import tqdm

from viewrank.errors import ViewrankError
from viewrank.plugins.mvp.data import MINED_NAME, TrainList, batches, beir_lists, mine_bm25, triple_lists
from viewrank.plugins.mvp.losses import mvp_loss
from viewrank.plugins.mvp.options import TrainOptions
from viewrank.runs import atomic_write_text
from viewrank.savedir import staged_save

STATE_NAME = "trainer_state.pt"


def collate(model, items: Sequence[TrainList]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Tokenize each list and pad all to one length: ``(B, N, L)`` tensors and ``(B, N)`` ranks."""
    encs = [model.tokenize(it.query, list(it.passages)) for it in items]
    length = max(e["input_ids"].shape[1] for e in encs)
    pad_id = model.tokenizer.pad_token_id or 0
    out: dict[str, torch.Tensor] = {}
    for key in encs[0]:
        fill = pad_id if key == "input_ids" else 0
        out[key] = torch.stack([torch.nn.functional.pad(e[key], (0, length - e[key].shape[1]), value=fill) for e in encs])
    return out, torch.tensor([it.ranks for it in items])


def build_model(opts: TrainOptions):
    from viewrank.manager import get_host

    backbone = get_host().resolve_model_path(opts.backbone)
    if opts.kind == "mvp":
        from viewrank.plugins.mvp.encoder_model import EncoderMVP

        model = EncoderMVP.from_backbone(backbone, m=opts.m, max_length=opts.max_length, seed=opts.seed)
    elif opts.kind == "cross-encoder":
        from viewrank.plugins.mvp.cross_encoder import CrossEncoder

        model = CrossEncoder.from_backbone(backbone, max_length=opts.max_length, seed=opts.seed)
    else:
        raise ViewrankError(f"unknown model kind {opts.kind!r}; choose mvp or cross-encoder")
    model.config.temperature = opts.temperature
    model.config.backbone = opts.backbone
    return model


def epoch_lists(opts: TrainOptions, hits: dict[str, list[str]], extra: list[TrainList], epoch: int) -> list[TrainList]:
    """The epoch's lists: fresh negatives drawn with a seed fixed by (seed, epoch)."""
    rng = random.Random(opts.seed * 1000 + epoch)
    return beir_lists(opts.dataset, opts.split, hits, opts.n, opts.neg_depth, rng) + extra


def _optimizer(model, opts: TrainOptions, total_steps: int):
    head = [p for n, p in model.named_parameters() if n.startswith("head.")]
    body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": opts.lr}, {"params": head, "lr": opts.head_lr}],
                            weight_decay=opts.weight_decay)

    def factor(step: int) -> float:
        if step < opts.warmup:
            return (step + 1) / max(opts.warmup, 1)
        return max(0.0, (total_steps - step) / max(total_steps - opts.warmup, 1))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def training_device(name: str) -> torch.device:
    """``--device`` checked before any work starts: a CUDA device that is not there is named."""
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ViewrankError(f"--device {name!r}: not a torch device ({exc})") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ViewrankError(f"--device {name!r}: this torch ({torch.__version__}) sees no CUDA device")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ViewrankError(f"--device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type != "cpu":
        raise ViewrankError(f"--device {name!r}: use cpu or cuda[:N]")
    return device


def train(opts: TrainOptions) -> Path:
    """Train, checkpointing every ``checkpoint_every`` steps into ``OUT/checkpoint``; returns OUT."""
    device = training_device(opts.device)
    torch.set_num_threads(max(1, opts.threads))
    out = Path(opts.out)
    ckpt = out / "checkpoint"
    out.mkdir(parents=True, exist_ok=True)
    index = opts.index or str(Path("indexes") / Path(opts.dataset).name)
    hits = mine_bm25(opts.dataset, opts.split, index, max(opts.neg_depth, 50), cache=out / MINED_NAME)
    extra = triple_lists(opts.extra_triples, opts.extra_limit or None) if opts.extra_triples else []

    torch.manual_seed(opts.seed)
    state = None
    if opts.resume and (ckpt / STATE_NAME).is_file():
        from viewrank.plugins.mvp.loading import load_mvp_model

        model = load_mvp_model(ckpt)
        state = torch.load(ckpt / STATE_NAME, map_location="cpu", weights_only=False)
        if state["options"]["kind"] != opts.kind:
            raise ViewrankError(f"{ckpt} is a {state['options']['kind']} checkpoint, not {opts.kind}")
    else:
        model = build_model(opts)
    model.to(device)
    steps_per_epoch = len(batches(epoch_lists(opts, hits, extra, 0), opts.batch_size, random.Random(0)))
    total = steps_per_epoch * opts.epochs
    opt, sched = _optimizer(model, opts, total)
    step, elapsed_before, log = 0, 0.0, []
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, elapsed_before, log = state["step"], state["elapsed_s"], state["log"]
        torch.set_rng_state(state["torch_rng"])

    def checkpoint() -> None:
        state = {"step": step, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                 "elapsed_s": elapsed_before + time.monotonic() - t0, "log": log,
                 "torch_rng": torch.get_rng_state(), "options": asdict(opts)}

        def write(tmp: Path) -> None:
            model.save(tmp)
            torch.save(state, tmp / STATE_NAME)

        staged_save(ckpt, write, replace=True)  # weights and state always from the same step

    t0 = time.monotonic()
    budget = opts.time_budget_min * 60
    stopped_early = False
    model.train()
    bar = tqdm(total=total, initial=step, desc=f"train {opts.kind}", unit="step")
    running = None
    if opts.max_steps and step >= opts.max_steps:
        stopped_early = True
    while step < total and not stopped_early:
        epoch, skip = divmod(step, steps_per_epoch)
        plan = batches(epoch_lists(opts, hits, extra, epoch), opts.batch_size, random.Random(opts.seed + epoch))
        for items in plan[skip:]:
            inputs, ranks = collate(model, items)
            inputs, ranks = {k: v.to(device) for k, v in inputs.items()}, ranks.to(device)
            scores, anchors = model.score_lists(**inputs)
            loss, parts = mvp_loss(scores, anchors, ranks, opts.temperature, opts.orth_weight, opts.double_softmax,
                                   opts.target_temperature or None)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}", **{k: f"{v:.3f}" for k, v in parts.items()})
            if step % 10 == 0:
                log.append({"step": step, "loss": round(running, 5), **{k: round(v, 5) for k, v in parts.items()}})
            if opts.checkpoint_every and step % opts.checkpoint_every == 0:
                checkpoint()
            if (budget and elapsed_before + time.monotonic() - t0 > budget) or (opts.max_steps and step >= opts.max_steps):
                stopped_early = True
                break
    bar.close()
    model.eval()
    model.save(out)
    checkpoint()
    elapsed = elapsed_before + time.monotonic() - t0
    report = {"options": asdict(opts), "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "steps": step, "total_steps": total, "steps_per_epoch": steps_per_epoch,
              "train_seconds": round(elapsed, 1), "stopped_early": stopped_early, "log": log}
    atomic_write_text(out / "training.json", json.dumps(report, indent=2) + "\n")
    return out
