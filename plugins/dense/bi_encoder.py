"""BiEncoderReranker: cosine (dot of normalised vectors) between query and passage embeddings."""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

from viewrank.types import Embedder, PairScorer, pair_count


class BiEncoderReranker(PairScorer):
    """Scores passages by their embedding's dot product with the query's.

    Passage vectors do not depend on the query, so they are cached by text (LRU, up to
    ``cache_size`` passages): over a whole run each distinct passage is encoded once.
    """

    def __init__(self, embedder: Embedder, cache_size: int = 200_000) -> None:
        self.embedder = embedder
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def passage_vectors(self, passages: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(p for p in passages if p not in self._cache))
        if missing:
            for text, vec in zip(missing, self.embedder.embed(missing, role="passage")):
                self._cache[text] = vec
        for p in passages:
            self._cache.move_to_end(p)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return np.stack([self._cache[p] for p in passages])

    def score_pairs(self, queries: Sequence[str], passages: Sequence[str]) -> np.ndarray:
        if not pair_count(queries, passages):
            return np.zeros(0, dtype=np.float32)
        distinct = list(dict.fromkeys(queries))
        qvec = self.embedder.embed(distinct, role="query")
        row = {q: i for i, q in enumerate(distinct)}
        return np.einsum("nd,nd->n", self.passage_vectors(passages), qvec[[row[q] for q in queries]])
