"""Bench scripts stop on bad input the way the viewrank commands do: the script and the input
named on stderr, exit status 2, nothing written (bench/benchcli.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, write_beir


def bench(script: str, *args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_mvp_ablation_listwise_without_a_model_exits_2():
    proc = bench("mvp_ablation.py", "listwise")
    assert proc.returncode == 2
    assert proc.stderr.startswith("mvp_ablation: error: listwise: name a --model")
    assert "Traceback" not in proc.stderr


def _tiny_with_train(tmp_path):
    root = write_beir(tmp_path / "tiny")
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    return root


def test_fusion_names_an_unreadable_saved_run(tmp_path):
    out = tmp_path / "fusion.json"
    missing = tmp_path / "nope.json"
    proc = bench("fusion.py", "--dataset", str(_tiny_with_train(tmp_path)), "--train-run", str(missing),
                 "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"fusion: error: --train-run {missing}: cannot read it")
    assert not out.exists()


def test_fusion_refuses_a_run_saved_for_another_reranker(tmp_path):
    out = tmp_path / "fusion.json"
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"spec": "cross-encoder:models/x", "run": {}, "seconds": 1.0}))
    proc = bench("fusion.py", "--dataset", str(_tiny_with_train(tmp_path)), "--train-run", str(saved),
                 "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert "--train-run" in proc.stderr and "'cross-encoder:models/x', not --reranker 'bi-encoder'" in proc.stderr
    assert not out.exists()
    not_a_run = tmp_path / "list.json"
    not_a_run.write_text("[1, 2]")
    proc = bench("fusion.py", "--dataset", str(_tiny_with_train(tmp_path)), "--train-run", str(not_a_run))
    assert proc.returncode == 2 and 'no "run" object' in proc.stderr
