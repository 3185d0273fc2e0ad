"""RRF hybrid search (score-ranker-processor, 2.19), by_field rerank (2.18) and on_disk k-NN
(2.17) on a real OpenSearch node: no mocks, the node's answers are checked against Python."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from viewrank.adapters.opensearch import client as C
from viewrank.adapters.opensearch import workflow
from viewrank.datasets import BeirDataset
from viewrank.runs import read_run

pytestmark = pytest.mark.opensearch

SCORES = {"d1": 0.2, "d2": 3.5, "d3": -1.0, "d4": 7.25, "d5": 1.5, "d6": 0.75}  # a stored "reranker score" per doc


def ranking(scored: dict[str, float]) -> list[str]:
    return sorted(scored, key=lambda d: (-scored[d], d))


def rrf(lists: list[list[str]], k: int) -> dict[str, float]:
    fused: dict[str, float] = {}
    for docs in lists:
        for rank, d in enumerate(docs, start=1):
            fused[d] = fused.get(d, 0.0) + 1.0 / (k + rank)
    return fused


def minmax(lists: list[dict[str, float]], weights=(0.3, 0.7)) -> dict[str, float]:
    fused: dict[str, float] = {}
    for w, scores in zip(weights, lists):
        lo, hi = min(scores.values()), max(scores.values())
        for d, s in scores.items():
            norm = (s - lo) / (hi - lo) if hi > lo else 1.0
            fused[d] = fused.get(d, 0.0) + w * norm
    return {d: s / sum(weights) for d, s in fused.items()}


@pytest.fixture(scope="module")
def fusion_setup(node, serve_url, tiny_dataset):
    """An index set up the way a user would: RRF hybrid (k=2) and a by_field pipeline on a score
    field that is written after ingest, through the same ingest pipeline."""
    st = workflow.setup(node.url, serve_url, "viewrank-test-fusion", replace=True, combination="rrf",
                        rank_constant=2, rerank_field="viewrank_score", keep_previous_score=True)
    assert workflow.ingest(st.index, str(tiny_dataset)).indexed == 6
    client = C.connect(node.url)
    body = []
    for d, s in SCORES.items():
        body += [{"update": {"_index": st.index, "_id": d}}, {"doc": {"viewrank_score": s}}]
    resp = client.bulk(body=body, refresh=True)
    assert not resp["errors"], resp
    return st


def test_setup_records_the_fusion_and_the_field(fusion_setup):
    st = workflow.Setup.load(fusion_setup.index)
    assert (st.combination, st.rank_constant, st.rerank_field) == ("rrf", 2, "viewrank_score")
    client = C.connect(st.url)
    pipe = client.transport.perform_request("GET", f"/_search/pipeline/{st.hybrid_pipeline}")[st.hybrid_pipeline]
    assert pipe["phase_results_processors"] == [
        {"score-ranker-processor": {"combination": {"technique": "rrf", "parameters": {"rank_constant": 2}}}}]


def test_rrf_hybrid_is_reciprocal_rank_fusion_and_differs_from_minmax(fusion_setup, tiny_setup, tiny_dataset):
    client = C.connect(fusion_setup.url)
    differ = 0
    for q in BeirDataset(tiny_dataset).queries("test"):
        bm25 = dict(C.search(client, fusion_setup.index, "bm25", q.text, 6))
        neural = dict(C.search(client, fusion_setup.index, "neural", q.text, 6, fusion_setup.embedding_model))
        got = C.search(client, fusion_setup.index, "hybrid", q.text, 6, fusion_setup.embedding_model,
                       fusion_setup.hybrid_pipeline)
        want = rrf([ranking(bm25), ranking(neural)], k=2)
        assert got, q.qid
        # every document gets exactly RRF's score, and the hits come back in that order
        for d, s in got:
            assert s == pytest.approx(want[d], abs=1e-5), (q.qid, d)
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        assert {d for d, _ in got} == set(want)
        # the min-max pipeline of the same query on the same documents (tiny_setup's index)
        mm = C.search(client, tiny_setup.index, "hybrid", q.text, 6, tiny_setup.embedding_model,
                      tiny_setup.hybrid_pipeline)
        assert max(s for _, s in got) <= 2 / (2 + 1) + 1e-6 < 1.0 - 1e-6 <= max(s for _, s in mm) + 1e-6
        py_mm = ranking(minmax([bm25, neural]))
        if py_mm != ranking(want):
            differ += 1
            assert [d for d, _ in mm] != [d for d, _ in got], q.qid
    assert differ >= 1  # the tiny set has a query where rank fusion and score fusion disagree


def test_rank_constant_changes_the_scores(fusion_setup, tiny_dataset):
    client = C.connect(fusion_setup.url)
    C.create_hybrid_pipeline(client, "viewrank-test-rrf60", combination="rrf")
    q = BeirDataset(tiny_dataset).queries("test")[0]
    hits = C.search(client, fusion_setup.index, "hybrid", q.text, 6, fusion_setup.embedding_model, "viewrank-test-rrf60")
    assert 0 < max(s for _, s in hits) <= 2 / 61 + 1e-6


def test_by_field_reranks_bm25_hits_by_the_stored_score(fusion_setup, tiny_dataset):
    client = C.connect(fusion_setup.url)
    for q in BeirDataset(tiny_dataset).queries("test"):
        bm25 = [d for d, _ in C.search(client, fusion_setup.index, "bm25", q.text, 6)]
        body = C.search_body("field", q.text, 6, rerank_field="viewrank_score")
        resp = client.search(index=fusion_setup.index, body=body, params={"search_pipeline": fusion_setup.field_pipeline})
        hits = resp["hits"]["hits"]
        assert [h["_id"] for h in hits] == sorted(bm25, key=lambda d: -SCORES[d])
        assert [h["_score"] for h in hits] == pytest.approx([SCORES[h["_id"]] for h in hits])
        # keep_previous_score: the BM25 score is kept beside the new one; the field stays
        assert all("previous_score" in h["_source"] and "viewrank_score" in h["_source"] for h in hits)


def test_by_field_remove_target_field(fusion_setup, tiny_dataset):
    client = C.connect(fusion_setup.url)
    C.create_by_field_pipeline(client, "viewrank-test-byfield-rm", "viewrank_score", remove_target_field=True)
    q = BeirDataset(tiny_dataset).queries("test")[0]
    resp = client.search(index=fusion_setup.index, body=C.search_body("field", q.text, 6, rerank_field="viewrank_score"),
                         params={"search_pipeline": "viewrank-test-byfield-rm"})
    hits = resp["hits"]["hits"]
    assert hits and all("viewrank_score" not in h["_source"] and "previous_score" not in h["_source"] for h in hits)
    assert [h["_score"] for h in hits] == sorted((h["_score"] for h in hits), reverse=True)


def test_cli_field_and_rrf_runs(fusion_setup, tiny_dataset, tmp_path):
    for mode in ("field", "hybrid"):
        out = tmp_path / f"{mode}.trec"
        proc = run_cli("opensearch", "search", "--dataset", str(tiny_dataset), "--index", fusion_setup.index,
                       "--mode", mode, "--hits", "6", "--output", str(out), check=True)
        assert proc.stdout.startswith(mode) and "nDCG@10" in proc.stdout
        run = read_run(out)
        assert set(run) == {"q1", "q2", "q3", "q4"}
        if mode == "field":
            for docs in run.values():
                assert list(docs) == sorted(docs, key=lambda d: -SCORES[d])


def test_field_mode_without_a_field_pipeline_is_a_clear_error(tiny_setup, tiny_dataset, tmp_path):
    proc = run_cli("opensearch", "search", "--dataset", str(tiny_dataset), "--index", tiny_setup.index,
                   "--mode", "field", "--output", str(tmp_path / "f.trec"))
    assert proc.returncode == 2 and "--rerank-field FIELD" in proc.stderr and not (tmp_path / "f.trec").exists()


@pytest.mark.parametrize("args, message", [
    (["--combination", "minmax", "--rank-constant", "5"], "--rank-constant is a parameter of --combination rrf"),
    (["--combination", "rrf", "--rank-constant", "0"], "--rank-constant 0: an integer from 1 to 10000"),
    (["--keep-previous-score"], "are options of --rerank-field FIELD"),
    (["--vector-mode", "on_disk", "--compression", "32x"], "needs the faiss engine"),
    (["--vector-mode", "in_memory", "--compression", "4x"], "--compression 4x with --vector-mode in_memory"),
])
def test_bad_setup_options_name_the_flag_before_the_node_is_touched(node, args, message):
    proc = run_cli("opensearch", "setup", "--url", node.url, "--serve-url", "http://127.0.0.1:1", "--index",
                   "viewrank-test-never", *args)
    assert proc.returncode == 2 and message in proc.stderr
    assert not C.connect(node.url).indices.exists(index="viewrank-test-never")


def test_on_disk_index_rescores_with_full_vectors(node, serve_url, models, tiny_setup, tiny_dataset):
    """k-NN's on_disk mode (Lucene, 4x: what this node's engine takes) with and without rescoring:
    the same top documents as the in-memory float index."""
    st = workflow.setup(node.url, serve_url, "viewrank-test-ondisk", replace=True, vector_mode="on_disk",
                        compression="4x")
    assert workflow.ingest(st.index, str(tiny_dataset)).indexed == 6
    client = C.connect(node.url)
    vec = client.indices.get_mapping(index=st.index)[st.index]["mappings"]["properties"]["vec"]
    assert (vec["mode"], vec["compression_level"], vec["method"]["engine"]) == ("on_disk", "4x", "lucene")
    embedder, _ = models
    for q in BeirDataset(tiny_dataset).queries("test"):
        ref = C.search(client, tiny_setup.index, "neural", q.text, 6, tiny_setup.embedding_model)
        neural = C.search(client, st.index, "neural", q.text, 6, st.embedding_model)  # the field's default: rescored
        assert [d for d, _ in neural][:2] == [d for d, _ in ref][:2], q.qid
        qv = embedder.embed([q.text], role="query")[0]
        exact = C.knn_search(client, tiny_setup.index, qv, 6)
        for rescore in (True, False, 2.0):
            got = C.knn_search(client, st.index, qv, 6, rescore=rescore)
            assert [d for d, _ in got][:2] == [d for d, _ in exact][:2], (q.qid, rescore)
        rescored = C.knn_search(client, st.index, qv, 6, rescore=True)
        # Lucene's 4x (int7 scalar quantisation) scores: within 0.01 of the float index's (measured up to 0.005)
        assert [s for _, s in rescored] == pytest.approx([s for _, s in exact], abs=0.01)
