"""A real third-party distribution, built into a wheel and pip-installed for this session.

The plugin is the documented example in docs/examples/viewrank-sample-plugin, so the docs'
example is tested code. It implements every hook: viewrank_register_rerankers,
viewrank_register_embedders, viewrank_register_exporters, viewrank_register_trainers,
viewrank_add_commands, viewrank_register_export_configs, viewrank_register_index_codecs,
viewrank_register_retrievers and viewrank_resolve_model_path; the tests use each from the
installed wheel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, TINY_QUERIES, run_cli
from viewrank.manager import PluginHost
from viewrank.types import Candidate, Query

EXAMPLE = ROOT / "docs" / "examples" / "viewrank-sample-plugin"


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def sample_plugin(tmp_path_factory):
    wheels = tmp_path_factory.mktemp("wheels")
    source = tmp_path_factory.mktemp("src") / EXAMPLE.name  # a clean copy: no stale build/ folder
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source))
    wheel = next(wheels.glob("viewrank_sample_plugin-*.whl"))
    pip("install", "--no-deps", "--no-index", "--force-reinstall", str(wheel))
    yield wheel
    pip("uninstall", "-y", "viewrank-sample-plugin")


def test_discovered_through_its_entry_point(sample_plugin):
    proc = run_cli("plugins", "--json", check=True)
    plugins = {p["name"]: p for p in json.loads(proc.stdout)}
    sample = plugins["sample"]
    assert sample["distribution"] == "viewrank-sample-plugin"
    assert sample["registered"] == {"reranker": ["shortest-first"], "embedder": ["length"], "exporter": ["json"],
                                    "trainer": ["shortest-first"], "command": ["corpus-stats"],
                                    "export-config": ["length"], "codec": ["half"], "retriever": ["overlap"]}
    table = run_cli("plugins", check=True).stdout
    assert "sample  (viewrank-sample-plugin 0.1.0" in table and "shortest-first:CAP" in table


def test_every_hook_of_the_plugin_works(sample_plugin, tiny_dataset, tmp_path):
    host = PluginHost()
    # viewrank_register_rerankers
    ranked = host.reranker("shortest-first").rerank(
        Query("q", "x"), [Candidate("long", "a b c d"), Candidate("short", "a")])
    assert ranked.docids == ["short", "long"]
    assert host.reranker("shortest-first:2").score("x", ["a b c d", "a b"]).tolist() == [-2.0, -2.0]
    # viewrank_register_embedders
    assert host.embedder("length").embed(["a b", "abc"]).tolist() == [[2, 3], [1, 3]]
    # viewrank_register_exporters
    out = host.exporter("json").export("shortest-first", tmp_path / "export", opset=17)
    assert json.loads((out / "model.json").read_text()) == {"model": "shortest-first", "opset": 17}
    # viewrank_register_export_configs: the exporter finds the embedder's config by its model type
    out = host.exporter("json").export("length", tmp_path / "export2", opset=11)
    assert json.loads((out / "model.json").read_text()) == {"model": "length", "opset": 11, "model_type": "length",
                                                            "inputs": ["counts"], "outputs": ["embedding"]}
    import torch

    graph = host.export_config("length").graph(None)
    assert graph(torch.tensor([[2, 3]])).tolist() == [[2.0, 3.0]]
    # viewrank_register_retrievers
    hits = host.retriever(f"overlap:{tiny_dataset}").search([Query("q", "aspirin heart attack")], 2)
    assert hits["q"][0] == ("d3", 3.0)
    # viewrank_resolve_model_path (firstresult): the plugin's name resolves, built-ins still do
    assert (host.resolve_model_path("sample-model") / "plugin.py").is_file()
    assert (host.resolve_model_path("all-MiniLM-L6-v2") / "config.json").is_file()


@pytest.mark.slow  # several CLI starts (a JVM for some)
def test_the_plugin_reranks_from_the_cli(sample_plugin, tiny_dataset, tiny_index, tmp_path):
    run = tmp_path / "run.trec"
    proc = run_cli("rerank", "--index", str(tiny_index), "--dataset", str(tiny_dataset),
                   "--reranker", "shortest-first", "--depth", "6", "--output", str(run), check=True)
    assert "shortest-first" in proc.stdout
    lines = run.read_text().splitlines()
    q1 = [line.split() for line in lines if line.startswith("q1 ")]
    scores = [float(parts[4]) for parts in q1]
    assert scores == sorted(scores, reverse=True) and len(q1) >= 1


def test_disabling_the_third_party_plugin(sample_plugin):
    proc = run_cli("plugins", "--json", env={"VIEWRANK_DISABLE_PLUGINS": "sample"}, check=True)
    assert "sample" not in {p["name"] for p in json.loads(proc.stdout)}


@pytest.mark.slow  # several CLI starts (a JVM for some)
def test_the_plugins_command_and_trainer_run_from_the_cli(sample_plugin, tiny_dataset, tmp_path):
    # viewrank_add_commands: a new top-level command, with the host's settings (--data) as default
    stats = run_cli("--data", str(tiny_dataset.parent), "corpus-stats", "--dataset", str(tiny_dataset), check=True)
    assert json.loads(stats.stdout)["documents"] == sum(1 for _ in open(tiny_dataset / "corpus.jsonl"))
    # viewrank_register_trainers: viewrank train KIND, then the reranker reads what it wrote
    out = tmp_path / "cap"
    run_cli("train", "shortest-first", "--dataset", str(tiny_dataset), "--output", str(out), check=True)
    cap = json.loads((out / "cap.json").read_text())["cap"]
    assert cap > 0
    host = PluginHost()
    assert host.reranker(f"shortest-first:{out}").cap == cap
    # disabling the plugin removes its command and its trainer
    gone = run_cli("corpus-stats", env={"VIEWRANK_DISABLE_PLUGINS": "sample"})
    assert gone.returncode == 2 and "invalid choice: 'corpus-stats'" in gone.stderr


@pytest.mark.slow  # several CLI starts (a JVM for some)
def test_the_plugins_exporter_and_codec_from_the_cli(sample_plugin, tiny_dataset, tmp_path):
    # viewrank_register_exporters: its own sub-command and option
    run_cli("export", "json", "length", "--output", str(tmp_path / "j"), "--opset", "9", check=True)
    assert json.loads((tmp_path / "j" / "model.json").read_text())["opset"] == 9
    # viewrank_register_index_codecs: encode with the plugin's codec, then search that index
    index = tmp_path / "half-index"
    run_cli("encode", "--dataset", str(tiny_dataset), "--embedder", "length", "--codec", "half",
            "--index", str(index), check=True)
    meta = json.loads((index / "viewrank_dense_index.json").read_text())
    assert meta["codec"] == "half"
    run = tmp_path / "half.trec"
    run_cli("search", "--index", str(index), "--dataset", str(tiny_dataset), "--hits", "3", "--output", str(run),
            "--no-eval", check=True)
    lines = run.read_text().splitlines()
    assert lines and all(len(line.split()) == 6 for line in lines)
    assert {line.split()[0] for line in lines} == {q["_id"] for q in TINY_QUERIES}
