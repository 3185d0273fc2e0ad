"""``viewrank convert FORMAT --input DIR --output DIR``: a published collection in BEIR's layout."""

from __future__ import annotations

import argparse
import json
import sys

from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    from viewrank.plugins.convert.formats import FORMATS

    p = sub.add_parser("convert", help="convert a published collection (T2Ranking, Multi-CPR) to BEIR's layout",
                       description="Writes corpus.jsonl, queries.jsonl and qrels/<split>.tsv, which every viewrank "
                                   "command reads (--dataset DIR). The corpus is streamed; the output appears only "
                                   "when complete.")
    p.add_argument("format", choices=sorted(FORMATS), help="the collection's published format")
    p.add_argument("--input", required=True, metavar="DIR",
                   help="the collection's folder (T2Ranking: its data/ folder; Multi-CPR: one domain's folder)")
    p.add_argument("--output", required=True, metavar="DIR", help="dataset folder to write")
    p.add_argument("--split", action="append", default=None, metavar="NAME",
                   help="keep this split (repeatable; default: every split with queries and judgements)")
    p.add_argument("--graded", action="store_true",
                   help="T2Ranking: the 4-level judgements (qrels.<split>.tsv) instead of the retrieval ones")
    p.add_argument("--force", action="store_true", help="replace a non-empty --output")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from viewrank.plugins.convert.formats import convert

    summary = convert(args.format, args.input, args.output, splits=tuple(args.split) if args.split else None,
                      graded=args.graded, force=args.force, progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
        return 0
    print(f"{args.output}: {summary.passages:,} passages")
    for split in summary.judgements:
        dropped = summary.dropped[split]
        print(f"  {split}: {summary.queries[split]:,} queries, {summary.judgements[split]:,} judgements"
              + (f" ({dropped:,} dropped: their query or passage is not in the files)" if dropped else ""))
    return 0
