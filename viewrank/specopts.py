"""The ``@KEY=VALUE,...`` options of a spec (``dense:DIR@pooling=cls,dim=128``): one parser, one
set of value rules for every plugin that takes options.

- booleans: ``true``/``false``, ``1``/``0``, ``yes``/``no`` (anything else is an error);
- integers: decimal; an optional integer (``int | None``) also takes ``none`` (or the extra
  words a caller names, such as ``all`` for "all layers");
- everything else: the text as given.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Iterable, TypeVar

from viewrank.errors import ViewrankError

T = TypeVar("T")
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def split_options(arg: str | None) -> tuple[str | None, dict[str, str]]:
    """``"DIR@layer=4,dim=128"`` -> ``("DIR", {"layer": "4", "dim": "128"})``.

    The part before the last ``@`` may be empty (``"@dim=128"``: the plugin's default model).
    """
    if arg is None:
        return None, {}
    model, sep, rest = arg.rpartition("@") if "@" in arg else (arg, "", "")
    options: dict[str, str] = {}
    if sep:
        for part in rest.split(","):
            if not part.strip():
                continue
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise ViewrankError(f"bad option {part!r} in {arg!r}: expected KEY=VALUE[,KEY=VALUE]")
            options[key.strip()] = value.strip()
    return (model or None), options


def parse_bool(key: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise ViewrankError(f"option {key}={raw!r} is not a boolean (true/false, 1/0, yes/no)")


def parse_int(key: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ViewrankError(f"option {key}={raw!r} is not an integer") from None


def apply_options(config: T, options: dict[str, str], *, what: str, optional_ints: Iterable[str] = (),
                  none_words: Iterable[str] = ("", "none")) -> T:
    """A copy of the dataclass ``config`` with ``options`` applied, each value parsed by the
    type of the field's current value (``optional_ints`` name the ``int | None`` fields, which
    also take ``none_words``). An unknown key names the known ones; ``what`` names the spec kind."""
    known = {f.name for f in fields(config)}
    optional = set(optional_ints)
    nones = {w.lower() for w in none_words}
    changes: dict[str, Any] = {}
    for key, raw in options.items():
        if key not in known:
            raise ViewrankError(f"unknown {what} option {key!r}; known: {', '.join(sorted(known))}")
        current = getattr(config, key)
        if key in optional:
            changes[key] = None if raw.strip().lower() in nones else parse_int(key, raw)
        elif isinstance(current, bool):
            changes[key] = parse_bool(key, raw)
        elif isinstance(current, int):
            changes[key] = parse_int(key, raw)
        else:
            changes[key] = raw
    return replace(config, **changes)
