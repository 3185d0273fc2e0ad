"""What every bench script shares: its reaction to bad input, and how it writes its result.

Bad input: one line naming it on stderr, exit status 2, the same contract as the ``viewrank``
commands (``viewrank.cli``): the script's name, the input at fault and what to do, no traceback,
nothing written. Results: one JSON file, written whole
(temp file, then rename) by :func:`write_result`, so an interrupted bench leaves the last complete
result in place. A bench script imports them as ``from benchcli import bad_input, write_result``
(``bench/`` is on ``sys.path`` when a bench script runs).
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


def write_result(path: str | Path, result: Any) -> Path:
    """Write ``result`` as indented JSON to ``path`` atomically (parents made); returns the path."""
    from viewrank.runs import atomic_write_text

    return atomic_write_text(path, json.dumps(result, indent=2) + "\n")
