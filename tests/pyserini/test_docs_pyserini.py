"""The workflow of docs/pyserini.md, run as written: Pyserini's indexer and BM25 searcher, viewrank
rerank of Pyserini's run, Pyserini's trec_eval and viewrank eval; then what it promises."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli
from tests.pyserini.workflow import docs_block, failure, java_env, run_bash, trec_eval_values
from viewrank.runs import parse_run

pytestmark = pytest.mark.slow  # Pyserini's CLIs each start a JVM: about a minute in all


@pytest.fixture(scope="module")
def workflow(tiny_dataset, tmp_path_factory):
    work = tmp_path_factory.mktemp("docs-workflow") / "work"
    proc = run_bash(docs_block("setup") + docs_block("trec"), {"DATA": str(tiny_dataset), "WORK": str(work)})
    assert proc.returncode == 0, failure(proc)
    return work, proc


def test_the_documented_workflow_runs(workflow):
    work, proc = workflow
    for name in ("collection/docs.jsonl", "topics.test.tsv", "qrels.test.trec", "bm25.trec", "none.trec", "bi-encoder.trec"):
        assert (work / name).is_file(), name
    assert "(s/query = rerank only, first stage from" in proc.stdout and "no qrels: not evaluated" in proc.stdout


def test_none_over_pyserini_bm25_equals_viewrank_bm25(workflow, tmp_path):
    work, _ = workflow
    pyserini_bm25 = parse_run(work / "bm25.trec").lists
    assert parse_run(work / "none.trec").lists == pyserini_bm25  # the run's own order and scores
    own = tmp_path / "own.trec"  # viewrank's BM25 path, the same index and BM25 settings
    run_cli("rerank", "--index", str(work / "index"), "--topics", str(work / "topics.test.tsv"), "--reranker", "none",
            "--hits", "100", "--output", str(own), "--no-eval", check=True, env=java_env())
    assert parse_run(own).lists == pyserini_bm25


def test_pyserini_trec_eval_and_viewrank_eval_agree(workflow):
    _, proc = workflow
    ndcg = trec_eval_values(proc.stdout, "ndcg_cut_10")
    recall = trec_eval_values(proc.stdout, "recall_100")
    assert len(ndcg) == len(recall) == 3  # bm25, none, bi-encoder
    assert ndcg[0] == ndcg[1]  # 'none' is BM25
    rows = [line.split() for line in proc.stdout.splitlines() if line.split()[:1] and line.split()[0].endswith(".trec")
            and len(line.split()) == 5]
    assert [r[0].rsplit("/", 1)[1] for r in rows] == ["bm25.trec", "none.trec", "bi-encoder.trec"]
    assert [float(r[1]) for r in rows] == pytest.approx(ndcg, abs=1e-4)
    assert [float(r[2]) for r in rows] == pytest.approx(recall, abs=1e-4)


def test_texts_from_index_collection_and_beir_folder_are_the_same(workflow, tiny_dataset):
    from viewrank.adapters.pyserini.rerank import rerank_run
    from viewrank.types import RankedList

    work, _ = workflow

    class Record:
        def __init__(self):
            self.seen = []

        def rerank(self, query, candidates):
            self.seen += [(query.qid, c.docid, c.contents, c.score) for c in candidates]
            return RankedList.from_scores(query.qid, candidates, [c.score for c in candidates])

    seen = []
    for texts in (work / "index", work / "collection" / "docs.jsonl", tiny_dataset):
        recorder = Record()
        rerank_run(work / "bm25.trec", recorder, texts, work / "topics.test.tsv")
        seen.append(recorder.seen)
    assert seen[0] and seen[0] == seen[1] == seen[2]


def test_the_rerank_run_example(workflow, tmp_path):
    work, _ = workflow
    out = tmp_path / "example.trec"
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" / "pyserini_rerank_run.py"), str(work / "index"),
                           str(work / "bm25.trec"), str(work / "topics.test.tsv"), str(out)],
                          capture_output=True, text=True, timeout=600, env={**__import__("os").environ, **java_env()})
    assert proc.returncode == 0, proc.stderr[-3000:]
    cli = parse_run(work / "bi-encoder.trec").lists
    api = parse_run(out).lists
    assert {q: [d for d, _ in docs] for q, docs in api.items()} == {q: [d for d, _ in docs] for q, docs in cli.items()}
    first = next(iter(api))
    assert proc.stdout.split()[:2] == [first, api[first][0][0]]
