"""Reading the JSON files viewrank writes and reads back (model configs, index metadata, caches).

One implementation for every reader, so a damaged or hand-edited file always gives the same clear
error naming the file (exit status 2 from the CLI) instead of a traceback, and a damaged *cache*
is recomputed instead of stopping the run. Writing goes through
:func:`viewrank.runs.atomic_write_text` (temp file, then rename), so viewrank itself never leaves
a half-written JSON file behind; these guard against everything else (a copy cut short, an edit).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from viewrank.errors import ViewrankError

log = logging.getLogger("viewrank")


def _label(path: str | Path, what: str) -> str:
    return f"{what} {path}" if what else str(path)


def read_json(path: str | Path, *, what: str = "") -> Any:
    """The parsed content of ``path``; :class:`ViewrankError` naming the file (and ``what`` it
    is, e.g. "model config") when it is missing, unreadable or not valid JSON."""
    path = Path(path)
    label = _label(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ViewrankError(f"{label} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ViewrankError(f"{label} cannot be read ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ViewrankError(f"{label}: malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def read_json_object(path: str | Path, *, what: str = "") -> dict:
    """:func:`read_json` for files that must hold one JSON object (configs, metadata)."""
    data = read_json(path, what=what)
    if not isinstance(data, dict):
        raise ViewrankError(f"{_label(path, what)}: expected a JSON object, found {type(data).__name__}")
    return data


def read_cache(path: str | Path | None) -> Any | None:
    """A cache's content, or None when there is none to use: no path, no file, or a file that is
    unreadable or not valid JSON (logged, so the caller recomputes and overwrites it)."""
    if path is None or not Path(path).is_file():
        return None
    try:
        return read_json(path)
    except ViewrankError as exc:
        log.warning("ignoring a damaged cache (it will be recomputed): %s", exc)
        return None
