"""The options of the ``onnx`` exporter: one dataclass, and the flags ``viewrank export onnx`` gives them.

Every flag's ``dest`` is a field of :class:`ExportOptions`, so the command passes the exporter
exactly the options it declares (``OnnxExporter.options``). Nothing here imports torch: the
command line is built before any model is.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from viewrank.exporters import DEFAULT_CALIBRATION_QUERIES, DEFAULT_FP32_BUDGET, DEFAULT_PARITY_QUERIES
from viewrank.exporters.quantize import INT8_WEIGHTS

EXPORTERS = ("torchscript", "dynamo")  # torch.onnx's two exporters


@dataclass
class ExportOptions:
    fp16: bool = False
    int8: bool = False
    int8_weights: str = "s8-7bit"
    int8_keep_fp32: str | None = None  # node names/globs, a count, or "auto" (viewrank.exporters.mixed)
    int8_fp32_budget: float = DEFAULT_FP32_BUDGET
    int8_calibration_queries: int = DEFAULT_CALIBRATION_QUERIES
    int8_smooth: float | None = None  # SmoothQuant migration strength (viewrank.exporters.smooth); None: off
    opset: int = 17
    exporter: str = "torchscript"
    optimize: bool = True
    max_length: int | None = None
    triton: bool = False
    ml_commons: bool = False
    ml_commons_variant: str = "fp32"  # the graph in the ml-commons zip: fp32 or int8 (needs int8)
    parity: bool = True
    parity_data: str | None = None
    parity_queries: int = DEFAULT_PARITY_QUERIES
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # not a flag: for callers of the Python API


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``viewrank export onnx``; each ``dest`` is an :class:`ExportOptions` field."""
    p.add_argument("--fp16", action="store_true", help="also write an fp16 graph (GPU providers, Triton)")
    p.add_argument("--int8", action="store_true", help="also write a dynamically quantised int8 graph (CPU)")
    p.add_argument("--int8-weights", choices=tuple(INT8_WEIGHTS), default="s8-7bit",
                   help="int8 weight format (default s8-7bit: 7-bit signed weights, which CPUs without VNNI "
                        "cannot saturate; s8 only for VNNI/AMX targets; see docs/export.md)")
    p.add_argument("--int8-keep-fp32", default=None, metavar="auto|N|NODES",
                   help="mixed-precision int8: 'auto' (the fewest most error-prone nodes with which the int8 graph meets "
                        "the gate's criteria on SciFact train queries, with a margin for their noise), N (the N most "
                        "error-prone), or node names/globs, comma-separated, kept in fp32 (see docs/export.md)")
    p.add_argument("--int8-fp32-budget", type=float, default=DEFAULT_FP32_BUDGET,
                   help="auto: the largest share of the quantisable weights left in fp32 (default %(default)s)")
    p.add_argument("--int8-calibration-queries", type=int, default=DEFAULT_CALIBRATION_QUERIES,
                   help="SciFact train queries the int8 search calibrates on (default %(default)s)")
    p.add_argument("--int8-smooth", type=float, default=None, metavar="ALPHA",
                   help="before int8, move activation outliers into the weights (SmoothQuant, strength ALPHA "
                        "in (0, 1), 0.5 usual; ranges from SciFact train texts; see docs/export.md)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17; the dynamo exporter needs 18 or more)")
    p.add_argument("--exporter", choices=EXPORTERS, default="torchscript",
                   help="torch.onnx exporter (default torchscript: parity-checked, and ONNX Runtime can fuse its attention)")
    p.add_argument("--no-optimize", dest="optimize", action="store_false",
                   help="quantise the plain graph instead of the one fused for ONNX Runtime (int8 variant only)")
    p.add_argument("--max-length", type=int, default=None, help="token limit stored for the runtime tokenizer")
    p.add_argument("--triton", action="store_true", help="also write a Triton model repository")
    p.add_argument("--ml-commons", action="store_true", help="also write the ml-commons zip and register body")
    p.add_argument("--ml-commons-variant", choices=("fp32", "int8"), default="fp32",
                   help="the graph in the ml-commons zip (default fp32; int8 needs --int8, and its gate judged this "
                        "machine's ONNX Runtime: check it in the node with `viewrank opensearch verify-local`)")
    p.add_argument("--no-parity", dest="parity", action="store_false",
                   help="skip the SciFact parity gate (not recommended)")
    p.add_argument("--parity-data", default=None, help="BEIR SciFact dir for the gate (default ../shared/data/scifact)")
    p.add_argument("--parity-queries", type=int, default=DEFAULT_PARITY_QUERIES,
                   help=f"queries in the gate's sample (default {DEFAULT_PARITY_QUERIES})")
    p.add_argument("--name", default=None, help="model name in the bundles (default: the --output folder's name)")
