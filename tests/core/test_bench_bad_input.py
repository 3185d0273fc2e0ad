"""Bench scripts stop on bad input the way the viewrank commands do: the script and the input
named on stderr, exit status 2, nothing written (bench/benchcli.py). Also the paired tests of
`mvp_ablation.py compare`, which read a results file and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

from pathlib import Path

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
    assert proc.stderr.startswith(f"fusion: error: --train-run {missing} is missing")
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


def test_a_damaged_result_file_stops_the_bench_and_is_left_as_it_was(tmp_path):
    """A bench that merges into its earlier result (here `compare`) reads it through
    benchcli.read_result: a file cut short is named with line and column, exit 2, not rewritten."""
    out = tmp_path / "quality.json"
    out.write_text('{"bench": "mvp_ablation", "systems": {')
    proc = bench("mvp_ablation.py", "compare", "--pair", "a,b", "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"mvp_ablation: error: {out}: malformed JSON (")
    assert "line 1 column" in proc.stderr and "Traceback" not in proc.stderr
    assert out.read_text() == '{"bench": "mvp_ablation", "systems": {'
    proc = bench("mvp_ablation.py", "listwise", "--prep", str(tmp_path / "none"), "--model", "a=b")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"mvp_ablation: error: --prep {tmp_path / 'none'}: no prep.json there; run")


def _evaluated(tmp_path, **models) -> Path:
    """A results file as `mvp_ablation.py evaluate` writes it, with per-query nDCG@10 only."""
    out = tmp_path / "quality.json"
    systems = {name: {key: {"nDCG@10": 0.0, "per_query_nDCG@10": values} for key in ("test", "cisi")}
               for name, values in models.items()}
    for row in systems.values():  # fused with BM25: every query 0.1 higher
        row["fuse"] = {key: {"per_query_nDCG@10": {q: v + 0.1 for q, v in row[key]["per_query_nDCG@10"].items()}}
                       for key in ("test", "cisi")}
    out.write_text(json.dumps({"bench": "mvp_ablation", "systems": systems}))
    return out


def test_mvp_ablation_compare_tests_b_minus_a_per_pair_and_over_the_pairs(tmp_path):
    base = {f"q{i}": 0.5 for i in range(8)}
    out = _evaluated(tmp_path, a=base, b={q: v + 0.1 for q, v in base.items()},
                     c=base, d={**base, "q0": 0.9}, e={"q0": 0.5})
    proc = bench("mvp_ablation.py", "compare", "--pair", "a,b", "--pair", "c,d", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())["compared"]["a,b c,d"]
    first, second = [r for r in result["pairs"] if r["set"] == "test"]
    # +0.1 on all 8 queries: every one of the 256 sign assignments but the two extremes is smaller
    assert (first["diff"], first["p"], first["queries"]) == (0.1, round(2 / 256, 4), 8)
    assert (second["diff"], second["p"]) == (0.05, 1.0)  # one query moved: no test can tell
    # two pairs: 4 sign assignments, two as extreme as observed
    assert result["over_pairs"]["test"] == {"pairs": 2, "diff": 0.075, "p": 0.5, "per_pair": [0.1, 0.05]}
    # NAME:fuse reads the model's fusion with BM25: here 0.1 above a on every query, b's own values
    proc = bench("mvp_ablation.py", "compare", "--pair", "a,a:fuse", "--pair", "b,a:fuse", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    fused = [r for r in json.loads(out.read_text())["compared"]["a,a:fuse b,a:fuse"]["pairs"] if r["set"] == "cisi"]
    assert [(r["b"], r["diff"], r["b_nDCG@10"]) for r in fused] == [("a:fuse", 0.1, 0.6), ("a:fuse", 0.0, 0.6)]
    for bad in ("a,zz", "a,zz:fuse", "a,b:alone"):
        proc = bench("mvp_ablation.py", "compare", "--pair", bad, "--out", str(out))
        assert proc.returncode == 2 and f"--pair {bad}" in proc.stderr and f"none for {bad[2:]}" in proc.stderr
        assert bad not in json.loads(out.read_text())["compared"]


def test_mvp_ablation_picks_a_models_fusion_weight_on_its_own_held_out_queries(tmp_path):
    """A model trained with another --seed than prepare's was trained on most of prepare's held-out
    slice, so `evaluate` picks its W on the queries its own trainer held out (drawn again from the
    options in its training.json); prepare's slice only when it was trained on other data."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from mvp_ablation import held_out_set
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from viewrank.datasets import BeirDataset
    from viewrank.plugins.mvp.data import split_validation

    root = _tiny_with_train(tmp_path)
    ds = BeirDataset(root)
    hits = {"q1": [["d1", 2.0]], "q2": [["d3", 1.0]]}
    sets = {"val": (ds, "train", {"q1": ds.all_queries["q1"]}, hits)}
    own = {seed: split_validation(root, "train", 1, seed) for seed in range(20)}
    seed = next(s for s, qids in own.items() if qids == ["q2"])  # a seed that holds out the other query
    trained = {"dataset": str(root), "split": "train", "val_queries": 1, "seed": seed}
    val, label = held_out_set(sets, {"options": trained})
    assert val[2] == {"q2": ds.all_queries["q2"]} and val[3] is hits and label == "its own 1 held-out train queries"
    for training in (None, {"options": {**trained, "dataset": str(tmp_path / "pseudo")}},  # adapted elsewhere
                     {"options": {**trained, "val_queries": 0}}):  # nothing held out
        val, label = held_out_set(sets, training)
        assert val is sets["val"] and label == "prepare's 1 held-out train queries"
