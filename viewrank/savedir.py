"""Saving a model folder so that a crash never leaves a half-written model behind.

Everything is written into a fresh folder beside the destination first. Then either

- ``merge`` (the default): each written entry is renamed into the destination, the marker file
  (the config that says "this is a complete model") last. Other entries already in the
  destination (a training log, a ``checkpoint/`` folder, mined negatives) are kept. A crash while
  writing leaves the destination as it was; only the renames (microseconds) can interleave.
- ``replace``: the whole destination is swapped for the new folder (old one renamed aside, new one
  renamed in, old one deleted). Used for training checkpoints, whose files must always belong to
  the same step.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from viewrank.runs import default_mode


def staged_save(out: str | Path, write: Callable[[Path], None], *, marker: str | None = None,
                replace: bool = False) -> Path:
    """Call ``write(tmp)`` on a temporary folder beside ``out``, then move the result into ``out``.

    ``marker``: name of the file moved last (merge mode), so a reader that checks for it never
    sees a mix of old and new files. Returns ``out``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".saving", dir=out.parent))
    try:
        write(tmp)
        normal_modes(tmp)
        if replace:
            _swap(tmp, out)
        else:
            _merge(tmp, out, marker)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def normal_modes(root: Path) -> None:
    """mkdtemp makes the staging folder 0700 and some writers use temp files (0600): give
    everything the umask's usual modes, so a saved model is as readable as one written in place."""
    file_mode, dir_mode = default_mode(), default_mode(directory=True)
    root.chmod(dir_mode)
    for path in root.rglob("*"):
        if not path.is_symlink():
            path.chmod(dir_mode if path.is_dir() else file_mode)


def _merge(tmp: Path, out: Path, marker: str | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    entries = sorted(tmp.iterdir(), key=lambda p: p.name == marker)  # marker last
    for entry in entries:
        dest = out / entry.name
        if entry.is_dir():
            if dest.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".old", dir=out))
                os.replace(dest, old / entry.name)
                os.replace(entry, dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(entry, dest)
        else:
            os.replace(entry, dest)


def _swap(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.replace(out, old / out.name)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def save_weights(model, tmp: Path) -> None:
    """``model.save_pretrained(tmp)`` without transformers' "Writing model shards" progress bar,
    which a training run would otherwise print at every checkpoint."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(tmp)
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def save_pretrained_dir(out: str | Path, model, tokenizer, config_name: str, config: dict) -> Path:
    """Save a Hugging Face model and tokenizer plus viewrank's config JSON (the marker) into ``out``."""
    import json

    def write(tmp: Path) -> None:
        save_weights(model, tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / config_name).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    return staged_save(out, write, marker=config_name)
