"""Settings are resolved once: explicit value, then the environment, then the default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_cli
from viewrank.settings import DEFAULT_DATA, Settings


def test_data_dir_order(monkeypatch, tmp_path):
    monkeypatch.delenv("VIEWRANK_DATA", raising=False)
    monkeypatch.delenv("VIEWRANK_SHARED_DATA", raising=False)
    assert Settings.resolve().data_dir == DEFAULT_DATA
    monkeypatch.setenv("VIEWRANK_SHARED_DATA", str(tmp_path / "old"))
    with pytest.warns(DeprecationWarning, match="VIEWRANK_DATA"):
        assert Settings.resolve().data_dir == tmp_path / "old"
    monkeypatch.setenv("VIEWRANK_DATA", str(tmp_path / "env"))
    assert Settings.resolve().data_dir == tmp_path / "env"
    assert Settings.resolve(data=tmp_path / "flag").data_dir == tmp_path / "flag"
    assert Settings.resolve(data=tmp_path).dataset("scifact") == tmp_path / "scifact"


def test_threads_and_device(monkeypatch):
    monkeypatch.setenv("VIEWRANK_THREADS", "3")
    monkeypatch.setenv("VIEWRANK_DEVICE", "cuda:1")
    s = Settings.resolve()
    assert (s.threads, s.device) == (3, "cuda:1")
    assert s.with_(threads=1, device=None).threads == 1 and s.with_(threads=None).threads == 3
    with pytest.raises(ValueError, match="at least 1"):
        Settings.resolve(threads=0)


def test_the_global_data_flag_reaches_commands(tiny_dataset):
    """``viewrank --data DIR`` is the default folder of every command's dataset options."""
    proc = run_cli("--data", str(Path(tiny_dataset).parent), "train", "mvp", "--help", check=True,
                   env={"COLUMNS": "1000"})
    assert str(Path(tiny_dataset).parent / "scifact") in " ".join(proc.stdout.split())


def test_deprecated_flag_aliases_warn_and_still_work(tmp_path):
    import argparse

    from viewrank.cli.flags import add_deprecated_alias

    p = argparse.ArgumentParser(prog="x")
    p.add_argument("--output", dest="out")
    add_deprecated_alias(p, "--out", "--output", dest="out")
    assert p.parse_args(["--output", "a"]).out == "a"
    assert p.parse_args(["--out", "b"]).out == "b"
    assert not re.search(r"--out\b(?!put)", p.format_help())  # hidden from --help
