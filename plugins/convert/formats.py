"""Published passage-ranking collections converted to BEIR's layout (``viewrank convert``).

Each format knows its own files; the conversion streams the corpus (T2Ranking's is 3.5 GB) into
``corpus.jsonl``, writes ``queries.jsonl`` with the queries of every split that has judgements,
and ``qrels/<split>.tsv`` (BEIR's three columns). Judgements that name a passage or a query the
files do not hold are dropped and counted in the summary, never silently. Text stays UTF-8
(``ensure_ascii=False``): both collections are Chinese.

- **T2Ranking** (Xie et al., SIGIR 2023; ``THUIR/T2Ranking``'s ``data/`` folder):
  ``collection.tsv`` (pid, passage), ``queries.{train,dev,test}.tsv`` (qid, query), for
  retrieval ``qrels.retrieval.{train,dev}.tsv`` (qid, pid: the passages judged relevant for
  retrieval), and the 4-level judgements ``qrels.{train,dev}.tsv`` (TREC's four columns,
  levels 0-3) with ``graded=True``. Each file may start with a header line.
- **Multi-CPR** (Long et al., SIGIR 2022; ``Alibaba-NLP/Multi-CPR``, one folder per domain:
  ``ecom``, ``video``, ``medical``): ``corpus.tsv`` (pid, passage),
  ``{train,dev}.query.txt`` (qid, query), ``qrels.{train,dev}.tsv`` (qid, ``0``, pid, ``1``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from viewrank.errors import ViewrankError

HEADER_IDS = {"pid", "qid", "id", "query-id", "corpus-id", "docid"}


@dataclass
class Sources:
    """Where one collection's files are: the corpus, and per split its queries and judgements."""

    corpus: Path
    queries: dict[str, Path]
    qrels: dict[str, Path]
    qrels_reader: Callable[[Path], Iterator[tuple[int, list[str]]]]


@dataclass
class Summary:
    format: str
    passages: int = 0
    queries: dict[str, int] = field(default_factory=dict)
    judgements: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    query_ids: str = "as published"

    def as_dict(self) -> dict:
        return {"format": self.format, "passages": self.passages, "queries": self.queries,
                "judgements": self.judgements, "dropped_judgements": self.dropped, "query_ids": self.query_ids}


