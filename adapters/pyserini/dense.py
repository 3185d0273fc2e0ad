"""Pyserini encoders backed by any registered embedder, and faiss indexes in Pyserini's layout.

An index folder holds what Pyserini's searchers read (``index``: a faiss index; ``docid``: one
document id a line, line ``i`` = faiss id ``i``) plus viewrank's metadata,
``viewrank_dense_index.json`` (the embedder spec, the codec, sizes and encoding speed), and
whatever the index codec stores beside ``index`` (:class:`viewrank.types.IndexCodec`): the
``int8`` codec its calibration ranges (``viewrank_int8.json``), the ``binary`` codec its
thresholds / rotation (``viewrank_binary.npz``) and the vectors that rescore Hamming candidates
(``rescore.npy``). Codecs are looked up by name in the plugin host (``viewrank_register_index_codecs``):
``float`` comes with this adapter, ``int8`` and ``binary`` with the ``binary`` plugin.

Binary indexes are ``IndexBinaryIDMap`` with integer ids (``BinaryDenseFaissSearcher`` needs
them); the ``docid`` file maps them back to the collection's string ids.
Pyserini is imported lazily, after :func:`ensure_java` (importing it starts a JVM).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from viewrank.adapters.pyserini import host_or_new
from viewrank.adapters.pyserini.java import ensure_java
from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object
from viewrank.runs import atomic_write_text
from viewrank.savedir import staged_save

if TYPE_CHECKING:
    from viewrank.manager import PluginHost
    from viewrank.types import IndexCodec

META_NAME = "viewrank_dense_index.json"
DEFAULT_CODEC = "float"

_CLASSES: dict[str, type] = {}


def encoder_classes() -> tuple[type, type]:
    """``(EmbedderQueryEncoder, EmbedderDocumentEncoder)``: Pyserini subclasses, built on first use."""
    if not _CLASSES:
        ensure_java()
        from pyserini.encode import DocumentEncoder, QueryEncoder

        class EmbedderQueryEncoder(QueryEncoder):
            """A Pyserini ``QueryEncoder`` over any viewrank embedder.

            ``project`` maps the embedder's float vectors to what the index is searched with (an
            index codec's :meth:`~viewrank.types.IndexCodecReader.project`). With ``binary=True``
            :meth:`encode` returns ``{"dense", "sparse"}`` as ``BinaryDenseFaissSearcher`` expects:
            ``sparse``'s sign is the query's code. Vectors are memoised by text, so a batch
            encoded once is not encoded again.
            """

            def __init__(self, embedder: Any, project: Callable[[np.ndarray], np.ndarray] | None = None,
                         binary: bool = False) -> None:
                super().__init__()
                self.embedder = embedder
                self.project = project
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
                return self.project(vecs) if self.project is not None else vecs

            def encode(self, query: str, **_: Any):
                vec = self.encode_batch([query])[0]
                if self.binary:
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


def query_encoder(embedder: Any, binary: Any = None, *, project: Callable[[np.ndarray], np.ndarray] | None = None) -> Any:
    """A Pyserini ``QueryEncoder`` over ``embedder``. ``binary``: anything with ``project(vectors)``
    whose sign is the code (a binary codec's reader, a ``BinaryQuantizer``), for
    ``BinaryDenseFaissSearcher``; ``project``: a transform of the float queries for ``FaissSearcher``."""
    if binary is not None:
        return encoder_classes()[0](embedder, binary.project, binary=True)
    return encoder_classes()[0](embedder, project)


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


def resolve_codec(codec: "IndexCodec | str", host: "PluginHost | None" = None, options: dict | None = None) -> "IndexCodec":
    """A codec object as given, or the one ``host`` registered under that name; ``options`` it
    does not take are an error (raised before any encoding)."""
    if isinstance(codec, str):
        codec = host_or_new(host).codec(codec)
    unknown = sorted(set(options or {}) - set(getattr(codec, "options", {})))
    if unknown:
        takes = ", ".join(sorted(getattr(codec, "options", {}))) or "none"
        raise ViewrankError(f"the {codec.name} codec has no option {', '.join(unknown)} (its options: {takes})")
    return codec


def write_index(
    vectors: np.ndarray,
    docids: Sequence[str],
    out_dir: str | Path,
    codec: "IndexCodec | str" = DEFAULT_CODEC,
    meta: dict | None = None,
    *,
    force: bool = False,
    host: "PluginHost | None" = None,
    **options: Any,
) -> Path:
    """Write a Pyserini-layout faiss index of ``vectors`` (staged beside ``out_dir``, swapped in).

    ``codec``: an :class:`~viewrank.types.IndexCodec` or a name registered in ``host``; ``options``
    go to its ``write`` (the ``binary`` codec's: ``binary_method``, ``binary``, ``rescore``, ``idmap``).
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(docids):
        raise ViewrankError(f"{len(docids)} docids but vectors of shape {x.shape}")
    bad = [d for d in docids if not d or any(c in d for c in "\n\r")]
    if bad:
        raise ViewrankError(f"docids must be non-empty single-line strings; bad: {bad[:3]!r}")
    out = Path(out_dir)
    if out.exists() and not force:
        raise ViewrankError(f"index {out} already exists (pass --force to rebuild it)")
    codec = resolve_codec(codec, host, options)
    info = dict(meta or {})
    info.update({"kind": codec.name, "codec": codec.name, "documents": len(docids), "dim": int(x.shape[1])})

    def write(stage: Path) -> None:
        info.update(codec.write(x, stage, **options))
        if not (stage / "index").is_file():
            raise ViewrankError(f"the {codec.name} codec wrote no 'index' file")
        atomic_write_text(stage / "docid", "".join(f"{d}\n" for d in docids))
        info["index_bytes"] = (stage / "index").stat().st_size
        atomic_write_text(stage / META_NAME, json.dumps(info, indent=2))

    return staged_save(out, write, replace=True)


def read_meta(index_dir: str | Path) -> dict:
    path = Path(index_dir) / META_NAME
    if not (Path(index_dir) / "index").is_file():
        raise ViewrankError(f"{index_dir} is not a dense index (no 'index' file); build it with `viewrank encode`")
    if not path.is_file():
        return {"kind": "float", "codec": "float"}  # a plain Pyserini faiss index
    meta = read_json_object(path, what="dense index metadata")
    meta.setdefault("codec", meta.get("kind", "float"))  # indexes written before codecs record only the kind
    return meta


def build_index(
    embedder_spec: str,
    dataset_dir: str | Path,
    out_dir: str | Path,
    codec: "IndexCodec | str" = DEFAULT_CODEC,
    *,
    force: bool = False,
    host: "PluginHost | None" = None,
    **options: Any,
) -> Path:
    """``viewrank encode``: embed a BEIR corpus with a registered embedder and index it with ``codec``.

    The codec is looked up first, so an unknown (or disabled) codec fails before any encoding.
    """
    out = Path(out_dir)
    if out.exists() and not force:
        raise ViewrankError(f"index {out} already exists (pass --force to rebuild it)")
    host = host_or_new(host)
    codec = resolve_codec(codec, host, options)
    embedder = host.embedder(embedder_spec)
    if getattr(embedder, "kind", None) in ("int8", "binary"):
        raise ViewrankError(f"{embedder_spec!r} already quantises; index a float embedder with --codec int8 / binary instead")
    docids, vectors, seconds = encode_corpus(embedder, dataset_dir)
    meta = {"embedder": embedder_spec, "dataset": str(Path(dataset_dir).resolve()),
            "encode_seconds": round(seconds, 2), "docs_per_second": round(len(docids) / max(seconds, 1e-9), 2)}
    return write_index(vectors, docids, out, codec, meta, force=True, **options)
