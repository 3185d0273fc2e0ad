"""What every bench script does on bad input: one line naming it on stderr, exit status 2.

The same contract as the ``viewrank`` commands (``viewrank.cli``): the script's name, the
input at fault and what to do, no traceback, nothing written. A bench script imports it as
``from benchcli import bad_input`` (``bench/`` is on ``sys.path`` when a bench script runs).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn


def bad_input(message: str) -> NoReturn:
    """Stop: ``<script>: error: <message>`` on stderr, exit status 2."""
    print(f"{Path(sys.argv[0]).stem}: error: {message}", file=sys.stderr)
    raise SystemExit(2)
