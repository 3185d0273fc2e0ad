"""BinaryQuantizer: one bit per dimension after an optional centring and rotation.

``bits = (x - shift) @ R > 0`` with
- ``shift``: zeros (sign binarisation) or the per-dimension corpus medians ("median": every bit is
  1 for half the corpus, so no bit is wasted);
- ``R``: identity, an ITQ rotation (Gong & Lazebnik: an orthogonal rotation minimising the
  quantisation error, learnt on the corpus) or a projection trained with a straight-through
  estimator (:mod:`viewrank.plugins.binary.ste`).
Bits are packed 8 per byte (``np.packbits``), the layout of faiss binary indexes: 384 float32
dimensions (1,536 bytes) become 48 bytes, 32x smaller.

:class:`BinaryCodec` is the ``binary`` index codec (``viewrank encode --codec binary``): the codes in
a faiss binary index, searched by Hamming distance, candidates optionally rescored with vectors
stored beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.plugins.binary.int8 import INDEX_FILE, Int8Quantizer, codec_options

BINARY_NAME = "viewrank_binary.npz"
THRESHOLDS = ("zero", "median", "itq")
RESCORE_NAME = "rescore.npy"
RESCORE = ("float", "int8", "none")
BIT_WEIGHTS = (128, 64, 32, 16, 8, 4, 2, 1)  # np.packbits' (and faiss's) order: the first bit is the highest


# The binary scheme, once, for numpy arrays (BinaryQuantizer) and torch tensors (the exported
# graph, viewrank.exporters.graphs): bits = (x - shift) @ R > 0, packed 8 per byte.
def binary_projection(x, shift, rotation):
    """``(x - shift) @ rotation`` (no rotation: ``x - shift``); the sign of each value is a bit."""
    z = x - shift
    return z @ rotation if rotation is not None else z


def pack_bits(bits, weights):
    """0/1 bits ``(n, nbits)`` -> bytes ``(n, nbits / 8)``, first bit highest; ``weights``:
    :data:`BIT_WEIGHTS` as an array of the same library. Same values as ``np.packbits(bits, axis=1)``."""
    return (bits.reshape(bits.shape[0], -1, 8) * weights).sum(-1)


@dataclass
class BinaryQuantizer:
    shift: np.ndarray
    rotation: np.ndarray | None = None
    method: str = "zero"

    @classmethod
    def calibrate(cls, vectors: np.ndarray, method: str = "median", itq_iters: int = 50, seed: int = 0) -> "BinaryQuantizer":
        x = np.asarray(vectors, dtype=np.float32)
        if method not in THRESHOLDS:
            raise ViewrankError(f"unknown binary threshold {method!r}; choose one of {', '.join(THRESHOLDS)}")
        d = x.shape[1]
        if method == "zero":
            return cls(np.zeros(d, np.float32), None, "zero")
        if method == "median":
            return cls(np.median(x, axis=0).astype(np.float32), None, "median")
        mean = x.mean(0).astype(np.float32)
        return cls(mean, itq_rotation(x - mean, itq_iters, seed), "itq")

    @property
    def dim(self) -> int:
        """Input dimension."""
        return int(self.shift.shape[0])

    @property
    def nbits(self) -> int:
        return int(self.rotation.shape[1]) if self.rotation is not None else self.dim

    def project(self, x: np.ndarray) -> np.ndarray:
        """Real-valued pre-binarisation values; their sign is the code."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.shape[1] != self.dim:
            raise ViewrankError(f"binary quantiser calibrated for dim {self.dim}, got vectors of dim {x.shape[1]}")
        return binary_projection(x, self.shift, self.rotation)

    def bits(self, x: np.ndarray) -> np.ndarray:
        return (self.project(x) > 0).astype(np.uint8)

    def pack(self, x: np.ndarray) -> np.ndarray:
        """Packed codes ``(n, nbits / 8)`` uint8, the input of a faiss binary index."""
        if self.nbits % 8:
            raise ViewrankError(f"binary codes need a multiple of 8 bits, got {self.nbits}")
        return pack_bits(self.bits(x), np.asarray(BIT_WEIGHTS, dtype=np.int32)).astype(np.uint8)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / BINARY_NAME
        tmp = path.with_name(f".{path.name}.tmp.npz")
        arrays = {"shift": self.shift, "method": np.array(self.method)}
        if self.rotation is not None:
            arrays["rotation"] = self.rotation
        np.savez(tmp, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "BinaryQuantizer":
        path = Path(directory) / BINARY_NAME
        if not path.is_file():
            raise ViewrankError(f"{path} is missing: calibrate binary thresholds first (viewrank encode --codec binary writes it)")
        data = np.load(path)
        rot = data["rotation"] if "rotation" in data.files else None
        return cls(data["shift"].astype(np.float32), None if rot is None else rot.astype(np.float32), str(data["method"]))


def itq_rotation(z: np.ndarray, iters: int = 50, seed: int = 0) -> np.ndarray:
    """Iterative quantisation: alternate B = sign(Z R) and the orthogonal Procrustes R."""
    rng = np.random.default_rng(seed)
    d = z.shape[1]
    r, _ = np.linalg.qr(rng.standard_normal((d, d)))
    r = r.astype(np.float32)
    for _ in range(iters):
        b = np.sign(z @ r)
        b[b == 0] = 1
        u, _, vt = np.linalg.svd(z.T @ b)
        r = (u @ vt).astype(np.float32)
    return r


def hamming_scores(q_codes: np.ndarray, d_codes: np.ndarray) -> np.ndarray:
    """Negative Hamming distances (higher is better) between packed codes, ``(nq, nd)``."""
    table = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1).astype(np.int32)
    out = np.empty((len(q_codes), len(d_codes)), dtype=np.int32)
    for i, q in enumerate(q_codes):
        out[i] = -table[np.bitwise_xor(d_codes, q)].sum(1)
    return out


