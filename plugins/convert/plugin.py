"""Adds ``viewrank convert``: T2Ranking and Multi-CPR in BEIR's layout (docs/datasets.md)."""

from __future__ import annotations

from viewrank import hookimpl


@hookimpl
def viewrank_add_commands(subparsers, context):
    from viewrank.plugins.convert import commands

    commands.register(subparsers, context)
