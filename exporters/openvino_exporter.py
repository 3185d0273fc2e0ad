"""The ``openvino`` exporter (``viewrank export openvino MODEL --output DIR [--int8]``): its options
dataclass, its flags and the :class:`viewrank.types.Exporter` object the plugin registers.

Nothing here imports torch, OpenVINO or NNCF: the command line is built before any model is
(the work is in :mod:`viewrank.exporters.openvino_export`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path

from viewrank.context import Context
from viewrank.exporters import DEFAULT_PARITY_QUERIES

# SciFact train queries whose texts calibrate NNCF (activation ranges; the accuracy-aware search's
# validation set). Fewer than the ONNX search's 100: NNCF collects statistics on every item.
DEFAULT_OV_CALIBRATION_QUERIES = 50
INT8_RECOVERY = ("none", "accuracy-aware")
OVERFLOW_FIX = {"enable": "ENABLE", "first-layer": "FIRST_LAYER", "disable": "DISABLE"}


@dataclass
class OpenVinoOptions:
    int8: bool = False
    calibration_queries: int = DEFAULT_OV_CALIBRATION_QUERIES
    int8_recovery: str = "accuracy-aware"  # when plain NNCF int8 misses the gate's criteria on train
    int8_keep_fp32: str | None = None  # regexes of IR node names NNCF leaves in fp32 (nncf.IgnoredScope)
    int8_overflow_fix: str = "enable"  # 7-bit weights everywhere: no u8 x s8 saturation without VNNI
    bf16: bool = False  # also gate the bf16 variants (native bf16 CPUs only)
    max_length: int | None = None
    opset: int = 17
    parity: bool = True
    parity_data: str | None = None
    parity_queries: int = DEFAULT_PARITY_QUERIES


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``viewrank export openvino``; each ``dest`` is an :class:`OpenVinoOptions` field."""
    p.add_argument("--int8", action="store_true",
                   help="also write an int8 IR: NNCF post-training quantisation (weights and activations) "
                        "calibrated on SciFact train texts")
    p.add_argument("--calibration-queries", type=int, default=DEFAULT_OV_CALIBRATION_QUERIES, metavar="N",
                   help="SciFact train queries (each with 20 candidates) that calibrate int8 (default %(default)s)")
    p.add_argument("--int8-recovery", choices=INT8_RECOVERY, default="accuracy-aware",
                   help="when the plain int8 graph misses the gate's int8 criteria on the calibration (train) "
                        "sample: 'accuracy-aware' re-quantises with NNCF's accuracy control, which keeps the "
                        "most harmful layers in fp32 until the nDCG@10 drop is within 0.005 (default); "
                        "'none' keeps the plain graph and lets the gate judge it")
    p.add_argument("--int8-keep-fp32", default=None, metavar="REGEX[,REGEX...]",
                   help="IR node names (regular expressions) NNCF leaves in fp32 (an ignored scope)")
    p.add_argument("--int8-overflow-fix", choices=tuple(OVERFLOW_FIX), default="enable",
                   help="7-bit weights in every layer ('enable', default: safe on CPUs without VNNI, whose "
                        "u8 x s8 kernels can saturate), in the first layer only, or nowhere (VNNI/AMX targets)")
    p.add_argument("--bf16", action="store_true",
                   help="also gate bf16 variants: 'bf16' (the fp32 IR computed in bf16) and, with --int8, "
                        "'int8-bf16' (the int8 IR with its other operations in bf16); needs a CPU with native "
                        "bf16 (AMX or AVX512-BF16), where OpenVINO would otherwise pick bf16 unjudged")
    p.add_argument("--max-length", type=int, default=None, help="token limit stored for the runtime tokenizer")
    p.add_argument("--opset", type=int, default=17, help="opset of the traced ONNX graph that OpenVINO converts")
    p.add_argument("--no-parity", dest="parity", action="store_false",
                   help="skip the SciFact parity gate (not recommended)")
    p.add_argument("--parity-data", default=None, help="BEIR SciFact dir for the gate (default: scifact under --data)")
    p.add_argument("--parity-queries", type=int, default=DEFAULT_PARITY_QUERIES,
                   help=f"queries in the gate's sample (default {DEFAULT_PARITY_QUERIES})")


class OpenVinoExporter:
    """``export(model_spec, out_dir, **options)``; the options are :class:`OpenVinoOptions` fields.

    The same graph the ONNX exporter traces (its export configs and graphs), converted to OpenVINO
    IR; the same parity gate against PyTorch (run by OpenVINO), manifest and staged write.
    """

    description = "OpenVINO IR (fp32 + NNCF int8), the ONNX exporter's graph, parity-gated on SciFact"
    options = OpenVinoOptions

    def __init__(self, context: Context) -> None:
        self.context = context

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)

    def export(self, model_spec: str, out_dir: str | Path, **options) -> Path:
        from viewrank.errors import ViewrankError
        from viewrank.exporters.openvino_export import export_openvino

        known = {f.name for f in fields(OpenVinoOptions)}
        unknown = sorted(k for k in options if k not in known)
        if unknown:
            raise ViewrankError(f"the openvino exporter has no option(s) {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(known))}")
        return export_openvino(model_spec, out_dir, OpenVinoOptions(**options), context=self.context)