class BinaryCodec:
    """``binary``: one bit per dimension (:class:`BinaryQuantizer`, saved as ``viewrank_binary.npz``)
    in a faiss binary index, searched by Hamming distance from the query's code.

    Options (:meth:`write`): ``binary_method`` (``itq``, the default; ``median``, ``zero``, or
    ``ste``: a projection trained label-free, corpus vectors as pseudo-queries), ``binary`` (an
    already fitted :class:`BinaryQuantizer`, which wins over ``binary_method``), ``rescore``
    (``float``, the default: the float32 vectors in ``rescore.npy``; ``int8``: int8 codes there plus
    their ranges; ``none``) and ``idmap`` (True: ``IndexBinaryIDMap``, the 8-byte ids Pyserini's
    asymmetric rescoring needs; False: a plain ``IndexBinaryFlat``, codes only, 32x smaller than float).
    """

    name = "binary"
    metric = "hamming"
    options = {"binary_method": "itq", "binary": None, "rescore": "float", "idmap": True}

    def write(self, vectors: np.ndarray, folder: Path, **options: Any) -> dict[str, Any]:
        import faiss

        opts = codec_options(self.name, options, self.options)
        rescore, quant, folder = opts["rescore"], opts["binary"], Path(folder)
        if rescore not in RESCORE:
            raise ViewrankError(f"unknown rescore store {rescore!r}; choose one of {', '.join(RESCORE)}")
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if quant is None and opts["binary_method"] == "ste":
            from viewrank.plugins.binary.ste import train_ste_codes

            sample = x[np.random.default_rng(0).permutation(len(x))[:2000]]
            quant = train_ste_codes(sample, sample, [(i, i) for i in range(len(sample))], x, contrastive_weight=0.0)
        quant = quant or BinaryQuantizer.calibrate(x, opts["binary_method"])
        quant.save(folder)
        codes = quant.pack(x)
        if opts["idmap"]:
            index = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(quant.nbits))
            index.add_with_ids(codes, np.arange(len(x), dtype=np.int64))
        else:
            index = faiss.IndexBinaryFlat(quant.nbits)
            index.add(codes)
        faiss.write_index_binary(index, str(folder / INDEX_FILE))
        meta: dict[str, Any] = {"nbits": quant.nbits, "binary_method": quant.method, "rescore": rescore,
                                "idmap": bool(opts["idmap"])}
        if rescore == "float":
            np.save(folder / RESCORE_NAME, x)
        elif rescore == "int8":
            q8 = Int8Quantizer.calibrate(x)
            q8.save(folder)
            np.save(folder / RESCORE_NAME, q8.quantize(x))
        if (folder / RESCORE_NAME).exists():
            meta["rescore_bytes"] = (folder / RESCORE_NAME).stat().st_size
        return meta

    def open(self, folder: Path, meta: Mapping[str, Any]) -> "BinaryReader":
        return BinaryReader(Path(folder))


class BinaryReader:
    """A binary index's query side: the query's pre-binarisation values, and rescoring from
    ``rescore.npy`` (memory-mapped: only the candidates' rows are read)."""

    def __init__(self, folder: Path) -> None:
        self.quantizer = BinaryQuantizer.load(folder)
        path = folder / RESCORE_NAME
        self._store = np.load(path, mmap_mode="r") if path.is_file() else None
        self._dequantize = (Int8Quantizer.load(folder).dequantize
                            if self._store is not None and self._store.dtype == np.int8 else None)
        #: what :meth:`rescore` reads (``float32`` / ``int8`` vectors), None when the index keeps none
        self.rescore_store = None if self._store is None else str(self._store.dtype)

    def project(self, queries: np.ndarray) -> np.ndarray:
        return self.quantizer.project(queries)

    def rescore(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Float ``query`` x stored vectors of ``ids`` (in the order given)."""
        if self._store is None:
            raise ViewrankError("this binary index keeps no rescore vectors (encoded with rescore none)")
        ids = np.asarray(ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")  # read the memory map in file order
        rows = self._store[ids[order]]
        vecs = np.asarray(rows, dtype=np.float32) if self._dequantize is None else self._dequantize(rows)
        scores = np.empty(len(ids), dtype=np.float32)
        scores[order] = vecs @ np.asarray(query, dtype=np.float32)
        return scores
