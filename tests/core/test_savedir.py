"""staged_save: a model folder is either the old one or the new one, never half of each."""

from __future__ import annotations

from pathlib import Path

import pytest

from viewrank.savedir import staged_save


def _write(files: dict[str, str]):
    def write(tmp: Path) -> None:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)
    return write


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.rglob("*") if p.name.endswith((".saving", ".old")))


def test_merge_keeps_other_entries_and_replaces_written_ones(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "training.json").write_text("log")
    (out / "weights").write_text("old")
    (out / "sub").mkdir()
    (out / "sub" / "stale").write_text("x")
    staged_save(out, _write({"weights": "new", "config.json": "{}", "sub/fresh": "y"}), marker="config.json")
    assert (out / "training.json").read_text() == "log"
    assert (out / "weights").read_text() == "new"
    assert sorted(p.name for p in (out / "sub").iterdir()) == ["fresh"]  # a written folder replaces the old one
    assert _leftovers(tmp_path) == []


def test_marker_moved_last(tmp_path, monkeypatch):
    import os

    order = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (order.append(Path(b).name), real(a, b)))
    staged_save(tmp_path / "m", _write({"a": "1", "config.json": "{}", "z": "2"}), marker="config.json")
    assert order[-1] == "config.json" and set(order) == {"a", "z", "config.json"}


def test_failed_write_leaves_the_old_folder_untouched(tmp_path):
    out = tmp_path / "model"
    staged_save(out, _write({"weights": "old", "config.json": "v1"}), marker="config.json")

    def broken(tmp: Path) -> None:
        (tmp / "weights").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        staged_save(out, broken, marker="config.json")
    assert (out / "weights").read_text() == "old" and (out / "config.json").read_text() == "v1"
    assert _leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_replace_swaps_the_whole_folder(tmp_path):
    out = tmp_path / "checkpoint"
    staged_save(out, _write({"weights": "step 50", "state": "50"}), replace=True)
    staged_save(out, _write({"weights": "step 100", "state": "100"}), replace=True)
    assert {p.name: p.read_text() for p in out.iterdir()} == {"weights": "step 100", "state": "100"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_saved_files_get_the_umask_modes_not_temp_file_modes(tmp_path):
    import os
    import stat

    from viewrank.runs import atomic_write_text, default_mode

    old = os.umask(0o022)
    try:
        def write(tmp):
            (tmp / "sub").mkdir()
            (tmp / "sub" / "w.bin").write_bytes(b"x")
            os.chmod(tmp / "sub" / "w.bin", 0o600)  # as a temp-file based writer leaves it
            (tmp / "config.json").write_text("{}")

        staged_save(tmp_path / "model", write, replace=True)
        atomic_write_text(tmp_path / "model" / "training.json", "{}")
        mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
        assert default_mode() == 0o644 and default_mode(directory=True) == 0o755
        assert mode(tmp_path / "model") == 0o755 and mode(tmp_path / "model" / "sub") == 0o755
        assert mode(tmp_path / "model" / "sub" / "w.bin") == 0o644
        assert mode(tmp_path / "model" / "training.json") == 0o644
    finally:
        os.umask(old)
