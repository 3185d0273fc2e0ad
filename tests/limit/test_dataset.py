"""The LIMIT generator: deterministic, exact qrels, distinct sets, clear errors (no JVM, no torch)."""

from __future__ import annotations

import json
import math
import re

import pytest

from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError
from viewrank.plugins.limit.dataset import PRESETS, make_limit, pool_size, validate, write_limit
from viewrank.plugins.limit.vocab import ATTRIBUTES, FIRST_NAMES, LAST_NAMES, pseudo_words

LIKES = re.compile(r"^(?P<name>.+?) likes (?P<things>.+)\.$")


def liked(text: str) -> tuple[str, list[str]]:
    match = LIKES.match(text)
    assert match, text
    things = match["things"].replace(" and ", ", ").split(", ")
    return match["name"], things


def attribute(query_text: str) -> str:
    match = re.fullmatch(r"Who likes (\w+)\?", query_text)
    assert match, query_text
    return match[1]


@pytest.mark.parametrize("docs,k,queries", [(46, 2, 1000), (30, 3, 20), (12, 1, 5), (9, 2, 36)])
def test_each_query_has_exactly_its_k_people_and_the_sets_are_distinct(docs, k, queries):
    ds = make_limit(docs, k, queries, seed=1)
    assert len(ds.corpus) == docs and len(ds.queries) == queries
    ids = [d["_id"] for d in ds.corpus]
    assert len(set(ids)) == docs and all(" " in i for i in ids)  # people's names: ids with spaces
    who_likes: dict[str, set[str]] = {}
    for doc in ds.corpus:
        name, things = liked(doc["text"])
        assert name == doc["_id"]
        assert len(things) == len(set(things))
        for thing in things:
            who_likes.setdefault(thing, set()).add(doc["_id"])
    sets = []
    for q in ds.queries:
        relevant = set(ds.qrels[q["_id"]])
        assert len(relevant) == k
        assert who_likes[attribute(q["text"])] == relevant  # those k people and nobody else
        sets.append(frozenset(relevant))
    assert len(set(sets)) == queries  # every query its own k-subset
    m = pool_size(k, queries)
    assert ds.meta["pool"] == m and math.comb(m - 1, k) < queries <= math.comb(m, k)
    assert set().union(*sets) == set(ds.meta["pool_ids"])  # every pool document is relevant somewhere


def test_the_small_preset_is_the_papers_small_form():
    ds = make_limit(**PRESETS["small"], seed=0)
    assert (len(ds.corpus), len(ds.queries), ds.meta["pool"]) == (46, 1000, 46)
    assert ds.meta["possible_sets_in_pool"] == 1035 and ds.meta["made_up_words"] == 0


def test_documents_outside_the_pool_like_nothing_that_is_asked():
    ds = make_limit(40, 2, 10, seed=2)  # pool of 5 (C(5, 2) = 10), 35 distractors
    asked = {attribute(q["text"]) for q in ds.queries}
    pool = set(ds.meta["pool_ids"])
    assert len(pool) == 5
    for doc in ds.corpus:
        if doc["_id"] not in pool:
            assert not asked & set(liked(doc["text"])[1])


def test_same_seed_same_bytes_other_seed_other_set(tmp_path):
    a = write_limit(make_limit(20, 2, 30, seed=7), tmp_path / "a")
    b = write_limit(make_limit(20, 2, 30, seed=7), tmp_path / "b")
    c = write_limit(make_limit(20, 2, 30, seed=8), tmp_path / "c")
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "limit.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "corpus.jsonl").read_bytes() != (c / "corpus.jsonl").read_bytes()


def test_written_set_reads_back_as_a_beir_dataset(tmp_path):
    ds = make_limit(10, 2, 12, seed=0)
    out = write_limit(ds, tmp_path / "limit")
    beir = BeirDataset(out)
    assert set(beir.corpus) == {d["_id"] for d in ds.corpus}
    assert {qid: set(docs) for qid, docs in beir.qrels("test").items()} == {q: set(d) for q, d in ds.qrels.items()}
    assert json.loads((out / "limit.json").read_text())["seed"] == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    with pytest.raises(ViewrankError, match="--force"):
        write_limit(ds, out)
    write_limit(make_limit(10, 2, 13, seed=0), out, force=True)
    assert len(BeirDataset(out).qrels("test")) == 13


@pytest.mark.parametrize("docs,k,queries,message", [
    (3, 5, 1, r"--k 5 is larger than --docs 3"),
    (5, 2, 11, r"--queries 11 is more than the C\(5, 2\) = 10 distinct"),
    (0, 1, 1, r"--docs must be a positive integer"),
    (5, 0, 1, r"--k must be a positive integer"),
    (5, 2, 0, r"--queries must be a positive integer"),
])
def test_bad_sizes_name_the_argument(docs, k, queries, message):
    with pytest.raises(ViewrankError, match=message):
        validate(docs, k, queries)
    with pytest.raises(ViewrankError, match=message):
        make_limit(docs, k, queries)


def test_vocabulary_words_are_distinct_and_names_share_no_word_with_attributes():
    def stem(word: str) -> str:  # a crude plural stripper; the Lucene check is in test_cli.py
        word = word.lower()
        return word[:-2] if word.endswith("es") else word[:-1] if word.endswith("s") else word

    attrs = [stem(a) for a in ATTRIBUTES]
    assert len(set(attrs)) == len(attrs)
    assert all(a.isalpha() for a in ATTRIBUTES)  # one token each
    names = {stem(n) for n in (*FIRST_NAMES, *LAST_NAMES)}
    assert not names & set(attrs)
    assert len(ATTRIBUTES) >= 1000  # the small preset needs no made-up words


def test_more_queries_than_words_uses_distinct_made_up_words():
    ds = make_limit(60, 2, len(ATTRIBUTES) + 50, seed=0)
    words = [attribute(q["text"]) for q in ds.queries]
    assert len(set(words)) == len(words) and ds.meta["made_up_words"] == 50
    import random

    made = pseudo_words(500, random.Random(0), set())
    assert len(set(made)) == 500
