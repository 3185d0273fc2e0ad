"""Datasets and the files around a run: BEIR-layout folders (``corpus.jsonl``, ``queries.jsonl``,
``qrels/<split>.tsv``), topic files (TSV, TREC ``<top>``, JSONL), qrels (TREC or BEIR TSV) and
passage collections (JSONL or MS MARCO's ``collection.tsv``).

Errors name the file and line, so a malformed file is fixed in one go. Nothing here starts a
search engine: the Lucene index as a text source lives in the Pyserini adapter.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping, Protocol, runtime_checkable

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


def open_text(path: str | Path) -> IO[str]:
    """A text file for reading, gunzipped when its name ends in ``.gz`` (as Pyserini's topics may)."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_jsonl(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)``; a bad line raises an error naming file and line."""
    with open_text(path) as fh:
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
        return iter_documents(self.corpus_path)

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
    with open_text(path) as fh:
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
    if not out:
        raise ViewrankError(f"qrels file {path} is empty: it holds no judgements")
    return out


def write_qrels_trec(qrels: dict[str, dict[str, int]], path: Path) -> Path:
    """Qrels in TREC's four-column form (``qid 0 docid rel``), as trec_eval reads them, with ids
    encoded as in run files (:func:`viewrank.runs.encode_id`), so ids with spaces still match."""
    from viewrank.runs import atomic_write_text, encode_id

    lines = [f"{encode_id(qid)} 0 {encode_id(docid)} {rel}\n" for qid, docs in qrels.items() for docid, rel in docs.items()]
    return atomic_write_text(path, "".join(lines))


# --- passage collections ---------------------------------------------------------------------

def _is_jsonl(path: Path) -> bool:
    with open_text(path) as fh:
        for line in fh:
            if line.strip():
                return line.lstrip().startswith("{")
    return True  # an empty file: the JSONL reader reports it


def iter_documents(path: str | Path) -> Iterator[Document]:
    """The documents of a collection file, in file order:

    - JSONL in Pyserini's form, ``{"id": ..., "contents": ...}`` (JsonCollection), or BEIR's,
      ``{"_id": ..., "title": ..., "text": ...}`` (a line may mix the two: ``contents`` wins);
    - TSV, ``docid<TAB>text`` per line (MS MARCO's ``collection.tsv``).
    """
    path = Path(path)
    if not path.is_file():
        raise ViewrankError(f"corpus file {path} does not exist")
    if _is_jsonl(path):
        for lineno, obj in iter_jsonl(path, ()):
            key = "_id" if "_id" in obj else "id" if "id" in obj else None
            if key is None:
                raise ViewrankError(f"{path}:{lineno}: missing field(s) id (Pyserini's \"id\"/\"contents\") "
                                    "or _id (BEIR's \"_id\"/\"title\"/\"text\")")
            docid = str(obj[key]).strip()
            if not docid:
                raise ViewrankError(f"{path}:{lineno}: empty {key}")
            if "contents" in obj:
                yield Document(docid, "", str(obj["contents"] or ""))
            else:
                yield Document(docid, str(obj.get("title") or ""), str(obj.get("text") or ""))
        return
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) != 2:
                raise ViewrankError(f"{path}:{lineno}: expected docid<TAB>text (MS MARCO collection.tsv), "
                                    f"got {len(parts)} column(s)")
            if not parts[0].strip():
                raise ViewrankError(f"{path}:{lineno}: empty docid")
            yield Document(parts[0].strip(), "", parts[1])


@runtime_checkable
class TextSource(Protocol):
    """Where passage texts come from (a collection file, a BEIR folder, a Lucene index)."""

    #: how messages name the source ("corpus file X", "index X")
    name: str

    def lookup(self, docids: Iterable[str]) -> dict[str, Document]:
        """The documents of ``docids`` that the source holds (missing ones are left out)."""
        ...


