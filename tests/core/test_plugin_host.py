"""The plugin host: built-ins through entry points, blocking, broken plugins, bad hooks."""

import importlib.metadata as md
import types

import pytest

from viewrank import hookimpl
from viewrank.errors import PluginLoadError, UnknownNameError
from tests.conftest import run_cli
from viewrank.manager import PluginHost, get_host, reset_host

BUILTINS = {"dense", "first-stage", "packaged-models"}


def test_builtins_are_entry_points_of_viewrank_itself():
    ours = {ep.name: ep for ep in md.entry_points(group="viewrank") if ep.dist and ep.dist.name == "viewrank"}
    assert BUILTINS <= set(ours)
    host = PluginHost()
    infos = {p.name: p for p in host.plugins()}
    for name in BUILTINS:
        assert infos[name].distribution == "viewrank"
    assert "none" in infos["first-stage"].registered["reranker"]
    assert "dense" in infos["dense"].registered["embedder"]
    assert "bi-encoder" in infos["dense"].registered["reranker"]


def test_disable_env_blocks_a_plugin(monkeypatch):
    monkeypatch.setenv("VIEWRANK_DISABLE_PLUGINS", "first-stage, nonexistent")
    host = PluginHost()
    assert "first-stage" not in {p.name for p in host.plugins()}
    with pytest.raises(UnknownNameError, match="unknown reranker 'none'"):
        host.reranker("none")


def test_get_host_is_cached_and_resettable(monkeypatch):
    reset_host()
    a = get_host()
    assert get_host() is a
    reset_host()
    assert get_host() is not a
    reset_host()


class PluginObject:
    """A plugin namespace (pluggy needs plugins to be hashable, which SimpleNamespace is not)."""


def _fake_entry_point(name, value, dist_name="broken-dist"):
    ep = md.EntryPoint(name=name, value=value, group="viewrank")
    dist = types.SimpleNamespace(name=dist_name, version="9.9")
    return types.SimpleNamespace(name=ep.name, value=ep.value, dist=dist, load=ep.load)


def test_a_plugin_that_fails_to_import_names_its_distribution():
    ep = _fake_entry_point("broken", "viewrank_no_such_module_xyz")
    with pytest.raises(PluginLoadError) as err:
        PluginHost(entry_points=[ep])
    msg = str(err.value)
    assert "broken-dist 9.9" in msg and "'broken'" in msg and "ModuleNotFoundError" in msg
    assert "VIEWRANK_DISABLE_PLUGINS=broken" in msg


def test_a_plugin_with_an_unknown_hook_is_rejected():
    plugin = PluginObject()

    @hookimpl
    def viewrank_register_rerankerz(registry):
        pass

    plugin.viewrank_register_rerankerz = viewrank_register_rerankerz
    with pytest.raises(PluginLoadError, match="viewrank_register_rerankerz"):
        PluginHost(entry_points=[], extra_plugins={"typo": plugin})


def test_a_plugin_that_fails_while_registering_is_named():
    plugin = PluginObject()

    @hookimpl
    def viewrank_register_embedders(registry):
        raise RuntimeError("boom")

    plugin.viewrank_register_embedders = viewrank_register_embedders
    with pytest.raises(PluginLoadError, match="plugin 'exploding'.*viewrank_register_embedders.*boom"):
        PluginHost(entry_points=[], extra_plugins={"exploding": plugin})


def test_resolve_model_path_hook_finds_the_packaged_minilm(tmp_path):
    host = get_host()
    path = host.resolve_model_path("all-MiniLM-L6-v2")
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert host.resolve_model_path(str(tmp_path)) == tmp_path  # a directory is used as it is
    with pytest.raises(Exception, match="never downloads"):
        host.resolve_model_path("org/some-model-we-do-not-have")


def test_hooks_go_through_pluggy_so_wrappers_see_every_plugins_call():
    seen = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def viewrank_register_rerankers(self, registry, context):
            seen.append(registry.plugin)
            result = yield
            return result

    host = PluginHost(extra_plugins={"wrapper": Wrapper()})
    assert {"first-stage", "dense", "mvp"} <= set(seen)
    assert "wrapper" not in seen  # a wrapper is not a registering plugin
    assert host.registry.get("reranker", "bi-encoder").plugin == "dense"


def test_plugin_tracing_prints_hook_calls():
    proc = run_cli("plugins", env={"VIEWRANK_TRACE_PLUGINS": "1"}, check=True)
    assert "viewrank_register_rerankers" in proc.stderr and "viewrank_add_commands" in proc.stderr


def test_hooks_receive_the_calling_host_and_its_settings(tmp_path):
    from viewrank.settings import Settings

    class Probe:
        @hookimpl
        def viewrank_register_rerankers(self, registry, context):
            registry.add("probe", lambda arg: (context.host, context.settings.dataset(arg or "x")))

    host = PluginHost(extra_plugins={"probe": Probe()}, settings=Settings.resolve(data=tmp_path))
    owner, path = host.reranker("probe:scifact")
    assert owner is host and path == tmp_path / "scifact"
    # fuse:W:SPEC resolves SPEC in the same host (not the process-wide one)
    assert host.reranker("fuse:0.5:probe").inner[0] is host


def test_a_disabled_plugins_names_are_gone_and_the_error_says_so(monkeypatch):
    monkeypatch.setenv("VIEWRANK_DISABLE_PLUGINS", "binary")
    host = PluginHost()
    assert "binary" not in host.registry.names("embedder") and "binary" not in host.registry.names("trainer")
    with pytest.raises(UnknownNameError, match="the embedder 'binary' comes from plugin 'binary', which "
                                               "VIEWRANK_DISABLE_PLUGINS disables"):
        host.embedder("binary:x")
    with pytest.raises(UnknownNameError, match="unknown embedder 'nosuch'.*Plugins disabled by VIEWRANK_DISABLE_PLUGINS: binary"):
        host.embedder("nosuch")
    proc = run_cli("train", "binary", "--help", env={"VIEWRANK_DISABLE_PLUGINS": "binary"})
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
