"""The T5 form against an independent Fusion-in-Decoder computation, and the checkpoint reader."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from viewrank.errors import ViewrankError
from viewrank.plugins.mvp.t5_model import T5MVP, weight_files

PASSAGES = ["the cat is big", "a red fish of the sun", "moon", "blue bird of the tree and a small dog"]


def test_scores_equal_a_candidate_by_candidate_fid_computation(t5_mvp):
    """Encode every candidate alone (no padding, no batch), take its first m states; run the T5
    decoder once per view over that view's N vectors; score = mean over views of the dot products."""
    model, m = t5_mvp, t5_mvp.config.m
    query = "cat dog"
    views = []
    with torch.no_grad():
        for text in PASSAGES:
            enc = model.tokenizer(f"<extra_id_0><extra_id_1><extra_id_2><extra_id_3> | Query: {query} | Context: {text}",
                                  return_tensors="pt")
            hidden = model.t5.encoder(input_ids=enc["input_ids"]).last_hidden_state[0]
            views.append(hidden[model.config.view_offset : model.config.view_offset + m])
        views = torch.stack(views)  # (N, m, d)
        start = torch.tensor([[model.t5.config.decoder_start_token_id]])
        expected = torch.zeros(len(PASSAGES))
        for k in range(m):
            anchor = model.t5.decoder(input_ids=start, encoder_hidden_states=views[:, k].unsqueeze(0)).last_hidden_state[0, 0]
            expected += views[:, k] @ anchor / m
    np.testing.assert_allclose(model.score(query, PASSAGES), expected.numpy(), atol=1e-5, rtol=0)


def test_training_state_files_beside_the_weights_are_not_read(t5_mvp, tmp_path):
    src = t5_mvp.save(tmp_path / "plain")
    dst = tmp_path / "released"
    shutil.copytree(src, dst)
    (dst / "viewrank_mvp.json").unlink()
    state = {k: v.clone() for k, v in t5_mvp.t5.state_dict().items()}
    (dst / "model.safetensors").unlink()
    torch.save(state, dst / "mvp_base.pt")  # a released checkpoint under its own name
    torch.save({"lr": torch.tensor(1.0)}, dst / "optimizer.pt")
    torch.save({"args": torch.tensor(0)}, dst / "training_args.bin")
    assert weight_files(dst) == [dst / "mvp_base.pt"]
    loaded = T5MVP.from_t5(dst, m=4, max_length=t5_mvp.config.max_length)
    np.testing.assert_allclose(loaded.score("cat", PASSAGES), t5_mvp.score("cat", PASSAGES), atol=1e-6)
    torch.save(state, dst / "other.pt")
    with pytest.raises(ViewrankError, match="several weight files"):
        weight_files(dst)
