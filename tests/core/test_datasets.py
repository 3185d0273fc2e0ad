import pytest

from tests.conftest import write_beir
from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError


def test_loads_the_tiny_dataset(tiny_dataset):
    ds = BeirDataset(tiny_dataset)
    assert [q.qid for q in ds.queries("test")] == ["q1", "q2", "q3", "q4"]
    assert ds.qrels("test")["q2"] == {"d3": 1}
    assert ds.candidate("d1", 2.5).contents.startswith("Vitamin D Vitamin D deficiency")
    assert ds.splits() == ["test"]


def test_malformed_jsonl_names_file_and_line(tmp_path):
    root = write_beir(tmp_path / "ds")
    lines = (root / "corpus.jsonl").read_text().splitlines()
    lines[2] = '{"_id": "d3", "title": '
    (root / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ViewrankError, match=r"corpus.jsonl:3: malformed JSON"):
        BeirDataset(root).corpus


def test_missing_fields_and_empty_queries(tmp_path):
    root = write_beir(tmp_path / "ds", queries=[{"_id": "q1", "text": "  "}])
    with pytest.raises(ViewrankError, match=r"queries.jsonl:1: query 'q1' has empty text"):
        BeirDataset(root).all_queries
    root2 = write_beir(tmp_path / "ds2", corpus=[{"title": "no id"}])
    with pytest.raises(ViewrankError, match=r"corpus.jsonl:1: missing field\(s\) id .* or _id"):
        list(BeirDataset(root2).iter_corpus())


def test_unknown_layout_and_split(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ViewrankError, match="not a BEIR-layout dataset: missing corpus.jsonl, queries.jsonl"):
        BeirDataset(tmp_path / "empty")
    with pytest.raises(ViewrankError, match="does not exist"):
        BeirDataset(tmp_path / "nope")
    ds = BeirDataset(write_beir(tmp_path / "ds"))
    with pytest.raises(ViewrankError, match=r"split 'dev' has no qrels file .*splits here: test"):
        ds.qrels("dev")
    with pytest.raises(ViewrankError, match="not in"):
        ds.candidate("zzz")


def test_bad_qrels_line(tmp_path):
    root = write_beir(tmp_path / "ds")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\n")
    with pytest.raises(ViewrankError, match=r"test.tsv:2: expected 3 tab-separated columns"):
        BeirDataset(root).qrels("test")
