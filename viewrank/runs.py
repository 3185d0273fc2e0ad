"""Run files: reading TREC and MS MARCO runs (:func:`parse_run`), atomic writes, and a resumable
writer (TREC or MS MARCO lines) that never leaves half a run.

A run is built in ``RUN.partial``; a sidecar ``RUN.partial.progress`` records, after each
query is flushed and synced, the query id and the byte offset where its block ends. On
``resume`` the partial file is cut back to the last recorded offset (dropping a block a crash
interrupted) and the recorded queries are skipped. ``close()`` renames the finished file into
place, so ``RUN`` itself only ever exists complete.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from viewrank.errors import ViewrankError
from viewrank.types import RankedList


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (``os.umask`` can only be
    read by setting it, which would briefly give other threads' new files mode 0666)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o077)  # the fallback's brief window is private, not world-writable
    os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """The mode ``open()``/``mkdir()`` would give under the current umask (temp files get 0600/0700)."""
    return (0o777 if directory else 0o666) & ~_umask()


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, default_mode())  # readable like any other file, not mkstemp's 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


_ENCODED = re.compile(r"(?:%[0-9A-F]{2})+")


def encode_id(value: str) -> str:
    """A query or document id as a TREC file holds it: whitespace (which separates the columns)
    and ``%`` are percent-encoded as their UTF-8 bytes (``"doc 1"`` -> ``"doc%201"``); every other
    id is written unchanged. :func:`decode_id` reverses it."""
    if not any(c.isspace() or c == "%" for c in value):
        return value
    return "".join("".join(f"%{b:02X}" for b in c.encode()) if c.isspace() or c == "%" else c for c in value)


def decode_id(value: str) -> str:
    """The id :func:`encode_id` encoded. Only sequences that decode to whitespace or ``%`` are
    decoded, so an id another system wrote with a literal ``%41`` stays as it is."""
    if "%" not in value:
        return value

    def one(match: re.Match) -> str:
        raw = match.group(0)
        try:
            text = bytes(int(h, 16) for h in raw[1:].split("%")).decode("utf-8")
        except UnicodeDecodeError:
            return raw
        return text if all(c.isspace() or c == "%" for c in text) else raw

    return _ENCODED.sub(one, value)


def format_trec(ranked: RankedList, tag: str) -> str:
    qid = encode_id(ranked.qid)
    return "".join(f"{qid} Q0 {encode_id(item.docid)} {rank} {item.score:.6f} {tag}\n"
                   for rank, item in enumerate(ranked.items, 1))


def format_msmarco(ranked: RankedList, tag: str = "") -> str:
    """MS MARCO's run lines (``qid<TAB>docid<TAB>rank``, no score), ids encoded as in TREC runs."""
    qid = encode_id(ranked.qid)
    return "".join(f"{qid}\t{encode_id(item.docid)}\t{rank}\n" for rank, item in enumerate(ranked.items, 1))


#: ``--output-format`` -> how a ranked list becomes run lines
FORMATTERS = {"trec": format_trec, "msmarco": format_msmarco}

#: query id -> [(docid, score), ...], best first: a first-stage run as the rerankers read it
Lists = dict[str, list[tuple[str, float]]]


@dataclass
class RunFile:
    """A run read from a file: its format and each query's list, best first.

    TREC runs (``qid Q0 docid rank score tag``) are ordered by score, highest first, lines with
    equal scores in file order. MS MARCO runs (``qid<TAB>docid<TAB>rank``) have no score: they are
    ordered by rank and each document gets the score ``1 / rank``, as Pyserini's trec_eval gives
    them when it converts such a run."""

    path: Path
    format: str  # "trec" or "msmarco"
    lists: Lists = field(default_factory=dict)

    def top(self, hits: int | None) -> Lists:
        """Each query's first ``hits`` documents (all of them when ``hits`` is None)."""
        return {qid: docs[:hits] if hits is not None else list(docs) for qid, docs in self.lists.items()}

    @property
    def documents(self) -> int:
        return sum(len(docs) for docs in self.lists.values())


