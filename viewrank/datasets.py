"""BEIR-layout datasets: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

Errors name the file and line, so a malformed corpus is fixed in one go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

from viewrank.errors import ViewrankError
from viewrank.types import Candidate, Query


@dataclass(frozen=True)
class Document:
    docid: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        return f"{self.title} {self.text}".strip()


def iter_jsonl(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)``; a bad line raises an error naming file and line."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ViewrankError(f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise ViewrankError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            missing = [key for key in required if key not in obj]
            if missing:
                raise ViewrankError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
            yield lineno, obj


class BeirDataset:
    """A dataset folder in BEIR's layout, loaded lazily."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ViewrankError(f"dataset folder {self.root} does not exist")
        missing = [name for name in ("corpus.jsonl", "queries.jsonl") if not (self.root / name).is_file()]
        if missing:
            raise ViewrankError(
                f"{self.root} is not a BEIR-layout dataset: missing {', '.join(missing)} "
                "(expected corpus.jsonl, queries.jsonl and qrels/<split>.tsv)"
            )

    @property
    def corpus_path(self) -> Path:
        return self.root / "corpus.jsonl"

    def iter_corpus(self) -> Iterator[Document]:
        for lineno, obj in iter_jsonl(self.corpus_path, ("_id",)):
            docid = str(obj["_id"]).strip()
            if not docid:
                raise ViewrankError(f"{self.corpus_path}:{lineno}: empty _id")
            yield Document(docid, str(obj.get("title") or ""), str(obj.get("text") or ""))

    @cached_property
    def corpus(self) -> dict[str, Document]:
        return {doc.docid: doc for doc in self.iter_corpus()}

    @cached_property
    def all_queries(self) -> dict[str, str]:
        path = self.root / "queries.jsonl"
        out: dict[str, str] = {}
        for lineno, obj in iter_jsonl(path, ("_id", "text")):
            text = str(obj["text"]).strip()
            if not text:
                raise ViewrankError(f"{path}:{lineno}: query {obj['_id']!r} has empty text")
            out[str(obj["_id"])] = text
        return out

    def splits(self) -> list[str]:
        qrels = self.root / "qrels"
        return sorted(p.stem for p in qrels.glob("*.tsv")) if qrels.is_dir() else []

    def qrels_path(self, split: str) -> Path:
        return self.root / "qrels" / f"{split}.tsv"

    def qrels(self, split: str) -> dict[str, dict[str, int]]:
        """``{qid: {docid: relevance}}``; raises when the split has no qrels file."""
        path = self.qrels_path(split)
        if not path.is_file():
            known = ", ".join(self.splits()) or "none"
            raise ViewrankError(f"split {split!r} has no qrels file {path} (splits here: {known})")
        return load_qrels(path)

    def queries(self, split: str | None) -> list[Query]:
        """Queries of a split (those with qrels), in file order; all queries when split is None."""
        if split is None:
            return [Query(qid, text) for qid, text in self.all_queries.items()]
        judged = self.qrels(split)
        missing = [qid for qid in judged if qid not in self.all_queries]
        if missing:
            raise ViewrankError(f"{self.qrels_path(split)} names queries missing from queries.jsonl: {missing[:5]}")
        return [Query(qid, text) for qid, text in self.all_queries.items() if qid in judged]

    def candidate(self, docid: str, score: float = 0.0) -> Candidate:
        doc = self.corpus.get(docid)
        if doc is None:
            raise ViewrankError(f"document {docid!r} is not in {self.corpus_path}")
        return Candidate(docid=docid, text=doc.text, score=score, title=doc.title)


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Qrels from BEIR's TSV (``query-id corpus-id score``, header optional) or TREC's
    four columns (``qid 0 docid rel``)."""
    path = Path(path)
    if not path.is_file():
        raise ViewrankError(f"qrels file {path} does not exist")
    out: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t") if "\t" in line else line.split()
            if lineno == 1 and parts[0] in ("query-id", "qid"):
                continue
            if len(parts) == 4:  # TREC: qid iteration docid rel (ids percent-encoded as viewrank writes them)
                from viewrank.runs import decode_id

                parts = [decode_id(parts[0]), decode_id(parts[2]), parts[3]]
            if len(parts) != 3:
                raise ViewrankError(f"{path}:{lineno}: expected 3 tab-separated columns (BEIR) or 4 (TREC), got {len(parts)}")
            try:
                rel = int(parts[2])
            except ValueError:
                raise ViewrankError(f"{path}:{lineno}: relevance {parts[2]!r} is not an integer") from None
            out.setdefault(parts[0], {})[parts[1]] = rel
    return out


def write_qrels_trec(qrels: dict[str, dict[str, int]], path: Path) -> Path:
    """Qrels in TREC's four-column form (``qid 0 docid rel``), as trec_eval reads them, with ids
    encoded as in run files (:func:`viewrank.runs.encode_id`), so ids with spaces still match."""
    from viewrank.runs import atomic_write_text, encode_id

    lines = [f"{encode_id(qid)} 0 {encode_id(docid)} {rel}\n" for qid, docs in qrels.items() for docid, rel in docs.items()]
    return atomic_write_text(path, "".join(lines))
