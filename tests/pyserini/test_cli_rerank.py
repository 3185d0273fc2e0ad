"""viewrank index / rerank against real Pyserini (Lucene, trec_eval): behaviour and errors."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, write_beir
from viewrank.adapters.pyserini.evaluate import evaluate_run
from viewrank.adapters.pyserini.lucene import Bm25
from viewrank.adapters.pyserini.rerank import rerank_hits, rerank_to_file
from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError
from viewrank.manager import get_host
from viewrank.metrics import evaluate
from viewrank.runs import read_run


@pytest.mark.slow  # a JVM start and a Lucene search or index build: over 5 s on 2 shared cores
def test_bm25_rerank_run_and_table(tiny_dataset, tiny_index, tmp_path):
    proc = run_cli("rerank", "--index", str(tiny_index), "--dataset", str(tiny_dataset), "--reranker", "none",
                   "--hits", "5", "--output-dir", str(tmp_path / "runs"), check=True)
    assert "nDCG@10" in proc.stdout and "none" in proc.stdout
    summary = json.loads((tmp_path / "runs" / "summary.json").read_text())
    [row] = summary["runs"]
    run = read_run(row["run"])
    assert set(run) == {"q1", "q2", "q3", "q4"} and all(len(d) <= 5 for d in run.values())
    # each query's judged document is BM25's first hit on this toy set
    assert row["metrics"]["nDCG@10"] == pytest.approx(1.0)


@pytest.mark.slow  # a JVM start and a Lucene search or index build: over 5 s on 2 shared cores
def test_trec_eval_agrees_with_the_python_metrics(tiny_dataset, tiny_index, tmp_path):
    ds = BeirDataset(tiny_dataset)
    queries = ds.queries("test")
    hits = Bm25(tiny_index).search(queries, 6)
    # a deliberately bad reranker so the numbers are not all 1.0
    class Reverse:
        def rerank(self, query, candidates):
            from viewrank.types import RankedList
            return RankedList.from_scores(query.qid, candidates, [c.score * -1 for c in candidates])
    result = rerank_to_file(Reverse(), "reverse", queries, hits, ds.corpus, tmp_path / "rev.trec")
    ours = evaluate(read_run(result.run), ds.qrels("test"))
    theirs = evaluate_run(result.run, ds.qrels_path("test"))
    for key in ("nDCG@10", "R@100", "MRR@10"):
        assert theirs[key] == pytest.approx(ours[key], abs=1e-4), key
    assert theirs["nDCG@10"] < 0.99


@pytest.mark.slow  # starts a JVM in this process: over 5 s on 2 shared cores
def test_resume_finishes_an_interrupted_run(tiny_dataset, tiny_index, tmp_path):
    ds = BeirDataset(tiny_dataset)
    queries = ds.queries("test")
    hits = Bm25(tiny_index).search(queries, 6)
    none = get_host().reranker("none")
    full = rerank_to_file(none, "none", queries, hits, ds.corpus, tmp_path / "full.trec")

    class CrashOnThird:
        calls = 0
        def rerank(self, query, candidates):
            CrashOnThird.calls += 1
            if CrashOnThird.calls == 3:
                raise RuntimeError("simulated crash")
            return none.rerank(query, candidates)

    out = tmp_path / "resumed.trec"
    with pytest.raises(RuntimeError, match="simulated crash"):
        rerank_to_file(CrashOnThird(), "none", queries, hits, ds.corpus, out)
    assert not out.exists()  # never half-written

    class Counting:
        seen = []
        def rerank(self, query, candidates):
            Counting.seen.append(query.qid)
            return none.rerank(query, candidates)

    rerank_to_file(Counting(), "none", queries, hits, ds.corpus, out, resume=True)
    assert Counting.seen == ["q3", "q4"]  # finished queries are not redone
    assert out.read_text() == full.run.read_text().replace("viewrank-none", "viewrank-none")


@pytest.mark.slow  # several JVM starts: over 10 s
def test_cli_resume_flag(tiny_dataset, tiny_index, tmp_path):
    out = tmp_path / "r.trec"
    run_cli("rerank", "--index", str(tiny_index), "--dataset", str(tiny_dataset), "--output", str(out), check=True)
    proc = run_cli("rerank", "--index", str(tiny_index), "--dataset", str(tiny_dataset), "--output", str(out), "--resume")
    assert proc.returncode == 2 and "already complete" in proc.stderr


@pytest.mark.slow  # several JVM starts: over 10 s
def test_rerank_depth_keeps_the_tail_in_bm25_order(tiny_dataset, tiny_index, tmp_path):
    out = tmp_path / "r.trec"
    run_cli("rerank", "--index", str(tiny_index), "--dataset", str(tiny_dataset), "--reranker", "bi-encoder",
            "--hits", "6", "--rerank-depth", "2", "--output", str(out), check=True)
    bm25 = Bm25(tiny_index).search(BeirDataset(tiny_dataset).queries("test"), 6)
    run = read_run(out)
    for qid, hits in bm25.items():
        ranked = [d for d, _ in sorted(run[qid].items(), key=lambda kv: -kv[1])]
        assert set(ranked[:2]) == {d for d, _ in hits[:2]}
        assert ranked[2:] == [d for d, _ in hits[2:]]


HEART_CORPUS = [
    {"_id": "h1", "title": "Heart rate", "text": "Heart rate heart rhythm heart attack drills for football teams."},
    {"_id": "h2", "title": "Aspirin", "text": "Acetylsalicylic acid lowers the rate of myocardial infarction; heart."},
    {"_id": "h3", "title": "Cardiology", "text": "Heart surgery outcomes in a heart centre."},
    {"_id": "h4", "title": "Diet", "text": "A heart healthy diet and aspirin in older adults."},
]


@pytest.mark.slow  # several JVM starts: over 10 s
def test_fuse_endpoints_are_the_reranker_and_bm25(tmp_path):
    """fuse:0:SPEC orders like SPEC, fuse:1:SPEC like BM25, and fuse runs are evaluated like any run."""
    data = write_beir(tmp_path / "heart", corpus=HEART_CORPUS,
                      queries=[{"_id": "q1", "text": "does aspirin prevent a heart attack"}], qrels=[("q1", "h2")])
    run_cli("index", "--dataset", str(data), "--index", str(tmp_path / "idx"), check=True)
    specs = ["none", "bi-encoder", "fuse:0.0:bi-encoder", "fuse:1.0:bi-encoder", "fuse:0.4:bi-encoder"]
    args = [a for spec in specs for a in ("--reranker", spec)]
    proc = run_cli("rerank", "--index", str(tmp_path / "idx"), "--dataset", str(data), "--hits", "4", *args,
                   "--output-dir", str(tmp_path / "runs"), check=True)
    assert "fuse:0.4:bi-encoder" in proc.stdout
    rows = {r["reranker"]: r for r in json.loads((tmp_path / "runs" / "summary.json").read_text())["runs"]}
    assert set(rows) == set(specs) and all("nDCG@10" in r["metrics"] for r in rows.values())

    def order(spec):
        run = read_run(rows[spec]["run"])
        return {qid: [d for d, _ in sorted(docs.items(), key=lambda kv: -kv[1])] for qid, docs in run.items()}

    assert order("fuse:0.0:bi-encoder") == order("bi-encoder")
    assert order("fuse:1.0:bi-encoder") == order("none")
    assert order("bi-encoder") != order("none")  # otherwise the two checks above prove nothing


@pytest.mark.slow  # starts a JVM in this process: over 5 s on 2 shared cores
def test_rerank_hits_python_api(tiny_index):
    bm25 = Bm25(tiny_index)
    hits = bm25.searcher.search("aspirin heart attack", k=4)
    ranked = rerank_hits(bm25.searcher, "does aspirin prevent heart attack", hits, "bi-encoder")
    assert ranked.docids[0] == "d3" and len(ranked) == len(hits)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--index", "/nonexistent/idx"], "index /nonexistent/idx does not exist"),
        (["--reranker", "nope"], "unknown reranker 'nope'; available rerankers: "),
        (["--split", "dev"], "split 'dev' has no qrels file"),
        (["--hits", "0"], "--hits must be at least 1"),
        (["--reranker", "none", "--reranker", "bi-encoder"], "need --output-dir"),
    ],
)
def test_cli_errors_are_one_clear_line(args, message, tiny_dataset, tiny_index, tmp_path):
    base = {"--index": str(tiny_index), "--dataset": str(tiny_dataset), "--output": str(tmp_path / "r.trec")}
    for i in range(0, len(args), 2):
        base.pop(args[i], None)
    flat = [x for kv in base.items() for x in kv] + args
    proc = run_cli("rerank", *flat)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.trec").exists()


def test_unknown_reranker_lists_the_known_ones(tiny_dataset, tiny_index, tmp_path):
    proc = run_cli("rerank", "--index", str(tiny_index), "--dataset", str(tiny_dataset), "--reranker", "nope",
                   "--output", str(tmp_path / "r.trec"))
    assert "none" in proc.stderr and "bi-encoder:DIR" in proc.stderr


@pytest.mark.slow  # a JVM start and a Lucene search or index build: over 5 s on 2 shared cores
def test_malformed_corpus_and_empty_query(tmp_path):
    root = write_beir(tmp_path / "bad")
    text = (root / "corpus.jsonl").read_text().splitlines()
    text[1] = "{not json"
    (root / "corpus.jsonl").write_text("\n".join(text) + "\n")
    proc = run_cli("index", "--dataset", str(root), "--index", str(tmp_path / "idx"))
    assert proc.returncode == 2 and "corpus.jsonl:2: malformed JSON" in proc.stderr
    assert not (tmp_path / "idx").exists() and not list(tmp_path.glob(".viewrank-index-*"))
    assert not list(tmp_path.glob(".idx.*"))  # nor a staged index folder (viewrank.savedir.staged_save)
    root2 = write_beir(tmp_path / "emptyq", queries=[{"_id": "q1", "text": ""}], qrels=[("q1", "d1")])
    run_cli("index", "--dataset", str(root2), "--index", str(tmp_path / "idx2"), check=True)
    proc = run_cli("rerank", "--index", str(tmp_path / "idx2"), "--dataset", str(root2), "--output", str(tmp_path / "r"))
    assert proc.returncode == 2 and "queries.jsonl:1: query 'q1' has empty text" in proc.stderr


def test_unknown_dataset_layout(tmp_path):
    (tmp_path / "notbeir").mkdir()
    (tmp_path / "notbeir" / "docs.tsv").write_text("x")
    proc = run_cli("index", "--dataset", str(tmp_path / "notbeir"), "--index", str(tmp_path / "idx"))
    assert proc.returncode == 2 and "not a BEIR-layout dataset" in proc.stderr


def test_no_java_is_one_clear_message(tiny_dataset, tmp_path):
    proc = run_cli("index", "--dataset", str(tiny_dataset), "--index", str(tmp_path / "idx"),
                   env={"JAVA_HOME": "", "VIEWRANK_JVM_ROOT": str(tmp_path / "no-jvms")})
    assert proc.returncode == 2
    assert "Pyserini needs Java 21+ and none was found" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "idx").exists()


def test_existing_index_needs_force(tiny_dataset, tiny_index):
    proc = run_cli("index", "--dataset", str(tiny_dataset), "--index", str(tiny_index))
    assert proc.returncode == 2 and "--force" in proc.stderr


@pytest.mark.slow
def test_scifact_bm25_matches_pyserini_reference(scifact_dir, scifact_index, tmp_path):
    """BM25 over title + text with Pyserini's defaults: nDCG@10 within 0.005 of 0.679."""
    idx = scifact_index
    run_cli("rerank", "--index", str(idx), "--dataset", str(scifact_dir), "--output-dir", str(tmp_path / "runs"),
            check=True)
    summary = json.loads((tmp_path / "runs" / "summary.json").read_text())
    metrics = summary["runs"][0]["metrics"]
    assert summary["queries"] == 300
    assert abs(metrics["nDCG@10"] - 0.679) <= 0.005
    assert metrics["R@100"] == pytest.approx(0.9253, abs=0.005)


@pytest.mark.slow  # several JVM starts: over 10 s
def test_docs_pyserini_example_runs(tiny_index):
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" / "pyserini_rerank.py"), str(tiny_index),
                           "does aspirin prevent heart attack"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0].split()[:2] == ["1", "d3"]


def test_open_texts_takes_a_text_source_object_and_names_what_it_cannot_read():
    from viewrank.adapters.pyserini.rerank import open_texts
    from viewrank.datasets import Document

    class Texts:  # a user's own text source: the TextSource protocol, no base class
        name = "my texts"

        def lookup(self, docids):
            return {d: Document(d, "", f"text of {d}") for d in docids}

    src = Texts()
    assert open_texts(src) is src
    assert open_texts({"d1": "one"}).lookup(["d1"])["d1"].text == "one"
    with pytest.raises(ViewrankError, match="cannot read passage texts from a object"):
        open_texts(object())
