"""Damaged JSON files: a clear error naming the file for inputs, a recomputation for caches."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import run_cli
from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_cache, read_json, read_json_object


def test_read_json_names_the_file_and_the_place(tmp_path):
    bad = tmp_path / "viewrank_mvp.json"
    bad.write_text('{"variant": "encoder",\n "m": }')
    with pytest.raises(ViewrankError, match=r"MVP config .*viewrank_mvp.json: malformed JSON \(.* line 2 column"):
        read_json(bad, what="MVP config")
    with pytest.raises(ViewrankError, match=r"nothing.json is missing"):
        read_json(tmp_path / "nothing.json")
    (tmp_path / "latin1.json").write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(ViewrankError, match=r"latin1.json cannot be read"):
        read_json(tmp_path / "latin1.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_json(tmp_path / "list.json") == [1, 2]
    with pytest.raises(ViewrankError, match=r"index metadata .*list.json: expected a JSON object, found list"):
        read_json_object(tmp_path / "list.json", what="index metadata")


def test_a_damaged_cache_is_ignored_with_a_warning(tmp_path, caplog):
    cache = tmp_path / "teacher_scores.json"
    assert read_cache(None) is None and read_cache(cache) is None
    cache.write_text('{"key": {"specs": ["bm25"]}, "scores": {"q1": {"d1": 0.')  # a copy cut short
    with caplog.at_level(logging.WARNING, logger="viewrank"):
        assert read_cache(cache) is None
    assert "teacher_scores.json" in caplog.text and "recomputed" in caplog.text
    cache.write_text(json.dumps({"key": 1, "scores": {}}))
    assert read_cache(cache) == {"key": 1, "scores": {}}


def test_a_damaged_mined_negatives_cache_is_mined_again(tiny_dataset, tiny_index, tmp_path):
    from viewrank.manager import get_host
    from viewrank.plugins.mvp.data import mine_bm25

    calls = []

    def bm25():
        calls.append(1)
        return get_host().retriever(f"bm25:{tiny_index}")

    cache = tmp_path / "mined_negatives.json"
    cache.write_text('{"split": "test", "depth": 3, "scored": true, "hits": {"q1": [["d1", 2.')
    hits = mine_bm25(tiny_dataset, "test", bm25, 3, cache)
    assert calls == [1] and hits["q1"][0][0] == "d1"
    assert json.loads(cache.read_text())["hits"]["q1"][0][0] == "d1"  # rewritten whole
    assert mine_bm25(tiny_dataset, "test", bm25, 3, cache) == hits and calls == [1]  # now answered from it


def test_a_damaged_export_config_exits_2_naming_it(tmp_path):
    (tmp_path / "viewrank_onnx.json").write_text('{"kind": "embedder", "dim": 384,')
    done = run_cli("verify-export", str(tmp_path), timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "viewrank_onnx.json: malformed JSON" in done.stderr and "Traceback" not in done.stderr
