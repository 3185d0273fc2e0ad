"""The serving adapter's plugin: the ``serve`` command."""

from __future__ import annotations

from viewrank import hookimpl


@hookimpl
def viewrank_add_commands(subparsers, context):
    from viewrank.adapters.serve import command

    command.register(subparsers, context)
