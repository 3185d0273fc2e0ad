"""AnchorDecoder: the encoder variant's small decoder block that produces one anchor per view.

Two forms (``MVPConfig.anchor``):

- ``list`` (this class's default, the paper's mechanism): every view starts from ONE shared
  start vector (as each of T5's per-view decoder steps starts from the same decoder start
  token) that cross-attends over that view's N candidate vectors. The start vector is small and
  shared, so an anchor is a function of its view's list, and views differ only through their
  inputs (the view tokens) and the orthogonal loss.
- ``query`` (what ``viewrank train mvp`` trains unless told otherwise: within a CPU budget list
  anchors do not learn from lists of 8 and stay below BM25 with lists of 16, docs/mvp-results.md): one
  learned query per view, initialised orthonormal and large, on the residual path. Its anchors
  are near-orthogonal and almost independent of the list at step 0; trained, they read it
  through the cross-attention (docs/mvp-results.md, the listwise test).

:meth:`AnchorDecoder.with_anchor` turns one form into the other for a warm start (``viewrank train
mvp --init-from DIR --anchor list``): the block is kept, only the start parameters are new.

Input ``views`` is ``(B, N, m, d)``; output anchors ``(B, m, d)``. There are no position
embeddings and no mask (every candidate is real), so an anchor is a symmetric function of its N
inputs: permuting candidates cannot change it. Pre-LN block: cross-attention, feed-forward, final
LayerNorm (as T5's decoder ends with one).
"""

from __future__ import annotations

import torch
from torch import nn

ANCHORS = ("list", "query")


class AnchorDecoder(nn.Module):
    def __init__(self, d_model: int, m: int, heads: int = 4, ffn: int = 1024, init_scale: float = 0.1,
                 anchor: str = "list") -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by {heads} heads")
        if anchor not in ANCHORS:
            raise ValueError(f"anchor {anchor!r} unknown; expected one of {', '.join(ANCHORS)}")
        self.m, self.h, self.dh, self.anchor = m, heads, d_model // heads, anchor
        if anchor == "query":
            # Orthonormal query directions (scaled to unit-size entries): anchors start near-orthogonal.
            q = torch.linalg.qr(torch.randn(d_model, m))[0].T if m <= d_model else torch.randn(m, d_model) / d_model ** 0.5
            self.queries = nn.Parameter(q * d_model ** 0.5)
        else:
            # One start vector for every view, embedding-sized (not on a large residual path).
            self.start = nn.Parameter(0.02 * torch.randn(d_model))
        self.ln_q = nn.LayerNorm(d_model)
        self.ln_kv = nn.LayerNorm(d_model)
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.o = nn.Linear(d_model, d_model)
        self.ln_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ffn), nn.GELU(), nn.Linear(ffn, d_model))
        self.ln_out = nn.LayerNorm(d_model)
        with torch.no_grad():  # start with small anchors so initial scores are O(1)
            self.ln_out.weight.fill_(init_scale)

    def with_anchor(self, anchor: str, seed: int = 0) -> "AnchorDecoder":
        """A decoder of form ``anchor`` holding this one's block (norms, projections, feed-forward,
        output norm, trained or not); only the form's start parameters (the per-view queries or
        the shared start vector) are initialised as for a new model, under ``seed``."""
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            new = AnchorDecoder(self.q.in_features, self.m, self.h, self.ff[0].out_features, anchor=anchor)
        own = {k: v for k, v in self.state_dict().items() if k not in ("queries", "start")}
        missing, unexpected = new.load_state_dict(own, strict=False)
        assert not unexpected and set(missing) <= {"queries", "start"}, (missing, unexpected)
        return new.train(self.training)

    def start_vectors(self, b: int, d: int) -> torch.Tensor:
        """``(B, m, d)``: the per-view learned queries, or the shared start vector repeated."""
        if self.anchor == "query":
            return self.queries.unsqueeze(0).expand(b, self.m, d)
        return self.start.view(1, 1, d).expand(b, self.m, d)

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        b, n, m, d = views.shape
        kv = self.ln_kv(views).transpose(1, 2)  # (B, m, N, d)
        k = self.k(kv).reshape(b, m, n, self.h, self.dh)
        v = self.v(kv).reshape(b, m, n, self.h, self.dh)
        x = self.start_vectors(b, d)
        q = self.q(self.ln_q(x)).reshape(b, m, self.h, self.dh)
        att = torch.einsum("bmhc,bmnhc->bmhn", q, k) / (self.dh ** 0.5)
        att = att.softmax(dim=-1)
        ctx = torch.einsum("bmhn,bmnhc->bmhc", att, v).reshape(b, m, d)
        x = x + self.o(ctx)
        x = x + self.ff(self.ln_ff(x))
        return self.ln_out(x)
