"""The ``viewrank`` command line.

Every command comes from a plugin's ``viewrank_add_commands`` hook (the core's own ``plugins``
and ``train`` included), so disabling a plugin removes its commands. Global options are resolved
once into the host's settings (``--data``, then ``VIEWRANK_DATA``). Errors a user can fix are
:class:`~viewrank.errors.ViewrankError`: one line on stderr and exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import sys

from viewrank import __version__
from viewrank.errors import ViewrankError
from viewrank.manager import PluginHost
from viewrank.settings import Settings


def _global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"viewrank {__version__}")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="folder holding the datasets (default: $VIEWRANK_DATA, else ../shared/data)")


def build_parser(host: PluginHost | None = None) -> argparse.ArgumentParser:
    """The full parser: global options plus every command the host's plugins add."""
    host = host or PluginHost()
    parser = argparse.ArgumentParser(prog="viewrank", description="viewrank: neural rerankers and embedders for Pyserini and OpenSearch")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    host.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    pre = argparse.ArgumentParser(add_help=False)
    _global_options(pre)
    known, _ = pre.parse_known_args(argv)
    try:
        host = PluginHost(settings=Settings.resolve(data=known.data))
    except ViewrankError as exc:
        print(f"viewrank: error: {exc}", file=sys.stderr)
        return 2
    parser = build_parser(host)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ViewrankError as exc:
        print(f"viewrank {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"viewrank {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
