"""The plugin host: loads plugins and offers a typed facade over ``pm.hook``.

Built-in plugins are declared as entry points of the ``viewrank`` distribution itself, in
the same ``viewrank`` group third-party packages use, so both go through one code path.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import pluggy

from viewrank import hookspecs
from viewrank.errors import PluginLoadError, ViewrankError
from viewrank.registry import KINDS, KindRegistrar, Registry

ENTRY_POINT_GROUP = "viewrank"
DISABLE_ENV = "VIEWRANK_DISABLE_PLUGINS"

_REGISTER_HOOKS = {
    "reranker": "viewrank_register_rerankers",
    "embedder": "viewrank_register_embedders",
    "exporter": "viewrank_register_exporters",
}


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    module: str
    registered: dict[str, list[str]] = field(default_factory=dict)


def disabled_plugins() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


class PluginHost:
    """Owns the pluggy manager and the registry the plugins fill in."""

    def __init__(self, entry_points: list[md.EntryPoint] | None = None, extra_plugins: dict[str, Any] | None = None):
        self.pm = pluggy.PluginManager("viewrank")
        self.pm.add_hookspecs(hookspecs)
        self._dists: dict[str, tuple[str, str, str]] = {}
        blocked = disabled_plugins()
        for name in blocked:
            self.pm.set_blocked(name)
        eps = entry_points if entry_points is not None else list(md.entry_points(group=ENTRY_POINT_GROUP))
        for ep in eps:
            if ep.name in blocked:
                continue
            dist = ep.dist.name if ep.dist is not None else "(unknown distribution)"
            version = ep.dist.version if ep.dist is not None else "?"
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must be loud, never skipped
                raise PluginLoadError(
                    f"plugin {ep.name!r} from distribution {dist} {version} failed to load "
                    f"({ep.value}): {type(exc).__name__}: {exc}. Fix or uninstall {dist}, "
                    f"or set {DISABLE_ENV}={ep.name}"
                ) from exc
            self._register(plugin, ep.name, dist, version)
        for name, plugin in (extra_plugins or {}).items():
            if name not in blocked:
                self._register(plugin, name, "(in-process)", "")
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"a plugin implements a hook viewrank does not define: {exc}") from exc
        self.registry = Registry()
        self._shared: dict[str, Any] | None = None  # see shared_rerankers
        self._registered: dict[str, dict[str, list[str]]] = {}
        for kind in KINDS:
            self._collect(kind)

    def _register(self, plugin: Any, name: str, dist: str, version: str) -> None:
        if self.pm.has_plugin(name):
            raise PluginLoadError(f"two plugins are named {name!r} (second from {dist}); plugin names must be unique")
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginLoadError(f"plugin {name!r} from distribution {dist} {version} is invalid: {exc}") from exc
        self._dists[name] = (dist, version, getattr(plugin, "__name__", type(plugin).__name__))

    def _collect(self, kind: str) -> None:
        caller = getattr(self.pm.hook, _REGISTER_HOOKS[kind])
        # Call each implementation with a registrar bound to its plugin so every entry
        # records who registered it (``viewrank plugins`` shows that).
        for impl in caller.get_hookimpls():
            registrar = KindRegistrar(self.registry, kind, impl.plugin_name)
            before = set(self.registry.names(kind))
            try:
                impl.function(registry=registrar)
            except ViewrankError:
                raise
            except Exception as exc:
                dist = self._dists.get(impl.plugin_name, ("?",))[0]
                raise PluginLoadError(
                    f"plugin {impl.plugin_name!r} (distribution {dist}) failed in {_REGISTER_HOOKS[kind]}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            added = sorted(set(self.registry.names(kind)) - before)
            self._registered.setdefault(impl.plugin_name, {}).setdefault(kind, []).extend(added)

    # -- typed facade -------------------------------------------------------------------
    def plugins(self) -> list[PluginInfo]:
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda np_: np_[0]):
            if plugin is None:  # a blocked name
                continue
            dist, version, module = self._dists.get(name, ("?", "?", "?"))
            out.append(PluginInfo(name, dist, version, module, self._registered.get(name, {})))
        return out

    def reranker(self, spec: str) -> Any:
        shared = self._shared
        if shared is None:
            return self.registry.create("reranker", spec)
        if spec not in shared:
            shared[spec] = self.registry.create("reranker", spec)
        return shared[spec]

    @contextmanager
    def shared_rerankers(self) -> Iterator[None]:
        """Within the block, one reranker instance per spec string.

        ``viewrank rerank --reranker bi-encoder --reranker fuse:0.4:bi-encoder`` then loads the
        model once, and the fused run reuses the passage vectors the plain run cached. Leaving
        the block drops the instances.
        """
        outer = self._shared
        self._shared = {} if outer is None else outer
        try:
            yield
        finally:
            self._shared = outer

    def embedder(self, spec: str) -> Any:
        return self.registry.create("embedder", spec)

    def exporter(self, name: str) -> Any:
        return self.registry.create("exporter", name)

    def resolve_model_path(self, name: str) -> Path:
        """A directory as given, or what a plugin maps the name to; never a download."""
        path = Path(name).expanduser()
        if path.is_dir():
            return path
        found = self.pm.hook.viewrank_resolve_model_path(name=name)
        if found is not None:
            return Path(found)
        raise ViewrankError(
            f"model {name!r} is neither a local directory nor a name an installed plugin knows; "
            "viewrank never downloads models: pass a directory that holds the model"
        )


@lru_cache(maxsize=1)
def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    return PluginHost()


def reset_host() -> None:
    """Forget the loaded host (tests that install or disable plugins call this)."""
    get_host.cache_clear()
