"""Training lists: SciFact-style qrels + BM25 hard negatives (from a registered retriever), optional triples."""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from viewrank.datasets import BeirDataset, Document
from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_cache
from viewrank.runs import atomic_write_text
from viewrank.text import windows

MINED_NAME = "mined_negatives.json"


@dataclass(frozen=True)
class TrainList:
    """One training instance: a query, its candidate texts and their target ranks (1 = best)."""

    query: str
    passages: tuple[str, ...]
    ranks: tuple[int, ...]


def mine_bm25(dataset_dir: str | Path, split: str, retriever: Callable[[], Any], depth: int,
              cache: Path | None = None) -> dict[str, list[tuple[str, float]]]:
    """First-stage top-``depth`` ``(docid, score)`` for every query of ``split``, cached as JSON.
    ``retriever()`` builds the :class:`~viewrank.types.Retriever` (``host.retriever("bm25:...")``)
    only when the cache cannot answer."""
    data = read_cache(cache)
    if (isinstance(data, dict) and isinstance(data.get("hits"), dict) and data.get("depth") == depth
            and data.get("split") == split and data.get("scored")):
        return {q: [(d, float(sc)) for d, sc in h] for q, h in data["hits"].items()}
    queries = BeirDataset(dataset_dir).queries(split)
    hits = {qid: [(d, float(sc)) for d, sc in docs] for qid, docs in retriever().search(queries, depth).items()}
    if cache is not None:
        atomic_write_text(cache, json.dumps({"split": split, "depth": depth, "scored": True, "hits": hits}))
    return hits


def beir_lists(dataset_dir: str | Path, split: str, hits: dict[str, list[tuple[str, float]]], n: int, neg_depth: int,
               rng: random.Random, teacher: dict[str, dict[str, float]] | None = None,
               exclude: frozenset[str] = frozenset(), pin_positive: bool = True,
               text: Callable[[str, str], str] | None = None) -> list[TrainList]:
    """One list per (query, relevant doc): the positive (rank 1) plus ``n - 1`` negatives drawn
    from the query's BM25 top-``neg_depth`` non-relevant hits, ranked 2… in BM25 order, or in the
    teacher's order when ``teacher`` (``{qid: {docid: score}}``) is given. Queries in ``exclude``
    (a validation slice) give no list.

    ``pin_positive=False`` (``viewrank adapt --source drop``): one list per query of ``n`` hits
    drawn from the top ``neg_depth`` *without* the judged documents, all ranked by the teacher, so
    the target is the teacher's order among the other passages rather than finding the judged one.

    ``text(qid, docid)``, when given, is the text a list holds for the document (``--windows``: the
    document's best window for that query); by default the document's title and text."""
    if not pin_positive and teacher is None:
        raise ViewrankError("lists without the judged positive need a teacher to rank them")
    ds = BeirDataset(dataset_dir)
    corpus = ds.corpus
    texts = {q.qid: q.text for q in ds.queries(split)}
    out: list[TrainList] = []
    for qid, rels in sorted(ds.qrels(split).items()):
        if qid in exclude:
            continue
        positives = [d for d, g in sorted(rels.items()) if g > 0 and d in corpus]
        negatives = [d for d, _ in hits.get(qid, [])[:neg_depth] if d not in rels and d in corpus]
        drawn = n - 1 if pin_positive else n
        if qid not in texts or not positives or len(negatives) < drawn:
            continue
        scores = teacher.get(qid, {}) if teacher is not None else None

        def draw() -> list[str]:
            picked = [negatives[i] for i in sorted(rng.sample(range(len(negatives)), drawn))]
            if scores is not None:
                picked.sort(key=lambda d: -scores.get(d, float("-inf")))  # stable: BM25 order breaks ties
            return picked

        for docs in ([pos] + draw() for pos in positives) if pin_positive else [draw()]:
            passages = tuple(text(qid, d) if text else corpus[d].contents for d in docs)
            out.append(TrainList(texts[qid], passages, tuple(range(1, n + 1))))
    return out


WINDOW_SEP = "\x1f"  # docid WINDOW_SEP k: window k of a document (a separator no docid holds)


def window_documents(corpus: Mapping[str, Document], docids: Iterable[str], words: int) -> dict[str, Document]:
    """Each document of ``docids`` as its windows of ``words`` words (the ``maxp`` reranker's
    windows, no overlap; the title kept in each), keyed ``docid WINDOW_SEP k``."""
    out: dict[str, Document] = {}
    for d in docids:
        doc = corpus[d]
        for k, part in enumerate(windows(doc.text, words, words)):
            out[f"{d}{WINDOW_SEP}{k}"] = Document(f"{d}{WINDOW_SEP}{k}", doc.title, part)
    return out


def best_windows(scores: Mapping[str, Mapping[str, float]]) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, str]]]:
    """From scores of windows (``{qid: {docid WINDOW_SEP k: score}}``): each document's score as its
    best window's (MaxP) and that window's id, ``({qid: {docid: score}}, {qid: {docid: window id}})``.
    Ties go to the earlier window."""
    best: dict[str, dict[str, float]] = {}
    which: dict[str, dict[str, str]] = {}
    for qid, by_window in scores.items():
        b, w = best.setdefault(qid, {}), which.setdefault(qid, {})
        for wid, score in sorted(by_window.items(), key=lambda kv: int(kv[0].rpartition(WINDOW_SEP)[2])):
            d = wid.rpartition(WINDOW_SEP)[0]
            if d not in b or score > b[d]:
                b[d], w[d] = score, wid
    return best, which


def split_validation(dataset_dir: str | Path, split: str, k: int, seed: int) -> list[str]:
    """``k`` query ids of ``split`` (those with judgments), drawn with ``seed``: the held-out slice
    that picks the checkpoint. They are never trained on."""
    qids = sorted(BeirDataset(dataset_dir).qrels(split))
    if k <= 0:
        return []
    if k >= len(qids):
        raise ViewrankError(f"--val-queries {k}: {split} has only {len(qids)} judged queries; hold out fewer")
    return sorted(random.Random(seed).sample(qids, k))


def triple_lists(path: str | Path, limit: int | None = None) -> list[TrainList]:
    """``query<TAB>positive<TAB>negative`` lines as two-candidate lists."""
    path = Path(path)
    if not path.is_file():
        raise ViewrankError(f"--extra-triples {path}: no such file")
    out: list[TrainList] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if len(row) != 3:
                raise ViewrankError(f"{path}:{lineno}: expected query<TAB>positive<TAB>negative, got {len(row)} fields")
            out.append(TrainList(row[0], (row[1], row[2]), (1, 2)))
            if limit and len(out) >= limit:
                break
    return out


def batches(lists: Sequence[TrainList], batch_size: int, rng: random.Random) -> list[list[TrainList]]:
    """Shuffle, then group lists of the same length into batches (same N stacks into one tensor)."""
    by_n: dict[int, list[TrainList]] = {}
    for item in lists:
        by_n.setdefault(len(item.passages), []).append(item)
    out: list[list[TrainList]] = []
    for n in sorted(by_n):
        group = by_n[n][:]
        rng.shuffle(group)
        out += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    rng.shuffle(out)
    return out
