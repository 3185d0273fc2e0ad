"""``viewrank verify-export DIR``: manifest and parity gate of an exported directory, on this machine."""

from __future__ import annotations

import argparse
import functools
import json

from viewrank.exporters import DEFAULT_PARITY_QUERIES
from viewrank.cli.flags import add_deprecated_alias
from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("verify-export", help="re-check an exported ONNX or OpenVINO dir here: file hashes and the parity gate")
    p.add_argument("dir", help="a directory written by `viewrank export onnx` or `viewrank export openvino`")
    p.add_argument("--model", default=None, help="PyTorch model spec to compare with (default: the export's source)")
    p.add_argument("--variant", action="append", default=None, help="check only this variant (repeatable)")
    p.add_argument("--parity-data", default=None, help="BEIR SciFact dir (default: scifact under --data)")
    p.add_argument("--parity-queries", type=int, default=DEFAULT_PARITY_QUERIES,
                   help=f"queries in the gate's sample (default {DEFAULT_PARITY_QUERIES})")
    p.add_argument("--report", default=None, metavar="FILE", help="also write the report (JSON) to this file")
    add_deprecated_alias(p, "--json", "--report", dest="report")
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.exporters.verify import verify_export
    from viewrank.runs import atomic_write_text

    context.settings.apply_threads()
    report = verify_export(args.dir, args.model, args.variant, args.parity_data, args.parity_queries,
                           host=context.host)
    if args.report:
        atomic_write_text(args.report, json.dumps(report, indent=2) + "\n")
    gate = (report["gate_cpu"] or {}).get("int8_kernels", "unknown")
    print(f"{args.dir}: {'ok' if report['passed'] else 'FAILED'} on {report['cpu']['int8_kernels']} int8 kernels "
          f"(exported on {gate})")
    for failure in report["failures"]:
        print(f"  {failure}")
    return 0 if report["passed"] else 1
