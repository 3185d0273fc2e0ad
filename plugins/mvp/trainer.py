"""Training loop for MVP and the cross-encoder: same lists, same listwise loss, seeded, resumable.

The number of steps is planned from the machine (:mod:`viewrank.budget`): the loop times its
first steps and the first validation (and re-plans once on more steps), then fits the learning-rate schedule (warm-up, linear decay to zero) and the
validations into ``time_budget_min``, so a slower CPU trains fewer steps with a complete
schedule instead of being cut off at a high learning rate. The checkpoint kept is the one with
the best nDCG@10 on a held-out slice of the *training* split.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch
from tqdm.auto import tqdm

from viewrank.budget import new_plan, update_plan
from viewrank.errors import ViewrankError
from viewrank.datasets import BeirDataset
from viewrank.metrics import ndcg_per_query
from viewrank.plugins.mvp.data import (MINED_NAME, WINDOW_SEP, TrainList, batches, beir_lists, best_windows, mine_bm25,
                                       split_validation, triple_lists, window_documents)
from viewrank.plugins.mvp.losses import mvp_loss
from viewrank.plugins.mvp.options import OPTIMIZERS, TrainOptions
from viewrank.plugins.mvp.start_pull import StartPull
from viewrank.plugins.mvp.tail_average import TailAverage
from viewrank.teachers import TEACHER_NAME, teacher_scores
from viewrank.runs import atomic_write_text
from viewrank.savedir import staged_save
from viewrank.significance import paired, randomization_test

if TYPE_CHECKING:
    from viewrank.manager import PluginHost

STATE_NAME = "trainer_state.pt"
BEST_NAME = "best"
SELECTED_NAME = "selected"  # with --average-last: the step the held-out slice would have kept
VAL_TEACHER_TOP = 5  # without a pinned positive: the teacher's top 5 of a held-out list count as relevant
PROBE_STEPS = 6  # steps timed before the plan is fixed (the first one, warming up, is not counted)


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



def build_model(opts: TrainOptions, host: "PluginHost"):
    if opts.init_from:
        from viewrank.plugins.mvp.loading import load_mvp_model

        model = load_mvp_model(opts.init_from)
        want = "encoder" if opts.kind == "mvp" else "cross-encoder"
        if model.config.variant != want:
            raise ViewrankError(f"--init-from {opts.init_from} holds a {model.config.variant!r} model, not {want!r}")
        if opts.anchor:  # check_options: only for MVP
            model.set_anchor(opts.anchor, seed=opts.seed)  # a warm start when the form differs
    else:
        backbone = host.resolve_model_path(opts.backbone)
        if opts.kind == "mvp":
            from viewrank.plugins.mvp.encoder_model import EncoderMVP

            model = EncoderMVP.from_backbone(backbone, m=opts.m, max_length=opts.max_length, seed=opts.seed,
                                             anchor=opts.anchor or "query")
        elif opts.kind == "cross-encoder":
            from viewrank.plugins.mvp.cross_encoder import CrossEncoder

            model = CrossEncoder.from_backbone(backbone, max_length=opts.max_length, seed=opts.seed)
        else:
            raise ViewrankError(f"unknown model kind {opts.kind!r}; choose mvp or cross-encoder")
        model.config.backbone = opts.backbone
    model.config.temperature = opts.temperature
    return model


def check_options(opts: TrainOptions) -> None:
    """Options that cannot work, named before any data is read."""
    if opts.optimizer not in OPTIMIZERS:
        raise ViewrankError(f"--optimizer {opts.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    if opts.n < 2:
        raise ViewrankError(f"--n {opts.n}: a list needs at least 2 candidates")
    if opts.neg_depth < opts.n - 1:
        raise ViewrankError(f"--neg-depth {opts.neg_depth} is smaller than the {opts.n - 1} negatives a list of {opts.n} needs")
    if not 0.0 <= opts.warmup_ratio < 1.0:
        raise ViewrankError(f"--warmup-ratio {opts.warmup_ratio}: use a fraction in [0, 1)")
    if not opts.pin_positive and not opts.teacher:
        raise ViewrankError("lists without the judged document (adapt --source drop) need a --teacher to order them")
    if opts.time_budget_min < 0:
        raise ViewrankError(f"--time-budget-min {opts.time_budget_min}: give minutes >= 0 (0 = no limit)")
    if opts.max_steps < 0:
        raise ViewrankError(f"--max-steps {opts.max_steps}: give a number of steps >= 0 (0 = the plan's)")
    if opts.epochs < 1 or opts.batch_size < 1:
        raise ViewrankError(f"--epochs {opts.epochs} --batch-size {opts.batch_size}: both need to be at least 1")
    if opts.l2sp < 0:
        raise ViewrankError(f"--l2sp {opts.l2sp}: give a rate >= 0 (0 = off)")
    if not 0.0 <= opts.average_last <= 1.0:
        raise ViewrankError(f"--average-last {opts.average_last}: give a fraction of the planned steps in [0, 1] (0 = off)")
    if opts.windows < 0:
        raise ViewrankError(f"--windows {opts.windows}: give a number of words (or 0 for whole passages)")
    if opts.windows and not opts.teacher:
        raise ViewrankError("--windows picks each passage's window by the --teacher's scores: give a --teacher")
    if opts.anchor and opts.kind != "mvp":
        raise ViewrankError(f"--anchor {opts.anchor}: a {opts.kind} has no anchor decoder (MVP only)")
    if opts.init_from and not Path(opts.init_from).is_dir():
        raise ViewrankError(f"--init-from {opts.init_from}: no such model folder")


def epoch_lists(opts: TrainOptions, hits, extra: list[TrainList], epoch: int, teacher, exclude,
                text=None) -> list[TrainList]:
    """The epoch's lists: fresh negatives drawn with a seed fixed by (seed, epoch)."""
    rng = random.Random(opts.seed * 1000 + epoch)
    return beir_lists(opts.dataset, opts.split, hits, opts.n, opts.neg_depth, rng, teacher, exclude,
                      pin_positive=opts.pin_positive, text=text) + extra


