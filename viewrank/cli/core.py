"""The core's own commands, added through the same hook every plugin uses (entry point ``core``)."""

from __future__ import annotations

import argparse

from viewrank import hookimpl
from viewrank.cli import plugins, train
from viewrank.context import Context


@hookimpl
def viewrank_add_commands(subparsers: argparse._SubParsersAction, context: Context) -> None:
    plugins.register(subparsers, context)
    train.register(subparsers, context)
