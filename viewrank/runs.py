"""TREC run files: atomic writes, and a resumable writer that never leaves half a run.

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
from pathlib import Path
from typing import Iterable

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


def read_run(path: str | Path) -> dict[str, dict[str, float]]:
    """``{qid: {docid: score}}`` from a six-column TREC run (ids decoded, see :func:`encode_id`)."""
    path = Path(path)
    if not path.is_file():
        raise ViewrankError(f"run file {path} does not exist")
    out: dict[str, dict[str, float]] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise ViewrankError(f"{path}:{lineno}: expected 6 columns in a TREC run, got {len(parts)} "
                                    "(an id with spaces must be percent-encoded: 'doc 1' as 'doc%201')")
            try:
                out.setdefault(decode_id(parts[0]), {})[decode_id(parts[2])] = float(parts[4])
            except ValueError:
                raise ViewrankError(f"{path}:{lineno}: score {parts[4]!r} is not a number") from None
    return out


class RunWriter:
    """Appends ranked lists to a TREC run; see the module docstring for the crash contract."""

    def __init__(self, path: str | Path, tag: str = "viewrank", resume: bool = False) -> None:
        self.path = Path(path)
        self.tag = tag
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
        self._fh.write(format_trec(ranked, self.tag).encode("utf-8"))
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