def window_teacher(host, opts: TrainOptions, ds: BeirDataset, pools, cache: Path):
    """``--windows WORDS``: the teacher scores every ``WORDS``-word window of each pooled document
    and of the query's judged documents; a document scores as its best window (MaxP, what the
    ``maxp`` reranker computes), and a list holds that window. Returns ``(scores, text)``: the
    documents' scores and ``text(qid, docid)``, the window a list holds."""
    corpus, judged = ds.corpus, ds.qrels(opts.split)
    full = {}
    for qid, pool in pools.items():
        floor = min((sc for _, sc in pool), default=0.0)  # a judged document BM25 missed: its first-stage score
        seen = {d for d, _ in pool}
        full[qid] = list(pool) + [(d, floor) for d in sorted(judged.get(qid, {})) if d not in seen and d in corpus]
    docs = window_documents(corpus, {d for pool in full.values() for d, _ in pool}, opts.windows)
    of_doc: dict[str, list[str]] = {}
    for wid in docs:
        of_doc.setdefault(wid.rpartition(WINDOW_SEP)[0], []).append(wid)
    wpools = {qid: [(wid, sc) for d, sc in pool for wid in of_doc[d]] for qid, pool in full.items()}
    scores, which = best_windows(teacher_scores(host, opts.teacher, ds.all_queries, wpools, docs, cache=cache))

    def text(qid: str, docid: str) -> str:
        wid = which.get(qid, {}).get(docid)
        return docs[wid].contents if wid is not None else corpus[docid].contents

    return scores, text


