"""``viewrank limit make`` and ``viewrank limit free``: the LIMIT diagnostic (see docs/limit.md)."""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys

from viewrank.context import Context
from viewrank.errors import ViewrankError


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    from viewrank.plugins.limit.dataset import PRESETS

    p = sub.add_parser("limit", help="the LIMIT diagnostic: a set that top-k embeddings cannot represent, "
                                     "and free-embedding capacity per dimension",
                       description="Weller et al., 'On the Theoretical Limitations of Embedding-Based Retrieval'. "
                                   "`make` writes a LIMIT-style BEIR dataset; `free` measures how many documents "
                                   "free embeddings of dimension d can serve when every k-subset is a query.")
    limit = p.add_subparsers(dest="limit_command", metavar="make|free", required=True)

    presets = ", ".join(f"{name} ({v['docs']:,} documents, {v['queries']:,} queries, k = {v['k']})"
                        for name, v in PRESETS.items())
    make = limit.add_parser("make", help="write a LIMIT-style dataset (BEIR layout)",
                            description="People who like things; each query 'Who likes X?' has exactly k relevant "
                                        "people and its own k-subset. Presets: " + presets + ".")
    make.add_argument("--preset", choices=sorted(PRESETS), help="the paper's forms; --docs/--k/--queries override")
    make.add_argument("--docs", type=int, default=None, help="documents (people)")
    make.add_argument("--k", type=int, default=None, help="relevant documents per query")
    make.add_argument("--queries", type=int, default=None, help="queries, each with a distinct k-subset")
    make.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same seed gives the same files")
    make.add_argument("--output", required=True, metavar="DIR", help="dataset folder to write")
    make.add_argument("--force", action="store_true", help="overwrite a dataset already in DIR")
    make.add_argument("--json", action="store_true", help="print the summary as JSON")
    make.set_defaults(func=functools.partial(run_make, context=context))

    free = limit.add_parser("free", help="free-embedding capacity: critical n per dimension d",
                            description="Optimise n document and C(n, k) query vectors of dimension d directly "
                                        "(Adam, full batch, softmax over all documents, cosine / temperature) and "
                                        "grow n until not every k-subset can be made a top-k set within the budget.")
    free.add_argument("--dims", default="4,8,16,32", help="comma-separated dimensions (default 4,8,16,32)")
    free.add_argument("--k", type=int, default=2, help="documents per query (default 2)")
    free.add_argument("--time-budget", type=float, default=120.0, metavar="SECONDS",
                      help="search time per dimension (default 120); when it runs out the dimension's "
                           "critical n is reported as a lower bound")
    free.add_argument("--max-steps", type=int, default=2000, help="Adam steps per attempt at most (default 2000)")
    free.add_argument("--patience", type=int, default=200,
                      help="an attempt fails after this many steps without a new best count of solved queries (default 200)")
    free.add_argument("--reinit", type=int, default=4,
                      help="times a stalled attempt re-draws its unsolved queries before it fails (default 4)")
    free.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (default 0.05)")
    free.add_argument("--temperature", type=float, default=0.1, help="softmax temperature on cosines (default 0.1)")
    free.add_argument("--precision", type=float, default=0.02,
                      help="stop bisecting when first failure - last success <= max(1, PRECISION * n) (default 0.02)")
    free.add_argument("--max-n", type=int, default=2000, help="never try more documents than this (default 2000)")
    free.add_argument("--seed", type=int, default=0)
    free.add_argument("--threads", type=int, default=context.settings.threads,
                      help="torch threads (default: VIEWRANK_THREADS, else 2)")
    free.add_argument("--device", default=context.settings.device, help="torch device (default: VIEWRANK_DEVICE, else cpu)")
    free.add_argument("--output", metavar="FILE.json", help="write the report as JSON")
    free.add_argument("--plot", metavar="FILE.png", help="log-log plot of critical n against d with the fit (matplotlib)")
    free.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    free.set_defaults(func=functools.partial(run_free, context=context))


def resolve_make_args(args: argparse.Namespace) -> tuple[int, int, int]:
    from viewrank.plugins.limit.dataset import PRESETS

    base = dict(PRESETS[args.preset]) if args.preset else {}
    for name in ("docs", "k", "queries"):
        if getattr(args, name) is not None:
            base[name] = getattr(args, name)
    missing = [f"--{name}" for name in ("docs", "k", "queries") if name not in base]
    if missing:
        raise ViewrankError(f"give {', '.join(missing)} (or --preset {'|'.join(sorted(PRESETS))})")
    return base["docs"], base["k"], base["queries"]


