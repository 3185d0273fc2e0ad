"""Adds ``viewrank limit make|free``: the LIMIT diagnostic (docs/limit.md).

Registration imports nothing heavy: torch and matplotlib load only when ``limit free`` runs.
"""

from __future__ import annotations

from viewrank import hookimpl


@hookimpl
def viewrank_add_commands(subparsers, context):
    from viewrank.plugins.limit import commands

    commands.register(subparsers, context)
