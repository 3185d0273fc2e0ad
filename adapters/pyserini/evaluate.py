"""Evaluation with the trec_eval that Pyserini ships (jtreceval inside Anserini's jar).

``pyserini.eval.trec_eval`` shells out to ``java -cp <anserini jar> trec_eval``; this module
makes the same call directly, so evaluating needs no JVM inside this process, parses every
metric (Pyserini's wrapper returns only the last one) and handles an empty run.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Mapping

from viewrank.adapters.pyserini.java import anserini_jar, ensure_java
from viewrank.datasets import load_qrels, write_qrels_trec
from viewrank.errors import ViewrankError

#: Our metric names -> (trec_eval measure, its output name, extra trec_eval flags).
METRICS = {
    "nDCG@10": ("ndcg_cut.10", "ndcg_cut_10", ()),
    "R@100": ("recall.100", "recall_100", ()),
    "MRR@10": ("recip_rank", "recip_rank", ("-M", "10")),
}


def _trec_eval(flags: list[str], qrels: Path, run: Path) -> dict[str, float]:
    cmd = ["java", "-cp", str(anserini_jar()), "trec_eval", "-c", *flags, str(qrels), str(run)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ViewrankError(f"trec_eval failed on {run} (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    out: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "all":
            out[parts[0]] = float(parts[2])
    return out


def evaluate_run(run_path: str | Path, qrels: str | Path | Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """nDCG@10, R@100 and MRR@10 of a TREC run, from trec_eval with ``-c`` (all judged queries count)."""
    ensure_java()
    run = Path(run_path)
    if not run.is_file():
        raise ViewrankError(f"run file {run} does not exist")
    if run.stat().st_size == 0:  # trec_eval (and Pyserini's wrapper) cannot read an empty run
        return {name: 0.0 for name in METRICS}
    with tempfile.TemporaryDirectory(prefix="viewrank-eval-") as tmp:
        judged = qrels if isinstance(qrels, Mapping) else load_qrels(qrels)  # BEIR TSV or TREC
        qrels_path = write_qrels_trec(judged, Path(tmp) / "qrels.txt")
        base = [flag for name, (measure, _, extra) in METRICS.items() if not extra for flag in ("-m", measure)]
        values = _trec_eval(base, qrels_path, run)
        for name, (measure, _, extra) in METRICS.items():
            if extra:
                values.update(_trec_eval([*extra, "-m", measure], qrels_path, run))
    return {name: values.get(key, 0.0) for name, (_, key, _) in METRICS.items()}
