"""viewrank rerank --run / viewrank eval on bad input: one clear message, exit 2, nothing written.

Texts and topics come from a BEIR folder or files here, so no Lucene index (and no JVM in
viewrank's process) is needed; evaluating runs trec_eval in a child JVM.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli
from viewrank.runs import parse_run


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


GOOD_RUN = "".join(f"{q} Q0 {d} {r} {10 - r}.0 bm25\n" for q in ("q1", "q2", "q3", "q4")
                   for r, d in enumerate(("d1", "d2", "d3", "d4", "d5", "d6"), 1))


def rerank(tmp_path, dataset, run_text, *extra):
    run = write(tmp_path / "in.trec", run_text)
    return run_cli("rerank", "--run", str(run), "--dataset", str(dataset), "--output", str(tmp_path / "out.trec"), *extra)


def assert_clean_failure(proc, tmp_path, message):
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.trec").exists() and not list(tmp_path.glob("out.trec*"))


@pytest.mark.parametrize("run_text, message", [
    ("q1 Q0 d1 1 2.0 bm25\nq1 Q0 d2 2 1.0\n", "in.trec:2: expected 6 columns (TREC: qid Q0 docid rank score tag)"),
    ("", "in.trec is empty: it holds no run lines"),
    ("q1 Q0 d1 1 2.0 bm25\nq1 Q0 d1 2 1.0 bm25\n", "in.trec:2: document 'd1' is listed twice for query 'q1' (also on line 1)"),
    (GOOD_RUN + "q8 Q0 d1 1 1.0 x\nq9 Q0 d1 1 1.0 x\n", "2 of the 6 queries in "),
    ("q1 Q0 d1 1 2.0 bm25\nq1 Q0 nope 2 1.0 bm25\nq2 Q0 gone 1 1.0 bm25\n",
     "2 of the run's 3 documents are not in corpus file"),
])
def test_bad_runs_fail_cleanly(tmp_path, tiny_dataset, run_text, message):
    assert_clean_failure(rerank(tmp_path, tiny_dataset, run_text, "--no-eval"), tmp_path, message)


def test_unknown_queries_are_counted_and_named(tmp_path, tiny_dataset):
    proc = rerank(tmp_path, tiny_dataset, GOOD_RUN + "q8 Q0 d1 1 1.0 x\nq9 Q0 d1 1 1.0 x\n", "--no-eval")
    assert "are not in split 'test' of" in proc.stderr and "(first: 'q8', 'q9')" in proc.stderr


def test_skip_missing_reports_the_count(tmp_path, tiny_dataset):
    proc = rerank(tmp_path, tiny_dataset, "q1 Q0 d1 1 2.0 b\nq1 Q0 nope 2 1.0 b\nq2 Q0 d3 1 1.0 b\n",
                  "--no-eval", "--skip-missing")
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1 run documents (1 queries) missing from corpus file" in proc.stderr
    assert parse_run(tmp_path / "out.trec").lists == {"q1": [("d1", 2.0)], "q2": [("d3", 1.0)]}
    assert "2 of the 4 topics have no lines in" in proc.stderr


def test_run_order_hits_and_the_deprecated_depth(tmp_path, tiny_dataset):
    proc = rerank(tmp_path, tiny_dataset, GOOD_RUN, "--no-eval", "--depth", "3")
    assert proc.returncode == 0, proc.stderr
    assert "--depth is deprecated and will be removed; use --hits" in proc.stderr
    run = parse_run(tmp_path / "out.trec")
    assert run.lists["q1"] == [("d1", 9.0), ("d2", 8.0), ("d3", 7.0)]  # 'none' keeps the run's scores and order


def test_qrels_without_overlap_warn_and_still_print_the_table(tmp_path, tiny_dataset):
    qrels = write(tmp_path / "qrels.trec", "x1 0 d1 1\nx2 0 d2 1\n")
    proc = rerank(tmp_path, tiny_dataset, GOOD_RUN, "--qrels", str(qrels), "--topics", str(tiny_dataset / "queries.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert "warning: the qrels share no query with the run (4 run queries, 2 judged queries)" in proc.stderr
    assert "nDCG@10" in proc.stdout and "none" in proc.stdout
    proc = run_cli("eval", "--run", str(tmp_path / "out.trec"), "--qrels", str(qrels))
    assert proc.returncode == 0, proc.stderr
    assert "viewrank eval: warning:" in proc.stderr and "share no query" in proc.stderr
    assert proc.stdout.splitlines()[2].split()[1:4] == ["0.0000", "0.0000", "0.0000"]


def test_eval_any_run_with_chosen_measures(tmp_path, tiny_dataset):
    run = write(tmp_path / "r.tsv", "q1\td2\t1\nq1\td1\t2\nq2\td3\t1\n")  # MS MARCO: ranks, no scores
    proc = run_cli("eval", "--run", str(run), "--qrels", str(tiny_dataset / "qrels" / "test.tsv"),
                   "--metrics", "MRR@10", "P.1", "recall.1000", "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    [row] = json.loads(proc.stdout)["runs"]
    # q1: judged d1 at rank 2, q2: d3 at rank 1, q3 and q4 not in the run (count 0 with -c)
    assert row["metrics"] == {"MRR@10": pytest.approx(1.5 / 4), "P_1": pytest.approx(0.25), "recall_1000": pytest.approx(0.5)}
    assert "2 of the 4 judged queries are not in the run" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--run", "bad.trec"], "bad.trec:1: expected 6 columns"),
    (["--run", "empty.trec"], "empty.trec is empty"),
    (["--run", "good.trec", "--metrics", "nosuch"], "illegal measure 'nosuch'"),
    (["--run", "missing.trec"], "run file"),
])
def test_eval_errors(tmp_path, tiny_dataset, args, message):
    write(tmp_path / "bad.trec", "q1 Q0 d1\n")
    write(tmp_path / "empty.trec", "")
    write(tmp_path / "good.trec", GOOD_RUN)
    args = [str(tmp_path / a) if a.endswith(".trec") else a for a in args]
    proc = run_cli("eval", *args, "--qrels", str(tiny_dataset / "qrels" / "test.tsv"))
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--dataset", "DATA"], "give --index (BM25 over it) or --run FILE"),
    (["--run", "RUN"], "give --topics FILE or --dataset DIR"),
    (["--run", "RUN", "--topics", "TOPICS"], "give the passage texts: --index"),
    (["--run", "RUN", "--dataset", "DATA", "--hits", "0"], "--hits must be at least 1"),
    (["--run", "RUN", "--dataset", "DATA", "--metrics", "x y"], "--metrics 'x y' is neither"),
])
def test_missing_pieces_are_named(tmp_path, tiny_dataset, args, message):
    run = write(tmp_path / "in.trec", GOOD_RUN)
    topics = write(tmp_path / "t.tsv", "q1\tvitamin d\n")
    subst = {"DATA": str(tiny_dataset), "RUN": str(run), "TOPICS": str(topics)}
    proc = run_cli("rerank", *[subst.get(a, a) for a in args], "--output", str(tmp_path / "out.trec"))
    assert_clean_failure(proc, tmp_path, message)


def test_python_m_viewrank_rerank_is_the_same_command(tmp_path, tiny_dataset):
    run = write(tmp_path / "in.trec", GOOD_RUN)
    proc = subprocess.run([sys.executable, "-m", "viewrank.rerank", "--run", str(run), "--dataset", str(tiny_dataset),
                           "--hits", "2", "--output", str(tmp_path / "m.trec"), "--output-format", "msmarco", "--no-eval"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m.trec").read_text().splitlines()[:2] == ["q1\td1\t1", "q1\td2\t2"]
    bad = subprocess.run([sys.executable, "-m", "viewrank.rerank", "--run", str(tmp_path / "nope"), "--dataset",
                          str(tiny_dataset), "--output", str(tmp_path / "x")], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "viewrank rerank: error: run file" in bad.stderr


def test_eval_compare_tests_each_run_against_the_first(tmp_path, tiny_dataset):
    """--compare: per-query values from trec_eval -q average to its -c table (judged queries missing
    from a run count 0), and the p-values are the paired randomization test's over those values."""
    import json

    from viewrank.adapters.pyserini.evaluate import per_query_values
    from viewrank.datasets import load_qrels
    from viewrank.significance import holm, paired, randomization_test

    qrels_path = tiny_dataset / "qrels" / "test.tsv"
    base = write(tmp_path / "base.trec", "q1 Q0 d2 1 3 a\nq1 Q0 d1 2 2 a\nq2 Q0 d1 1 3 a\nq2 Q0 d3 2 2 a\n"
                                         "q3 Q0 d1 1 3 a\nq3 Q0 d2 2 2 a\n")
    good = write(tmp_path / "good.trec", "q1 Q0 d1 1 3 b\nq2 Q0 d3 1 3 b\nq3 Q0 d2 1 3 b\nq4 Q0 d5 1 3 b\n")
    proc = run_cli("eval", "--run", str(base), str(good), "--qrels", str(qrels_path), "--metrics", "nDCG@10", "MRR@10",
                   "--compare", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    qrels = load_qrels(qrels_path)
    per = per_query_values(base, qrels, ["nDCG@10", "MRR@10"])
    assert set(per["MRR@10"]) == {"q1", "q2", "q3"} and per["MRR@10"]["q1"] == pytest.approx(0.5)
    table = {r["run"]: r["metrics"] for r in report["runs"]}
    for column in ("nDCG@10", "MRR@10"):  # q4 is judged, not in base: 0, as in trec_eval -c
        assert sum(per[column].values()) / 4 == pytest.approx(table[str(base)][column], abs=1e-4)
    tests = {t["measure"]: t for t in report["compare"]["tests"]}
    good_per = per_query_values(good, qrels, ["MRR@10"])["MRR@10"]
    expected = randomization_test(*paired(per["MRR@10"], good_per, sorted(qrels)))
    assert tests["MRR@10"]["p"] == pytest.approx(expected.p, abs=1e-4) and tests["MRR@10"]["exact"]
    assert tests["MRR@10"]["diff"] == pytest.approx(1.0 - table[str(base)]["MRR@10"], abs=1e-4)
    assert tests["MRR@10"]["p_holm"] == pytest.approx(holm([expected.p])[0], abs=1e-4)
    text = run_cli("eval", "--run", str(base), str(good), "--qrels", str(qrels_path), "--compare").stdout
    assert "paired randomization test" in text and str(good) in text.split("against", 1)[1]
    alone = run_cli("eval", "--run", str(base), "--qrels", str(qrels_path), "--compare")
    assert alone.returncode == 2 and "--compare needs two or more --run files" in alone.stderr
