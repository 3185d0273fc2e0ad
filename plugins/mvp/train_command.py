"""The ``mvp`` and ``cross-encoder`` trainers: ``viewrank train mvp|cross-encoder``."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields
from viewrank.context import Context

DEFAULTS = {"mvp": "models/mvp-minilm", "cross-encoder": "models/cross-encoder-minilm"}


class ListwiseTrainer:
    """Trains MVP (encoder variant) or the cross-encoder baseline on teacher-ordered BM25 lists."""

    def __init__(self, kind: str, context: Context) -> None:
        self.kind, self.context = kind, context
        self.description = ("MVP multi-view listwise reranker (encoder variant)" if kind == "mvp"
                            else "pointwise cross-encoder baseline, same lists and loss as MVP")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_arguments(p, self.context)

    def run(self, args: argparse.Namespace) -> int:
        return run(args, self.kind, self.context)


def add_arguments(p: argparse.ArgumentParser, context: Context) -> None:
    from viewrank.cli.flags import add_deprecated_alias
    from viewrank.plugins.mvp.options import TrainOptions

    d = TrainOptions(dataset=str(context.settings.dataset("scifact")))
    p.description = ("Lists = 1 relevant doc + N-1 BM25 hard negatives, ordered by a teacher (--teacher); "
                     "listwise loss; steps planned to fit --time-budget-min.")
    p.add_argument("--backbone", default=d.backbone, help="HF encoder dir or packaged name (default %(default)s)")
    p.add_argument("--dataset", default=d.dataset, help="BEIR dataset folder (default %(default)s)")
    p.add_argument("--split", default=d.split)
    p.add_argument("--index", default="", help="Lucene index for mining (default indexes/<dataset name>; built if absent)")
    p.add_argument("--extra-triples", default="", help="query<TAB>pos<TAB>neg file added as 2-candidate lists")
    p.add_argument("--extra-limit", type=int, default=0, help="use only the first K triples (0 = all)")
    p.add_argument("--output", dest="out", default=None,
                   help="output dir (default models/mvp-minilm or models/cross-encoder-minilm)")
    add_deprecated_alias(p, "--out", "--output", dest="out")
    p.add_argument("--init-from", default="", help="a trained model folder to continue training from")
    p.add_argument("--views", dest="m", type=int, default=d.m, help="view tokens m (default %(default)s)")
    add_deprecated_alias(p, "--m", "--views", dest="m", type=int)
    p.add_argument("--anchor", choices=["list", "query"], default=d.anchor,
                   help="list: anchors computed from each view's list (the paper); query: a learned query per view "
                        "(default: query for a new model; with --init-from, that model's own form, and a form "
                        "given here switches its anchors, keeping the encoder and the decoder block)")
    p.add_argument("--teacher", action="append", default=None, metavar="SPEC",
                   help="reranker spec whose scores order each list's negatives (repeat for an ensemble; "
                        f"none = BM25's order); the relevant document stays first (default {' '.join(d.teacher)})")
    p.add_argument("--max-length", type=int, default=d.max_length, help="tokens per candidate while training")
    p.add_argument("--infer-max-length", type=int, default=d.infer_max_length,
                   help="tokens per candidate at inference and validation, saved in the model (0 = --max-length, "
                        "the default: a model run at another length than it was trained at loses quality)")
    p.add_argument("--list-size", dest="n", type=int, default=d.n, help="candidates per training list (default %(default)s)")
    add_deprecated_alias(p, "--n", "--list-size", dest="n", type=int)
    p.add_argument("--neg-depth", type=int, default=d.neg_depth, help="draw negatives from BM25 top-K")
    p.add_argument("--windows", type=int, default=d.windows, metavar="WORDS",
                   help="train on WORDS-word windows of the passages (each document's window the --teacher scores "
                        "highest; validation reads every window and keeps the best) for a model run as "
                        "maxp:WORDS:KIND:OUT (default 0: whole passages, cut at --max-length)")
    p.add_argument("--epochs", type=int, default=d.epochs,
                   help="upper bound on epochs; the steps are planned to fit --time-budget-min (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="lists per step")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--head-lr", type=float, default=d.head_lr)
    p.add_argument("--optimizer", choices=["adamw", "adafactor"], default=d.optimizer)
    p.add_argument("--warmup", type=int, default=d.warmup, help="warm-up steps (0 = --warmup-ratio of the planned steps)")
    p.add_argument("--warmup-ratio", type=float, default=d.warmup_ratio)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay,
                   help="on weight matrices only, never norms, biases or embeddings (default %(default)s)")
    p.add_argument("--l2sp", type=float, default=d.l2sp, metavar="RATE",
                   help="pull the backbone toward its starting weights after each step, w -= lr * RATE * (w - w0) "
                        "(L2-SP, decoupled; keeps more of the pretrained model's generality; default 0: off)")
    p.add_argument("--average-last", type=float, default=d.average_last, metavar="FRACTION",
                   help="save the mean of the weights over the last FRACTION of the planned steps instead of one "
                        "step (stochastic weight averaging; the step the held-out queries prefer is kept in "
                        "OUT/selected; default 0: off)")
    p.add_argument("--temperature", type=float, default=d.temperature)
    p.add_argument("--target-temperature", type=float, default=d.target_temperature,
                   help="temperature of the soft targets softmax((1/rank)/T'); 0 = --temperature (the paper)")
    p.add_argument("--orth-weight", type=float, default=d.orth_weight)
    p.add_argument("--double-softmax", action="store_true", help="the authors' loss (softmax applied twice)")
    p.add_argument("--val-queries", type=int, default=d.val_queries,
                   help="judged queries of --split held out; the checkpoint with their best nDCG@10 is kept (0 = last)")
    p.add_argument("--val-depth", type=int, default=d.val_depth, help="validation reranks BM25 top K")
    p.add_argument("--evals", type=int, default=d.evals, help="validations over the planned steps")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--time-budget-min", type=float, default=d.time_budget_min,
                   help="the step plan (measured step time) fits training and validation into this many "
                        "minutes, teacher scoring included; a hard stop too (0 = no limit)")
    p.add_argument("--max-steps", type=int, default=0,
                   help="stop after this many steps; the LR schedule still spans --epochs (0 = no limit)")
    p.add_argument("--threads", type=int, default=context.settings.threads)
    p.add_argument("--device", default=context.settings.device,
                   help="torch device to train on, e.g. cuda (default %(default)s); the saved model loads anywhere")
    p.add_argument("--bf16", action="store_true",
                   help="compute the forward passes in bf16 (torch autocast; weights and optimiser stay fp32): "
                        "for CPUs with AMX (refused elsewhere: slower than fp32 there) and CUDA GPUs that have it")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")


def run(args: argparse.Namespace, kind: str, context: Context) -> int:
    from viewrank.plugins.mvp.options import TrainOptions
    from viewrank.plugins.mvp.trainer import train

    given = vars(args)
    values = {f.name: given[f.name] for f in fields(TrainOptions) if f.name in given}
    values["kind"] = kind
    values["out"] = args.out or DEFAULTS[kind]
    if args.teacher is None:
        values.pop("teacher")
    t0 = time.monotonic()
    out = train(TrainOptions(**values), context.host)
    report = json.loads((out / "training.json").read_text(encoding="utf-8"))
    val = {h["step"]: h["val_nDCG@10"] for h in report["validation"]}
    print(f"saved {kind} model to {out} ({time.monotonic() - t0:.0f} s): {report['steps']} steps of "
          f"{report['planned_steps']} planned ({report['step_seconds']} s a step), "
          + _kept(report, val, out))
    if values.get("windows"):
        print(f"trained on {values['windows']}-word windows: rerank with maxp:{values['windows']}:{kind}:{out}")
    return 0


def _kept(report: dict, val: dict[int, float], out) -> str:
    """What the saved model is: the mean of the tail's weights (--average-last) or one step."""
    step = report["chosen_step"]
    gains = report.get("held_out_gains", {})
    over_last = _gain(gains.get("kept_over_last"), f"over the last step, {report['steps']}")
    name, held = (f"step {step}", f" (held-out nDCG@10 {val[step]:.4f}{over_last})") if val else ("last step", "")
    avg = report.get("average")
    if not avg:
        return f"{name} kept{held}"
    over_kept = _gain(gains.get("mean_over_kept"), f"over step {step}")
    mean_held = f", held-out nDCG@10 {avg['val_nDCG@10']:.4f}{over_kept}" if avg["val_nDCG@10"] is not None else ""
    return (f"the mean of the weights of steps {avg['from_step']}-{avg['to_step']} saved{mean_held}; "
            f"the single {name}{held} is in {out}/selected")


def _gain(gain: dict | None, what: str) -> str:
    """A held-out lead and whether the slice can tell it from noise (a paired test over its queries)."""
    if not gain:
        return ""
    noise = "" if gain["p"] < 0.05 else f": within the noise of {gain['queries']} held-out queries"
    p = "p < 0.01" if gain["p"] < 0.01 else f"p {gain['p']:.2f}"
    return f", {gain['diff']:+.4f} {what}, {p}{noise}"
