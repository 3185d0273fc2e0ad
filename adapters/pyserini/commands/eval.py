"""``viewrank eval``: any run (TREC or MS MARCO) against qrels with Pyserini's trec_eval.

The run is read and checked first (a malformed line, a document listed twice, an empty run are
errors naming the file and line); qrels that do not cover the run's queries, or share no
document with it, are warnings with counts, and the table is printed all the same.

``--compare``: every run after the first is tested against the first on each measure, per query
(trec_eval ``-q``), with the paired randomization test of :mod:`viewrank.significance`; the
p-values of one measure are Holm-adjusted over the runs compared.
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
    p.add_argument("--compare", action="store_true",
                   help="test each run against the first, per measure: mean difference and the two-sided p-value "
                        "of a paired randomization test over the judged queries (10,000 sign assignments, seeded; "
                        "Holm-adjusted over the runs compared)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout instead of the table")
    p.set_defaults(func=functools.partial(run, context=context))


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.adapters.pyserini.evaluate import evaluate_run, format_table, overlap_warnings, parse_metrics
    from viewrank.datasets import load_qrels
    from viewrank.runs import parse_run

    from viewrank.errors import ViewrankError

    measures = [m.spec for m in parse_metrics(args.metrics)]
    if args.compare and len(args.run) < 2:
        raise ViewrankError("--compare needs two or more --run files: each is tested against the first")
    qrels = load_qrels(args.qrels)
    runs = [parse_run(path) for path in args.run]  # every run checked before trec_eval starts
    rows = []
    for path, run_file in zip(args.run, runs):
        for message in overlap_warnings(run_file.lists, qrels):
            print(f"viewrank eval: warning: {path}: {message}", file=sys.stderr)
        rows.append((path, evaluate_run(path, qrels, measures), len(run_file.lists)))
    from viewrank.significance import SAMPLES, SEED

    tests = compare(args.run, qrels, measures) if args.compare else None
    if args.json:
        report = {"qrels": args.qrels, "judged_queries": len(qrels),
                  "runs": [{"run": p, "queries": n, "metrics": m} for p, m, n in rows]}
        if tests is not None:
            report["compare"] = {"baseline": args.run[0], "test": "paired randomization, two-sided",
                                 "samples": SAMPLES, "seed": SEED, "adjustment": "Holm, per measure", "tests": tests}
        print(json.dumps(report, indent=2))
        return 0
    columns = list(dict.fromkeys(k for _, metrics, _ in rows for k in metrics))
    for line in format_table("run", [(p, m, [f"{n:>7}"]) for p, m, n in rows], columns, ["queries"]):
        print(line)
    print(f"(trec_eval -c over {len(qrels)} judged queries of {args.qrels})")
    if tests is not None:
        print(f"\nagainst {args.run[0]}: paired randomization test, two-sided ({SAMPLES:,} sign assignments, "
              f"seed {SEED}; all of them when there are fewer), p Holm-adjusted over the {len(args.run) - 1} run(s) "
              "compared, per measure")
        width = max(32, *(len(t["run"]) for t in tests))
        print(f"{'run':<{width}} {'measure':>10} {'diff':>9} {'p':>8} {'p Holm':>8}")
        for t in tests:
            print(f"{t['run']:<{width}} {t['measure']:>10} {t['diff']:>+9.4f} {t['p']:>8.4f} {t['p_holm']:>8.4f}")
    return 0


def compare(paths: list[str], qrels, measures: list[str]) -> list[dict]:
    """Each run after the first against the first, per measure, over every judged query (one a run
    lacks counts 0, as trec_eval -c counts it): rows of run, measure, means, diff, p, p_holm, exact."""
    from viewrank.adapters.pyserini.evaluate import per_query_values
    from viewrank.significance import holm, paired, randomization_test

    queries = sorted(qrels)
    values = [per_query_values(path, qrels, measures) for path in paths]
    rows = []
    for column in values[0]:
        family = []
        for path, other in zip(paths[1:], values[1:]):
            a, b = paired(values[0][column], other.get(column, {}), queries)
            t = randomization_test(a, b)
            family.append((t, {"run": path, "measure": column, "mean_baseline": round(t.mean_a, 4),
                               "mean": round(t.mean_b, 4), "diff": round(t.diff, 4), "p": round(t.p, 4),
                               "exact": t.exact}))
        for (t, row), adjusted in zip(family, holm([t.p for t, _ in family])):  # Holm on the unrounded p
            row["p_holm"] = round(adjusted, 4)
            rows.append(row)
    return rows
