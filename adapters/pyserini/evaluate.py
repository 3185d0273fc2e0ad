"""Evaluation with the trec_eval that Pyserini ships (jtreceval inside Anserini's jar).

``pyserini.eval.trec_eval`` shells out to ``java -cp <anserini jar> trec_eval``; this module
makes the same call directly, so evaluating needs no JVM inside this process, parses every
measure (Pyserini's wrapper returns only the last one), handles an empty run and converts an
MS MARCO run (no scores) to TREC lines first, as Pyserini's wrapper does.

Measures (``--metrics``) are trec_eval's own names, passed through as ``-m NAME``
(``map``, ``ndcg_cut.10,100``, ``P.10``, ``recall.1000``, ``recip_rank``, ...), or the short
forms ``nDCG@K``, ``R@K``, ``P@K``, ``MAP@K`` and ``MRR@K`` (``recip_rank`` with ``-M K``).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from viewrank.adapters.pyserini.java import anserini_jar, ensure_java
from viewrank.datasets import load_qrels, write_qrels_trec
from viewrank.errors import ViewrankError
from viewrank.runs import decode_id, encode_id, parse_run

DEFAULT_METRICS = ("nDCG@10", "R@100", "MRR@10")

#: short form -> (trec_eval measure with the cutoff as {k}, its output name, uses -M k)
_SHORT = {
    "ndcg": ("ndcg_cut.{k}", "ndcg_cut_{k}", False),
    "r": ("recall.{k}", "recall_{k}", False),
    "recall": ("recall.{k}", "recall_{k}", False),
    "p": ("P.{k}", "P_{k}", False),
    "map": ("map_cut.{k}", "map_cut_{k}", False),
    "mrr": ("recip_rank", "recip_rank", True),
}
_SHORT_FORM = re.compile(r"^([A-Za-z]+)@(\d+)$")
_MEASURE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[^\s]+)?$")


@dataclass(frozen=True)
class Measure:
    """One ``--metrics`` entry: what trec_eval is asked for and which output lines answer it."""

    spec: str  # as the user wrote it
    measure: str  # trec_eval's -m argument
    depth: int | None  # trec_eval's -M (MRR@K), None for none
    column: str | None  # the table column for a short form; None: trec_eval's output names
    outputs: tuple[str, ...] | None  # the output names expected; None: the measure's whole family

    def columns(self) -> list[str]:
        """The table columns this entry fills, as far as known before trec_eval runs."""
        return [self.column] if self.column else list(self.outputs) if self.outputs else [self.spec]

    def matches(self, key: str) -> bool:
        if self.outputs is not None:
            return key in self.outputs
        base = self.measure.split(".")[0]
        return key == base or (key.startswith(base + "_") and key[len(base) + 1:].isdigit())


def parse_metrics(specs: Iterable[str] | None) -> list[Measure]:
    """``--metrics`` values -> measures; an unusable entry is an error naming it."""
    out: list[Measure] = []
    for spec in specs or DEFAULT_METRICS:
        spec = spec.strip()
        short = _SHORT_FORM.match(spec)
        if short and short.group(1).lower() in _SHORT:
            measure, output, uses_depth = _SHORT[short.group(1).lower()]
            k = int(short.group(2))
            if k < 1:
                raise ViewrankError(f"--metrics {spec}: the cutoff must be at least 1")
            out.append(Measure(spec, measure.format(k=k), k if uses_depth else None, spec, (output.format(k=k),)))
        elif _MEASURE.match(spec):
            base, _, params = spec.partition(".")
            plain = params and all(p.isdigit() for p in params.split(","))
            outputs = tuple(f"{base}_{p}" for p in params.split(",")) if plain else None
            out.append(Measure(spec, spec, None, None, outputs))
        else:
            raise ViewrankError(f"--metrics {spec!r} is neither a trec_eval measure (map, ndcg_cut.10, P.5, "
                                "recip_rank, ...) nor a short form (nDCG@10, R@100, P@10, MAP@100, MRR@10)")
    return out


_NO_SHARED_QUERY = "No queries with both results and relevance info"


def _trec_eval(flags: list[str], qrels: Path, run: Path, per_query: bool = False) -> list[tuple[str, float]] | None:
    """trec_eval's ``all`` lines, or with ``per_query`` its per-query lines as ``("measure qid",
    value)``; None when the run and the qrels share no query (all scores 0)."""
    cmd = ["java", "-cp", str(anserini_jar()), "trec_eval", "-c", *(["-q"] if per_query else []), *flags, str(qrels), str(run)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    complaints = [line for line in proc.stderr.splitlines() if line.startswith("trec_eval")]
    if any(_NO_SHARED_QUERY in line for line in complaints):
        return None
    if proc.returncode != 0 or complaints:
        detail = "; ".join(complaints) or proc.stderr.strip()[-500:]
        raise ViewrankError(f"trec_eval failed on {run} (exit {proc.returncode}, flags {' '.join(flags)}): {detail}")
    out = []
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and (parts[1] != "all") == per_query:
            out.append((f"{parts[0]} {parts[1]}" if per_query else parts[0], float(parts[2])))
    return out


def _msmarco_as_trec(run: Path, dest: Path) -> Path:
    """An MS MARCO run (no scores) as TREC lines trec_eval reads: the score is ``-rank``, so the
    order is the ranks' at any depth (``1/rank`` printed with 6 decimals ties past rank 1000)."""
    lists = parse_run(run).lists
    with open(dest, "w", encoding="utf-8") as fh:
        for qid, docs in lists.items():
            for rank, (docid, _) in enumerate(docs, 1):
                fh.write(f"{encode_id(qid)} Q0 {encode_id(docid)} {rank} {-rank} msmarco\n")
    return dest


