"""Flag conventions shared by every command (one meaning per flag name across commands).

- ``--hits K``: how many results a command returns or keeps per query.
- ``--output PATH``: where a command writes (a file or a folder, as its help says).
- ``--json``: print JSON on stdout instead of a table (a switch, never a path).
- ``--bf16``: compute in bf16 where the hardware does so natively (``train``: torch autocast;
  ``export openvino``: bf16 variants, gated), refused elsewhere.

Old names stay for one release as deprecated aliases: :func:`add_deprecated_alias` registers
them hidden from ``--help``; using one warns on stderr and names the new flag.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


class _Deprecated(argparse.Action):
    def __init__(self, option_strings, dest, new: str, store_true: bool = False, **kwargs) -> None:
        self.new, self.store_true = new, store_true
        if store_true:
            kwargs["nargs"] = 0
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog}: warning: {option_string} is deprecated and will be removed; use {self.new}",
              file=sys.stderr)
        setattr(namespace, self.dest, True if self.store_true else values)


def add_deprecated_alias(parser: argparse.ArgumentParser | Any, old: str, new: str, *, dest: str,
                         type: Any = None, store_true: bool = False) -> None:
    """Accept ``old`` as a hidden alias of ``new`` (same ``dest``), with a warning when used."""
    kwargs: dict[str, Any] = {"dest": dest, "new": new, "store_true": store_true, "help": argparse.SUPPRESS,
                              "default": argparse.SUPPRESS}
    if type is not None:
        kwargs["type"] = type
    parser.add_argument(old, action=_Deprecated, **kwargs)


def require_output(args: Any, dest: str = "out", flag: str = "--output") -> None:
    """A required output flag that also has a deprecated alias: argparse's ``required=True``
    would reject the alias alone, so commands check here instead."""
    from viewrank.errors import ViewrankError

    if not getattr(args, dest, None):
        raise ViewrankError(f"{flag} DIR is required: the folder the result goes to")


def int_range(text: str) -> tuple[int, int]:
    """An argparse ``type`` for ``N`` or ``A-B`` (positive integers, A <= B): ``(A, B)``, ``(N, N)`` for one
    number. A malformed value is argparse's usage error (exit 2) naming it."""
    lo, sep, hi = text.strip().partition("-")
    try:
        a, b = int(lo), int(hi if sep else lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N or A-B (positive integers)") from None
    if a < 1 or b < a:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N or A-B with 1 <= A <= B")
    return a, b
