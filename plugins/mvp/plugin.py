"""Registers ``mvp:DIR``, ``mvp-window:DIR`` and ``cross-encoder:DIR``."""

from __future__ import annotations

from pathlib import Path

from viewrank import hookimpl
from viewrank.errors import ViewrankError

DEFAULT_MVP = "models/mvp-minilm"
DEFAULT_CE = "models/cross-encoder-minilm"


def _load(arg: str | None, default: str, want: tuple[str, ...]):
    from viewrank.plugins.mvp.loading import load_mvp_model

    path = Path(arg or default)
    if not path.is_dir():
        raise ViewrankError(
            f"model directory {path} does not exist; build it with "
            f"`viewrank train {'cross-encoder' if 'cross-encoder' in want else 'mvp'} --output {path}`"
        )
    model = load_mvp_model(path)
    if model.config.variant not in want:
        raise ViewrankError(f"{path} holds a {model.config.variant!r} model; this reranker needs {' or '.join(want)}")
    return model


def make_mvp(arg: str | None):
    from viewrank.plugins.mvp.rerankers import ModelReranker

    return ModelReranker(_load(arg, DEFAULT_MVP, ("t5", "encoder")))


def make_mvp_window(arg: str | None):
    from viewrank.plugins.mvp.rerankers import SlidingWindowReranker

    return SlidingWindowReranker(_load(arg, DEFAULT_MVP, ("t5", "encoder")))


def make_cross_encoder(arg: str | None):
    from viewrank.plugins.mvp.rerankers import CrossEncoderReranker

    return CrossEncoderReranker(_load(arg, DEFAULT_CE, ("cross-encoder",)))


@hookimpl
def viewrank_register_rerankers(registry):
    registry.add("mvp", make_mvp, arg_help="DIR",
                 description=f"MVP multi-view listwise reranker, all candidates in one pass (default {DEFAULT_MVP})")
    registry.add("mvp-window", make_mvp_window, arg_help="DIR",
                 description="sliding-window baseline (window 20, stride 10, back to front) on an MVP model")
    registry.add("cross-encoder", make_cross_encoder, arg_help="DIR",
                 description=f"pointwise cross-encoder baseline (default {DEFAULT_CE})")


@hookimpl
def viewrank_register_trainers(registry, context):
    from viewrank.plugins.mvp.train_command import ListwiseTrainer

    for kind in ("mvp", "cross-encoder"):
        registry.add(kind, lambda arg, kind=kind: ListwiseTrainer(kind, context),
                     description=f"train {kind} on teacher-ordered BM25 lists (listwise loss)")


@hookimpl
def viewrank_add_commands(subparsers, context):
    from viewrank.plugins.mvp import adapt_command

    adapt_command.register(subparsers, context)
