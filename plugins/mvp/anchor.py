"""AnchorDecoder: the encoder variant's small decoder block that produces one anchor per view."""

from __future__ import annotations

import torch
from torch import nn


class AnchorDecoder(nn.Module):
    """One learned query per view cross-attends over that view's N candidate vectors.

    Input ``views`` is ``(B, N, m, d)``; output anchors ``(B, m, d)``. There are no position
    embeddings and no mask (every candidate is real), so an anchor is a symmetric function
    of its N inputs: permuting candidates cannot change it. Pre-LN block: cross-attention,
    feed-forward, final LayerNorm (as T5's decoder ends with one).
    """

    def __init__(self, d_model: int, m: int, heads: int = 4, ffn: int = 1024, init_scale: float = 0.1) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by {heads} heads")
        self.m, self.h, self.dh = m, heads, d_model // heads
        # Orthonormal query directions (scaled to unit-size entries): anchors start near-orthogonal,
        # so the orthogonality loss does not swamp the ranking loss in the first steps.
        q = torch.linalg.qr(torch.randn(d_model, m))[0].T if m <= d_model else torch.randn(m, d_model) / d_model ** 0.5
        self.queries = nn.Parameter(q * d_model ** 0.5)
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

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        b, n, m, d = views.shape
        kv = self.ln_kv(views).transpose(1, 2)  # (B, m, N, d)
        k = self.k(kv).reshape(b, m, n, self.h, self.dh)
        v = self.v(kv).reshape(b, m, n, self.h, self.dh)
        x = self.queries.unsqueeze(0).expand(b, m, d)
        q = self.q(self.ln_q(x)).reshape(b, m, self.h, self.dh)
        att = torch.einsum("bmhc,bmnhc->bmhn", q, k) / (self.dh ** 0.5)
        att = att.softmax(dim=-1)
        ctx = torch.einsum("bmhn,bmnhc->bmhc", att, v).reshape(b, m, d)
        x = x + self.o(ctx)
        x = x + self.ff(self.ln_ff(x))
        return self.ln_out(x)
