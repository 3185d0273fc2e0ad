"""MVP model properties on tiny random models: the export contract, invariance, save/load."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from viewrank.plugins.mvp.loading import load_mvp_model

PASSAGES = ["the cat is big", "a red fish", "moon and sun . tree", "blue bird of the tree", "big rock",
            "small dog and a cat", "green sun", "the moon is red"]
MODELS = ["encoder_mvp", "t5_mvp", "cross_encoder"]


@pytest.fixture(params=MODELS)
def model(request):
    return request.getfixturevalue(request.param)


def test_contract_shapes(model):
    batch = model.tokenize("cat dog", PASSAGES)
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["input_ids"].shape[0] == len(PASSAGES)
    assert ("token_type_ids" in batch) == model.uses_token_types
    with torch.no_grad():
        scores = model(**batch)
    assert scores.shape == (len(PASSAGES),)


@pytest.mark.parametrize("name", MODELS)
def test_permutation_invariance(name, request):
    model = request.getfixturevalue(name)
    base = model.score("cat dog", PASSAGES)
    rng = random.Random(1)
    for _ in range(3):
        perm = list(range(len(PASSAGES)))
        rng.shuffle(perm)
        shuffled = model.score("cat dog", [PASSAGES[i] for i in perm])
        np.testing.assert_allclose(shuffled, base[perm], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["encoder_mvp", "t5_mvp"])
def test_anchor_depends_on_whole_list(name, request):
    """Scores are listwise: changing another candidate changes a candidate's score."""
    model = request.getfixturevalue(name)
    a = model.score("cat", ["the cat", "a dog"])[0]
    b = model.score("cat", ["the cat", "green moon and sun"])[0]
    assert abs(a - b) > 1e-7


@pytest.mark.parametrize("name", MODELS)
def test_chunked_encoder_gives_the_scores_of_one_batch(name, request):
    """Length-sorted encoder chunks at inference change speed, not scores (nor the anchors' inputs)."""
    model = request.getfixturevalue(name)
    passages = [" ".join(PASSAGES[: 1 + i % len(PASSAGES)]) for i in range(37)]  # lengths vary
    batch = model.tokenize("cat dog", passages)
    saved = model.config.encoder_chunk
    try:
        model.config.encoder_chunk = 0
        whole = model.score("cat dog", passages)
        for chunk in (1, 5, 16):
            model.config.encoder_chunk = chunk
            np.testing.assert_allclose(model.score("cat dog", passages), whole, atol=1e-5, rtol=0)
        with torch.no_grad():  # outside inference mode (training, export) it is one batch
            np.testing.assert_allclose(model(**batch).numpy(), whole, atol=1e-5, rtol=0)
    finally:
        model.config.encoder_chunk = saved
    assert batch["attention_mask"].sum(-1).unique().numel() > 3  # padding really differed


@pytest.mark.parametrize("name", ["encoder_mvp", "t5_mvp"])
def test_n_from_1_to_200_in_one_pass(name, request):
    model = request.getfixturevalue(name)
    for n in (1, 2, 200):
        passages = [PASSAGES[i % len(PASSAGES)] + f" {chr(97 + i % 26)}" for i in range(n)]
        scores = model.score("cat", passages)
        assert scores.shape == (n,) and np.isfinite(scores).all()


def test_empty_candidate_list(model):
    assert model.score("cat", []).shape == (0,)
    assert model.tokenize("cat", [])["input_ids"].shape[0] == 0


def test_max_length_truncation(model):
    long = " ".join(["cat"] * 500)
    batch = model.tokenize("dog", [long, "a cat"])
    assert batch["input_ids"].shape[1] == model.config.max_length
    assert np.isfinite(model.score("dog", [long, "a cat"])).all()


def test_view_tokens_first(encoder_mvp, t5_mvp):
    for model in (encoder_mvp, t5_mvp):
        ids = model.tokenize("cat", ["dog"])["input_ids"][0].tolist()
        off, m = model.config.view_offset, model.config.m
        assert model.tokenizer.convert_ids_to_tokens(ids[off : off + m]) == [f"<extra_id_{k}>" for k in range(m)]


def test_save_load_round_trip(model, tmp_path, capsys):
    from transformers.utils import logging as hf_logging

    before = model.score("cat dog", PASSAGES)
    assert hf_logging.is_progress_bar_enabled()
    model.save(tmp_path / "m")
    # a training run saves a checkpoint every 50 steps: no "Writing model shards" bar each time,
    # and transformers' own progress bars are on again afterwards
    assert "Writing model shards" not in capsys.readouterr().err and hf_logging.is_progress_bar_enabled()
    loaded = load_mvp_model(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config
    np.testing.assert_array_equal(loaded.score("cat dog", PASSAGES), before)


def test_released_checkpoint_keys_remapped(t5_mvp, tmp_path):
    """A checkpoint with the authors' wrapped-encoder key names loads to the same model."""
    import shutil

    from viewrank.plugins.mvp.t5_model import T5MVP

    src = tmp_path / "plain"
    t5_mvp.save(src)
    wrapped = {}
    for key, value in t5_mvp.t5.state_dict().items():
        if key.startswith("encoder."):
            key = "encoder.encoder." + key[len("encoder."):]
            key = key.replace(".block.0.", ".block.0.module.").replace(".block.1.", ".block.1.module.")
        wrapped[key] = value.clone()
    wrapped["lm_head.weight"] = torch.zeros(3, 3)
    dst = tmp_path / "released"
    dst.mkdir()
    for f in src.iterdir():
        if f.name.endswith((".json", ".txt", ".model")) and f.name != "viewrank_mvp.json":
            shutil.copy(f, dst / f.name)
    torch.save(wrapped, dst / "pytorch_model.bin")
    loaded = T5MVP.from_t5(dst, m=4, max_length=t5_mvp.config.max_length)
    np.testing.assert_allclose(loaded.score("cat", PASSAGES), t5_mvp.score("cat", PASSAGES), atol=1e-6)
    assert type(load_mvp_model(dst)) is T5MVP


def test_not_a_model_dir(tmp_path):
    from viewrank.errors import ViewrankError

    with pytest.raises(ViewrankError, match="viewrank_mvp.json"):
        load_mvp_model(tmp_path)
    with pytest.raises(ViewrankError, match="does not exist"):
        load_mvp_model(tmp_path / "nope")


def test_crash_while_saving_keeps_the_previous_model(model, tmp_path, monkeypatch):
    before = model.score("cat dog", PASSAGES)
    model.save(tmp_path / "m")
    target = model.t5 if hasattr(model, "t5") else model.backbone

    def crash(path, *args, **kwargs):
        (Path(path) / "model.safetensors").write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(target, "save_pretrained", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "m")
    monkeypatch.undo()
    np.testing.assert_array_equal(load_mvp_model(tmp_path / "m").score("cat dog", PASSAGES), before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_fresh_encoder_mvp_does_not_announce_the_embedding_start_it_overwrites(tiny_bert_dir):
    """transformers' notice about the new view tokens' mean-and-covariance start is silenced (the
    rows are overwritten at once) without touching the random draw or other warnings. A fresh
    process: transformers prints the notice once per process."""
    import subprocess
    import sys

    code = ("import torch; from viewrank.plugins.mvp.encoder_model import EncoderMVP; "
            f"m = EncoderMVP.from_backbone({str(tiny_bert_dir)!r}, m=2, max_length=32); "
            "print(float(m.backbone.get_input_embeddings().weight[-1].sum()))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120) for _ in range(2)]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
        assert "multivariate normal" not in proc.stderr
    assert runs[0].stdout == runs[1].stdout  # the same seed gives the same view tokens
