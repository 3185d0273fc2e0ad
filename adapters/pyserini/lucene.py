"""BM25 over a Lucene index built by Pyserini's indexer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from tqdm.auto import tqdm

from viewrank.adapters.pyserini.java import ensure_java
from viewrank.datasets import BeirDataset, Document
from viewrank.errors import ViewrankError
from viewrank.runs import atomic_write_text
from viewrank.savedir import staged_save
from viewrank.types import Query

INDEX_META = "viewrank_index.json"

Hits = dict[str, list[tuple[str, float]]]


def check_index(index_dir: str | Path) -> Path:
    """The index folder, or a clear error when it is not a Lucene index."""
    path = Path(index_dir)
    if not path.is_dir():
        raise ViewrankError(f"index {path} does not exist: build it with `viewrank index --dataset DIR --index {path}`")
    if not any(path.glob("segments_*")):
        raise ViewrankError(f"{path} is not a Lucene index (no segments_* file)")
    return path


def build_index(dataset_dir: str | Path, index_dir: str | Path, threads: int = 2, force: bool = False) -> Path:
    """Index a BEIR corpus (contents = title + " " + text) with Pyserini's Lucene indexer.

    The index is built in a temporary folder beside ``index_dir`` and swapped into place
    (:func:`viewrank.savedir.staged_save`), so an interrupted build never leaves a half index behind.
    """
    dataset = BeirDataset(dataset_dir)
    out = Path(index_dir)
    if out.exists():
        if not force:
            raise ViewrankError(f"index {out} already exists (pass --force to rebuild it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    java = ensure_java()
    with tempfile.TemporaryDirectory(prefix=".viewrank-index-", dir=out.parent) as tmp:
        collection = Path(tmp) / "collection"
        collection.mkdir()
        n = 0
        with open(collection / "docs.jsonl", "w", encoding="utf-8") as fh:
            for doc in tqdm(dataset.iter_corpus(), desc="collection", unit="doc", leave=False):
                fh.write(json.dumps({"id": doc.docid, "contents": doc.contents}, ensure_ascii=False) + "\n")
                n += 1
        if n == 0:
            raise ViewrankError(f"{dataset.corpus_path} holds no documents")

        def write(staging: Path) -> None:
            cmd = [
                sys.executable, "-m", "pyserini.index.lucene", "--collection", "JsonCollection",
                "--input", str(collection), "--index", str(staging), "--generator", "DefaultLuceneDocumentGenerator",
                "--threads", str(threads), "--storeRaw",
            ]
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            if proc.returncode != 0 or not any(staging.glob("segments_*")):
                tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
                raise ViewrankError(f"Pyserini's indexer failed (exit {proc.returncode}) on {dataset.corpus_path}:\n{tail}")
            meta = {"dataset": str(Path(dataset_dir).resolve()), "documents": n, "contents": "title + ' ' + text",
                    "java": str(java.path), "seconds": round(time.perf_counter() - started, 2)}
            atomic_write_text(staging / INDEX_META, json.dumps(meta, indent=2))

        staged_save(out, write, replace=True)
    return out


class Bm25:
    """A LuceneSearcher over one index (default BM25: k1 0.9, b 0.4), with batched search."""

    def __init__(self, index_dir: str | Path, k1: float = 0.9, b: float = 0.4) -> None:
        self.index_dir = check_index(index_dir)
        ensure_java()
        from pyserini.search.lucene import LuceneSearcher

        self.searcher = LuceneSearcher(str(self.index_dir))
        self.searcher.set_bm25(k1, b)

    def search(self, queries: Sequence[Query], k: int, threads: int = 2, batch_size: int = 64) -> Hits:
        """Top-``k`` (docid, score) for every query, in BM25 order."""
        if k < 1:
            raise ViewrankError(f"depth must be at least 1, got {k}")
        out: Hits = {}
        bar = tqdm(total=len(queries), desc="BM25", unit="q", leave=False)
        for start in range(0, len(queries), batch_size):
            batch = list(queries[start : start + batch_size])
            results = self.searcher.batch_search([q.text for q in batch], [q.qid for q in batch], k=k, threads=threads)
            for q in batch:
                out[q.qid] = [(hit.docid, float(hit.score)) for hit in results.get(q.qid, [])]
            bar.update(len(batch))
        bar.close()
        return out

    def contents(self, docid: str) -> str:
        doc = self.searcher.doc(docid)
        if doc is None:
            raise ViewrankError(f"document {docid!r} is not in index {self.index_dir}")
        return stored_document(docid, doc, f"index {self.index_dir}").contents


def bm25_search(index_dir: str | Path, queries: Sequence[Query], k: int) -> Hits:
    """Convenience: BM25 top-``k`` for ``queries`` over ``index_dir``."""
    return Bm25(index_dir).search(queries, k)


def stored_document(docid: str, doc: Any, where: str) -> Document:
    """The text a Lucene document stores: its raw JSON's ``contents`` (Pyserini's JsonCollection),
    else its ``title`` and ``text`` (a BEIR-style record), else the raw string itself; without a
    raw document, the stored ``contents`` field. An index that stores neither is an error."""
    raw = doc.raw()
    if raw:
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            return Document(docid, "", raw)
        if "contents" in obj:
            return Document(docid, "", str(obj["contents"] or ""))
        if "title" in obj or "text" in obj:
            return Document(docid, str(obj.get("title") or ""), str(obj.get("text") or ""))
        return Document(docid, "", raw)
    contents = doc.contents()
    if contents is None:
        raise ViewrankError(f"{where} stores no text for document {docid!r}: build it with --storeRaw "
                            "(or --storeContents), or give the texts with --dataset DIR or --corpus FILE")
    return Document(docid, "", contents)


class IndexTexts:
    """Passage texts from a Lucene index's stored documents (:func:`stored_document`)."""

    def __init__(self, index_dir: "str | Path | None" = None, searcher: Any = None) -> None:
        if searcher is None:
            index_dir = check_index(index_dir)
            ensure_java()
            from pyserini.search.lucene import LuceneSearcher

            searcher = LuceneSearcher(str(index_dir))
        self.searcher = searcher
        self.name = f"index {index_dir}" if index_dir is not None else "the searcher's index"

    def lookup(self, docids: Iterable[str]) -> dict[str, Document]:
        wanted = list(dict.fromkeys(docids))
        found: dict[str, Document] = {}
        for docid in tqdm(wanted, desc="passage texts", unit="doc", leave=False, disable=len(wanted) < 1000):
            doc = self.searcher.doc(docid)
            if doc is not None:
                found[docid] = stored_document(docid, doc, self.name)
        return found