class CorpusTexts:
    """Texts from a collection file (:func:`iter_documents`) or a BEIR folder's ``corpus.jsonl``.

    A lookup reads the file once and keeps only the documents asked for, so a large collection
    (MS MARCO's 8.8M passages) is not held in memory for a run that names a few thousand."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if path.is_dir():
            path = BeirDataset(path).corpus_path
        if not path.is_file():
            raise ViewrankError(f"corpus file {path} does not exist")
        self.path = path
        self.name = f"corpus file {path}"

    def lookup(self, docids: Iterable[str]) -> dict[str, Document]:
        wanted = set(docids)
        found: dict[str, Document] = {}
        for doc in iter_documents(self.path):
            if doc.docid in wanted:
                found[doc.docid] = doc
                if len(found) == len(wanted):
                    break
        return found


class MappingTexts:
    """Texts from a mapping of docid to text (or to a :class:`Document`), for scripts."""

    def __init__(self, texts: Mapping[str, "str | Document"], name: str = "the given texts") -> None:
        self.texts = texts
        self.name = name

    def lookup(self, docids: Iterable[str]) -> dict[str, Document]:
        out = {}
        for docid in docids:
            value = self.texts.get(docid)
            if value is not None:
                out[docid] = value if isinstance(value, Document) else Document(docid, "", str(value))
        return out


# --- topics ----------------------------------------------------------------------------------

TOPIC_FIELDS = ("title", "desc", "title+desc")
_JSON_ID_KEYS = ("qid", "_id", "id", "query_id")
_JSON_TEXT_KEYS = ("query", "text", "title")
_TREC_TAG = re.compile(r"<(/?)([a-z]+)>", re.I)  # any tag ends the field before it (<narr>, <con>, </title>)
_TREC_PREFIX = {"num": re.compile(r"^number\s*:\s*", re.I), "title": re.compile(r"^topic\s*:\s*", re.I),
                "desc": re.compile(r"^description\s*:\s*", re.I), "narr": re.compile(r"^narrative\s*:\s*", re.I)}


def read_topics(path: str | Path, field: str = "title") -> list[Query]:
    """Queries from a topic file, in file order. The format is read from the content:

    - TREC topics: ``<top>`` blocks with ``<num>``, ``<title>``, ``<desc>`` (closing tags optional,
      ``Number:``/``Description:`` prefixes dropped); ``field`` picks ``title``, ``desc`` or
      ``title+desc`` (both, joined by a space);
    - JSONL: one object per line with an id (``qid``, ``_id``, ``id`` or ``query_id``) and a text
      (``query``, ``text`` or ``title``): BEIR's ``queries.jsonl`` is one;
    - TSV: ``qid<TAB>text`` per line (Pyserini's and MS MARCO's topic files).

    ``field`` other than ``title`` is for TREC files only. Ids are kept as written (``0007`` stays
    ``0007``). A duplicate id, an empty text or an empty file is an error naming file and line.
    """
    path = Path(path)
    if field not in TOPIC_FIELDS:
        raise ViewrankError(f"topic field {field!r} is not one of {', '.join(TOPIC_FIELDS)}")
    if not path.is_file():
        raise ViewrankError(f"topics file {path} does not exist (viewrank reads topic files itself; names of "
                            "Pyserini's prebuilt topics are not looked up: give the file)")
    with open_text(path) as fh:
        text = fh.read()
    if re.search(r"<top>", text, re.I):
        found = _trec_topics(path, text, field)
    else:
        if field != "title":
            raise ViewrankError(f"--topic-field {field} applies to TREC topic files (<top> blocks); {path} is not one")
        first = next((line for line in text.splitlines() if line.strip()), "")
        found = _jsonl_topics(path) if first.lstrip().startswith("{") else _tsv_topics(path, text)
    out: list[Query] = []
    seen: dict[str, int] = {}
    for lineno, qid, query in found:
        if not qid:
            raise ViewrankError(f"{path}:{lineno}: empty query id")
        if qid in seen:
            raise ViewrankError(f"{path}:{lineno}: query {qid!r} appears twice (also on line {seen[qid]})")
        if not query.strip():
            raise ViewrankError(f"{path}:{lineno}: query {qid!r} has empty text")
        seen[qid] = lineno
        out.append(Query(qid, query.strip()))
    if not out:
        raise ViewrankError(f"topics file {path} is empty: it holds no topics")
    return out


def _tsv_topics(path: Path, text: str) -> Iterator[tuple[int, str, str]]:
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ViewrankError(f"{path}:{lineno}: expected qid<TAB>text, got {len(parts)} tab-separated column(s)")
        yield lineno, parts[0].strip(), parts[1]


def _jsonl_topics(path: Path) -> Iterator[tuple[int, str, str]]:
    for lineno, obj in iter_jsonl(path, ()):
        id_key = next((k for k in _JSON_ID_KEYS if k in obj), None)
        text_key = next((k for k in _JSON_TEXT_KEYS if k in obj), None)
        if id_key is None or text_key is None:
            raise ViewrankError(f"{path}:{lineno}: a JSONL topic needs an id ({', '.join(_JSON_ID_KEYS)}) "
                                f"and a text ({', '.join(_JSON_TEXT_KEYS)})")
        yield lineno, str(obj[id_key]).strip(), str(obj[text_key] or "")


def _trec_topics(path: Path, text: str, field: str) -> Iterator[tuple[int, str, str]]:
    blocks = list(re.finditer(r"<top>(.*?)(?:</top>|(?=<top>)|\Z)", text, re.I | re.S))
    for block in blocks:
        lineno = text.count("\n", 0, block.start()) + 1
        fields: dict[str, str] = {}
        tags = list(_TREC_TAG.finditer(block.group(1)))
        for i, tag in enumerate(tags):
            name = tag.group(2).lower()
            if tag.group(1) or name not in _TREC_PREFIX:
                continue
            end = tags[i + 1].start() if i + 1 < len(tags) else len(block.group(1))
            value = " ".join(block.group(1)[tag.end():end].split())
            fields[name] = _TREC_PREFIX[name].sub("", value)
        qid = fields.get("num", "").strip()
        if not qid:
            raise ViewrankError(f"{path}:{lineno}: a <top> block without <num>")
        parts = [fields.get(name, "") for name in field.split("+")]
        missing = [name for name, value in zip(field.split("+"), parts) if not value.strip()]
        if missing:
            raise ViewrankError(f"{path}:{lineno}: topic {qid!r} has no <{missing[0]}> text (--topic-field {field})")
        yield lineno, qid, " ".join(parts)


def write_topics_tsv(queries: Iterable[Query], path: str | Path) -> Path:
    """Topics as ``qid<TAB>text`` lines (Pyserini's TSV topics), atomically. Whitespace runs in a
    text (tabs, newlines) become one space; a query id with a tab or newline is an error."""
    from viewrank.runs import atomic_write_text

    lines = []
    for q in queries:
        if any(c in q.qid for c in "\t\r\n"):
            raise ViewrankError(f"query id {q.qid!r} has a tab or newline: it cannot be a TSV topic id")
        lines.append(f"{q.qid}\t{' '.join(q.text.split())}\n")
    return atomic_write_text(path, "".join(lines))