_SPACED_IDS_HINT = ("a run whose ids contain spaces cannot be split into columns: write such ids "
                    "percent-encoded ('doc 1' as 'doc%201', as viewrank does), or use the MS MARCO "
                    "format, whose columns are tab-separated (Pyserini: --output-format msmarco)")


def _columns(line: str) -> list[str]:
    parts = line.rstrip("\r\n").split("\t")
    if len(parts) in (3, 6):
        return [p.strip() for p in parts]
    return line.split()


def parse_run(path: str | Path) -> RunFile:
    """Read a TREC or MS MARCO run (the format of its first line; ids decoded, see
    :func:`encode_id`). Every malformed line is an error naming the file and line: a wrong
    number of columns, a score or rank that is not a number, a document listed twice for one
    query, a line of the other format; so is a run with no lines."""
    path = Path(path)
    if not path.is_file():
        raise ViewrankError(f"run file {path} does not exist")
    fmt: str | None = None
    positions: dict[str, dict[str, int]] = {}  # qid -> docid -> line number
    rows: dict[str, list[tuple[float, int, str]]] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = _columns(line)
            kind = {6: "trec", 3: "msmarco"}.get(len(parts))
            if kind == "msmarco" and parts[1] == "Q0":
                kind = None  # a TREC line cut short, not an MS MARCO one
            if kind is None:
                hint = f"; {_SPACED_IDS_HINT}" if len(parts) > 6 else ""
                raise ViewrankError(
                    f"{path}:{lineno}: expected 6 columns (TREC: qid Q0 docid rank score tag) or 3 "
                    f"(MS MARCO: qid<TAB>docid<TAB>rank), got {len(parts)}{hint}")
            if fmt is None:
                fmt = kind
            elif kind != fmt:
                names = {"trec": "a TREC", "msmarco": "an MS MARCO"}
                raise ViewrankError(f"{path}:{lineno}: {names[kind]} line ({len(parts)} columns) in a run whose "
                                    f"first line is {names[fmt][names[fmt].index(' ') + 1:]}")
            if kind == "trec":
                qid, docid, value = decode_id(parts[0]), decode_id(parts[2]), parts[4]
                try:
                    key = -float(value)
                except ValueError:
                    raise ViewrankError(f"{path}:{lineno}: score {value!r} is not a number") from None
            else:
                qid, docid, value = decode_id(parts[0]), decode_id(parts[1]), parts[2]
                try:
                    rank = int(value)
                except ValueError:
                    rank = 0
                if rank < 1:
                    raise ViewrankError(f"{path}:{lineno}: rank {value!r} is not a positive integer")
                key = float(rank)
            seen = positions.setdefault(qid, {})
            if docid in seen:
                raise ViewrankError(f"{path}:{lineno}: document {docid!r} is listed twice for query {qid!r} "
                                    f"(also on line {seen[docid]})")
            seen[docid] = lineno
            rows.setdefault(qid, []).append((key, lineno, docid))
    if fmt is None:
        raise ViewrankError(f"run file {path} is empty: it holds no run lines")
    run = RunFile(path, fmt)
    for qid, docs in rows.items():
        docs.sort()  # by score (descending) or rank, then by line: equal scores keep file order
        run.lists[qid] = [(docid, -key if fmt == "trec" else 1.0 / key) for key, _, docid in docs]
    return run


def read_run(path: str | Path) -> dict[str, dict[str, float]]:
    """``{qid: {docid: score}}`` from a TREC or MS MARCO run (see :func:`parse_run`)."""
    return {qid: dict(docs) for qid, docs in parse_run(path).lists.items()}


