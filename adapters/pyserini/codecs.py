"""The ``float`` index codec: the corpus vectors as they are in a faiss ``IndexFlatIP``.

It is the default of ``viewrank encode`` and needs no quantiser, so the Pyserini adapter registers
it itself; ``int8`` and ``binary`` come from the ``binary`` plugin (see
:class:`viewrank.types.IndexCodec`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from viewrank.errors import ViewrankError

INDEX_FILE = "index"


class FloatQueries:
    """An inner-product index's query side: float queries as they are, nothing to rescore with."""

    rescore_store = None

    def project(self, queries: np.ndarray) -> np.ndarray:
        return np.asarray(queries, dtype=np.float32)

    def rescore(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        raise ViewrankError("a float index keeps no separate vectors to rescore with")


class FloatCodec:
    """``float``: faiss ``IndexFlatIP`` of the float32 vectors (exact inner product). No options."""

    name = "float"
    metric = "ip"
    options: dict[str, Any] = {}

    def write(self, vectors: np.ndarray, folder: Path, **options: Any) -> dict[str, Any]:
        import faiss

        if options:
            raise ViewrankError(f"the float codec has no option {', '.join(sorted(options))} (its options: none)")
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        faiss.write_index(index, str(Path(folder) / INDEX_FILE))
        return {}

    def open(self, folder: Path, meta: Mapping[str, Any]) -> FloatQueries:
        return FloatQueries()
