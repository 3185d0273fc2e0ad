"""viewrank convert: T2Ranking and Multi-CPR files (written here in their published formats, a few
lines each; no data of theirs is on this machine) become BEIR datasets the rest of viewrank reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from viewrank.cli import main
from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError
from viewrank.plugins.convert.formats import convert


def write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture
def t2ranking(tmp_path) -> Path:
    d = tmp_path / "T2Ranking" / "data"
    d.mkdir(parents=True)
    write(d / "collection.tsv", ["pid\tpara", "0\t阿司匹林可以降低中风风险", "1\t咖啡因\t的作用",
                                 "2\t维生素D与骨骼健康", "3\t睡眠不足的影响"])
    write(d / "queries.train.tsv", ["qid\ttext", "100\t阿司匹林 中风", "101\t维生素D"])
    write(d / "queries.dev.tsv", ["qid\ttext", "200\t睡眠", "201\t咖啡因有什么作用"])
    write(d / "queries.test.tsv", ["qid\ttext", "300\t没有判断的查询"])
    write(d / "qrels.retrieval.train.tsv", ["qid\tpid", "100\t0", "101\t2"])
    write(d / "qrels.retrieval.dev.tsv", ["qid\tpid", "200\t3", "201\t1", "201\t99"])  # 99: no such passage
    write(d / "qrels.train.tsv", ["qid\t-\tpid\trel", "100\t0\t0\t3", "100\t0\t1\t0", "101\t0\t2\t2"])
    write(d / "qrels.dev.tsv", ["qid\t-\tpid\trel", "200\t0\t3\t3", "201\t0\t1\t1", "201\t0\t2\t0"])
    return d


@pytest.fixture
def multi_cpr(tmp_path) -> Path:
    d = tmp_path / "Multi-CPR" / "data" / "ecom"
    d.mkdir(parents=True)
    write(d / "corpus.tsv", ["1\tNikon/尼康二代全画幅微单机身Z62", "2\t海上女神妈祖", "3\t婴儿 睡觉 胸口"])
    write(d / "train.query.txt", ["1\t尼康z62", "2\t海神妈祖"])
    write(d / "dev.query.txt", ["1\t大人能把手放在睡觉婴儿胸口吗"])  # an id the train split uses too
    write(d / "qrels.train.tsv", ["1\t0\t1\t1", "2\t0\t2\t1"])
    write(d / "qrels.dev.tsv", ["1\t0\t3\t1"])
    return d


def test_t2ranking_becomes_a_beir_dataset(t2ranking, tmp_path):
    out = tmp_path / "t2"
    summary = convert("t2ranking", t2ranking, out)
    ds = BeirDataset(out)
    assert summary.passages == 4 and ds.corpus["1"].contents.endswith("咖啡因\t的作用")  # a tab inside a passage stays
    assert ds.qrels("train") == {"100": {"0": 1}, "101": {"2": 1}}
    assert ds.qrels("dev") == {"200": {"3": 1}, "201": {"1": 1}}
    assert summary.dropped == {"train": 0, "dev": 1}  # the judgement of a passage the corpus lacks
    assert summary.query_ids == "as published"  # T2Ranking's splits do not share ids
    assert {q.qid: q.text for q in ds.queries("dev")} == {"200": "睡眠", "201": "咖啡因有什么作用"}
    assert "300" not in ds.all_queries  # test queries have no judgements
    assert "阿司匹林" in (out / "corpus.jsonl").read_text(encoding="utf-8")  # UTF-8, not \\u escapes
    graded = convert("t2ranking", t2ranking, tmp_path / "t2g", graded=True, splits=("dev",))
    assert BeirDataset(tmp_path / "t2g").qrels("dev") == {"200": {"3": 3}, "201": {"1": 1, "2": 0}}
    assert list(graded.judgements) == ["dev"]


def test_multi_cpr_domain_through_the_cli(multi_cpr, tmp_path, capsys):
    out = tmp_path / "ecom"
    assert main(["convert", "multi-cpr", "--input", str(multi_cpr), "--output", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["passages"] == 3 and summary["judgements"] == {"train": 2, "dev": 1}
    ds = BeirDataset(out)
    # train and dev both have a query 1, different queries: one queries.jsonl cannot hold both under
    # that id, so every id is prefixed with its split (and the summary says so), nothing overwritten
    assert summary["query_ids"].startswith("SPLIT-ID")
    assert ds.qrels("dev") == {"dev-1": {"3": 1}} and ds.qrels("train") == {"train-1": {"1": 1}, "train-2": {"2": 1}}
    assert ds.all_queries["dev-1"] == "大人能把手放在睡觉婴儿胸口吗" and ds.all_queries["train-1"] == "尼康z62"


def test_bad_input_names_the_file_and_line_and_writes_nothing(t2ranking, multi_cpr, tmp_path, capsys):
    write(t2ranking / "qrels.retrieval.train.tsv", ["qid\tpid", "100\t0", "101 2"])
    out = tmp_path / "bad"
    assert main(["convert", "t2ranking", "--input", str(t2ranking), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "qrels.retrieval.train.tsv:3" in err and "2 tab-separated columns" in err
    assert not out.exists() and not list(tmp_path.glob(".bad.*"))
    assert main(["convert", "t2ranking", "--input", str(tmp_path / "nowhere"), "--output", str(out)]) == 2
    assert "nowhere does not exist" in capsys.readouterr().err
    with pytest.raises(ViewrankError, match="binary"):
        convert("multi-cpr", multi_cpr, out, graded=True)
    convert("multi-cpr", multi_cpr, out)
    with pytest.raises(ViewrankError, match="--force"):
        convert("multi-cpr", multi_cpr, out)
    write(multi_cpr / "corpus.tsv", ["1\ta", "1\tb"])
    with pytest.raises(ViewrankError, match="appears twice"):
        convert("multi-cpr", multi_cpr, out, force=True)
    assert BeirDataset(out).corpus["1"].contents.startswith("Nikon")  # the earlier dataset is intact
