"""Files beside the graph: the manifest (sha256 of every file) and atomic JSON writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from viewrank.jsonfile import read_json_object
from viewrank.runs import atomic_write_text

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(path: Path, data: object) -> Path:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def write_manifest(root: Path, meta: dict) -> Path:
    """``manifest.json``: every file under ``root`` (but itself) with its size and sha256."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        files[path.relative_to(root).as_posix()] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return write_json(root / MANIFEST, {**meta, "files": files})


def verify_manifest(root: Path) -> list[str]:
    """Problems found (missing files, changed hashes); empty when the directory is intact."""
    data = read_json_object(root / MANIFEST, what="export manifest")
    problems = []
    for rel, info in data["files"].items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != info["sha256"]:
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems
