"""BinaryQuantizer: one bit per dimension after an optional centring and rotation.

``bits = (x - shift) @ R > 0`` with
- ``shift``: zeros (sign binarisation) or the per-dimension corpus medians ("median": every bit is
  1 for half the corpus, so no bit is wasted);
- ``R``: identity, an ITQ rotation (Gong & Lazebnik: an orthogonal rotation minimising the
  quantisation error, learnt on the corpus) or a projection trained with a straight-through
  estimator (:mod:`viewrank.plugins.binary.ste`).
Bits are packed 8 per byte (``np.packbits``), the layout of faiss binary indexes: 384 float32
dimensions (1,536 bytes) become 48 bytes, 32x smaller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewrank.errors import ViewrankError

BINARY_NAME = "viewrank_binary.npz"
THRESHOLDS = ("zero", "median", "itq")
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
            raise ViewrankError(f"{path} is missing: calibrate binary thresholds first (viewrank encode --binary writes it)")
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
