"""Are the differences in docs/results.md more than chance? ``viewrank eval --compare`` over the
saved SciFact test runs (all 300 queries, BM25 top 100), one comparison per line of PAIRS.

    python bench/significance.py [--out bench/results/significance.json]

Each pair is (baseline, other), both run files of this checkout: TREC runs written by
``viewrank rerank``/``viewrank search``, or the JSON runs bench/mvp_quality.py saves (converted to
TREC under runs/significance first). A pair whose files are missing is reported as such. The
test is the paired randomization test of viewrank.significance (two-sided, 10,000 sign
assignments, seed 0), on trec_eval's per-query nDCG@10 and MRR@10.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchcli import read_result, write_result  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
QRELS = ROOT.parent / "shared" / "data" / "scifact" / "qrels" / "test.tsv"
PAIRS = [  # (what is asked, baseline run, other run)
    ("MVP vs its cross-encoder, lists of 16, bf16 (whole passages)",
     "runs/amx-ce-l16/cross-encoder_models_ce-bf16-l16.trec", "runs/amx-l16/mvp_models_mvp-bf16-l16.trec"),
    ("MVP vs its cross-encoder, the same models read as maxp:64",
     "runs/mvp_quality/ce-l16-maxp64-300q-d100.json", "runs/mvp_quality/mvp-l16-maxp64-300q-d100.json"),
    ("maxp:64 vs whole passages, MVP lists of 16",
     "runs/amx-l16/mvp_models_mvp-bf16-l16.trec", "runs/mvp_quality/mvp-l16-maxp64-300q-d100.json"),
    ("maxp:64 vs whole passages, cross-encoder lists of 16",
     "runs/amx-ce-l16/cross-encoder_models_ce-bf16-l16.trec", "runs/mvp_quality/ce-l16-maxp64-300q-d100.json"),
    ("MVP trained on 64-word windows vs on whole passages, both maxp:64",
     "runs/mvp_quality/mvp-l16-maxp64-300q-d100.json", "runs/mvp_quality/mvp-l16-w64-maxp64-300q-d100.json"),
    ("MVP vs its cross-encoder, both trained on 64-word windows, maxp:64",
     "runs/mvp_quality/ce-l16-w64-maxp64-300q-d100.json", "runs/mvp_quality/mvp-l16-w64-maxp64-300q-d100.json"),
    ("cross-encoder trained on 64-word windows vs on whole passages, both maxp:64",
     "runs/mvp_quality/ce-l16-maxp64-300q-d100.json", "runs/mvp_quality/ce-l16-w64-maxp64-300q-d100.json"),
    ("default MVP (make train-mvp) vs BM25", "runs/scifact/none.trec", "runs/amx-bf16/mvp_models_mvp-minilm.trec"),
    ("dense embedder (train embedder default, whole corpus) vs the cross-encoder maxp:64",
     "runs/mvp_quality/ce-l16-maxp64-300q-d100.json", "runs/embedder-default/float.trec"),
]


def as_trec(path: Path) -> Path:
    """A bench/mvp_quality.py JSON run as a TREC file under runs/significance (TREC files as they are)."""
    if path.suffix != ".json":
        return path
    from viewrank.runs import write_run
    from viewrank.types import Candidate, RankedList

    data = read_result(path)
    out = ROOT / "runs" / "significance" / (path.stem + ".trec")
    lists = [RankedList.from_scores(qid, [Candidate(d, "") for d in docs], list(docs.values()))
             for qid, docs in data["run"].items()]
    return write_run(lists, out, tag=str(data.get("spec", path.stem)).replace(" ", "_"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/significance.json")
    args = ap.parse_args()
    rows = []
    for question, base, other in PAIRS:
        a, b = ROOT / base, ROOT / other
        if not (a.is_file() and b.is_file()):
            rows.append({"question": question, "baseline": base, "run": other,
                         "status": "not measured: " + ", ".join(str(p.relative_to(ROOT)) for p in (a, b) if not p.is_file()) + " missing"})
            continue
        ta, tb = as_trec(a), as_trec(b)
        proc = subprocess.run([sys.executable, "-m", "viewrank", "eval", "--run", str(ta), str(tb), "--qrels", str(QRELS),
                               "--metrics", "nDCG@10", "MRR@10", "--compare", "--json"], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode:
            raise SystemExit(f"viewrank eval failed on {base} / {other}:\n{proc.stderr[-2000:]}")
        report = json.loads(proc.stdout)
        tests = {t["measure"]: t for t in report["compare"]["tests"]}
        rows.append({"question": question, "baseline": base, "run": other, "queries": report["judged_queries"],
                     **{m: {k: tests[m][k] for k in ("mean_baseline", "mean", "diff", "p", "exact")} for m in tests}})
        t = tests["nDCG@10"]
        print(f"{question}: nDCG@10 {t['mean_baseline']:.4f} -> {t['mean']:.4f} ({t['diff']:+.4f}), p {t['p']:.4f}")
    write_result(ROOT / args.out, {
        "bench": "significance", "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), "qrels": str(QRELS.relative_to(ROOT.parent)),
        "test": "paired randomization, two-sided, 10,000 sign assignments, seed 0 (viewrank eval --compare)",
        "pairs": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
