"""``viewrank limit`` through the real CLI: errors exit 2, ids with spaces survive BM25 index + rerank,
``limit free`` writes its report and plot."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli
from viewrank.datasets import BeirDataset, load_qrels
from viewrank.metrics import recall_at_k
from viewrank.runs import read_run


@pytest.mark.parametrize("args,message", [
    (["--docs", "3", "--k", "5", "--queries", "1"], "--k 5 is larger than --docs 3"),
    (["--docs", "5", "--k", "2", "--queries", "11"], "--queries 11 is more than the C(5, 2) = 10 distinct"),
    (["--docs", "5", "--k", "2"], "give --queries (or --preset large|small)"),
    (["--preset", "small", "--queries", "1036"], "--queries 1036 is more than the C(46, 2) = 1,035"),
])
def test_make_bad_sizes_exit_2_naming_the_flag(tmp_path, args, message):
    proc = run_cli("limit", "make", *args, "--output", str(tmp_path / "x"))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_make_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "limit"
    run_cli("limit", "make", "--docs", "6", "--k", "2", "--queries", "5", "--output", str(out), check=True)
    proc = run_cli("limit", "make", "--docs", "6", "--k", "2", "--queries", "6", "--output", str(out))
    assert proc.returncode == 2 and "--force" in proc.stderr
    run_cli("limit", "make", "--docs", "6", "--k", "2", "--queries", "6", "--output", str(out), "--force", check=True)
    assert len(load_qrels(out / "qrels" / "test.tsv")) == 6


@pytest.mark.parametrize("args,message", [
    (["--dims", "4,x"], "--dims: 'x' is not a positive integer"),
    (["--dims", "4", "--k", "0"], "--k 0 is out of range"),
    (["--dims", "4", "--max-n", "2"], "--max-n 2 must be larger than --k 2"),
])
def test_free_bad_input_exits_2(args, message):
    proc = run_cli("limit", "free", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_free_prints_critical_n_writes_report_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    report, png = tmp_path / "free.json", tmp_path / "free.png"
    proc = run_cli("limit", "free", "--dims", "2,3,4", "--time-budget", "20", "--patience", "100",
                   "--threads", "1", "--output", str(report), "--plot", str(png), check=True)
    assert "critical n" in proc.stdout and "fit: critical n(d) =" in proc.stdout and "monotone in d: yes" in proc.stdout
    data = json.loads(report.read_text())
    assert [r["d"] for r in data["results"]] == [2, 3, 4] and data["monotone"] and data["threads"] == 1
    assert data["results"][0]["critical_n"] == 3 and data["fit"]["degree"] == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_ids_with_spaces_survive_bm25_index_and_rerank(tmp_path):
    data = tmp_path / "limit"
    run_cli("limit", "make", "--docs", "9", "--k", "2", "--queries", "10", "--seed", "3", "--output", str(data),
            check=True)
    corpus_ids = set(BeirDataset(data).corpus)
    assert all(" " in docid for docid in corpus_ids)
    run_cli("index", "--dataset", str(data), "--index", str(tmp_path / "index"), check=True)
    proc = run_cli("rerank", "--index", str(tmp_path / "index"), "--dataset", str(data), "--reranker", "none",
                   "--output", str(tmp_path / "bm25.trec"), check=True)
    raw = (tmp_path / "bm25.trec").read_text()
    assert "%20" in raw and all(len(line.split()) == 6 for line in raw.splitlines())
    run = read_run(tmp_path / "bm25.trec")
    assert {d for docs in run.values() for d in docs} <= corpus_ids  # every id decodes back to a corpus id
    qrels = load_qrels(data / "qrels" / "test.tsv")
    assert set(run) == set(qrels)
    assert recall_at_k(run, qrels, 2) == 1.0  # BM25 solves LIMIT: the attribute word names exactly its k people
    assert "1.0000" in proc.stdout  # trec_eval matched the percent-encoded ids against the qrels


@pytest.mark.slow
def test_no_two_vocabulary_words_share_a_lucene_stem():
    code = (
        "from viewrank.adapters.pyserini.java import ensure_java; ensure_java()\n"
        "from pyserini.analysis import Analyzer, get_lucene_analyzer\n"
        "from viewrank.plugins.limit.vocab import ATTRIBUTES, FIRST_NAMES, LAST_NAMES\n"
        "a = Analyzer(get_lucene_analyzer()); seen = {}\n"
        "for w in (*ATTRIBUTES, *FIRST_NAMES, *LAST_NAMES):\n"
        "    toks = a.analyze(w); assert len(toks) == 1, (w, toks)\n"
        "    assert toks[0] not in seen and toks[0] not in ('who', 'like'), (w, seen.get(toks[0]))\n"
        "    seen[toks[0]] = w\n"
        "print('ok', len(seen))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0 and proc.stdout.startswith("ok"), proc.stdout + proc.stderr[-2000:]
