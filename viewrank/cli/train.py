"""``viewrank train KIND``: one command over every registered trainer (``viewrank_register_trainers``)."""

from __future__ import annotations

import argparse

from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    entries = list(context.host.registry.entries("trainer"))
    p = sub.add_parser("train", help="train a model: " + ", ".join(e.name for e in entries),
                       description="Each KIND is a trainer a plugin registers; `viewrank train KIND --help` lists its options.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for entry in entries:
        trainer = context.host.trainer(entry.name)
        tp = kinds.add_parser(entry.name, help=trainer.description, description=trainer.description)
        trainer.add_arguments(tp)
        tp.set_defaults(func=trainer.run)
