"""``viewrank plugins``: what is installed and what each plugin registered."""

from __future__ import annotations

import argparse
import functools
import json

from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("plugins", help="list plugins and what each registers (rerankers, embedders, trainers, codecs, ...)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    host = context.host
    if args.json:
        data = [
            {"name": p.name, "distribution": p.distribution, "version": p.version, "module": p.module, "registered": p.registered}
            for p in host.plugins()
        ]
        print(json.dumps(data, indent=2))
        return 0
    for p in host.plugins():
        print(f"{p.name}  ({p.distribution} {p.version}, {p.module})")
        for kind, names in sorted(p.registered.items()):
            for name in names:
                if kind == "command":
                    print(f"    {kind:<13} {name}")
                    continue
                entry = host.registry.get(kind, name)
                print(f"    {kind:<13} {entry.usage:<28} {entry.description}")
    return 0
