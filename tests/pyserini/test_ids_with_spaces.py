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
