"""``viewrank export FORMAT MODEL --out DIR``: the exporter registered under FORMAT does the work."""

from __future__ import annotations

import argparse
import functools

from viewrank.exporters import DEFAULT_CALIBRATION_QUERIES, DEFAULT_FP32_BUDGET, DEFAULT_PARITY_QUERIES
from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("export", help="export a registered model (onnx: graph, int8/fp16, ml-commons zip, Triton)")
    p.add_argument("format", help="a registered exporter, e.g. onnx (see `viewrank plugins`)")
    p.add_argument("model", help="a registered model spec: dense, dense:DIR, cross-encoder:DIR, mvp:DIR")
    p.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    p.add_argument("--fp16", action="store_true", help="also write an fp16 graph (GPU providers, Triton)")
    p.add_argument("--int8", action="store_true", help="also write a dynamically quantised int8 graph (CPU)")
    p.add_argument("--int8-weights", choices=("s8-7bit", "s8", "u8"), default="s8-7bit",
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
    p.add_argument("--exporter", choices=("torchscript", "dynamo"), default="torchscript",
                   help="torch.onnx exporter (default torchscript: parity-checked, and ONNX Runtime can fuse its attention)")
    p.add_argument("--no-optimize", action="store_true",
                   help="quantise the plain graph instead of the one fused for ONNX Runtime (int8 variant only)")
    p.add_argument("--max-length", type=int, default=None, help="token limit stored for the runtime tokenizer")
    p.add_argument("--triton", action="store_true", help="also write a Triton model repository")
    p.add_argument("--ml-commons", action="store_true", help="also write the ml-commons zip and register body")
    p.add_argument("--ml-commons-variant", choices=("fp32", "int8"), default="fp32",
                   help="the graph in the ml-commons zip (default fp32; int8 needs --int8, and its gate judged this "
                        "machine's ONNX Runtime: check it in the node with `viewrank opensearch verify-local`)")
    p.add_argument("--no-parity", action="store_true", help="skip the SciFact parity gate (not recommended)")
    p.add_argument("--parity-data", default=None, help="BEIR SciFact dir for the gate (default ../shared/data/scifact)")
    p.add_argument("--parity-queries", type=int, default=DEFAULT_PARITY_QUERIES,
                   help=f"queries in the gate's sample (default {DEFAULT_PARITY_QUERIES})")
    p.add_argument("--name", default=None, help="model name in the bundles (default: the --out folder's name)")
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    import torch


    torch.set_num_threads(min(2, torch.get_num_threads()))
    exporter = context.host.exporter(args.format)
    options = dict(fp16=args.fp16, int8=args.int8, int8_weights=args.int8_weights, int8_keep_fp32=args.int8_keep_fp32,
                   int8_fp32_budget=args.int8_fp32_budget, int8_calibration_queries=args.int8_calibration_queries,
                   int8_smooth=args.int8_smooth,
                   opset=args.opset, exporter=args.exporter,
                   optimize=not args.no_optimize, max_length=args.max_length,
                   triton=args.triton, ml_commons=args.ml_commons, ml_commons_variant=args.ml_commons_variant,
                   parity=not args.no_parity,
                   parity_data=args.parity_data, parity_queries=args.parity_queries, name=args.name)
    out = exporter.export(args.model, args.out, **options)
    print(out)
    return 0
