"""``viewrank eval``: any run (TREC or MS MARCO) against qrels with Pyserini's trec_eval.

The run is read and checked first (a malformed line, a document listed twice, an empty run are
errors naming the file and line); qrels that do not cover the run's queries, or share no
document with it, are warnings with counts, and the table is printed all the same.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys

from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("eval", help="evaluate a TREC or MS MARCO run with Pyserini's trec_eval",
                       description="Evaluate a run with trec_eval (-c: every judged query counts) and print "
                                   "the table viewrank rerank prints.")
    p.add_argument("--run", required=True, nargs="+", action="extend", metavar="RUN",
                   help="run file(s): TREC, or MS MARCO (scored 1/rank, as Pyserini's trec_eval does)")
    p.add_argument("--qrels", required=True, help="qrels: TREC 'qid 0 docid rel' or BEIR TSV")
    p.add_argument("--metrics", nargs="+", action="extend", metavar="MEASURE",
                   help="trec_eval measures (map, ndcg_cut.10, P.5, recall.1000, ...) or short forms "
                        "(nDCG@10, R@100, MRR@10); default nDCG@10 R@100 MRR@10")
    p.add_argument("--json", action="store_true", help="print JSON on stdout instead of the table")
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.adapters.pyserini.evaluate import evaluate_run, format_table, overlap_warnings, parse_metrics
    from viewrank.datasets import load_qrels
    from viewrank.runs import parse_run

    measures = [m.spec for m in parse_metrics(args.metrics)]
    qrels = load_qrels(args.qrels)
    runs = [parse_run(path) for path in args.run]  # every run checked before trec_eval starts
    rows = []
    for path, run_file in zip(args.run, runs):
        for message in overlap_warnings(run_file.lists, qrels):
            print(f"viewrank eval: warning: {path}: {message}", file=sys.stderr)
        rows.append((path, evaluate_run(path, qrels, measures), len(run_file.lists)))
    if args.json:
        print(json.dumps({"qrels": args.qrels, "judged_queries": len(qrels),
                          "runs": [{"run": p, "queries": n, "metrics": m} for p, m, n in rows]}, indent=2))
        return 0
    columns = list(dict.fromkeys(k for _, metrics, _ in rows for k in metrics))
    for line in format_table("run", [(p, m, [f"{n:>7}"]) for p, m, n in rows], columns, ["queries"]):
        print(line)
    print(f"(trec_eval -c over {len(qrels)} judged queries of {args.qrels})")
    return 0
