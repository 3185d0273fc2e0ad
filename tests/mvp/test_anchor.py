"""List-aware anchors (the paper's mechanism) against the learned-query ablation, on tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from viewrank.errors import ViewrankError
from viewrank.plugins.mvp.anchor import AnchorDecoder
from viewrank.plugins.mvp.config import CONFIG_NAME, MVPConfig
from viewrank.plugins.mvp.losses import orthogonal_loss

LIST = ["the cat is big", "a red fish", "moon and sun . tree", "blue bird of the tree"]
OTHERS = ["green sun", "small dog and a cat", "the moon is red"]


def test_list_anchor_is_a_function_of_the_list():
    torch.manual_seed(0)
    head = AnchorDecoder(32, m=3, heads=2, ffn=64, anchor="list").eval()
    views = torch.randn(1, 5, 3, 32)
    other = views.clone()
    other[:, 1:] = torch.randn(1, 4, 3, 32)  # same first candidate, other candidates replaced
    with torch.no_grad():
        a, b = head(views), head(other)
        perm = head(views[:, torch.randperm(5)])
    assert (a - b).abs().max() > 1e-2  # the anchor moves with the list
    torch.testing.assert_close(a, perm, atol=1e-6, rtol=0)  # ... but not with its order


def test_views_of_the_list_anchor_share_one_start_vector():
    """Identical inputs for two views give identical anchors: views differ only by their inputs."""
    head = AnchorDecoder(32, m=2, heads=2, ffn=64, anchor="list").eval()
    views = torch.randn(1, 6, 1, 32).expand(1, 6, 2, 32)
    with torch.no_grad():
        a = head(views)
    torch.testing.assert_close(a[:, 0], a[:, 1])
    query = AnchorDecoder(32, m=2, heads=2, ffn=64, anchor="query").eval()
    with torch.no_grad():
        q = query(views)
    assert (q[:, 0] - q[:, 1]).abs().max() > 1e-2  # learned queries differ whatever the list


def test_unknown_anchor_is_refused():
    with pytest.raises(ValueError, match="anchor 'mean' unknown"):
        AnchorDecoder(32, m=2, heads=2, ffn=64, anchor="mean")


def test_candidate_score_changes_with_other_candidates_not_with_their_order(encoder_mvp):
    assert encoder_mvp.config.anchor == "list"
    base = encoder_mvp.score("cat dog", LIST)
    replaced = encoder_mvp.score("cat dog", LIST[:1] + OTHERS)
    assert abs(base[0] - replaced[0]) > 1e-6  # listwise: the first candidate's score moved
    shuffled = encoder_mvp.score("cat dog", [LIST[0], LIST[3], LIST[1], LIST[2]])
    np.testing.assert_allclose(shuffled[0], base[0], atol=1e-5, rtol=0)


def test_orthogonal_loss_is_not_trivial_at_initialisation(tiny_bert_dir):
    """List-aware anchors start from one shared vector: they are not orthogonal for free."""
    from viewrank.plugins.mvp.encoder_model import EncoderMVP

    fresh = {a: EncoderMVP.from_backbone(tiny_bert_dir, m=4, max_length=64, anchor=a) for a in ("list", "query")}
    losses = {}
    for name, model in fresh.items():
        batch = model.tokenize("cat dog", LIST)
        with torch.no_grad():
            _, anchors = model.score_lists(**{k: v.unsqueeze(0) for k, v in batch.items()})
        losses[name] = float(orthogonal_loss(anchors))
    assert losses["list"] > 0.1
    assert losses["list"] > 10 * losses["query"]


def test_a_config_written_before_list_anchors_loads_as_query(encoder_mvp, tmp_path):
    model_dir = encoder_mvp.save(tmp_path / "old")
    data = json.loads((model_dir / CONFIG_NAME).read_text())
    del data["anchor"]
    (model_dir / CONFIG_NAME).write_text(json.dumps(data))
    assert MVPConfig.load(model_dir).anchor == "query"


def test_score_views_scores_a_candidate_in_any_context_without_reencoding(encoder_mvp):
    """A candidate's view vectors do not depend on its list (each is encoded on its own), so
    ``score_views`` over re-assembled lists gives what a fresh forward pass over them gives."""
    batch = encoder_mvp.tokenize("cat dog", LIST + OTHERS)
    with torch.no_grad():
        views = encoder_mvp.encode_views(**batch)  # (N, m, d), every candidate once
        own, _ = encoder_mvp.score_views(views[None, : len(LIST)])
        mixed, _ = encoder_mvp.score_views(torch.cat([views[:1], views[len(LIST):]])[None])
    np.testing.assert_allclose(own[0].numpy(), encoder_mvp.score("cat dog", LIST), atol=1e-5, rtol=0)
    np.testing.assert_allclose(mixed[0].numpy(), encoder_mvp.score("cat dog", LIST[:1] + OTHERS), atol=1e-5, rtol=0)
    assert abs(float(own[0, 0]) - float(mixed[0, 0])) > 1e-6  # the context moved the first candidate's score


def test_with_anchor_keeps_the_block_and_renews_only_the_start_parameters():
    torch.manual_seed(0)
    query = AnchorDecoder(32, m=2, heads=2, ffn=64, anchor="query")
    with torch.no_grad():
        query.ff[0].weight.add_(1.0)  # a "trained" block: not what a new decoder would hold
    listed = query.with_anchor("list", seed=3)
    old, new = query.state_dict(), listed.state_dict()
    assert "start" in new and "queries" not in new and listed.anchor == "list"
    for k in old.keys() - {"queries"}:
        torch.testing.assert_close(new[k], old[k], atol=0, rtol=0)
    torch.testing.assert_close(listed.start, query.with_anchor("list", seed=3).start)  # seeded
    views = torch.randn(1, 6, 1, 32).expand(1, 6, 2, 32)
    with torch.no_grad():
        a = listed.eval()(views)
    torch.testing.assert_close(a[:, 0], a[:, 1])  # now one shared start: views differ only by their inputs
    assert listed.with_anchor("query").queries.shape == (2, 32)


def test_init_from_with_another_anchor_is_a_warm_start(encoder_mvp, cross_encoder, tmp_path):
    """``viewrank train mvp --init-from DIR --anchor query``: the encoder and the decoder block come
    from DIR, only the anchors' start parameters are new; without --anchor the model keeps its own."""
    from viewrank.manager import get_host
    from viewrank.plugins.mvp.options import TrainOptions
    from viewrank.plugins.mvp.trainer import build_model, check_options

    start = encoder_mvp.save(tmp_path / "start")
    kept = build_model(TrainOptions(init_from=str(start)), get_host())
    assert kept.config.anchor == "list" == encoder_mvp.config.anchor
    np.testing.assert_allclose(kept.score("cat dog", LIST), encoder_mvp.score("cat dog", LIST), atol=1e-6, rtol=0)
    switched = build_model(TrainOptions(init_from=str(start), anchor="query"), get_host())
    assert switched.config.anchor == "query" and "queries" in dict(switched.head.named_parameters())
    for k, v in encoder_mvp.backbone.state_dict().items():
        torch.testing.assert_close(switched.backbone.state_dict()[k], v, atol=0, rtol=0)
    torch.testing.assert_close(switched.head.k.weight, encoder_mvp.head.k.weight, atol=0, rtol=0)
    assert not np.allclose(switched.score("cat dog", LIST), encoder_mvp.score("cat dog", LIST))
    with pytest.raises(ViewrankError, match="--anchor list: a cross-encoder has no anchor decoder"):
        check_options(TrainOptions(kind="cross-encoder", init_from=str(cross_encoder.save(tmp_path / "ce")), anchor="list"))
