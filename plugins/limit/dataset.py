"""LIMIT-style datasets (Weller et al., "On the Theoretical Limitations of Embedding-Based Retrieval").

Documents are people who like things ("Geneva Durben likes Quokkas, Apples and Chess.") and
each query asks "Who likes Quokkas?". Query ``i`` gets its own attribute, liked by exactly the
``k`` people of its relevant set and by nobody else, and no two queries share a relevant set,
so the queries realise ``queries`` distinct ``k``-subsets of the documents.

As in the paper, the relevant sets are drawn from the smallest pool of ``m`` documents with
``C(m, k) >= queries`` (46 documents for 1,000 pairs), so the sets are as dense as possible;
every pool document is relevant to at least one query (``C(m - 1, k) < queries``). Documents
outside the pool like only filler attributes that no query asks about. Document ids are the
people's names, spaces included, like the real LIMIT's.

Everything is drawn from one ``random.Random(seed)``: the same arguments give byte-identical
files.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from viewrank.errors import ViewrankError
from viewrank.plugins.limit.vocab import ATTRIBUTES, FIRST_NAMES, LAST_NAMES, pseudo_words

#: Named forms of the paper: ``small`` (46 documents) and ``large`` (50,000), both with 1,000
#: queries of two relevant documents each.
PRESETS: dict[str, dict[str, int]] = {
    "small": {"docs": 46, "k": 2, "queries": 1000},
    "large": {"docs": 50_000, "k": 2, "queries": 1000},
}
MAX_DOCS = 1_000_000
MAX_QUERIES = 100_000
FORMAT_VERSION = 1
_ENUMERATE_LIMIT = 2_000_000  # enumerate all k-subsets of the pool up to this many, else rejection-sample


@dataclass
class LimitSet:
    """A generated dataset: BEIR rows plus what the generator decided (``meta``)."""

    corpus: list[dict] = field(default_factory=list)      # {"_id", "title", "text"}
    queries: list[dict] = field(default_factory=list)     # {"_id", "text"}
    qrels: dict[str, list[str]] = field(default_factory=dict)  # qid -> the k relevant docids
    meta: dict = field(default_factory=dict)


def pool_size(k: int, queries: int) -> int:
    """The smallest ``m >= k`` with ``C(m, k) >= queries``."""
    m = k
    while math.comb(m, k) < queries:
        m += 1
    return m


def validate(docs: int, k: int, queries: int) -> None:
    """Raise a :class:`ViewrankError` naming the bad argument."""
    for name, value in (("--docs", docs), ("--k", k), ("--queries", queries)):
        if not isinstance(value, int) or value < 1:
            raise ViewrankError(f"{name} must be a positive integer, got {value!r}")
    if docs > MAX_DOCS:
        raise ViewrankError(f"--docs {docs} is more than this generator makes (at most {MAX_DOCS:,})")
    if queries > MAX_QUERIES:
        raise ViewrankError(f"--queries {queries} is more than this generator makes (at most {MAX_QUERIES:,})")
    if k > docs:
        raise ViewrankError(f"--k {k} is larger than --docs {docs}: each query's relevant set is k of the documents")
    possible = math.comb(docs, k)
    if queries > possible:
        raise ViewrankError(f"--queries {queries} is more than the C({docs}, {k}) = {possible:,} distinct "
                            f"{k}-document sets that {docs} documents have; every query needs its own set")


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _subsets(rng: random.Random, m: int, k: int, count: int) -> list[tuple[int, ...]]:
    total = math.comb(m, k)
    if total <= _ENUMERATE_LIMIT:
        return rng.sample(list(itertools.combinations(range(m), k)), count)
    chosen: dict[tuple[int, ...], None] = {}
    while len(chosen) < count:
        chosen.setdefault(tuple(sorted(rng.sample(range(m), k))), None)
    return list(chosen)


def _names(rng: random.Random, count: int, avoid: set[str]) -> list[str]:
    last = list(LAST_NAMES)
    if count > len(FIRST_NAMES) * len(last):  # more people than real first x last names: made-up surnames
        extra = -(-count // len(FIRST_NAMES)) - len(last)
        last += pseudo_words(extra, rng, avoid)
    picks = rng.sample(range(len(FIRST_NAMES) * len(last)), count)
    return [f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {last[i // len(FIRST_NAMES)]}" for i in picks]


def make_limit(docs: int, k: int, queries: int, seed: int = 0) -> LimitSet:
    """A LIMIT-style set of ``docs`` people and ``queries`` "Who likes X?" queries with ``k``
    relevant people each (see the module docstring)."""
    validate(docs, k, queries)
    rng = random.Random(seed)
    m = pool_size(k, queries)
    avoid = {w.lower() for w in (*ATTRIBUTES, *FIRST_NAMES, *LAST_NAMES)}

    # one attribute per query: real words first (shuffled), made-up words when they run out
    words = rng.sample(ATTRIBUTES, len(ATTRIBUTES))
    if queries > len(words):
        words += pseudo_words(queries - len(words), rng, avoid)
    query_words, spare = words[:queries], words[queries:]

    names = _names(rng, docs, avoid)
    pool = names[:m]
    sets = _subsets(rng, m, k, queries)
    likes: dict[str, list[str]] = {name: [] for name in names}
    width = len(str(queries))
    out = LimitSet()
    for i, (members, word) in enumerate(zip(sets, query_words), 1):
        qid = f"q{i:0{width}d}"
        relevant = [pool[j] for j in members]
        for person in relevant:
            likes[person].append(word)
        out.queries.append({"_id": qid, "text": f"Who likes {word}?"})
        out.qrels[qid] = relevant

    # people outside the pool like as many things as pool people do, all of them fillers
    counts = [len(likes[p]) for p in pool]
    fillers: list[str] = []
    if docs > m:
        fillers = spare + pseudo_words(max(0, 2 * max(counts) + 100 - len(spare)), rng, avoid)
        for person in names[m:]:
            likes[person] = rng.sample(fillers, min(rng.choice(counts), len(fillers)))

    order = rng.sample(names, len(names))
    for person in order:
        liked = rng.sample(likes[person], len(likes[person]))
        out.corpus.append({"_id": person, "title": "", "text": f"{person} likes {_join(liked)}."})
    out.meta = {
        "generator": "viewrank limit make", "format": FORMAT_VERSION, "seed": seed, "docs": docs, "k": k,
        "queries": queries, "pool": m, "possible_sets_in_pool": math.comb(m, k),
        "attributes_per_pool_doc": {"min": min(counts), "max": max(counts), "mean": round(sum(counts) / m, 2)},
        "filler_attributes": len(fillers), "made_up_words": max(0, queries - len(ATTRIBUTES)),
        "pool_ids": sorted(pool),
    }
    return out


def write_limit(ds: LimitSet, out: str | Path, *, force: bool = False) -> Path:
    """Write ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv`` and ``limit.json`` (last)
    into ``out`` through a staging folder, so ``out`` never holds half a dataset."""
    from viewrank.savedir import staged_save

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ViewrankError(f"--output {out} is a file; give a folder for the dataset")
    if (out / "corpus.jsonl").exists() and not force:
        raise ViewrankError(f"--output {out} already holds a dataset (corpus.jsonl); pass --force to overwrite it")
    # any id with a tab or newline would break the TSV qrels; names never have one, but say so if they did
    for doc in ds.corpus:
        if any(c in doc["_id"] for c in "\t\n\r"):
            raise ViewrankError(f"document id {doc['_id']!r} holds a tab or newline, which BEIR's qrels TSV cannot carry")

    def write(tmp: Path) -> None:
        (tmp / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in ds.corpus), encoding="utf-8")
        (tmp / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in ds.queries), encoding="utf-8")
        (tmp / "qrels").mkdir()
        rows = "".join(f"{qid}\t{docid}\t1\n" for qid, docids in ds.qrels.items() for docid in docids)
        (tmp / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")
        (tmp / "limit.json").write_text(json.dumps(ds.meta, indent=2) + "\n", encoding="utf-8")

    return staged_save(out, write, marker="limit.json")
