"""QuantizedEmbedder: any float embedder followed by a stored int8 or binary quantiser."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from viewrank.plugins.binary.codes import BinaryQuantizer
from viewrank.plugins.binary.int8 import Int8Quantizer
from viewrank.types import Role


class QuantizedEmbedder:
    """``embed`` returns int8 values (``int8``) or packed uint8 bits (``binary``, ``dim`` = bytes).

    ``float_embedder`` stays reachable for rescoring; quantiser parameters are never derived
    from the texts being embedded, so one query quantises exactly as in a corpus batch.
    """

    def __init__(self, float_embedder: Any, quantizer: Int8Quantizer | BinaryQuantizer) -> None:
        self.float_embedder = float_embedder
        self.quantizer = quantizer
        self.kind = "int8" if isinstance(quantizer, Int8Quantizer) else "binary"
        self.model_type = self.kind  # the key of its export config (viewrank_register_export_configs)
        self.dim = quantizer.dim if self.kind == "int8" else quantizer.nbits // 8

    def embed(self, texts: Sequence[str], role: Role = "passage") -> np.ndarray:
        vecs = self.float_embedder.embed(texts, role=role)
        if self.kind == "int8":
            return self.quantizer.quantize(vecs) if len(vecs) else np.zeros((0, self.dim), np.int8)
        return self.quantizer.pack(vecs) if len(vecs) else np.zeros((0, self.dim), np.uint8)


def load_quantized(kind: str, directory: str | Path, host: Any) -> QuantizedEmbedder:
    """From a ``viewrank encode`` index folder (it records its embedder) or a model folder
    holding ``viewrank_int8.json`` / ``viewrank_binary.npz`` beside the weights (read as ``dense:DIR``).
    ``host`` builds the float embedder underneath."""
    from viewrank.errors import ViewrankError
    from viewrank.jsonfile import read_json_object

    path = Path(directory)
    meta_path = path / "viewrank_dense_index.json"
    if meta_path.is_file():
        spec = read_json_object(meta_path, what="index metadata").get("embedder")
        if not spec:
            raise ViewrankError(f"{meta_path} does not record its embedder")
        base = host.embedder(spec)
    else:
        base = host.embedder(f"dense:{path}")
    quant = Int8Quantizer.load(path) if kind == "int8" else BinaryQuantizer.load(path)
    return QuantizedEmbedder(base, quant)
