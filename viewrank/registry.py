"""The registry plugins fill in: rerankers, embedders, exporters, trainers, export configs, index
codecs and first-stage retrievers, each a *kind* with its own namespace of names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from viewrank.errors import UnknownNameError, ViewrankError

KINDS = ("reranker", "embedder", "exporter", "trainer", "export-config", "codec", "retriever")

Factory = Callable[[str | None], Any]


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    factory: Factory
    plugin: str
    description: str = ""
    arg_help: str | None = None

    @property
    def usage(self) -> str:
        return f"{self.name}:{self.arg_help}" if self.arg_help else self.name


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``"mvp:models/x"`` -> ``("mvp", "models/x")``; ``"none"`` -> ``("none", None)``."""
    name, sep, arg = spec.partition(":")
    name = name.strip()
    if not name:
        raise ViewrankError(f"empty model name in spec {spec!r}: expected NAME or NAME:ARG")
    return name, (arg if sep and arg != "" else None)


class Registry:
    """Everything registered by every plugin, by kind and name."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}

    def add(self, entry: Entry) -> None:
        if entry.kind not in self._entries:
            raise ValueError(f"unknown kind {entry.kind!r}; kinds are {', '.join(KINDS)}")
        taken = self._entries[entry.kind].get(entry.name)
        if taken is not None:
            raise ViewrankError(
                f"{entry.kind} {entry.name!r} is registered twice: by plugin {taken.plugin!r} "
                f"and by plugin {entry.plugin!r}; disable one with VIEWRANK_DISABLE_PLUGINS"
            )
        self._entries[entry.kind][entry.name] = entry

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> Iterator[Entry]:
        for k in (kind,) if kind else KINDS:
            yield from (self._entries[k][n] for n in sorted(self._entries[k]))

    def get(self, kind: str, name: str) -> Entry:
        if kind not in self._entries:
            raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
        try:
            return self._entries[kind][name]
        except KeyError:
            known = ", ".join(e.usage for e in self.entries(kind)) or "(none registered)"
            raise UnknownNameError(f"unknown {kind} {name!r}; available {kind}s: {known}") from None

    def create(self, kind: str, spec: str) -> Any:
        """Build the object a spec such as ``"mvp:models/mvp"`` names."""
        name, arg = parse_spec(spec)
        return self.get(kind, name).factory(arg)


class KindRegistrar:
    """What a ``viewrank_register_*`` hook receives: adds entries of one kind for one plugin."""

    def __init__(self, registry: Registry, kind: str, plugin: str) -> None:
        self._registry = registry
        self.kind = kind
        self.plugin = plugin

    def add(self, name: str, factory: Factory, *, description: str = "", arg_help: str | None = None) -> None:
        """Register ``factory`` under ``name``; ``arg_help`` describes the optional ``:ARG``."""
        if not name or ":" in name:
            raise ValueError(f"bad {self.kind} name {name!r} from plugin {self.plugin!r}: non-empty, no ':'")
        self._registry.add(Entry(self.kind, name, factory, self.plugin, description, arg_help))
