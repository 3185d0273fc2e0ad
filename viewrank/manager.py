"""The plugin host: loads plugins and offers a typed facade over ``pm.hook``.

Built-in plugins are declared as entry points of the ``viewrank`` distribution itself, in
the same ``viewrank`` group third-party packages use, so both go through one code path.
Every hook is called through pluggy (hook wrappers and tracing apply); ``VIEWRANK_TRACE_PLUGINS=1``
prints each hook call and its result on stderr. Hooks receive the host's :class:`Context`.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pluggy

from viewrank import hookspecs
from viewrank.context import Context
from viewrank.errors import PluginLoadError, UnknownNameError, ViewrankError
from viewrank.registry import KINDS, KindRegistrar, Registry, parse_spec
from viewrank.settings import Settings

if TYPE_CHECKING:
    from viewrank.types import ExportConfig, IndexCodec, Retriever, Trainer

ENTRY_POINT_GROUP = "viewrank"
DISABLE_ENV = "VIEWRANK_DISABLE_PLUGINS"
TRACE_ENV = "VIEWRANK_TRACE_PLUGINS"

_REGISTER_HOOKS = {
    "reranker": "viewrank_register_rerankers",
    "embedder": "viewrank_register_embedders",
    "exporter": "viewrank_register_exporters",
    "trainer": "viewrank_register_trainers",
    "export-config": "viewrank_register_export_configs",
    "codec": "viewrank_register_index_codecs",
    "retriever": "viewrank_register_retrievers",
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

    def __init__(self, entry_points: list[md.EntryPoint] | None = None, extra_plugins: dict[str, Any] | None = None,
                 settings: Settings | None = None):
        self.pm = pluggy.PluginManager("viewrank")
        self.pm.add_hookspecs(hookspecs)
        if os.environ.get(TRACE_ENV, "") not in ("", "0"):
            self.pm.trace.root.setwriter(sys.stderr.write)
            self.pm.enable_tracing()
        self.context = Context(self, settings or Settings.resolve())
        self._dists: dict[str, tuple[str, str, str]] = {}
        blocked = disabled_plugins()
        self.disabled: list[str] = []  # installed plugins that VIEWRANK_DISABLE_PLUGINS blocks
        self._disabled_objects: dict[str, Any] = {}  # name -> entry point or plugin object, for error messages
        for name in blocked:
            self.pm.set_blocked(name)
        eps = entry_points if entry_points is not None else list(md.entry_points(group=ENTRY_POINT_GROUP))
        for ep in eps:
            if ep.name in blocked:
                self.disabled.append(ep.name)
                self._disabled_objects[ep.name] = ep
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
            if name in blocked:
                self.disabled.append(name)
                self._disabled_objects[name] = plugin
            else:
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
        try:
            hash(plugin)
        except TypeError:
            raise PluginLoadError(f"plugin {name!r} from distribution {dist} is a {type(plugin).__name__}, which "
                                  "pluggy cannot hold: use a module, a class or a plain instance") from None
        if self.pm.has_plugin(name):
            raise PluginLoadError(f"two plugins are named {name!r} (second from {dist}); plugin names must be unique")
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginLoadError(f"plugin {name!r} from distribution {dist} {version} is invalid: {exc}") from exc
        self._dists[name] = (dist, version, getattr(plugin, "__name__", type(plugin).__name__))

    def _collect(self, kind: str) -> None:
        hook = _REGISTER_HOOKS[kind]
        # One pluggy call per plugin (a subset caller holding only its implementations), with a
        # registrar bound to that plugin, so every entry records who registered it (``viewrank
        # plugins`` shows that) while wrappers and tracing still see each call.
        for plugin_name, caller in self._callers_per_plugin(hook):
            registrar = KindRegistrar(self.registry, kind, plugin_name)
            before = set(self.registry.names(kind))
            try:
                caller(registry=registrar, context=self.context)
            except ViewrankError:
                raise
            except Exception as exc:
                dist = self._dists.get(plugin_name, ("?",))[0]
                raise PluginLoadError(
                    f"plugin {plugin_name!r} (distribution {dist}) failed in {_REGISTER_HOOKS[kind]}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            added = sorted(set(self.registry.names(kind)) - before)
            self._registered.setdefault(plugin_name, {}).setdefault(kind, []).extend(added)

    # -- typed facade -------------------------------------------------------------------
    def plugins(self) -> list[PluginInfo]:
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda np_: np_[0]):
            if plugin is None:  # a blocked name
                continue
            dist, version, module = self._dists.get(name, ("?", "?", "?"))
            out.append(PluginInfo(name, dist, version, module, self._registered.get(name, {})))
        return out

    def create(self, kind: str, spec: str) -> Any:
        """The object ``spec`` names among the registered ``kind``s. When nobody registered the name
        and a plugin is disabled (``VIEWRANK_DISABLE_PLUGINS``), the error says which disabled plugin
        would have provided it."""
        try:
            return self.registry.create(kind, spec)
        except UnknownNameError as exc:
            if not self.disabled:
                raise
            name = parse_spec(spec)[0]
            owner = self._disabled_owner(kind, name)
            if owner is not None:
                raise UnknownNameError(f"the {kind} {name!r} comes from plugin {owner!r}, which {DISABLE_ENV} "
                                       f"disables; unset it or drop {owner!r} from it ({exc})") from None
            raise UnknownNameError(f"{exc}. Plugins disabled by {DISABLE_ENV}: {', '.join(sorted(self.disabled))}") from None

    def _disabled_owner(self, kind: str, name: str) -> str | None:
        """Which disabled plugin registers ``name`` as a ``kind``: each is loaded into a scratch
        manager (only on this error path) and asked; one that fails to load answers nothing."""
        for plugin_name in sorted(self._disabled_objects):
            obj = self._disabled_objects[plugin_name]
            try:
                plugin = obj.load() if isinstance(obj, md.EntryPoint) else obj
                scratch = pluggy.PluginManager("viewrank")
                scratch.add_hookspecs(hookspecs)
                scratch.register(plugin, name=plugin_name)
                registry = Registry()
                getattr(scratch.hook, _REGISTER_HOOKS[kind])(registry=KindRegistrar(registry, kind, plugin_name),
                                                            context=self.context)
            except Exception:  # a disabled plugin may be disabled because it is broken
                continue
            if name in registry.names(kind):
                return plugin_name
        return None

    def reranker(self, spec: str) -> Any:
        shared = self._shared
        if shared is None:
            return self.create("reranker", spec)
        if spec not in shared:
            shared[spec] = self.create("reranker", spec)
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
        return self.create("embedder", spec)

    def exporter(self, name: str) -> Any:
        return self.create("exporter", name)

    def trainer(self, kind: str) -> "Trainer":
        return self.create("trainer", kind)

    def export_config(self, model_type: str) -> "ExportConfig":
        return self.create("export-config", model_type)

    def codec(self, name: str) -> "IndexCodec":
        return self.create("codec", name)

    def retriever(self, spec: str) -> "Retriever":
        return self.create("retriever", spec)

    def add_commands(self, subparsers: Any) -> None:
        """Every plugin's ``viewrank_add_commands``: the whole command line. The commands each
        plugin added are recorded (``viewrank plugins`` lists them as kind ``command``)."""
        for name, caller in self._callers_per_plugin("viewrank_add_commands"):
            before = set(subparsers.choices)
            caller(subparsers=subparsers, context=self.context)
            added = sorted(set(subparsers.choices) - before)
            self._registered.setdefault(name, {})["command"] = added

    def _callers_per_plugin(self, hook: str) -> Iterator[tuple[str, Any]]:
        """(plugin name, a pluggy caller of ``hook`` holding only that plugin's implementations)."""
        impls = getattr(self.pm.hook, hook).get_hookimpls()
        # Plugins with a plain implementation; hook wrappers stay in every subset, so they wrap
        # each plugin's call.
        plain = {impl.plugin_name: impl.plugin for impl in impls if not (impl.hookwrapper or impl.wrapper)}
        for name in plain:
            others = [p for n, p in plain.items() if n != name]
            yield name, self.pm.subset_hook_caller(hook, remove_plugins=others)

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
