"""What every bench script shares: its reaction to bad input, and how it reads and writes JSON.

Bad input: one line naming it on stderr, exit status 2, the same contract as the ``viewrank``
commands (``viewrank.cli``): the script's name, the input at fault and what to do, no traceback,
nothing written. Results: one JSON file, written whole
(temp file, then rename) by :func:`write_result`, so an interrupted bench leaves the last complete
result in place; every JSON file a bench reads back (its own earlier result, a saved run, an
export's config) goes through :func:`read_result`, so a damaged one is a bad-input stop naming the
file, never a traceback, and the result it would have merged into is not overwritten. A bench
script imports them as ``from benchcli import bad_input, read_result, write_result`` (``bench/`` is
on ``sys.path`` when a bench script runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn


def bad_input(message: str) -> NoReturn:
    """Stop: ``<script>: error: <message>`` on stderr, exit status 2."""
    print(f"{Path(sys.argv[0]).stem}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


_REQUIRED = object()


def read_result(path: str | Path, default: Any = _REQUIRED, *, what: str = "") -> Any:
    """The parsed JSON in ``path``; ``default`` when the file does not exist and one is given.
    A missing (without ``default``), unreadable or malformed file stops the bench through
    :func:`bad_input`, naming the file (and ``what`` it is, e.g. the option that named it)."""
    from viewrank.errors import ViewrankError
    from viewrank.jsonfile import read_json

    if default is not _REQUIRED and not Path(path).exists():
        return default
    try:
        return read_json(path, what=what)
    except ViewrankError as exc:
        bad_input(str(exc))


def write_result(path: str | Path, result: Any) -> Path:
    """Write ``result`` as indented JSON to ``path`` atomically (parents made); returns the path."""
    from viewrank.runs import atomic_write_text

    return atomic_write_text(path, json.dumps(result, indent=2) + "\n")