def _optimizer(model, opts: TrainOptions, plan: dict):
    """Backbone at ``lr``, the head at ``head_lr``; weight decay on weight matrices only (never on
    norms, biases or embeddings). The schedule reads ``plan`` at every step, so re-planning the
    number of steps re-shapes the decay that is left."""
    head_ids = {id(p) for p in model.head.parameters()}
    embedding_ids = {id(p) for mod in model.modules() if isinstance(mod, torch.nn.Embedding) for p in mod.parameters()}
    groups = []
    for is_head in (False, True):
        for decay in (True, False):
            params = [p for p in model.parameters()
                      if (id(p) in head_ids) == is_head and (p.ndim >= 2 and id(p) not in embedding_ids) == decay]
            if params:
                groups.append({"params": params, "lr": opts.head_lr if is_head else opts.lr,
                               "weight_decay": opts.weight_decay if decay else 0.0, "backbone": not is_head})
    if opts.optimizer == "adafactor":
        opt = torch.optim.Adafactor(groups, lr=opts.lr)
    else:
        opt = torch.optim.AdamW(groups, lr=opts.lr)

    def factor(step: int) -> float:
        total = plan["total"]
        warm = opts.warmup or max(1, round(opts.warmup_ratio * total))
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(total - warm, 1))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def teacher_qrels(teacher: dict[str, dict[str, float]], judged: dict[str, dict[str, int]], qids: Sequence[str],
                  top: int) -> dict[str, dict[str, int]]:
    """Validation labels when lists leave the judged document out: each query's ``top`` documents
    in the teacher's order (judged ones left out) count as relevant."""
    out = {}
    for qid in qids:
        ranked = sorted((d for d in teacher.get(qid, {}) if d not in judged.get(qid, {})),
                        key=lambda d: -teacher[qid][d])
        out[qid] = {d: 1 for d in ranked[:top]}
    return out


def validate(model, ds: BeirDataset, split: str, qids: Sequence[str], hits, depth: int,
             qrels: dict[str, dict[str, int]] | None = None, skip: dict[str, dict[str, int]] | None = None,
             words: int = 0) -> dict[str, float]:
    """Per-query nDCG@10 of the model reranking each held-out query's BM25 top ``depth`` (in eval
    mode) against ``qrels`` (default: the split's judgments); documents in ``skip[qid]`` are left out.
    ``words`` > 0: each document read in windows of that many words, all of a query's windows in
    one list, a document scored by its best window (what ``maxp:WORDS:SPEC`` computes)."""
    corpus, texts = ds.corpus, ds.all_queries
    qrels = ds.qrels(split) if qrels is None else qrels
    skip = skip or {}
    model.eval()
    run = {}
    try:
        with torch.inference_mode():
            for qid in qids:
                docs = [d for d, _ in hits[qid][:depth] if d in corpus and d not in skip.get(qid, {})]
                if not words:
                    run[qid] = dict(zip(docs, map(float, model.score(texts[qid], [corpus[d].contents for d in docs]))))
                    continue
                parts = window_documents(corpus, docs, words)
                scores = map(float, model.score(texts[qid], [w.contents for w in parts.values()]))
                run[qid] = best_windows({qid: dict(zip(parts, scores))})[0][qid]
    finally:
        model.train()
    return ndcg_per_query(run, {q: qrels[q] for q in qids})


def held_out_gain(a: dict, b: dict) -> dict | None:
    """Validation ``b`` minus validation ``a`` (history entries) on the same held-out queries: the
    mean nDCG@10 difference and the paired randomization test's p-value, so a report can say when
    one step's lead over another is within the slice's noise. None when either lacks per-query
    values (a checkpoint from before they were kept)."""
    if not a.get("per_query") or not b.get("per_query"):
        return None
    qids = sorted(a["per_query"])
    test = randomization_test(*paired(a["per_query"], b["per_query"], qids))
    return {"queries": test.queries, "diff": round(test.diff, 4), "p": round(test.p, 3)}


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


def check_bf16(device: torch.device) -> None:
    """``--bf16`` only where it pays: a CUDA device that computes bf16, or a CPU with AMX (with
    AVX512-BF16 alone, or none, autocast trains slower than fp32)."""
    if device.type == "cuda":
        if not torch.cuda.is_bf16_supported():
            raise ViewrankError(f"--bf16: {torch.cuda.get_device_name(device)} does not compute bf16")
        return
    from viewrank.plugins.onnx_runtime.cpu import amx_bf16, describe, native_bf16

    if not amx_bf16():
        why = ("AVX512-BF16 without AMX: torch's bf16 autocast trains slower than fp32 there"
               if native_bf16() else "no native bf16: torch would emulate it, slower than fp32")
        raise ViewrankError(f"--bf16: this CPU ({describe()}) has {why}; train without --bf16")


