"""Ids with spaces survive trec_eval: runs and the qrels viewrank writes for it use one encoding."""

from __future__ import annotations

import pytest

from viewrank.runs import RunWriter
from viewrank.types import Candidate, RankedList

pytestmark = pytest.mark.slow


def test_trec_eval_matches_ids_with_spaces(tmp_path):
    from viewrank.adapters.pyserini.evaluate import evaluate_run
    from viewrank.datasets import load_qrels, write_qrels_trec

    qrels = {"what is x": {"doc one": 1}, "q2": {"doc two": 1}}
    with RunWriter(tmp_path / "run.trec") as w:
        w.write(RankedList.from_scores("what is x", [Candidate("doc one", ""), Candidate("doc 1", "")], [2.0, 1.0]))
        w.write(RankedList.from_scores("q2", [Candidate("doc 2", ""), Candidate("doc two", "")], [2.0, 1.0]))
    m = evaluate_run(tmp_path / "run.trec", qrels)
    assert m["MRR@10"] == pytest.approx(0.75)  # first query: rank 1; second: rank 2
    assert m["R@100"] == pytest.approx(1.0)
    # the TREC qrels written for trec_eval read back to the same ids
    assert load_qrels(write_qrels_trec(qrels, tmp_path / "qrels.txt")) == qrels


SPACED_CORPUS = [
    {"_id": "doc one", "title": "Vitamin D", "text": "Vitamin D deficiency is linked to bone fractures in older adults."},
    {"_id": "d 2", "title": "Sleep", "text": "Short sleep duration raises the risk of obesity in children."},
    {"_id": "aspirin  (2019)", "title": "Aspirin", "text": "Daily aspirin lowers the risk of heart attack but raises bleeding risk."},
    {"_id": "d4", "title": "Coffee", "text": "Coffee consumption is not associated with higher mortality."},
]
SPACED_QUERIES = [
    {"_id": "what about vitamin d", "text": "vitamin D and bone fractures"},
    {"_id": "q 2", "text": "does aspirin prevent heart attack"},
    {"_id": "q3", "text": "sleep and obesity in children"},
]
SPACED_QRELS = [("what about vitamin d", "doc one"), ("q 2", "aspirin  (2019)"), ("q3", "d 2")]


def test_ids_with_spaces_through_pyserini_index_run_rerank_and_eval(tmp_path):
    """The documented path (docs/pyserini.md, 'Ids with spaces'): Pyserini's index and MS MARCO
    run keep the ids whole, viewrank reranks and evaluates with every id intact; Pyserini's TREC
    run of the same corpus splits them, and viewrank refuses it with the reason."""
    from tests.conftest import run_cli, write_beir
    from tests.pyserini.workflow import docs_block, failure, java_env, run_bash, trec_eval_values
    from viewrank.runs import parse_run

    data = write_beir(tmp_path / "spaced", corpus=SPACED_CORPUS, queries=SPACED_QUERIES, qrels=SPACED_QRELS)
    work = tmp_path / "work"
    pyserini_eval = "python -m pyserini.eval.trec_eval -c -m ndcg_cut.10 $WORK/qrels.test.trec $WORK/bi-encoder.trec\n"
    proc = run_bash(docs_block("setup") + docs_block("spaced") + pyserini_eval, {"DATA": str(data), "WORK": str(work)})
    assert proc.returncode == 0, failure(proc)

    docids = {d["_id"] for d in SPACED_CORPUS}
    assert {line.split("\t")[1] for line in (work / "bm25.tsv").read_text().splitlines()} <= docids  # Pyserini kept them
    reranked = parse_run(work / "bi-encoder.trec")
    assert set(reranked.lists) == {q["_id"] for q in SPACED_QUERIES}
    assert {d for docs in reranked.lists.values() for d, _ in docs} <= docids
    assert {qid: docs[0][0] for qid, docs in reranked.lists.items()} == dict(SPACED_QRELS)
    assert all(len(line.split()) == 6 for line in (work / "bi-encoder.trec").read_text().splitlines())
    # viewrank eval's table and Pyserini's trec_eval on viewrank's run: every judged document found
    table = [line.split() for line in proc.stdout.splitlines() if line.startswith(str(work / "bi-encoder.trec"))]
    assert [float(v) for v in table[0][1:4]] == [1.0, 1.0, 1.0]
    assert trec_eval_values(proc.stdout, "ndcg_cut_10") == [1.0]

    # viewrank's own BM25 keeps the ids too, in the order of Pyserini's MS MARCO run
    own = tmp_path / "own.trec"
    run_cli("rerank", "--index", str(work / "index"), "--topics", str(work / "topics.test.tsv"), "--reranker", "none",
            "--output", str(own), "--no-eval", check=True, env=java_env())
    msmarco = parse_run(work / "bm25.tsv").lists
    assert {q: [d for d, _ in docs] for q, docs in parse_run(own).lists.items()} == \
        {q: [d for d, _ in docs] for q, docs in msmarco.items()}

    # Pyserini's TREC writer splits such ids: viewrank says so instead of guessing
    proc = run_bash("python -m pyserini.search.lucene --index $WORK/index --topics $WORK/topics.test.tsv "
                    "--output $WORK/bm25.trec --bm25 --hits 10", {"WORK": str(work)})
    assert proc.returncode == 0, failure(proc)
    proc = run_cli("rerank", "--index", str(work / "index"), "--run", str(work / "bm25.trec"), "--topics",
                   str(work / "topics.test.tsv"), "--output", str(tmp_path / "x.trec"), env=java_env())
    assert proc.returncode == 2 and "bm25.trec:1: expected 6 columns" in proc.stderr
    assert "a run whose ids contain spaces cannot be split into columns" in proc.stderr
    assert "--output-format msmarco" in proc.stderr and not (tmp_path / "x.trec").exists()