def run_make(args: argparse.Namespace, context: Context) -> int:
    from viewrank.plugins.limit.dataset import make_limit, validate, write_limit

    docs, k, queries = resolve_make_args(args)
    validate(docs, k, queries)
    ds = make_limit(docs, k, queries, seed=args.seed)
    out = write_limit(ds, args.output, force=args.force)
    summary = {"output": str(out), "preset": args.preset, **{key: v for key, v in ds.meta.items() if key != "pool_ids"}}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        per = ds.meta["attributes_per_pool_doc"]
        print(f"wrote {out}: {docs:,} documents, {queries:,} queries, k = {k}, seed {args.seed}")
        print(f"  relevant sets drawn from {ds.meta['pool']} documents ({queries:,} of their "
              f"C({ds.meta['pool']}, {k}) = {ds.meta['possible_sets_in_pool']:,} {k}-subsets, all distinct); "
              f"{per['min']}-{per['max']} attributes per relevant document")
        print(f"  next: viewrank index --dataset {out} --index indexes/{_name(out)}")
    return 0


def _name(path) -> str:
    from pathlib import Path

    return Path(path).resolve().name or "limit"


def parse_dims(text: str) -> list[int]:
    dims = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) < 1:
            raise ViewrankError(f"--dims: {part!r} is not a positive integer (expected a list such as 4,8,16,32)")
        dims.append(int(part))
    if not dims:
        raise ViewrankError(f"--dims {text!r} names no dimension (expected a list such as 4,8,16,32)")
    return sorted(set(dims))


def run_free(args: argparse.Namespace, context: Context) -> int:
    dims = parse_dims(args.dims)
    checks = [("--k", args.k >= 1), ("--time-budget", args.time_budget > 0), ("--max-steps", args.max_steps >= 1),
              ("--patience", args.patience >= 1), ("--reinit", args.reinit >= 0), ("--lr", args.lr > 0), ("--temperature", args.temperature > 0),
              ("--precision", 0 <= args.precision < 1), ("--threads", args.threads >= 1)]
    for flag, ok in checks:
        if not ok:
            raise ViewrankError(f"{flag} {getattr(args, flag[2:].replace('-', '_'))} is out of range "
                                "(see viewrank limit free --help)")
    if args.max_n <= args.k:
        raise ViewrankError(f"--max-n {args.max_n} must be larger than --k {args.k}")
    if math.comb(args.max_n, args.k) > 50_000_000:
        raise ViewrankError(f"--max-n {args.max_n} with --k {args.k} means up to C({args.max_n}, {args.k}) = "
                            f"{math.comb(args.max_n, args.k):,} query vectors; lower --max-n")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ViewrankError("--plot needs matplotlib: pip install 'viewrank[plot]'") from None

    import torch

    from viewrank.plugins.limit import free

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ViewrankError(f"--device {args.device}: torch sees no CUDA device")
    context.settings.with_(threads=args.threads).apply_threads()
    config = free.FreeConfig(k=args.k, lr=args.lr, temperature=args.temperature, max_steps=args.max_steps,
                             patience=args.patience, reinit=args.reinit, precision=args.precision, time_budget=args.time_budget,
                             seed=args.seed, max_n=args.max_n, device=args.device)
    log = (lambda line: print(line, file=sys.stderr)) if args.json else print
    report = free.run_free(dims, config, log=log)
    report["threads"] = args.threads
    if args.output:
        from viewrank.runs import atomic_write_text

        atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
    if args.plot:
        free.plot(report, args.plot)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print()
    print(f"{'d':>4} {'critical n':>11} {'first fail':>11} {'sets at critical n':>19} {'seconds':>8}")
    for r in report["results"]:
        crit = f"{'>=' if r['budget_hit'] else ''}{r['critical_n']}"
        fail = str(r["first_failed_n"]) if r["first_failed_n"] is not None else "-"
        print(f"{r['d']:>4} {crit:>11} {fail:>11} {math.comb(r['critical_n'], args.k):>19,} {r['seconds']:>8.1f}")
    fit = report["fit"]
    if fit["coefficients"]:
        note = " (as many terms as points: it passes through them)" if fit.get("exact") else ""
        r2 = f", r^2 {fit['r2']:.4f}" if fit.get("r2") is not None else ""
        dims_note = "" if len(fit["dims"]) == len(report["results"]) else f" (on d = {', '.join(map(str, fit['dims']))}: lower bounds left out)"
        print(f"fit: critical n(d) = {free.format_polynomial(fit['coefficients'])}{r2}{note}{dims_note}")
    print(f"monotone in d: {'yes' if report['monotone'] else 'NO'}"
          + ("; '>=' marks a lower bound (time budget ran out)" if any(r["budget_hit"] for r in report["results"]) else ""))
    if args.output:
        print(f"report: {args.output}")
    if args.plot:
        print(f"plot: {args.plot}")
    return 0
