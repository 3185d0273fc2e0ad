"""Loading an exported directory: its config, tokenizer and an ONNX Runtime session.

Providers: ``VIEWRANK_ORT_PROVIDERS`` (comma-separated, e.g. ``CPUExecutionProvider``) or the
``providers=`` option win; otherwise TensorRT, then CUDA, then CPU, whichever this
onnxruntime build has. The variant (``fp32``, ``int8``, ``fp16``) picks the graph file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object

CONFIG_NAME = "viewrank_onnx.json"
PREFERRED = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def named_providers(requested: str | Sequence[str] | None) -> str | Sequence[str] | None:
    """What the user asked for: the ``providers=`` option, else ``$VIEWRANK_ORT_PROVIDERS``, else None."""
    return requested or os.environ.get("VIEWRANK_ORT_PROVIDERS") or None


def choose_providers(requested: str | Sequence[str] | None = None) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    requested = named_providers(requested)
    if requested:
        names = [p.strip() for p in requested.split(",")] if isinstance(requested, str) else list(requested)
        missing = [p for p in names if p not in available]
        if missing:
            raise ViewrankError(f"ONNX Runtime provider(s) {', '.join(missing)} not available here; "
                                f"available: {', '.join(available)}")
        return names
    return [p for p in PREFERRED if p in available] or ["CPUExecutionProvider"]


def check_active(active: Sequence[str], requested: Sequence[str], explicit: bool, what: str) -> list[str]:
    """The providers a session really got. ONNX Runtime falls back to the next provider when one
    fails to load (TensorRT listed but ``libnvinfer`` missing, CUDA without cuDNN): a provider the
    user named that is not active is an error; in automatic mode the fallback is reported."""
    active = list(active)
    missing = [p for p in requested if p not in active]
    if missing and explicit:
        raise ViewrankError(f"{what}: ONNX Runtime could not start provider(s) {', '.join(missing)} "
                            f"(see its log above; active: {', '.join(active)})")
    if missing:
        import logging

        logging.getLogger("viewrank.onnx").warning("%s: provider(s) %s failed to start; running on %s",
                                                   what, ", ".join(missing), ", ".join(active))
    return active


def warn_other_int8_kernels(config: dict, what: str) -> str | None:
    """Log (and return) a warning when this CPU runs other int8 kernels than the parity gate judged.

    MLAS's integer GEMM differs by instruction set (VNNI or not, AMX): an int8 graph checked on
    one family computes slightly different numbers on another, which the gate did not see.
    """
    from viewrank.plugins.onnx_runtime.cpu import cpu_info

    gate = (config.get("parity_cpu") or {}).get("int8_kernels")
    here = cpu_info()["int8_kernels"]
    if not gate or gate == here:
        return None
    import logging

    msg = (f"{what}: its parity gate ran on {gate} int8 kernels; this CPU uses {here}, whose results "
           f"the gate did not check (`viewrank verify-export DIR` checks them here)")
    logging.getLogger("viewrank.onnx").warning(msg)
    return msg


def load_config(model_dir: str | Path) -> dict:
    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        raise ViewrankError(f"{model_dir} is not an exported ONNX directory ({CONFIG_NAME} missing; "
                            f"make one with `viewrank export onnx MODEL --output {model_dir}`)")
    return read_json_object(path, what="ONNX export config")


class OnnxModel:
    """Tokenizer + session for one exported directory; ``run(first, second)`` -> first output."""

    def __init__(self, model_dir: str | Path, variant: str = "fp32", providers: str | Sequence[str] | None = None,
                 threads: int | None = None, graph: str | None = None) -> None:
        """``graph``: a graph file in ``model_dir`` to run instead of the variant's (the int8
        search's trial graphs); ``variant`` still names what kind of graph it is."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.dir = Path(model_dir)
        self.config = load_config(self.dir)
        files = dict(self.config.get("variants", {}))
        if graph is not None:
            files[variant] = graph
        if variant not in files:
            raise ViewrankError(f"{self.dir} has no {variant!r} graph; exported variants: {', '.join(sorted(files))}")
        self.variant = variant
        self.max_length = int(self.config["max_length"])
        self.inputs = list(self.config["inputs"])
        tok = Tokenizer.from_file(str(self.dir / "tokenizer.json"))
        tok.enable_truncation(self.max_length, strategy="longest_first")
        pad_id = int(self.config.get("pad_token_id", 0))
        tok.enable_padding(pad_id=pad_id, pad_token=self.config.get("pad_token", "[PAD]"))
        self.tokenizer = tok
        opts = ort.SessionOptions()
        threads = threads or int(os.environ.get("VIEWRANK_ORT_THREADS", "0") or 0)
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        requested = choose_providers(providers)
        self.session = ort.InferenceSession(str(self.dir / files[variant]), sess_options=opts, providers=requested)
        self.providers = check_active(self.session.get_providers(), requested,
                                      explicit=named_providers(providers) is not None,
                                      what=f"{self.dir} ({variant})")
        if variant == "int8" and "CPUExecutionProvider" in self.providers[:1]:
            warn_other_int8_kernels(self.config, f"{self.dir} ({variant})")

    def encode(self, first: Sequence[str], second: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        batch = list(zip(first, second)) if second is not None else list(first)
        enc = self.tokenizer.encode_batch(batch)
        feeds = {"input_ids": np.asarray([e.ids for e in enc], dtype=np.int64),
                 "attention_mask": np.asarray([e.attention_mask for e in enc], dtype=np.int64)}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.asarray([e.type_ids for e in enc], dtype=np.int64)
        return feeds

    def run(self, first: Sequence[str], second: Sequence[str] | None = None, dtype=np.float32) -> np.ndarray:
        feeds = self.encode(first, second)
        return np.asarray(self.session.run(None, feeds)[0], dtype=dtype)


def parse_arg(arg: str | None) -> tuple[str, dict[str, str]]:
    """``"DIR@variant=int8,providers=CPUExecutionProvider"`` -> ``("DIR", {...})``."""
    if not arg:
        raise ViewrankError("onnx needs a directory: onnx:DIR[@variant=int8,providers=P1;P2,threads=N]")
    model, sep, rest = arg.rpartition("@") if "@" in arg else (arg, "", "")
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))) if sep else ():
        key, eq, value = part.partition("=")
        if not eq or key not in ("variant", "providers", "threads"):
            raise ViewrankError(f"bad option {part!r} in onnx:{arg}; known: variant=, providers=, threads=")
        options[key] = value
    if "providers" in options:
        options["providers"] = options["providers"].replace(";", ",")
    return model, options
