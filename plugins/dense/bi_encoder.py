"""BiEncoderReranker: cosine (dot of normalised vectors) between query and passage embeddings."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from viewrank.types import Embedder, ScoringReranker


class BiEncoderReranker(ScoringReranker):
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        q = self.embedder.embed([query], role="query")
        p = self.embedder.embed(list(passages), role="passage")
        return p @ q[0]