def _rows(path: Path, columns: int, what: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a tab-separated file; the last field keeps any further tabs; a
    first line whose id is a column name (``qid``, ``pid``...) is a header and skipped."""
    if not path.is_file():
        raise ViewrankError(f"{what} file {path} does not exist")
    with open(path, encoding="utf-8", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t", columns - 1)
            if lineno == 1 and parts[0].strip().lower() in HEADER_IDS:
                continue
            if len(parts) != columns:
                raise ViewrankError(f"{path}:{lineno}: expected {columns} tab-separated columns ({what}), "
                                    f"got {len(parts)}")
            yield lineno, [p.strip() for p in parts[:-1]] + [parts[-1]]


def _trec_qrels(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, [qid, pid, level]) from TREC's four columns (tabs or spaces)."""
    if not path.is_file():
        raise ViewrankError(f"qrels file {path} does not exist")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts or (lineno == 1 and parts[0].lower() in HEADER_IDS):
                continue
            if len(parts) != 4:
                raise ViewrankError(f"{path}:{lineno}: expected 4 columns (qid, iteration, pid, level), got {len(parts)}")
            yield lineno, [parts[0], parts[2], parts[3]]


def _pair_qrels(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, [qid, pid, "1"]) from two columns (qid, pid): every listed pair is relevant."""
    for lineno, (qid, pid) in _rows(path, 2, "qrels (qid, pid)"):
        yield lineno, [qid, pid.strip(), "1"]


def t2ranking(folder: Path, graded: bool = False) -> Sources:
    splits = ("train", "dev")
    if graded:
        return Sources(folder / "collection.tsv", {s: folder / f"queries.{s}.tsv" for s in splits},
                       {s: folder / f"qrels.{s}.tsv" for s in splits}, _trec_qrels)
    return Sources(folder / "collection.tsv", {s: folder / f"queries.{s}.tsv" for s in splits},
                   {s: folder / f"qrels.retrieval.{s}.tsv" for s in splits}, _pair_qrels)


def multi_cpr(folder: Path, graded: bool = False) -> Sources:
    if graded:
        raise ViewrankError("Multi-CPR's judgements are binary: --graded applies to t2ranking only")
    splits = ("train", "dev")
    return Sources(folder / "corpus.tsv", {s: folder / f"{s}.query.txt" for s in splits},
                   {s: folder / f"qrels.{s}.tsv" for s in splits}, _trec_qrels)


FORMATS: dict[str, Callable[..., Sources]] = {"t2ranking": t2ranking, "multi-cpr": multi_cpr}


def convert(fmt: str, folder: str | Path, out: str | Path, *, splits: tuple[str, ...] | None = None,
            graded: bool = False, force: bool = False, progress: bool = False) -> Summary:
    """Convert ``folder`` (in format ``fmt``) into a BEIR-layout dataset at ``out`` (staged: a
    failure leaves nothing behind). ``splits``: the splits to keep (default: every split whose
    files exist)."""
    from viewrank.savedir import staged_save

    folder, out = Path(folder), Path(out)
    if fmt not in FORMATS:
        raise ViewrankError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if not folder.is_dir():
        raise ViewrankError(f"input folder {folder} does not exist")
    if out.exists() and any(out.iterdir()) and not force:
        raise ViewrankError(f"{out} exists and is not empty (use --force to replace it)")
    src = FORMATS[fmt](folder, graded=graded)
    wanted = splits or tuple(s for s in src.qrels if src.qrels[s].is_file() and src.queries[s].is_file())
    unknown = [s for s in wanted if s not in src.qrels]
    if unknown:
        raise ViewrankError(f"{fmt} has no split {', '.join(unknown)}; it has {', '.join(src.qrels)}")
    if not wanted:
        raise ViewrankError(f"{folder} holds no split with both queries and judgements "
                            f"(looked for {', '.join(str(src.qrels[s].name) for s in src.qrels)})")
    summary = Summary(fmt)

    def write(tmp: Path) -> None:
        per_split: dict[str, dict[str, str]] = {}
        for split in wanted:
            per_split[split] = {qid: text.strip() for _, (qid, text) in _rows(src.queries[split], 2, "queries (qid, query)")}
            summary.queries[split] = len(per_split[split])
        # one queries.jsonl holds every split: if two splits give one id to different queries, every
        # id becomes SPLIT-ID (qrels follow), rather than one split's text silently replacing another's
        seen: dict[str, str] = {}
        clash = False
        for queries in per_split.values():
            for qid, text in queries.items():
                clash |= seen.setdefault(qid, text) != text
        key = (lambda split, qid: f"{split}-{qid}") if clash else (lambda split, qid: qid)
        if clash:
            summary.query_ids = "SPLIT-ID: the published splits reuse query ids for different queries"
        texts = {key(split, qid): text for split, queries in per_split.items() for qid, text in queries.items()}
        pids: set[str] = set()
        rows = _rows(src.corpus, 2, "corpus (pid, passage)")
        if progress:
            from tqdm import tqdm

            rows = tqdm(rows, desc=f"convert {src.corpus.name}", unit=" passages", mininterval=2)
        with open(tmp / "corpus.jsonl", "w", encoding="utf-8") as fh:
            for _, (pid, text) in rows:
                if pid in pids:
                    raise ViewrankError(f"{src.corpus}: passage id {pid!r} appears twice")
                pids.add(pid)
                fh.write(json.dumps({"_id": pid, "title": "", "text": text.strip()}, ensure_ascii=False) + "\n")
        summary.passages = len(pids)
        if not pids:
            raise ViewrankError(f"{src.corpus} holds no passages")
        (tmp / "qrels").mkdir()
        judged: set[str] = set()
        for split in wanted:
            kept = dropped = 0
            with open(tmp / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as fh:
                fh.write("query-id\tcorpus-id\tscore\n")
                for lineno, (qid, pid, level) in src.qrels_reader(src.qrels[split]):
                    try:
                        rel = int(level)
                    except ValueError:
                        raise ViewrankError(f"{src.qrels[split]}:{lineno}: relevance {level!r} is not an integer") from None
                    qid = key(split, qid)
                    if qid not in texts or pid not in pids:
                        dropped += 1
                        continue
                    fh.write(f"{qid}\t{pid}\t{rel}\n")
                    judged.add(qid)
                    kept += 1
            summary.judgements[split], summary.dropped[split] = kept, dropped
            if not kept:
                raise ViewrankError(f"{src.qrels[split]}: none of its {dropped} judgements names a query and a "
                                    f"passage of this collection")
        with open(tmp / "queries.jsonl", "w", encoding="utf-8") as fh:
            for qid, text in texts.items():
                if qid in judged:
                    fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
        (tmp / "viewrank_convert.json").write_text(json.dumps({**summary.as_dict(), "source": str(folder)},
                                                              ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    staged_save(out, write, replace=True)
    return summary