def _is_msmarco(run: Path) -> bool:
    with open(run, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                return len(line.rstrip("\r\n").split("\t")) == 3 or len(line.split()) == 3
    return False


def _merged(measures: Iterable[str]) -> list[str]:
    """One ``-m`` per measure family: trec_eval keeps only one cutoff list per measure, so
    ``recall.2`` and ``recall.10`` must go as ``recall.2,10`` (asked twice, one was dropped)."""
    cutoffs: dict[str, list[str]] = {}
    out: list[str] = []
    for measure in measures:
        base, _, params = measure.partition(".")
        if params and all(p.isdigit() for p in params.split(",")):
            if base not in cutoffs:
                cutoffs[base] = []
                out.append(base)
            cutoffs[base] += [p for p in params.split(",") if p not in cutoffs[base]]
        elif measure not in out:
            out.append(measure)
    return [f"{m}.{','.join(cutoffs[m])}" if m in cutoffs else m for m in out]


def evaluate_run(run_path: str | Path, qrels: str | Path | Mapping[str, Mapping[str, int]],
                 metrics: Sequence[str] | None = None) -> dict[str, float]:
    """The measures (default nDCG@10, R@100 and MRR@10) of a TREC or MS MARCO run, from trec_eval
    with ``-c`` (every judged query counts; one missing from the run counts 0), keyed by table
    column (the short form as written, else trec_eval's output name), in the order asked."""
    return _evaluate(run_path, qrels, metrics, per_query=False)


def per_query_values(run_path: str | Path, qrels: str | Path | Mapping[str, Mapping[str, int]],
                     metrics: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """``{column: {qid: value}}``: the same measures per query (trec_eval ``-q``), for paired
    significance tests. Only the queries trec_eval scores are listed (judged queries of the run);
    a judged query missing from the run is absent here and counts 0 in a paired test, as in -c."""
    return _evaluate(run_path, qrels, metrics, per_query=True)


def _evaluate(run_path, qrels, metrics, per_query: bool):
    measures = parse_metrics(metrics)
    ensure_java()
    run = Path(run_path)
    if not run.is_file():
        raise ViewrankError(f"run file {run} does not exist")
    judged = qrels if isinstance(qrels, Mapping) else load_qrels(qrels)  # BEIR TSV or TREC
    if run.stat().st_size == 0 or not judged:  # trec_eval (and Pyserini's wrapper) cannot read an empty run
        return {column: {} if per_query else 0.0 for m in measures for column in m.columns()}
    with tempfile.TemporaryDirectory(prefix="viewrank-eval-") as tmp:
        qrels_path = write_qrels_trec(judged, Path(tmp) / "qrels.txt")
        if _is_msmarco(run):
            run = _msmarco_as_trec(run, Path(tmp) / "run.trec")
        by_depth: dict[int | None, list[Measure]] = {}
        for m in measures:
            by_depth.setdefault(m.depth, []).append(m)
        lines: dict[int | None, list[tuple[str, float]]] = {}
        for depth, group in by_depth.items():
            flags = ["-M", str(depth)] if depth is not None else []
            for measure in _merged(m.measure for m in group):
                flags += ["-m", measure]
            found = _trec_eval(flags, qrels_path, run, per_query)
            if found is None:  # no query in common: with -c, every judged query scores 0
                return {column: {} if per_query else 0.0 for m in measures for column in m.columns()}
            lines[depth] = found
    if per_query:
        by_query: dict[str, dict[str, float]] = {}
        for m in measures:
            for key, value in lines[m.depth]:
                name, qid = key.split(" ", 1)
                if m.matches(name):
                    by_query.setdefault(m.column or name, {})[decode_id(qid)] = value
        return by_query
    out: dict[str, float] = {}
    for m in measures:
        found = [(key, value) for key, value in lines[m.depth] if m.matches(key)]
        if not found:
            raise ViewrankError(f"trec_eval printed no value for --metrics {m.spec!r}")
        if m.column is not None:
            out[m.column] = found[0][1]
        else:
            out.update(found)
    return out


def overlap_warnings(run: Mapping[str, Iterable[Any]], qrels: Mapping[str, Mapping[str, int]],
                     unranked_count_zero: bool = True) -> list[str]:
    """What a reader of the table should know when the run and the qrels do not cover the same
    queries (``run``: query id -> its docids, or (docid, score) pairs), or share no document.
    ``unranked_count_zero``: judged queries missing from the run are evaluated (as 0), as in
    ``viewrank eval``; ``viewrank rerank`` evaluates only the queries it ranked."""
    run_q, judged_q = set(run), set(qrels)
    shared = run_q & judged_q
    if not shared:
        counted = "every judged query counts 0" if unranked_count_zero else "every score is 0"
        return [f"the qrels share no query with the run ({len(run_q)} run queries, {len(judged_q)} judged "
                f"queries): {counted}; do the query ids match?"]
    out = []
    if run_q - judged_q:
        out.append(f"{len(run_q - judged_q)} of the run's {len(run_q)} queries have no qrels (not counted)")
    if unranked_count_zero and judged_q - run_q:
        out.append(f"{len(judged_q - run_q)} of the {len(judged_q)} judged queries are not in the run "
                   "(each counts 0, trec_eval -c)")

    def docid(item: Any) -> str:
        return item if isinstance(item, str) else item[0]

    if not any(docid(d) in qrels[q] for q in shared for d in run[q]):
        out.append(f"no document of the run is judged in the qrels of its {len(shared)} shared queries: "
                   "do the document ids match?")
    return out


def format_table(label: str, rows: Sequence[tuple[str, Mapping[str, float], Sequence[str]]],
                 columns: Sequence[str], trailing: Sequence[str] = ()) -> list[str]:
    """The metrics table ``viewrank rerank`` and ``viewrank eval`` print: a label column, one
    column per measure (``-`` where a row has none), then ``trailing`` columns (cells given)."""
    width = max([32, len(label)] + [len(r[0]) for r in rows])
    widths = [max(8, len(c)) for c in columns]
    head = " ".join([f"{label:<{width}}"] + [f"{c:>{w}}" for c, w in zip(columns, widths)])
    lines = [head + ("  " + "  ".join(trailing) if trailing else "")]
    lines.append("-" * len(lines[0]))
    for name, metrics, cells in rows:
        values = [f"{metrics[c]:>{w}.4f}" if c in metrics else f"{'-':>{w}}" for c, w in zip(columns, widths)]
        line = " ".join([f"{name:<{width}}"] + values)
        lines.append(line + ("  " + "  ".join(cells) if cells else ""))
    return lines
