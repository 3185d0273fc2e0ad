"""The held-out slice of TRAIN queries that picks checkpoints and merge weights (never test).

:func:`held_out_qids` draws ``k`` judged train queries with a seed; the trainer never trains on
them. :class:`HeldOut` scores an embedder on them by exact dense search over a small pool: their
judged documents, their mined hard negatives (when mined) and random corpus documents up to
``pool`` documents, so one validation costs seconds, not a corpus encoding.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.metrics import ndcg_at_k


def held_out_qids(qrels: Mapping[str, Mapping[str, int]], k: int, seed: int) -> list[str]:
    qids = sorted(q for q, rels in qrels.items() if any(r > 0 for r in rels.values()))
    if k <= 0:
        return []
    if k >= len(qids):
        raise ViewrankError(f"--val-queries {k}: the train split has only {len(qids)} judged queries; hold out fewer")
    return sorted(random.Random(seed).sample(qids, k))


@dataclass
class HeldOut:
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    doc_ids: list[str]
    doc_texts: list[str]

    @classmethod
    def build(cls, qids: Sequence[str], query_texts: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]],
              corpus: Mapping[str, Any], mined: Mapping[str, Sequence[str]] | None, pool: int, seed: int) -> "HeldOut":
        ids: dict[str, None] = {}
        for q in qids:
            for d, r in qrels[q].items():
                if r > 0 and d in corpus:
                    ids[d] = None
            for d in (mined or {}).get(q, [])[:20]:
                if d in corpus:
                    ids[d] = None
        rest = sorted(set(corpus) - set(ids))
        rng = random.Random(seed)
        for d in rng.sample(rest, max(0, min(len(rest), pool - len(ids)))):
            ids[d] = None
        doc_ids = list(ids)
        return cls({q: query_texts[q] for q in qids}, {q: dict(qrels[q]) for q in qids}, doc_ids,
                   [corpus[d].contents for d in doc_ids])

    def ndcg(self, embedder, k: int = 10) -> float:
        """nDCG@k of ``embedder`` (anything with ``embed(texts, role)``) on the slice."""
        qids = list(self.queries)
        qv = np.asarray(embedder.embed([self.queries[q] for q in qids], "query"), dtype=np.float32)
        dv = np.asarray(embedder.embed(self.doc_texts, "passage"), dtype=np.float32)
        scores = qv @ dv.T
        run = {}
        for i, q in enumerate(qids):
            top = np.argsort(-scores[i])[:k]
            run[q] = {self.doc_ids[j]: float(scores[i, j]) for j in top}
        return round(ndcg_at_k(run, self.qrels, k), 4)
