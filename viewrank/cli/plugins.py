"""``viewrank plugins``: what is installed and what each plugin registered."""

from __future__ import annotations

import argparse
import json

from viewrank.manager import get_host


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list plugins and the rerankers, embedders and exporters they register")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    host = get_host()
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
                entry = host.registry.get(kind, name)
                print(f"    {kind:<9} {entry.usage:<28} {entry.description}")
    return 0
