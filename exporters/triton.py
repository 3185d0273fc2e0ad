"""A Triton model repository for the onnxruntime backend (fp32 and, when exported, fp16).

Embedders and cross-encoders get dynamic batching (requests of the same sequence length are
merged). MVP graphs do not: their first axis is ONE query's candidate list, and merging two
queries' lists would let their candidates attend to each other's anchors, so each request is
one list (``max_batch_size: 0``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from viewrank.runs import atomic_write_text

DIR_NAME = "triton"
# output dtypes: float vectors and scores; int8 values and packed binary codes (int8:DIR, binary:DIR)
TRITON_TYPES = {"float32": "TYPE_FP32", "int8": "TYPE_INT8", "uint8": "TYPE_UINT8"}


def config_pbtxt(name: str, cfg: dict, max_batch_size: int = 64) -> str:
    listwise = cfg["task"] == "mvp"
    out_dims = f"[ {cfg['dim']} ]" if cfg["kind"] == "embedder" else "[ ]"
    lines = [f'name: "{name}"', 'backend: "onnxruntime"']
    if listwise:
        lines.append("max_batch_size: 0")
        in_dims, out_dims = "[ -1, -1 ]", "[ -1 ]"
    else:
        lines.append(f"max_batch_size: {max_batch_size}")
        in_dims = "[ -1 ]"
        if cfg["kind"] != "embedder":
            out_dims = "[ 1 ]"  # per-item score; Triton adds the batch axis
    for inp in cfg["inputs"]:
        lines += ["input [", "  {", f'    name: "{inp}"', "    data_type: TYPE_INT64", f"    dims: {in_dims}", "  }", "]"]
    out_type = TRITON_TYPES[cfg.get("output_dtype", "float32")]
    lines += ["output [", "  {", f'    name: "{cfg["outputs"][0]}"', f"    data_type: {out_type}",
              f"    dims: {out_dims}"]
    if not listwise and cfg["kind"] != "embedder":
        lines.append("    reshape: { shape: [ ] }")
    lines += ["  }", "]"]
    if not listwise:
        lines += ["dynamic_batching {", "  max_queue_delay_microseconds: 2000", "}"]
    lines += ["instance_group [", "  {", "    count: 1", "    kind: KIND_GPU", "  }", "]"]
    return "\n".join(lines) + "\n"


def write_repository(root: Path, cfg: dict, name: str) -> Path:
    """``triton/<name>/{config.pbtxt,1/model.onnx}`` (+ ``<name>_fp16``) inside ``root``."""
    repo = root / DIR_NAME
    for variant, suffix in (("fp32", ""), ("fp16", "_fp16")):
        if variant not in cfg["variants"]:
            continue
        model_name = name + suffix
        version = repo / model_name / "1"
        version.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / cfg["variants"][variant], version / "model.onnx")
        atomic_write_text(repo / model_name / "config.pbtxt", config_pbtxt(model_name, cfg))
    return repo
