"""Training examples for the embedders: SciFact-style BEIR train qrels + MS MARCO triples."""

from __future__ import annotations

from pathlib import Path

from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError

Example = tuple[str, str, "str | None"]


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1 (about a third of the MS MARCO toy lines); else unchanged."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def beir_examples(dataset_dir: str | Path, split: str = "train") -> list[Example]:
    """``(query, relevant passage, None)`` for every judged pair of ``split``."""
    ds = BeirDataset(dataset_dir)
    qrels = ds.qrels(split)
    corpus = ds.corpus
    out = []
    for q in ds.queries(split):
        for docid, rel in qrels[q.qid].items():
            if rel > 0 and docid in corpus:
                out.append((q.text, corpus[docid].contents, None))
    return out


def triples_examples(path: str | Path, limit: int | None = None) -> list[Example]:
    """``(query, positive, negative)`` from a ``query<TAB>pos<TAB>neg`` file."""
    path = Path(path)
    if not path.is_file():
        raise ViewrankError(f"triples file {path} does not exist")
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip():
                continue
            if len(parts) != 3:
                raise ViewrankError(f"{path}:{lineno}: expected query<TAB>positive<TAB>negative, got {len(parts)} columns")
            out.append(tuple(fix_mojibake(p) for p in parts))
            if limit and len(out) >= limit:
                break
    return out
