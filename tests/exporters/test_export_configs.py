"""Export configs come from ``viewrank_register_export_configs``, keyed by the model type a loaded
model reports; the graphs run the models' own building blocks; ``viewrank export FORMAT`` hands an
exporter only the options it declares. None of this needs SciFact (no parity gate runs here)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from viewrank import hookimpl
from viewrank.errors import UnknownNameError, ViewrankError
from viewrank.exporters.configs import OnnxConfig, config_for
from viewrank.manager import PluginHost, get_host

TEXTS = ["Vitamin D deficiency is linked to bone loss.", "Mitochondria make ATP.", "short",
         "A much longer passage about T cells, antibodies and the innate immune response " * 3]


@dataclass
class ToyConfig(OnnxConfig):
    """A toy model type: one input, one output."""

    model_type = "toy"
    kind = "embedder"
    inputs: tuple[str, ...] = ("input_ids",)
    outputs: tuple[str, ...] = ("vector",)
    seen: list = field(default_factory=list)

    def for_model(self, model):
        self.seen.append(model)
        return self

    def graph(self, model):
        return torch.nn.Identity()


class ToyModel:
    model_type = "toy"


class ConfigPlugin:
    """A third-party plugin adding an export config (a class instance: pluggy needs it hashable)."""

    @hookimpl
    def viewrank_register_export_configs(self, registry, context):
        registry.add("toy", lambda arg: ToyConfig(), description="a toy model type")


def test_builtin_configs_are_registered_by_model_type():
    host = get_host()
    names = set(host.registry.names("export-config"))
    assert {"dense", "int8", "binary", "cross-encoder", "mvp-encoder"} <= names
    assert "mvp-t5" not in names  # the T5 variant has never been exported: no config claims it
    for name in ("dense", "int8", "binary", "cross-encoder", "mvp-encoder"):
        config = host.export_config(name)
        assert config.model_type == name
        assert config.kind in ("embedder", "reranker") and config.outputs
    assert host.export_config("binary").output_dtype == "uint8"
    assert host.export_config("mvp-encoder").task == "mvp"  # what the runtimes and bundles read
    exporters_plugin = next(p for p in host.plugins() if "export-config" in p.registered)
    assert set(exporters_plugin.registered["export-config"]) >= {"dense", "cross-encoder"}


def test_a_plugin_registers_an_export_config_and_lookups_go_by_model_type():
    host = PluginHost(extra_plugins={"toy-configs": ConfigPlugin()})
    assert "toy" in host.registry.names("export-config")
    model = ToyModel()
    config = config_for(model, host)
    assert isinstance(config, ToyConfig) and config.seen == [model]
    assert config.dynamic_axes() == {"input_ids": {0: "batch", 1: "sequence"}, "vector": {0: "batch"}}
    # the host without the plugin does not know the type, and says which types it knows
    with pytest.raises(ViewrankError, match=r"model type 'toy'.*registered model types: .*dense"):
        config_for(model, get_host())


def test_an_unknown_or_missing_model_type_is_a_clear_error():
    host = get_host()

    class Unknown:
        model_type = "tflite-thing"

    with pytest.raises(ViewrankError, match=r"no ONNX export config for model type 'tflite-thing'.*binary.*dense"):
        config_for(Unknown(), host)
    with pytest.raises(ViewrankError, match=r"reports no model_type.*exportable model types: .*cross-encoder"):
        config_for(object(), host)
    with pytest.raises(UnknownNameError, match=r"unknown export-config 'nope'.*dense"):
        host.export_config("nope")


def test_loaded_models_report_their_type(tiny_dense, tiny_cross_encoder, tiny_mvp):
    host = get_host()
    assert host.embedder(f"dense:{tiny_dense}").model_type == "dense"
    assert host.embedder(f"matryoshka:{tiny_dense}@dim=8").model_type == "dense"
    assert host.reranker(f"cross-encoder:{tiny_cross_encoder}").model_type == "cross-encoder"
    assert host.reranker(f"mvp:{tiny_mvp}").model_type == "mvp-encoder"
    config = config_for(host.reranker(f"mvp:{tiny_mvp}"), host)
    assert config.extra == {"m": 2} and config.inputs == ("input_ids", "attention_mask", "token_type_ids")
    # a config refuses a model of another type instead of tracing the wrong graph
    with pytest.raises(ViewrankError, match="'cross-encoder' export config got a DenseEmbedder"):
        host.export_config("cross-encoder").for_model(host.embedder(f"dense:{tiny_dense}"))


def test_the_embedder_graph_is_the_models_own_pooling_and_finish(tiny_dense):
    host = get_host()
    for spec in (f"dense:{tiny_dense}", f"dense:{tiny_dense}@pooling=cls,normalize=false",
                 f"dense:{tiny_dense}@pooling=last,dim=8"):
        embedder = host.embedder(spec)
        graph = config_for(embedder, host).graph(embedder)
        batch = embedder.tokenize(TEXTS, "passage")
        with torch.inference_mode():
            got = graph(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
            want = embedder.encode_tensor(TEXTS, "passage")
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_pooling_last_finds_the_last_token_with_either_padding():
    from viewrank.plugins.dense.pooling import pool

    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    torch.testing.assert_close(pool(hidden, right, "last"), torch.stack([hidden[0, 1], hidden[1, 3]]))
    torch.testing.assert_close(pool(hidden, left, "last"), hidden[:, -1])
    with pytest.raises(ViewrankError, match="unknown pooling"):
        pool(hidden, right, "max")


def test_quantiser_blocks_give_the_same_codes_in_numpy_and_torch():
    from viewrank.exporters.graphs import BinaryGraph, Int8Graph
    from viewrank.plugins.binary.codes import BIT_WEIGHTS, BinaryQuantizer, pack_bits
    from viewrank.plugins.binary.int8 import Int8Quantizer

    rng = np.random.default_rng(0)
    corpus = rng.standard_normal((64, 16)).astype(np.float32)
    vecs = rng.standard_normal((10, 16)).astype(np.float32) * 1.3  # some outside the calibrated range
    bits = rng.integers(0, 2, (5, 24)).astype(np.uint8)
    assert (pack_bits(bits, np.asarray(BIT_WEIGHTS)) == np.packbits(bits, axis=1)).all()

    class Fixed(torch.nn.Module):  # stands in for the float embedder graph
        def forward(self, input_ids, attention_mask, token_type_ids=None):
            return torch.from_numpy(vecs)

    ids = torch.zeros((len(vecs), 3), dtype=torch.long)
    int8 = Int8Quantizer.calibrate(corpus)
    np.testing.assert_array_equal(Int8Graph(Fixed(), int8)(ids, ids).numpy(), int8.quantize(vecs))
    for method in ("zero", "median", "itq"):
        binary = BinaryQuantizer.calibrate(corpus, method=method)
        got = BinaryGraph(Fixed(), binary)(ids, ids).numpy()
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, binary.pack(vecs))
        np.testing.assert_array_equal(got, np.packbits(binary.bits(vecs), axis=1))


# -- the command line ------------------------------------------------------------------------

class RecordingExporter:
    """An exporter declaring no options: it must receive none of the onnx ones."""

    description = "records what it is given"
    options = None

    def __init__(self):
        self.calls = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def export(self, model_spec, out_dir, **options):
        self.calls.append((model_spec, str(out_dir), options))
        return Path(out_dir)


@dataclass
class ZipOptions:
    level: int = 6
    comment: str = ""


class OptionExporter(RecordingExporter):
    """An exporter declaring two options of its own."""

    options = ZipOptions

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--level", type=int, default=6)
        parser.add_argument("--comment", default="")


class ExporterPlugin:
    def __init__(self):
        self.plain, self.zipped = RecordingExporter(), OptionExporter()

    @hookimpl
    def viewrank_register_exporters(self, registry):
        registry.add("plain", lambda arg: self.plain, description="no options")
        registry.add("zipped", lambda arg: self.zipped, description="two options")


def _run(parser, argv):
    args = parser.parse_args(argv)
    return args.func(args)


def test_export_passes_an_exporter_only_the_options_it_declares(tmp_path, capsys):
    from viewrank.cli import build_parser

    plugin = ExporterPlugin()
    parser = build_parser(PluginHost(extra_plugins={"test-exporters": plugin}))
    assert _run(parser, ["export", "plain", "dense", "--output", str(tmp_path / "a")]) == 0
    assert plugin.plain.calls == [("dense", str(tmp_path / "a"), {})]
    assert _run(parser, ["export", "zipped", "dense", "--output", str(tmp_path / "b"), "--level", "9"]) == 0
    assert plugin.zipped.calls == [("dense", str(tmp_path / "b"), {"level": 9, "comment": ""})]
    with pytest.raises(SystemExit):  # the onnx flags belong to the onnx exporter only
        parser.parse_args(["export", "plain", "dense", "--output", "x", "--int8"])
    assert "unrecognized arguments: --int8" in capsys.readouterr().err
    # --out is a deprecated alias of --output
    assert _run(parser, ["export", "plain", "dense", "--out", str(tmp_path / "c")]) == 0
    assert plugin.plain.calls[-1][1] == str(tmp_path / "c")
    assert "--out is deprecated" in capsys.readouterr().err
    with pytest.raises(ViewrankError, match="--output DIR is required"):
        _run(parser, ["export", "plain", "dense"])


def test_onnx_flags_map_onto_export_options():
    from dataclasses import asdict

    from viewrank.cli import build_parser
    from viewrank.exporters.commands.export import declared_options
    from viewrank.exporters.options import ExportOptions

    parser = build_parser(get_host())
    args = parser.parse_args(["export", "onnx", "dense", "--output", "x", "--int8", "--no-parity", "--no-optimize",
                              "--int8-keep-fp32", "auto", "--name", "minilm"])
    options = declared_options(get_host().exporter("onnx"), args)
    want = {**asdict(ExportOptions()), "int8": True, "parity": False, "optimize": False, "int8_keep_fp32": "auto",
            "name": "minilm"}
    del want["extra"]  # not a flag
    assert options == want


def test_the_exporter_plugin_and_the_export_command_import_no_torch():
    """The host loads exporters/plugin.py (and the configs it registers) at every start, and
    `viewrank export` is built before any model: none of it may import torch."""
    code = ("import sys; import viewrank.exporters.plugin, viewrank.exporters.configs, "
            "viewrank.exporters.options, viewrank.exporters.commands.export; "
            "from viewrank.exporters.plugin import OnnxExporter; import argparse; "
            "OnnxExporter(None).add_arguments(argparse.ArgumentParser()); print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
