"""``viewrank export FORMAT MODEL --output DIR``: the exporter registered under FORMAT does the work.

Each FORMAT is an exporter a plugin registers (``viewrank_register_exporters``) and gets its own
sub-command: the exporter is looked up while the command line is built, adds its own flags
(``add_arguments(parser)``) and receives only the options it declares (the fields of its
``options`` dataclass); an exporter that declares none gets none. ``--out`` is a deprecated alias of
``--output``.
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import fields
from typing import Any

from viewrank.cli.flags import add_deprecated_alias, require_output
from viewrank.context import Context
from viewrank.types import Exporter


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    entries = list(context.host.registry.entries("exporter"))
    p = sub.add_parser("export", help="export a registered model: " + ", ".join(e.name for e in entries),
                       description="Each FORMAT is an exporter a plugin registers; "
                                   "`viewrank export FORMAT --help` lists its options.")
    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for entry in entries:
        exporter = context.host.exporter(entry.name)
        description = exporter.description or entry.description
        fp = formats.add_parser(entry.name, help=description, description=description)
        fp.add_argument("model", help="a registered model spec: dense, dense:DIR, int8:DIR, binary:DIR, "
                                      "cross-encoder:DIR, mvp:DIR")
        fp.add_argument("--output", default=None, metavar="DIR",
                        help="output directory (required; must not exist or be empty)")
        add_deprecated_alias(fp, "--out", "--output", dest="output")
        exporter.add_arguments(fp)
        fp.set_defaults(func=functools.partial(run, context=context, exporter=exporter))


def declared_options(exporter: Exporter, args: argparse.Namespace) -> dict[str, Any]:
    """The parsed values of the options ``exporter`` declares (its ``options`` dataclass's fields)."""
    if exporter.options is None:
        return {}
    given = vars(args)  # fields without a flag (ExportOptions.extra) keep their defaults
    return {f.name: given[f.name] for f in fields(exporter.options) if f.name in given}


def run(args: argparse.Namespace, context: Context, exporter: Exporter) -> int:
    require_output(args, dest="output")
    context.settings.apply_threads()
    out = exporter.export(args.model, args.output, **declared_options(exporter, args))
    print(out)
    return 0
