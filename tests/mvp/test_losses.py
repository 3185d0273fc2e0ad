"""MVP losses: values, the authors' double-softmax option, and learning on a toy set."""

from __future__ import annotations

import torch

from viewrank.plugins.mvp.losses import listwise_loss, mvp_loss, orthogonal_loss, rank_targets


def test_orthogonal_loss_zero_for_orthonormal_anchors():
    q, _ = torch.linalg.qr(torch.randn(16, 4))
    anchors = (q.T * 3.0).unsqueeze(0).repeat(2, 1, 1)  # scale is irrelevant: anchors are normalised
    assert orthogonal_loss(anchors).item() < 1e-10


def test_orthogonal_loss_positive_for_parallel_anchors():
    anchors = torch.ones(1, 4, 8)
    assert abs(orthogonal_loss(anchors).item() - 12.0) < 1e-5  # 4x4 all-ones gram minus I


def test_rank_targets_order():
    t = rank_targets(torch.tensor([[1, 2, 3, 4]]))
    assert torch.all(t[0, :-1] > t[0, 1:]) and abs(t.sum().item() - 1) < 1e-6


def test_intended_vs_double_softmax():
    scores = torch.tensor([[5.0, 0.0, -5.0]], requires_grad=True)
    ranks = torch.tensor([[1, 2, 3]])
    intended = listwise_loss(scores, ranks)
    theirs = listwise_loss(scores, ranks, double_softmax=True)
    assert not torch.isclose(intended, theirs)
    g1 = torch.autograd.grad(intended, scores)[0]
    g2 = torch.autograd.grad(listwise_loss(scores, ranks, double_softmax=True), scores)[0]
    assert g2.abs().sum() < g1.abs().sum()


def test_loss_falls_on_toy_set(encoder_mvp):
    """A few steps on a toy task (the passage holding the query word is rank 1) lower the loss."""
    import copy

    model = copy.deepcopy(encoder_mvp).train()
    torch.manual_seed(0)
    words = ["cat", "dog", "fish", "bird", "tree", "rock"]
    lists = []
    for i, w in enumerate(words):
        others = [x for x in words if x != w][:3]
        lists.append((w, [f"the {w} is big"] + [f"the {o} is big" for o in others]))
    batches = [model.tokenize(q, ps) for q, ps in lists]
    ids = torch.stack([b["input_ids"] for b in batches])
    mask = torch.stack([b["attention_mask"] for b in batches])
    tt = torch.stack([b["token_type_ids"] for b in batches])
    ranks = torch.arange(1, 5).repeat(len(lists), 1)
    targets = rank_targets(ranks)
    floor = -(targets * targets.log()).sum(-1).mean().item()  # the soft targets' entropy: the best list loss
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    excess = []
    for _ in range(25):
        scores, anchors = model.score_lists(ids, mask, tt)
        loss, parts = mvp_loss(scores, anchors, ranks)
        opt.zero_grad()
        loss.backward()
        opt.step()
        excess.append(loss.item() - floor)
    assert excess[-1] < 0.5 * excess[0]


def test_target_temperature_sharpens_only_the_targets():
    scores = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    ranks = torch.tensor([[1, 2, 3, 4]])
    paper = listwise_loss(scores, ranks, 0.8)
    assert torch.allclose(paper, listwise_loss(scores, ranks, 0.8, target_temperature=0.8))
    assert torch.allclose(paper, listwise_loss(scores, ranks, 0.8, target_temperature=None))
    sharp = listwise_loss(scores, ranks, 0.8, target_temperature=0.05)
    one_hot = -torch.log_softmax(scores / 0.8, dim=-1)[0, 0]
    assert torch.allclose(sharp, one_hot, atol=1e-4)  # T' -> 0: cross-entropy on the rank-1 document
    assert rank_targets(ranks, 0.1)[0, 0] > 0.99 > rank_targets(ranks, 0.8)[0, 0]
