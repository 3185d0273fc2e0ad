"""Registers the ``embedder`` trainer (``viewrank train embedder``) through the same hook a
third-party plugin would use."""

from __future__ import annotations

from viewrank import hookimpl


@hookimpl
def viewrank_register_trainers(registry, context):
    from viewrank.plugins.embedder_train import train_command as tc
    from viewrank.trainers import module_trainer

    registry.add("embedder", lambda arg: module_trainer(tc, context), description=tc.DESCRIPTION)
