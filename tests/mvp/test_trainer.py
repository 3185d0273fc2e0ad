"""The training loop end to end on a tiny random BERT: seeded, checkpointed, resumable, device-checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from viewrank.errors import ViewrankError
from viewrank.plugins.mvp.data import MINED_NAME
from viewrank.plugins.mvp.options import TrainOptions
from viewrank.manager import get_host
from viewrank.plugins.mvp.trainer import STATE_NAME, train, training_device

DOCS = ["d1", "d2", "d3", "d4", "d5", "d6"]


def options(tiny_bert_dir: Path, tiny_dataset: Path, out: Path, **kw) -> TrainOptions:
    """4 queries -> 4 lists of 3 candidates; 2 lists per step: 2 steps per epoch."""
    out.mkdir(parents=True, exist_ok=True)
    # the BM25 negatives cache the trainer reads before it would start Pyserini
    hits = {q: [[d, 10.0 - i] for i, d in enumerate(DOCS)] for q in ("q1", "q2", "q3", "q4")}
    (out / MINED_NAME).write_text(json.dumps({"split": "test", "depth": 50, "scored": True, "hits": hits}), encoding="utf-8")
    base = dict(kind="mvp", backbone=str(tiny_bert_dir), dataset=str(tiny_dataset), split="test", index="unused",
                out=str(out), m=2, max_length=32, n=3, neg_depth=5, epochs=2, batch_size=2, warmup=1,
                checkpoint_every=1, time_budget_min=0, threads=1, val_queries=0, teacher=[])
    base.update(kw)
    return TrainOptions(**base)


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return {**load_file(str(model_dir / "model.safetensors")), **load_file(str(model_dir / "mvp_head.safetensors"))}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)


def test_training_is_seeded_and_resume_continues_exactly(tiny_bert_dir, tiny_dataset, tmp_path):
    full = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "full"), get_host())
    report = json.loads((full / "training.json").read_text())
    assert report["steps"] == report["planned_steps"] == 4 and not report["stopped_early"]
    assert (full / "checkpoint" / STATE_NAME).is_file()

    again = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "again"), get_host())
    assert_same(weights(full), weights(again))  # same seed, same data: same weights

    # stop after 3 steps (a crash or a time budget), then --resume: the same weights as one run
    part = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "part", max_steps=3), get_host())
    assert json.loads((part / "training.json").read_text())["steps"] == 3
    assert torch.load(part / "checkpoint" / STATE_NAME, weights_only=False)["step"] == 3
    resumed = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "part", resume=True), get_host())
    assert json.loads((resumed / "training.json").read_text())["steps"] == 4
    assert_same(weights(full), weights(resumed))

    trained = weights(full)
    fresh = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "zero", max_steps=1, lr=0.0, head_lr=0.0), get_host())
    assert any(not torch.equal(trained[k], v) for k, v in weights(fresh).items())  # training moved the weights


def test_resume_refuses_a_checkpoint_of_the_other_kind(tiny_bert_dir, tiny_dataset, tmp_path):
    train(options(tiny_bert_dir, tiny_dataset, tmp_path / "m", max_steps=1), get_host())
    with pytest.raises(ViewrankError, match="is a mvp checkpoint, not cross-encoder"):
        train(options(tiny_bert_dir, tiny_dataset, tmp_path / "m", kind="cross-encoder", resume=True), get_host())


def test_bad_devices_are_named_before_any_work():
    with pytest.raises(ViewrankError, match="--device 'tpu'"):
        training_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ViewrankError, match="--device 'cuda'.*sees no CUDA device"):
            training_device("cuda")
    assert training_device("cpu") == torch.device("cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_model_trained_on_cuda_loads_and_scores_the_same_on_cpu(tiny_bert_dir, tiny_dataset, tmp_path):
    from viewrank.plugins.mvp.loading import load_mvp_model

    out = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "cuda", device="cuda"), get_host())
    report = json.loads((out / "training.json").read_text())
    assert report["steps"] == 4 and report["device"] != "cpu"
    cpu = load_mvp_model(out)
    gpu = load_mvp_model(out).to("cuda")
    texts = ["the cat is big", "a red fish", "the moon and the sun", "dog"]
    torch.testing.assert_close(torch.from_numpy(gpu.score("cat", texts)), torch.from_numpy(cpu.score("cat", texts)),
                               atol=1e-4, rtol=0)


def test_cli_passes_every_flag_to_the_trainer(tiny_bert_dir, tiny_dataset, tmp_path):
    """`viewrank train mvp` end to end: the flags land in the options the model was trained with."""
    from tests.conftest import run_cli

    out = tmp_path / "cli"
    options(tiny_bert_dir, tiny_dataset, out)  # writes the mined BM25 lists the trainer reads
    proc = run_cli("train", "mvp", "--backbone", str(tiny_bert_dir), "--dataset", str(tiny_dataset), "--split", "test",
                   "--index", "unused", "--output", str(out), "--views", "2", "--max-length", "32", "--list-size", "3",
                   "--neg-depth", "5", "--epochs", "1", "--batch-size", "2", "--warmup", "1", "--time-budget-min", "0",
                   "--threads", "1", "--val-queries", "0", "--teacher", "none", "--seed", "7", "--windows", "3", "--l2sp", "2.5", check=True)
    assert f"saved mvp model to {out}" in proc.stdout and "2 steps of 2 planned" in proc.stdout
    assert f"rerank with maxp:3:mvp:{out}" in proc.stdout  # how to run a model trained on windows
    report = json.loads((out / "training.json").read_text())
    assert {k: report["options"][k] for k in ("m", "max_length", "n", "seed", "teacher", "kind", "windows", "l2sp")} == \
        {"m": 2, "max_length": 32, "n": 3, "seed": 7, "teacher": ["none"], "kind": "mvp", "windows": 3, "l2sp": 2.5}


def test_bf16_trains_where_the_cpu_computes_it_and_is_refused_elsewhere(tiny_bert_dir, tiny_dataset, tmp_path):
    from viewrank.plugins.onnx_runtime.cpu import amx_bf16

    ce = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "ce32", kind="cross-encoder", max_steps=1), get_host())
    assert json.loads((ce / "training.json").read_text())["steps"] == 1  # fp32, everywhere
    opts = options(tiny_bert_dir, tiny_dataset, tmp_path / "bf16", bf16=True)
    if not amx_bf16():  # without AMX bf16 autocast trains slower than fp32 (emulated, or AVX512-BF16 alone)
        with pytest.raises(ViewrankError, match="--bf16: this CPU .* has (AVX512-BF16 without AMX|no native bf16).*train without --bf16"):
            train(opts, get_host())
        return
    out = train(opts, get_host())
    report = json.loads((out / "training.json").read_text())
    assert report["steps"] == 4 and report["options"]["bf16"] is True
    fp32 = weights(train(options(tiny_bert_dir, tiny_dataset, tmp_path / "fp32"), get_host()))
    got = weights(out)
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in got.values())  # autocast: fp32 weights
    # bf16 rounding in the forward pass gave other gradients: the weights differ from the fp32 run's
    assert any(not torch.allclose(got[k], fp32[k], atol=1e-6) for k in got)
    ce = train(options(tiny_bert_dir, tiny_dataset, tmp_path / "ce", kind="cross-encoder", max_steps=1, bf16=True),
               get_host())  # the cross-encoder has no anchors
    assert json.loads((ce / "training.json").read_text())["steps"] == 1
