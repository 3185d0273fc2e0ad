"""Pyserini encoders backed by any registered embedder, and faiss indexes in Pyserini's layout.

An index folder holds what Pyserini's searchers read (``index``: a faiss index; ``docid``: one
document id a line, line ``i`` = faiss id ``i``) plus viewrank's metadata:
- ``viewrank_dense_index.json``: the embedder spec, the kind (``float`` / ``int8`` / ``binary``),
  sizes and encoding speed;
- ``viewrank_int8.json``: int8 calibration ranges (``int8`` indexes, and ``binary`` rescoring);
- ``viewrank_binary.npz``: binary thresholds / rotation (``binary``);
- ``rescore.npy``: per-document vectors for rescoring binary candidates (float32 or int8 codes).

Binary indexes are ``IndexBinaryIDMap`` with integer ids (``BinaryDenseFaissSearcher`` needs
them); the ``docid`` file maps them back to the collection's string ids.
Pyserini is imported lazily, after :func:`ensure_java` (importing it starts a JVM).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from viewrank.adapters.pyserini.java import ensure_java
from viewrank.errors import ViewrankError
from viewrank.plugins.binary.codes import BinaryQuantizer
from viewrank.plugins.binary.int8 import Int8Quantizer
from viewrank.runs import atomic_write_text

META_NAME = "viewrank_dense_index.json"
RESCORE_NAME = "rescore.npy"
KINDS = ("float", "int8", "binary")
RESCORE = ("int8", "float", "none")

_CLASSES: dict[str, type] = {}


def encoder_classes() -> tuple[type, type]:
    """``(EmbedderQueryEncoder, EmbedderDocumentEncoder)``: Pyserini subclasses, built on first use."""
    if not _CLASSES:
        ensure_java()
        from pyserini.encode import DocumentEncoder, QueryEncoder

        class EmbedderQueryEncoder(QueryEncoder):
            """A Pyserini ``QueryEncoder`` over any viewrank embedder.

            With a ``binary`` quantiser, :meth:`encode` returns ``{"dense", "sparse"}`` as
            ``BinaryDenseFaissSearcher`` expects: ``sparse``'s sign is the query's code.
            Vectors are memoised by text, so a batch encoded once is not encoded again.
            """

            def __init__(self, embedder: Any, binary: BinaryQuantizer | None = None) -> None:
                super().__init__()
                self.embedder = embedder
                self.binary = binary
                self.has_model = True
                self._memo: dict[str, np.ndarray] = {}

            def float_batch(self, queries: Sequence[str]) -> np.ndarray:
                """The embedder's float vectors (memoised)."""
                todo = [q for q in dict.fromkeys(queries) if q not in self._memo]
                if todo:
                    for text, vec in zip(todo, self.embedder.embed(todo, role="query")):
                        self._memo[text] = np.asarray(vec, dtype=np.float32)
                return np.stack([self._memo[q] for q in queries])

            def encode_batch(self, queries: Sequence[str]) -> np.ndarray:
                vecs = self.float_batch(queries)
                return self.binary.project(vecs) if self.binary is not None else vecs

            def encode(self, query: str, **_: Any):
                vec = self.encode_batch([query])[0]
                if self.binary is not None:
                    return {"dense": vec, "sparse": vec}
                return vec

        class EmbedderDocumentEncoder(DocumentEncoder):
            """A Pyserini ``DocumentEncoder`` over any viewrank embedder (``encode(texts, titles=...)``)."""

            def __init__(self, embedder: Any) -> None:
                self.embedder = embedder

            def encode(self, texts: Sequence[str], titles: Sequence[str] | None = None, **_: Any) -> np.ndarray:
                if titles is not None:
                    texts = [f"{t} {x}".strip() for t, x in zip(titles, texts)]
                return self.embedder.embed(list(texts), role="passage")

        _CLASSES["query"] = EmbedderQueryEncoder
        _CLASSES["document"] = EmbedderDocumentEncoder
    return _CLASSES["query"], _CLASSES["document"]


def query_encoder(embedder: Any, binary: BinaryQuantizer | None = None) -> Any:
    return encoder_classes()[0](embedder, binary)


def document_encoder(embedder: Any) -> Any:
    return encoder_classes()[1](embedder)


def encode_corpus(embedder: Any, dataset_dir: str | Path, batch_size: int = 256) -> tuple[list[str], np.ndarray, float]:
    """``(docids, vectors, seconds)`` for a BEIR corpus through the Pyserini DocumentEncoder."""
    from tqdm.auto import tqdm

    from viewrank.datasets import BeirDataset

    docs = list(BeirDataset(dataset_dir).iter_corpus())
    if not docs:
        raise ViewrankError(f"{dataset_dir} has an empty corpus")
    enc = document_encoder(embedder)
    chunks = []
    started = time.perf_counter()
    for start in tqdm(range(0, len(docs), batch_size), desc="encode", unit="batch", leave=False):
        part = docs[start : start + batch_size]
        chunks.append(enc.encode([d.text for d in part], titles=[d.title for d in part]))
    return [d.docid for d in docs], np.concatenate(chunks).astype(np.float32), time.perf_counter() - started


