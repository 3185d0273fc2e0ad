"""Registers the ``distill`` trainer (``viewrank train distill``)."""

from __future__ import annotations

from viewrank import hookimpl
from viewrank.trainers import FunctionTrainer


@hookimpl
def viewrank_register_trainers(registry, context):
    from viewrank.plugins.distill import train_command as tc

    registry.add("distill", lambda arg: FunctionTrainer(tc.DESCRIPTION, lambda p: tc.add_arguments(p, context),
                                                        lambda a: tc.run(a, context)),
                 description=tc.DESCRIPTION)
