"""Registers the ``distill`` trainer (``viewrank train distill``)."""

from __future__ import annotations

from viewrank import hookimpl
from viewrank.trainers import module_trainer


@hookimpl
def viewrank_register_trainers(registry, context):
    from viewrank.plugins.distill import train_command as tc

    registry.add("distill", lambda arg: module_trainer(tc, context), description=tc.DESCRIPTION)
