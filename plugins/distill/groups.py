"""Training groups for distillation: a query, its relevant passage first, then hard negatives."""

from __future__ import annotations

import random
from pathlib import Path

from viewrank.datasets import BeirDataset
from viewrank.plugins.dense.data import triples_examples
from viewrank.plugins.distill.train import Group
from viewrank.types import Retriever


def beir_groups(dataset_dir: str | Path, split: str = "train", candidates: int = 4, limit: int | None = None,
                retriever: Retriever | None = None, seed: int = 0) -> list[Group]:
    """One group per judged query: ``[relevant, negatives...]``; hard negatives from ``retriever``
    (``host.retriever("bm25:INDEX")``) when given, else random passages."""
    ds = BeirDataset(dataset_dir)
    qrels = ds.qrels(split)
    queries = ds.queries(split)[:limit] if limit else ds.queries(split)
    corpus = ds.corpus
    ids = list(corpus)
    rng = random.Random(seed)
    hits = {}
    if retriever is not None:
        hits = retriever.search(queries, candidates + 5)
    groups = []
    for q in queries:
        rel = [d for d, r in qrels[q.qid].items() if r > 0 and d in corpus]
        if not rel:
            continue
        negs = [d for d, _ in hits.get(q.qid, []) if d not in qrels[q.qid]]
        while len(negs) < candidates - 1:
            d = rng.choice(ids)
            if d not in qrels[q.qid] and d not in negs:
                negs.append(d)
        groups.append((q.text, [corpus[d].contents for d in [rel[0], *negs[: candidates - 1]]]))
    return groups


def triple_groups(path: str | Path, limit: int | None = None) -> list[Group]:
    return [(q, [p, n]) for q, p, n in triples_examples(path, limit)]