def write_index(
    vectors: np.ndarray,
    docids: Sequence[str],
    out_dir: str | Path,
    kind: str = "float",
    meta: dict | None = None,
    binary_method: str = "itq",
    rescore: str = "int8",
    binary: BinaryQuantizer | None = None,
    force: bool = False,
    idmap: bool = True,
) -> Path:
    """Write a Pyserini-layout faiss index of ``vectors`` (built beside ``out_dir``, renamed in).

    Binary indexes are ``IndexBinaryIDMap`` (8 bytes of id per document on top of the codes; what
    Pyserini's asymmetric rescoring needs) unless ``idmap=False``: a plain ``IndexBinaryFlat``
    whose positions are the integer ids (codes only: 32x smaller than float32).
    ``binary_method="ste"`` trains a projection label-free (corpus vectors as pseudo-queries).
    """
    import faiss

    if kind not in KINDS:
        raise ViewrankError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    if rescore not in RESCORE:
        raise ViewrankError(f"unknown rescore store {rescore!r}; choose one of {', '.join(RESCORE)}")
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(docids):
        raise ViewrankError(f"{len(docids)} docids but vectors of shape {x.shape}")
    bad = [d for d in docids if not d or any(c in d for c in "\n\r")]
    if bad:
        raise ViewrankError(f"docids must be non-empty single-line strings; bad: {bad[:3]!r}")
    out = Path(out_dir)
    if out.exists() and not force:
        raise ViewrankError(f"index {out} already exists (pass --force to rebuild it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    info = dict(meta or {})
    info.update({"kind": kind, "documents": len(docids), "dim": int(x.shape[1])})
    with tempfile.TemporaryDirectory(prefix=".viewrank-faiss-", dir=out.parent) as tmp:
        stage = Path(tmp) / "index_dir"
        stage.mkdir()
        if kind == "float":
            index = faiss.IndexFlatIP(x.shape[1])
            index.add(x)
            faiss.write_index(index, str(stage / "index"))
        elif kind == "int8":
            quant = Int8Quantizer.calibrate(x)
            quant.save(stage)
            index = quant.faiss_index()
            index.add(x)
            faiss.write_index(index, str(stage / "index"))
        else:
            if binary is None and binary_method == "ste":
                from viewrank.plugins.binary.ste import train_ste_codes

                sample = x[np.random.default_rng(0).permutation(len(x))[:2000]]
                binary = train_ste_codes(sample, sample, [(i, i) for i in range(len(sample))], x, contrastive_weight=0.0)
            quant_b = binary or BinaryQuantizer.calibrate(x, binary_method)
            quant_b.save(stage)
            codes = quant_b.pack(x)
            if idmap:
                index = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(quant_b.nbits))
                index.add_with_ids(codes, np.arange(len(x), dtype=np.int64))
            else:
                index = faiss.IndexBinaryFlat(quant_b.nbits)
                index.add(codes)
            faiss.write_index_binary(index, str(stage / "index"))
            info.update({"nbits": quant_b.nbits, "binary_method": quant_b.method, "rescore": rescore, "idmap": idmap})
            if rescore == "float":
                np.save(stage / RESCORE_NAME, x)
            elif rescore == "int8":
                q8 = Int8Quantizer.calibrate(x)
                q8.save(stage)
                np.save(stage / RESCORE_NAME, q8.quantize(x))
        atomic_write_text(stage / "docid", "".join(f"{d}\n" for d in docids))
        info["index_bytes"] = (stage / "index").stat().st_size
        if (stage / RESCORE_NAME).exists():
            info["rescore_bytes"] = (stage / RESCORE_NAME).stat().st_size
        atomic_write_text(stage / META_NAME, json.dumps(info, indent=2))
        if out.exists():
            shutil.rmtree(out)
        os.replace(stage, out)
    return out


def read_meta(index_dir: str | Path) -> dict:
    path = Path(index_dir) / META_NAME
    if not (Path(index_dir) / "index").is_file():
        raise ViewrankError(f"{index_dir} is not a dense index (no 'index' file); build it with `viewrank encode`")
    if not path.is_file():
        return {"kind": "float"}  # a plain Pyserini faiss index
    return json.loads(path.read_text(encoding="utf-8"))


def build_index(
    embedder_spec: str,
    dataset_dir: str | Path,
    out_dir: str | Path,
    kind: str = "float",
    binary_method: str = "itq",
    rescore: str = "int8",
    force: bool = False,
    idmap: bool = True,
) -> Path:
    """``viewrank encode``: embed a BEIR corpus with a registered embedder and index it."""
    from viewrank.manager import get_host

    out = Path(out_dir)
    if out.exists() and not force:
        raise ViewrankError(f"index {out} already exists (pass --force to rebuild it)")
    embedder = get_host().embedder(embedder_spec)
    if getattr(embedder, "kind", None) in ("int8", "binary"):
        raise ViewrankError(f"{embedder_spec!r} already quantises; index a float embedder with --int8 / --binary instead")
    docids, vectors, seconds = encode_corpus(embedder, dataset_dir)
    meta = {"embedder": embedder_spec, "dataset": str(Path(dataset_dir).resolve()),
            "encode_seconds": round(seconds, 2), "docs_per_second": round(len(docids) / max(seconds, 1e-9), 2)}
    return write_index(vectors, docids, out, kind, meta, binary_method, rescore, force=True, idmap=idmap)