def as_lists(run: "str | Path | RunFile | Mapping[str, Any]") -> Lists:
    """A run in any of the forms scripts hold one: a run file's path, a :class:`RunFile`, or a
    mapping from query id to a :class:`RankedList`, to ``[(docid, score), ...]`` (best first) or
    to ``{docid: score}``. Returns ``{qid: [(docid, score), ...]}``, best first."""
    if isinstance(run, (str, Path)):
        return parse_run(run).lists
    if isinstance(run, RunFile):
        return run.lists
    if not isinstance(run, Mapping):
        raise ViewrankError(f"a run is a file path or a mapping from query id to documents, not a {type(run).__name__}")
    out: Lists = {}
    for qid, docs in run.items():
        if isinstance(docs, RankedList):
            pairs = list(zip(docs.docids, docs.scores))
        elif isinstance(docs, Mapping):
            pairs = sorted(((str(d), float(s)) for d, s in docs.items()), key=lambda kv: -kv[1])
        else:
            pairs = [(str(d), float(s)) for d, s in docs]
        seen: set[str] = set()
        for docid, _ in pairs:
            if docid in seen:
                raise ViewrankError(f"document {docid!r} is listed twice for query {qid!r}")
            seen.add(docid)
        out[str(qid)] = pairs
    return out


def write_run(run: "Mapping[str, RankedList] | Iterable[RankedList]", path: str | Path, tag: str = "viewrank",
              output_format: str = "trec") -> Path:
    """Write ranked lists as one run file (TREC or MS MARCO), atomically."""
    lists = run.values() if isinstance(run, Mapping) else run
    with RunWriter(path, tag=tag, output_format=output_format) as writer:
        writer.write_all(lists)
    return Path(path)


class RunWriter:
    """Appends ranked lists to a TREC run; see the module docstring for the crash contract."""

    def __init__(self, path: str | Path, tag: str = "viewrank", resume: bool = False,
                 output_format: str = "trec") -> None:
        if output_format not in FORMATTERS:
            raise ViewrankError(f"unknown run format {output_format!r}; known: {', '.join(FORMATTERS)}")
        self.path = Path(path)
        self.tag = tag
        self._format = FORMATTERS[output_format]
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.progress = self.path.with_name(self.path.name + ".partial.progress")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done: list[str] = []
        kept: list[str] = []
        offset = 0
        if resume and self.partial.exists() and self.progress.exists():
            for line in self.progress.read_text(encoding="utf-8").splitlines(keepends=True):
                qid, _, end = line.rstrip("\n").rpartition("\t")
                if not line.endswith("\n") or not qid or not end.isdigit():
                    break  # a line a crash cut short: everything after it is unrecorded
                self.done.append(qid)
                kept.append(line)
                offset = int(end)
            if offset > self.partial.stat().st_size:
                raise ViewrankError(f"{self.progress} says {offset} bytes were written but {self.partial} is shorter")
        elif resume and self.path.exists():
            raise ViewrankError(f"{self.path} is already complete; nothing to resume (delete it to run again)")
        self._fh = open(self.partial, "r+b" if offset else "wb")
        self._fh.truncate(offset)
        self._fh.seek(offset)
        self._prog = open(self.progress, "w", encoding="utf-8")
        self._prog.write("".join(kept))
        self._prog.flush()
        self._done_set = set(self.done)

    def is_done(self, qid: str) -> bool:
        return qid in self._done_set

    def write(self, ranked: RankedList) -> None:
        if ranked.qid in self._done_set:
            raise ViewrankError(f"query {ranked.qid!r} written twice to {self.path}")
        self._fh.write(self._format(ranked, self.tag).encode("utf-8"))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.done.append(ranked.qid)
        self._done_set.add(ranked.qid)
        self._prog.write(f"{ranked.qid}\t{self._fh.tell()}\n")
        self._prog.flush()

    def write_all(self, ranked_lists: Iterable[RankedList]) -> None:
        for ranked in ranked_lists:
            self.write(ranked)

    def close(self) -> Path:
        """Finish: the run appears at its final path in one rename."""
        self._fh.close()
        self._prog.close()
        os.replace(self.partial, self.path)
        self.progress.unlink(missing_ok=True)
        return self.path

    def abandon(self) -> None:
        """Stop without finishing; the partial file and progress stay for ``resume``."""
        self._fh.close()
        self._prog.close()

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()
