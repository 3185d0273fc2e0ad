"""Pure-Python IR metrics with trec_eval's conventions.

The CLI reports trec_eval's numbers (through Pyserini); these are for benchmarks and parity
gates that must not start a JVM. A test checks that they agree with trec_eval.
"""

from __future__ import annotations

import math
from typing import Mapping

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def _ranked(docs: Mapping[str, float]) -> list[str]:
    # trec_eval sorts by score descending, then by docid descending on ties.
    return [d for d, _ in sorted(docs.items(), key=lambda kv: (-kv[1], _neg(kv[0])))]


class _neg(str):
    def __lt__(self, other: str) -> bool:  # reverse string order for tie-breaking
        return str.__gt__(self, other)


def ndcg_at_k(run: Run, qrels: Qrels, k: int = 10) -> float:
    """Mean nDCG@k over the judged queries (a judged query missing from the run counts 0)."""
    scores = ndcg_per_query(run, qrels, k)
    return sum(scores.values()) / len(scores) if scores else 0.0


def ndcg_per_query(run: Run, qrels: Qrels, k: int = 10) -> dict[str, float]:
    """nDCG@k of each query with a relevant judgment (the queries :func:`ndcg_at_k` averages)."""
    scores = {}
    for qid, rels in qrels.items():
        if not any(r > 0 for r in rels.values()):
            continue
        ranked = _ranked(run.get(qid, {}))[:k]
        dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked) if rels.get(d, 0) > 0)
        ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
        idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
        scores[qid] = dcg / idcg if idcg else 0.0
    return scores


def recall_at_k(run: Run, qrels: Qrels, k: int = 100) -> float:
    scores = []
    for qid, rels in qrels.items():
        relevant = {d for d, r in rels.items() if r > 0}
        if not relevant:
            continue
        ranked = _ranked(run.get(qid, {}))[:k]
        scores.append(len(relevant.intersection(ranked)) / len(relevant))
    return sum(scores) / len(scores) if scores else 0.0


def mrr_at_k(run: Run, qrels: Qrels, k: int = 10) -> float:
    scores = []
    for qid, rels in qrels.items():
        if not any(r > 0 for r in rels.values()):
            continue
        rr = 0.0
        for i, d in enumerate(_ranked(run.get(qid, {}))[:k]):
            if rels.get(d, 0) > 0:
                rr = 1.0 / (i + 1)
                break
        scores.append(rr)
    return sum(scores) / len(scores) if scores else 0.0


def evaluate(run: Run, qrels: Qrels) -> dict[str, float]:
    return {"nDCG@10": ndcg_at_k(run, qrels, 10), "R@100": recall_at_k(run, qrels, 100), "MRR@10": mrr_at_k(run, qrels, 10)}
