"""The ``viewrank`` command line.

Each module in this package that defines ``register(subparsers)`` adds one command; the
parser sets ``func`` to the callable that runs it. Errors a user can fix are
:class:`~viewrank.errors.ViewrankError`: one line on stderr and exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from viewrank import __version__
from viewrank.errors import ViewrankError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="viewrank", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"viewrank {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
