"""The gate's sample (relevant documents + BM25 distractors), the CPU record and the int8 weight formats."""

from __future__ import annotations

import json
import logging

import pytest

from viewrank.errors import ViewrankError
from viewrank.plugins.onnx_runtime.cpu import cpu_info, int8_family
from viewrank.exporters.parity import LexicalIndex, scifact_sample

from .conftest import SCIFACT, export, needs_scifact

DOCS = {
    "long": "vitamin d " + "unrelated filler words about other matters " * 20,
    "short": "vitamin d and bone density",
    "bone": "bone density in older adults",
    "none": "mitochondria make atp",
}


def test_bm25_ranks_by_matching_terms_and_length():
    idx = LexicalIndex(DOCS)
    top = idx.search("vitamin d bone", k=10)
    assert top[0] == "short"  # matches every query term
    assert "none" not in top  # shares no term with the query: never a lexical neighbour
    assert top.index("bone") < len(top) and set(top) == {"short", "long", "bone"}
    # same term frequency, the shorter document first (BM25's length normalisation)
    assert idx.search("vitamin", k=2) == ["short", "long"]
    assert idx.search("the of and", k=5) == []  # only function words: nothing matches


@needs_scifact
def test_scifact_sample_holds_relevant_docs_and_lexical_distractors():
    sample = scifact_sample(SCIFACT, n_queries=5, list_size=12, max_chars=10**6)  # whole abstracts
    again = scifact_sample(SCIFACT, n_queries=5, list_size=12, max_chars=10**6)
    assert sample == again  # fixed: no randomness
    idx = LexicalIndex({d: t for lst in sample.lists for d, t in lst})
    for (qid, text), lst in zip(sample.queries, sample.lists):
        ids = [d for d, _ in lst]
        assert len(ids) == len(set(ids)) == 12
        relevant = [d for d in ids if d in sample.qrels[qid]]
        assert relevant and ids[: len(relevant)] == relevant  # relevant first, then distractors
        distractors = ids[len(relevant):]
        # every distractor shares terms with the query: the list is hard, not random corpus documents
        assert set(distractors) <= set(idx.search(text, k=100))


@needs_scifact
def test_scifact_sample_rejects_bad_sizes():
    with pytest.raises(ViewrankError, match="n_queries"):
        scifact_sample(SCIFACT, n_queries=0)


def test_int8_family_follows_the_instruction_set():
    assert int8_family({"avx2", "avx512f", "avx512_vnni", "amx_int8"}) == "amx"
    assert int8_family({"avx2", "avx512f", "avx512_vnni"}) == "avx512-vnni"
    assert int8_family({"avx2", "avx_vnni"}) == "avx-vnni"
    assert int8_family({"avx2", "avx512f"}) == "avx512 (no VNNI)"
    assert int8_family({"avx2"}) == "avx2 (no VNNI)"
    assert int8_family(set()) == "other"
    info = cpu_info()
    assert info["cores"] >= 1 and info["int8_kernels"] == int8_family(set(info["flags"]))
    family, _, number = info["family"].partition("/")  # "25/17" where /proc/cpuinfo has them
    assert number and (family == number == "?" or (family.isdigit() and number.isdigit()))


def test_other_int8_kernels_than_the_gate_saw_are_reported(caplog):
    from viewrank.plugins.onnx_runtime.runtime import warn_other_int8_kernels

    here = cpu_info()["int8_kernels"]
    assert warn_other_int8_kernels({"parity_cpu": {"int8_kernels": here}}, "x") is None
    assert warn_other_int8_kernels({}, "x") is None  # exported without the gate: nothing to compare
    other = "amx" if here != "amx" else "avx2 (no VNNI)"
    with caplog.at_level(logging.WARNING, logger="viewrank.onnx"):
        msg = warn_other_int8_kernels({"parity_cpu": {"int8_kernels": other}}, "exports/m (int8)")
    assert msg and other in msg and here in msg and "exports/m (int8)" in caplog.text


@needs_scifact
def test_int8_weight_formats_are_recorded_and_checked(tiny_dense, tmp_path):
    out = export(f"dense:{tiny_dense}", tmp_path / "u8", int8=True, int8_weights="u8")
    cfg = json.loads((out / "viewrank_onnx.json").read_text())
    assert cfg["int8_weights"] == "u8" and cfg["parity"]["int8"]["passed"]
    assert cfg["parity_cpu"]["int8_kernels"] == cpu_info()["int8_kernels"]
    with pytest.raises(ViewrankError, match="'s4'.*s8, s8-7bit, u8"):
        export(f"dense:{tiny_dense}", tmp_path / "bad", int8=True, int8_weights="s4")
    assert not (tmp_path / "bad").exists()


class _ListScorer:
    """Scores each candidate list from a table (a stand-in for a variant's outputs in check())."""

    def __init__(self, sample, rank_relevant: str) -> None:
        self.sample, self.rank_relevant = sample, rank_relevant

    def score(self, query: str, texts: list[str]):
        import numpy as np

        qid = next(q for q, t in self.sample.queries if t == query)
        lst = self.sample.lists[[t for _, t in self.sample.queries].index(query)]
        rel = np.array([d in self.sample.qrels[qid] for d, _ in lst])
        base = -np.arange(len(texts), dtype=np.float32) / len(texts)  # list order, relevant first
        if self.rank_relevant == "middle":
            return np.where(rel, -0.5, base + 0.3 * (base > -0.5)).astype(np.float32)
        return base


@needs_scifact
def test_gate_fails_an_ndcg_loss_and_reports_a_gain():
    from viewrank.exporters.parity import check

    sample = scifact_sample(SCIFACT, n_queries=3, list_size=10)
    first, middle = _ListScorer(sample, "first"), _ListScorer(sample, "middle")
    ref_first = ([first.score(t, [x for _, x in lst]) for (_, t), lst in zip(sample.queries, sample.lists)],) * 2
    ref_middle = ([middle.score(t, [x for _, x in lst]) for (_, t), lst in zip(sample.queries, sample.lists)],) * 2
    loss = check(sample, "reranker", ref_first, middle, "int8", atol=10, ndcg_limit=0.005, tau_limit=-1)
    assert not loss.passed and any("drops by" in f for f in loss.failures)
    gain = check(sample, "reranker", ref_middle, first, "int8", atol=10, ndcg_limit=0.005, tau_limit=-1)
    assert gain.passed and gain.ndcg10_onnx > gain.ndcg10_torch