def train(opts: TrainOptions, host: "PluginHost") -> Path:
    """Train, checkpointing every ``checkpoint_every`` steps into ``OUT/checkpoint``; returns OUT.

    ``host`` resolves the backbone name, the first-stage retriever (``bm25``) and the teacher specs."""
    wall0 = time.monotonic()
    check_options(opts)
    infer_length = opts.infer_max_length or opts.max_length
    device = training_device(opts.device)
    if opts.bf16:
        check_bf16(device)
    host.context.settings.with_(threads=max(1, opts.threads)).apply_threads()
    out = Path(opts.out)
    ckpt = out / "checkpoint"
    out.mkdir(parents=True, exist_ok=True)
    index = opts.index or str(Path("indexes") / Path(opts.dataset).name)
    hits = mine_bm25(opts.dataset, opts.split, lambda: host.retriever(f"bm25:{index}@corpus={opts.dataset}"),
                     max(opts.neg_depth, opts.val_depth, 50), cache=out / MINED_NAME)
    ds = BeirDataset(opts.dataset)
    val_qids = [q for q in split_validation(opts.dataset, opts.split, opts.val_queries, opts.seed) if q in hits]
    exclude = frozenset(val_qids)
    teacher, teacher_s, text = None, 0.0, None
    if opts.teacher:
        t = time.monotonic()
        # without a pinned positive, validation compares with the teacher, so it scores the held-out lists too
        pools = {q: hits[q][: opts.neg_depth] for q in ds.qrels(opts.split)
                 if q in hits and (q not in exclude or not opts.pin_positive)}
        if opts.windows:
            teacher, text = window_teacher(host, opts, ds, pools, out / TEACHER_NAME)
        else:
            teacher = teacher_scores(host, opts.teacher, ds.all_queries, pools, ds.corpus, cache=out / TEACHER_NAME)
        teacher_s = time.monotonic() - t
    extra = triple_lists(opts.extra_triples, opts.extra_limit or None) if opts.extra_triples else []
    val_qrels = val_skip = None
    if not opts.pin_positive:
        val_skip = ds.qrels(opts.split)
        val_qrels = teacher_qrels(teacher, val_skip, val_qids, VAL_TEACHER_TOP)

    torch.manual_seed(opts.seed)
    state = None
    if opts.resume and (ckpt / STATE_NAME).is_file():
        from viewrank.plugins.mvp.loading import load_mvp_model

        model = load_mvp_model(ckpt)
        state = torch.load(ckpt / STATE_NAME, map_location="cpu", weights_only=False)
        if state["options"]["kind"] != opts.kind:
            raise ViewrankError(f"{ckpt} is a {state['options']['kind']} checkpoint, not {opts.kind}")
    else:
        model = build_model(opts, host)
    model.config.max_length = opts.max_length
    model.to(device)
    # the starting weights (the backbone, or --init-from): what --l2sp pulls toward and drift is measured from
    pull = StartPull(model, model if state is None else build_model(opts, host), opts.l2sp)
    average = TailAverage(model, opts.average_last)
    if state is not None and state.get("average"):
        average.load_state_dict(state["average"])
    steps_per_epoch = len(batches(epoch_lists(opts, hits, extra, 0, teacher, exclude, text), opts.batch_size, random.Random(0)))
    if steps_per_epoch == 0:
        raise ViewrankError(f"{opts.dataset} ({opts.split}): no training list could be built; each needs a judged "
                            f"relevant document and {opts.n - 1 if opts.pin_positive else opts.n} non-relevant BM25 hits in the top {opts.neg_depth} "
                            "(lower --n, raise --neg-depth, or check the qrels)")
    upper = steps_per_epoch * opts.epochs
    budget = opts.time_budget_min * 60
    plan = new_plan(upper, budget)
    opt, sched = _optimizer(model, opts, plan)
    backbone_group = next(i for i, g in enumerate(opt.param_groups) if g["backbone"])  # --l2sp reads its lr
    step, elapsed_before, log, history = 0, 0.0, [], []
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, elapsed_before, log = state["step"], state["elapsed_s"], state["log"]
        plan.update(state["plan"])
        history = state["history"]
        torch.set_rng_state(state["torch_rng"])
    best_dir = out / BEST_NAME

    def best() -> dict | None:
        return max(history, key=lambda h: (h["val_nDCG@10"], h["step"])) if history else None

    def checkpoint() -> None:
        state = {"step": step, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                 "elapsed_s": elapsed_before + time.monotonic() - t0, "log": log, "plan": plan, "history": history,
                 "torch_rng": torch.get_rng_state(), "options": asdict(opts),
                 "average": average.state_dict() if average.count else None}

        def write(tmp: Path) -> None:
            model.save(tmp)
            torch.save(state, tmp / STATE_NAME)

        staged_save(ckpt, write, replace=True)  # weights and state always from the same step

    def held_out() -> dict:
        """The model as it is now on the held-out queries, at its inference length: a history entry
        (nDCG@10, and each query's, for held_out_gain)."""
        per_query = with_length(infer_length, lambda: validate(model, ds, opts.split, val_qids, hits, opts.val_depth,
                                                               val_qrels, val_skip, opts.windows))
        score = sum(per_query.values()) / len(per_query) if per_query else 0.0
        return {"step": step, "val_nDCG@10": round(score, 4), "per_query": {q: round(v, 4) for q, v in per_query.items()}}

    def run_validation() -> float:
        """Validate (and keep the model if it is the best so far); returns the seconds it took."""
        t = time.monotonic()
        entry = held_out()
        score = entry["val_nDCG@10"]
        plan["eval_s"] = time.monotonic() - t
        previous = best()
        history.append(entry)
        tqdm.write(f"step {step}: validation nDCG@10 {score:.4f} ({len(entry['per_query'])} held-out {opts.split} queries)")
        if previous is None or score >= previous["val_nDCG@10"]:  # best()'s choice: on a tie, the later step
            with_length(infer_length, lambda: model.save(best_dir))
        return time.monotonic() - t

    def with_length(length: int, fn):
        train_length, model.config.max_length = model.config.max_length, length
        try:
            return fn()
        finally:
            model.config.max_length = train_length

    def validation_due() -> bool:
        return bool(val_qids) and opts.evals > 0 and any(
            step == round(plan["total"] * j / opts.evals) for j in range(1, opts.evals + 1))

    t0 = time.monotonic()
    stopped_early = False
    model.train()
    if val_qids and not history:
        run_validation()  # step 0: the starting point, and the time one validation takes
    bar = tqdm(total=plan["total"], initial=step, desc=f"train {opts.kind}", unit="step")
    running = None
    step_times: list[float] = []
    if opts.max_steps and step >= opts.max_steps:
        stopped_early = True
    # a step's time runs from the end of the one before to its own end (building the epoch's lists,
    # logging and checkpoints included, validations left out): what the remaining steps will cost
    mark = time.monotonic()
    while step < plan["total"] and not stopped_early:
        epoch, skip = divmod(step, steps_per_epoch)
        plan_batches = batches(epoch_lists(opts, hits, extra, epoch, teacher, exclude, text), opts.batch_size,
                               random.Random(opts.seed + epoch))
        for items in plan_batches[skip:]:
            inputs, ranks = collate(model, items)
            inputs, ranks = {k: v.to(device) for k, v in inputs.items()}, ranks.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=opts.bf16):
                scores, anchors = model.score_lists(**inputs)
            anchors = None if anchors is None else anchors.float()  # the cross-encoder has no anchors
            loss, parts = mvp_loss(scores.float(), anchors, ranks, opts.temperature, opts.orth_weight,
                                   opts.double_softmax, opts.target_temperature or None)
            backbone_lr = opt.param_groups[backbone_group]["lr"]  # this step's, before sched.step()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            pull.step(backbone_lr)
            sched.step()
            step += 1
            average.update(step, plan["total"])
            running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}", **{k: f"{v:.3f}" for k, v in parts.items()})
            if step % 10 == 0:
                log.append({"step": step, "loss": round(running, 5), **{k: round(v, 5) for k, v in parts.items()}})
            validation_s = run_validation() if validation_due() else 0.0
            if opts.checkpoint_every and step % opts.checkpoint_every == 0:
                checkpoint()
            now = time.monotonic()
            step_times.append(now - mark - validation_s)
            mark = now
            if not plan["replanned"]:  # planning is over after the second plan: nothing to compute per step
                evals_left = opts.evals - sum(1 for h in history if h["step"] > 0) if val_qids else 0
                evals_left += 1 if val_qids and opts.average_last else 0  # the average's, at the end
                if update_plan(plan, step_times, step, upper, elapsed_before + now - t0 + teacher_s,
                               budget, evals_left, PROBE_STEPS):
                    bar.total = plan["total"]
                bar.refresh()
            if step >= plan["total"]:
                break
            if (budget and elapsed_before + time.monotonic() - t0 + teacher_s > budget) or (opts.max_steps and step >= opts.max_steps):
                stopped_early = True
                break
    bar.close()
    out_of_time = stopped_early and not (opts.max_steps and step >= opts.max_steps)
    if out_of_time and history and history[-1]["step"] != step and val_qids and opts.evals > 0:
        # the budget's safety net stopped the loop short of its last planned validation (the machine
        # ran slower than the plan); the steps since the one before are validated too, so that they
        # can be kept: otherwise up to 1/evals of the run would be thrown away unseen
        run_validation()
    checkpoint()  # the last step's state: --resume continues from here
    chosen = best()
    # how far the kept step's (and the mean's) lead is the held-out slice's noise
    gains = {}
    last = next((h for h in history if h["step"] == step), None)
    if last and chosen and chosen["step"] != step:
        gains["kept_over_last"] = held_out_gain(last, chosen)
    averaged = None
    if average.count:
        averaged = {"from_step": average.first_step, "to_step": step, "steps": average.count, "val_nDCG@10": None}
        if val_qids:
            with average.applied():
                entry = held_out()
            score = averaged["val_nDCG@10"] = entry["val_nDCG@10"]
            if chosen:
                gains["mean_over_kept"] = held_out_gain(chosen, entry)
            tqdm.write(f"mean of the weights of steps {average.first_step}-{step}: validation nDCG@10 {score:.4f}")
        # the single step the held-out slice prefers stays beside the average, for comparison
        selected = out / SELECTED_NAME
        if chosen is not None and chosen["step"] != step:
            shutil.rmtree(selected, ignore_errors=True)
            best_dir.rename(selected)
        else:
            with_length(infer_length, lambda: model.save(selected))
        average.copy_to_model()
    elif chosen is not None and chosen["step"] != step:
        from viewrank.plugins.mvp.loading import load_mvp_model

        model = load_mvp_model(best_dir)  # the held-out slice preferred an earlier step
    model.eval()
    model.config.max_length = infer_length
    model.save(out)
    shutil.rmtree(best_dir, ignore_errors=True)
    elapsed = elapsed_before + time.monotonic() - t0
    report = {"options": asdict(opts), "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "steps": step, "planned_steps": plan["total"], "plans": plan["plans"], "upper_steps": upper, "steps_per_epoch": steps_per_epoch,
              "step_seconds": plan["step_s"] and round(plan["step_s"], 3),
              "validation_seconds": plan["eval_s"] and round(plan["eval_s"], 1),
              "validation": history, "chosen_step": chosen["step"] if chosen else step, "average": averaged,
              "held_out_gains": {k: v for k, v in gains.items() if v is not None},
              "backbone_drift": round(pull.drift(model), 6),
              "teacher_seconds": round(teacher_s, 1), "train_seconds": round(elapsed, 1),
              "wall_seconds": round(time.monotonic() - wall0, 1), "stopped_early": stopped_early, "log": log}
    atomic_write_text(out / "training.json", json.dumps(report, indent=2) + "\n")
    return out
