"""Int8Quantizer: per-dimension calibration ranges learnt once from a corpus, stored as JSON.

The ranges come from the corpus (never from the batch being quantised), so a single query
quantises the same way as in a batch of thousands and never collapses to zeros. The scheme is
faiss's ``QT_8bit`` scalar quantiser (code ``c`` in 0..255 decodes to ``lo + (c + 0.5) / 255 *
(hi - lo)``), so a faiss ``IndexScalarQuantizer`` built by :meth:`faiss_index` scores exactly
like :meth:`dequantize`. Signed int8 values are ``c - 128``.

:class:`Int8Codec` is the ``int8`` index codec (``viewrank encode --codec int8``): such a faiss index
of the corpus, searched by inner product with float queries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object
from viewrank.runs import atomic_write_text

INT8_NAME = "viewrank_int8.json"
INT8_OFFSET = 128  # signed int8 value = code - 128


def int8_codes(x, lo, width, xp):
    """The int8 scheme, once: faiss QT_8bit codes ``floor((x - lo) / width * 255)`` clipped to 0..255,
    as floats. ``xp`` is the array module: ``numpy`` here (:meth:`Int8Quantizer.codes`), ``torch``
    in the exported graph (:mod:`viewrank.exporters.graphs`), which then emits ``codes - 128`` as int8."""
    return xp.clip(xp.floor((x - lo) / width * 255.0), 0.0, 255.0)


@dataclass
class Int8Quantizer:
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def calibrate(cls, vectors: np.ndarray, percentile: float = 0.0) -> "Int8Quantizer":
        """Ranges from corpus vectors: min/max, or the ``percentile`` / ``100 - percentile`` clip."""
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) < 2:
            raise ViewrankError(f"int8 calibration needs at least 2 vectors, got shape {x.shape}")
        if percentile > 0:
            lo, hi = np.percentile(x, percentile, axis=0), np.percentile(x, 100 - percentile, axis=0)
        else:
            lo, hi = x.min(0), x.max(0)
        hi = np.maximum(hi, lo + 1e-6)
        return cls(lo.astype(np.float32), hi.astype(np.float32))

    @property
    def dim(self) -> int:
        return int(self.lo.shape[0])

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.shape[1] != self.dim:
            raise ViewrankError(f"int8 quantiser calibrated for dim {self.dim}, got vectors of dim {x.shape[1]}")
        return x

    def codes(self, x: np.ndarray) -> np.ndarray:
        """uint8 codes 0..255 (faiss's layout)."""
        return int8_codes(self._check(x), self.lo, self.hi - self.lo, np).astype(np.uint8)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Signed int8 values (codes - 128)."""
        return (self.codes(x).astype(np.int16) - INT8_OFFSET).astype(np.int8)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        codes = np.asarray(q).astype(np.float32) + (128.0 if np.asarray(q).dtype == np.int8 else 0.0)
        return (self.lo + (codes + 0.5) / 255.0 * (self.hi - self.lo)).astype(np.float32)

    def faiss_index(self, metric: str = "ip"):
        """An empty, trained faiss ``IndexScalarQuantizer`` using exactly these ranges."""
        import faiss

        m = faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2
        index = faiss.IndexScalarQuantizer(self.dim, faiss.ScalarQuantizer.QT_8bit, m)
        faiss.copy_array_to_vector(np.concatenate([self.lo, self.hi - self.lo]).astype(np.float32), index.sq.trained)
        index.is_trained = True
        return index

    def save(self, directory: str | Path) -> Path:
        data = {"scheme": "faiss QT_8bit per-dimension min/max", "lo": self.lo.tolist(), "hi": self.hi.tolist()}
        return atomic_write_text(Path(directory) / INT8_NAME, json.dumps(data))

    @classmethod
    def load(cls, directory: str | Path) -> "Int8Quantizer":
        path = Path(directory) / INT8_NAME
        if not path.is_file():
            raise ViewrankError(f"{path} is missing: calibrate int8 ranges first (viewrank encode --codec int8 writes it)")
        data = read_json_object(path, what="int8 ranges")
        if not {"lo", "hi"} <= data.keys():
            raise ViewrankError(f"{path}: int8 ranges need 'lo' and 'hi' (calibrate again with viewrank encode --codec int8)")
        return cls(np.asarray(data["lo"], np.float32), np.asarray(data["hi"], np.float32))


INDEX_FILE = "index"  # the faiss file of a dense index folder (Pyserini's layout)


def codec_options(codec: str, given: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` updated with ``given``; an option the codec does not take is an error."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        takes = ", ".join(sorted(defaults)) or "none"
        raise ViewrankError(f"the {codec} codec has no option {', '.join(unknown)} (its options: {takes})")
    return {**defaults, **given}


class FloatQueries:
    """The reader of an inner-product codec: float queries are searched as they are, no rescoring."""

    rescore_store = None

    def project(self, queries: np.ndarray) -> np.ndarray:
        return np.asarray(queries, dtype=np.float32)

    def rescore(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        raise ViewrankError("this index keeps no vectors to rescore with")


class Int8Codec:
    """``int8``: per-dimension ranges calibrated on the corpus (``viewrank_int8.json``) and a faiss
    ``IndexScalarQuantizer`` QT_8bit with exactly those ranges (4x smaller than float32), searched
    by inner product with the float query. No options."""

    name = "int8"
    metric = "ip"
    options: dict[str, Any] = {}

    def write(self, vectors: np.ndarray, folder: Path, **options: Any) -> dict[str, Any]:
        import faiss

        codec_options(self.name, options, self.options)
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        quant = Int8Quantizer.calibrate(x)
        quant.save(folder)
        index = quant.faiss_index()
        index.add(x)
        faiss.write_index(index, str(Path(folder) / INDEX_FILE))
        return {}

    def open(self, folder: Path, meta: Mapping[str, Any]) -> FloatQueries:
        return FloatQueries()
