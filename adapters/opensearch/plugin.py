"""The OpenSearch adapter's plugin: the ``opensearch`` command."""

from __future__ import annotations

from viewrank import hookimpl


@hookimpl
def viewrank_add_commands(subparsers, context):
    from viewrank.adapters.opensearch import command

    command.register(subparsers, context)
