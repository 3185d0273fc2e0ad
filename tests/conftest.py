"""Fixtures shared by every test package: data locations and a tiny BEIR dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# OpenVINO's model-conversion telemetry is on by default (no consent file) and sends from a forked
# process; with no network that child can hang on a lock inherited from a threaded parent, and
# pytest then waits for it at exit (seen once in a full run, 2026-12-05). Its ovc tool switches
# telemetry off when CI=true, so every test process and the CLIs they start run with it.
os.environ.setdefault("CI", "true")

ROOT = Path(__file__).resolve().parents[1]
# The same resolution viewrank uses ($VIEWRANK_DATA, else ../shared/data), anchored at the repository.
SHARED_DATA = Path(os.environ.get("VIEWRANK_DATA") or os.environ.get("VIEWRANK_SHARED_DATA") or ROOT.parent / "shared" / "data").resolve()

TINY_CORPUS = [
    {"_id": "d1", "title": "Vitamin D", "text": "Vitamin D deficiency is linked to bone fractures in older adults."},
    {"_id": "d2", "title": "Sleep", "text": "Short sleep duration raises the risk of obesity in children."},
    {"_id": "d3", "title": "Aspirin", "text": "Daily aspirin lowers the risk of heart attack but raises bleeding risk."},
    {"_id": "d4", "title": "Coffee", "text": "Coffee consumption is not associated with higher mortality."},
    {"_id": "d5", "title": "Exercise", "text": "Regular exercise improves memory and reduces depression symptoms."},
    {"_id": "d6", "title": "Smoking", "text": "Smoking causes lung cancer and heart disease."},
]
TINY_QUERIES = [
    {"_id": "q1", "text": "vitamin D and bone fractures"},
    {"_id": "q2", "text": "does aspirin prevent heart attack"},
    {"_id": "q3", "text": "sleep and obesity in children"},
    {"_id": "q4", "text": "exercise memory depression"},
]
TINY_QRELS = [("q1", "d1"), ("q2", "d3"), ("q3", "d2"), ("q4", "d5")]


def write_beir(root: Path, corpus=TINY_CORPUS, queries=TINY_QUERIES, qrels=TINY_QRELS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in qrels))
    return root


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    path = SHARED_DATA / "scifact"
    if not (path / "corpus.jsonl").is_file():
        pytest.skip(f"SciFact is not at {path} (set VIEWRANK_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def scifact_index(scifact_dir, tmp_path_factory) -> Path:
    """A Lucene index of SciFact built by ``viewrank index`` for this session (about 10 s)."""
    out = tmp_path_factory.mktemp("scifact-index") / "scifact"
    run_cli("index", "--dataset", str(scifact_dir), "--index", str(out), check=True)
    return out


@pytest.fixture(scope="session")
def msmarco_triples() -> Path:
    path = SHARED_DATA / "msmarco-toy" / "triples.tsv"
    if not path.is_file():
        pytest.skip(f"MS MARCO toy triples are not at {path}")
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    return write_beir(tmp_path_factory.mktemp("tiny") / "tiny")


@pytest.fixture(scope="session")
def tiny_index(tiny_dataset, tmp_path_factory) -> Path:
    """A real Lucene index of the tiny dataset, built by Pyserini's indexer."""
    out = tmp_path_factory.mktemp("tiny-index") / "index"
    run_cli("index", "--dataset", str(tiny_dataset), "--index", str(out), check=True)
    return out


def run_cli(*args: str, check: bool = False, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``viewrank ARGS`` in a child process (a fresh JVM and plugin host each time)."""
    proc = subprocess.run([sys.executable, "-m", "viewrank", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"viewrank {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
