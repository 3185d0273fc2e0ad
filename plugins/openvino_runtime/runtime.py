"""Loading an OpenVINO export: its config, tokenizer and one compiled model on the CPU.

The IR is read once, its inputs set to dynamic ``[batch, sequence]`` (``model.reshape``) and
compiled once, so batches of any size and length run without a recompile. Threads come from the
caller (the context's settings in ``openvino:DIR``, or ``threads=N``): ``INFERENCE_NUM_THREADS``
on the core. The precision (``INFERENCE_PRECISION_HINT``) is the variant's: f32 for ``fp32`` and
``int8`` (on CPUs with AMX or AVX512-BF16 OpenVINO would otherwise run them in bf16, which their
gate did not judge), bf16 for the ``bf16`` and ``int8-bf16`` variants that ``--bf16`` exports
gate as such (the export's ``precision`` map). The int8 graph holds NNCF's FakeQuantize nodes, which the CPU plugin turns into int8
kernels. Tokenisation is the ``onnx:DIR`` runtime's (:meth:`OnnxModel.encode`: the exported
``tokenizer.json``, same padding and truncation), so both runtimes feed a graph identical inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object
from viewrank.plugins.onnx_runtime.cpu import native_bf16
from viewrank.plugins.onnx_runtime.runtime import OnnxModel, warn_other_int8_kernels

CONFIG_NAME = "viewrank_openvino.json"
DEVICE = "CPU"
OPTIONS = ("variant", "threads", "streams")


def load_config(model_dir: str | Path) -> dict:
    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        raise ViewrankError(f"{model_dir} is not an OpenVINO export ({CONFIG_NAME} missing; make one with "
                            f"`viewrank export openvino MODEL --output {model_dir}`)")
    return read_json_object(path, what="OpenVINO export config")


def import_openvino():
    try:
        import openvino as ov
    except ImportError:
        raise ViewrankError("OpenVINO is not installed: pip install 'viewrank[openvino]'") from None
    return ov


class OvModel(OnnxModel):
    """Tokenizer + compiled OpenVINO model for one export; ``run(first, second)`` -> first output.

    Shares :meth:`OnnxModel.encode` (the feeds) with the ONNX runtime; ``xml`` runs another IR
    file of the folder (the int8 search's trials) as ``variant``.
    """

    def __init__(self, model_dir: str | Path, variant: str = "fp32", threads: int | None = None,
                 xml: str | None = None, compiled=None, streams: int = 1) -> None:
        from tokenizers import Tokenizer

        ov = import_openvino()
        self.dir = Path(model_dir)
        self.config = load_config(self.dir)
        files = dict(self.config.get("variants", {}))
        if xml is not None:
            files[variant] = xml
        if variant not in files:
            raise ViewrankError(f"{self.dir} has no {variant!r} graph; exported variants: {', '.join(sorted(files))}")
        self.variant, self.threads, self.streams = variant, threads, int(streams)
        self.max_length = int(self.config["max_length"])
        self.inputs = list(self.config["inputs"])
        tok = Tokenizer.from_file(str(self.dir / "tokenizer.json"))
        tok.enable_truncation(self.max_length, strategy="longest_first")
        tok.enable_padding(pad_id=int(self.config.get("pad_token_id", 0)), pad_token=self.config.get("pad_token", "[PAD]"))
        self.tokenizer = tok
        self.precision = str(self.config.get("precision", {}).get(variant, "f32"))
        if compiled is None:
            core = ov.Core()
            props = {"INFERENCE_PRECISION_HINT": self.precision}
            if threads:
                props["INFERENCE_NUM_THREADS"] = int(threads)
            core.set_property(DEVICE, props)
            model = core.read_model(str(self.dir / files[variant]))
            model.reshape({port.get_any_name(): ov.PartialShape([-1, -1]) for port in model.inputs})
            hint = ({"PERFORMANCE_HINT": "LATENCY"} if self.streams == 1 else
                    {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": self.streams})
            compiled = core.compile_model(model, DEVICE, hint)
        self.use(compiled)
        self.providers = [f"OpenVINO {DEVICE}"]
        if variant.startswith("int8"):
            warn_other_int8_kernels(self.config, f"{self.dir} ({variant})")
        if self.precision == "bf16" and not native_bf16():
            import logging

            logging.getLogger("viewrank.openvino").warning(
                f"{self.dir} ({variant}): this CPU has no native bf16, so OpenVINO computes the variant in f32 "
                f"(slower than its gate measured, not less accurate)")

    def use(self, compiled) -> None:
        """Run ``compiled`` (an ``openvino.CompiledModel`` of this folder's graph) from now on."""
        self.compiled = compiled
        self.request = compiled.create_infer_request()

    def run(self, first: Sequence[str], second: Sequence[str] | None = None, dtype=np.float32) -> np.ndarray:
        result = self.request.infer(self.encode(first, second))
        return np.array(result[0], dtype=dtype)  # a copy: the request reuses its output buffer


def parse_arg(arg: str | None) -> tuple[str, dict[str, str]]:
    """``"DIR@variant=int8,threads=2"`` -> ``("DIR", {"variant": "int8", "threads": "2"})``."""
    if not arg:
        raise ViewrankError("openvino needs a directory: openvino:DIR[@variant=int8,threads=N,streams=S]")
    model, sep, rest = arg.rpartition("@") if "@" in arg else (arg, "", "")
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))) if sep else ():
        key, eq, value = part.partition("=")
        if not eq or key not in OPTIONS:
            raise ViewrankError(f"bad option {part!r} in openvino:{arg}; known: variant=, threads=, streams=")
        options[key] = value
    return model, options
