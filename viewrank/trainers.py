"""A :class:`~viewrank.types.Trainer` made of two functions, for plugins whose trainer is an
argument list and a run function (``viewrank train KIND``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class FunctionTrainer:
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def module_trainer(module, context) -> FunctionTrainer:
    """The trainer of a ``train_command`` module: its ``DESCRIPTION``, ``add_arguments(parser,
    context)`` and ``run(args, context)``."""
    return FunctionTrainer(module.DESCRIPTION, lambda parser: module.add_arguments(parser, context),
                           lambda args: module.run(args, context))
