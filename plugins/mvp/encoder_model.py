"""EncoderMVP: MVP on a BERT-family encoder (the variant trained here).

Departures from the paper (see docs/mvp.md): the backbone is an encoder only, so the view
tokens follow BERT's ``[CLS]`` and the anchors come from :class:`AnchorDecoder` (one shared
start vector cross-attending over each view's list, one randomly initialised block) instead of
one step of a pretrained T5 decoder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch

from viewrank.plugins.mvp.anchor import AnchorDecoder
from viewrank.plugins.mvp.base import BackboneHeadModel, check_model_dir
from viewrank.plugins.mvp.config import MVPConfig
from viewrank.plugins.mvp.text import find_view_offset, format_inputs, view_tokens


class EncoderMVP(BackboneHeadModel):
    model_type = "mvp-encoder"  # the key of its export config (viewrank_register_export_configs)

    def __init__(self, backbone, tokenizer, config: MVPConfig, head: AnchorDecoder | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.config = config
        d = int(backbone.config.hidden_size)
        self.head = head or AnchorDecoder(d, config.m, config.anchor_heads, config.anchor_ffn, anchor=config.anchor)

    @classmethod
    def from_backbone(cls, backbone_dir: str | Path, m: int = 4, max_length: int = 256, seed: int = 0,
                      anchor: str = "list", view_noise: float = 0.3) -> "EncoderMVP":
        """A fresh model: ``backbone_dir``'s encoder plus m new view tokens and a new anchor decoder.

        The view-token embeddings start as the ``[CLS]`` embedding plus noise of relative size
        ``view_noise`` (times the embedding's norm, along orthogonal directions), so each view
        begins as a summary token the backbone already knows how to fill, and the views start
        apart (list-aware anchors get their distinctness from their inputs).
        """
        from transformers import AutoModel, AutoTokenizer

        path = check_model_dir(backbone_dir)
        torch.manual_seed(seed)
        tokenizer = AutoTokenizer.from_pretrained(path)
        tokenizer.add_tokens(view_tokens(m), special_tokens=True)
        backbone = AutoModel.from_pretrained(path)
        # transformers starts the new rows from the old rows' mean and covariance and says so; the
        # rows are overwritten just below, so the notice would only mislead (the draw stays: it is
        # part of each seed's random stream)
        resize_log = logging.getLogger("transformers.modeling_utils")
        level = resize_log.level
        resize_log.setLevel(logging.ERROR)
        try:
            backbone.resize_token_embeddings(len(tokenizer))
        finally:
            resize_log.setLevel(level)
        emb = backbone.get_input_embeddings().weight
        ids = tokenizer.convert_tokens_to_ids(view_tokens(m))
        cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else 0
        with torch.no_grad():
            base = emb[cls_id].clone()
            dirs = torch.linalg.qr(torch.randn(base.numel(), m))[0].T if m <= base.numel() else torch.randn(m, base.numel())
            for k, i in enumerate(ids):
                emb[i] = base + view_noise * base.norm() * dirs[k] / dirs[k].norm()
        config = MVPConfig(variant="encoder", m=m, max_length=max_length, anchor=anchor,
                           view_offset=find_view_offset(tokenizer, m), backbone=str(backbone_dir))
        return cls(backbone, tokenizer, config).eval()

    def set_anchor(self, anchor: str, seed: int = 0) -> None:
        """Switch the anchor decoder to form ``anchor`` (``list`` or ``query``), keeping the encoder,
        the view tokens and the decoder's block: a warm start for the other form."""
        if anchor != self.config.anchor:
            self.head = self.head.with_anchor(anchor, seed)
            self.config.anchor = anchor

    @property
    def uses_token_types(self) -> bool:
        return getattr(self.backbone.config, "type_vocab_size", 0) > 0

    def tokenize(self, query: str, passages: Sequence[str]) -> dict[str, torch.Tensor]:
        return self._tokenize_texts(format_inputs(query, passages, self.config.m))

    def encode_views(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        """``(..., L)`` inputs -> ``(..., m, d)`` view vectors (the first m hidden states after the offset)."""
        lead = input_ids.shape[:-1]
        flat = {"input_ids": input_ids.reshape(-1, input_ids.shape[-1]),
                "attention_mask": attention_mask.reshape(-1, attention_mask.shape[-1])}
        if token_type_ids is not None:
            flat["token_type_ids"] = token_type_ids.reshape(-1, token_type_ids.shape[-1])
        off, m = self.config.view_offset, self.config.m
        views = self.encode_rows(self.backbone, flat, off + m)[:, off:]
        return views.reshape(*lead, m, views.shape[-1])

    def score_lists(self, input_ids, attention_mask, token_type_ids=None):
        """``(B, N, L)`` -> scores ``(B, N)`` = mean_k <a_k, e_ik>, and anchors ``(B, m, d)``."""
        return self.score_views(self.encode_views(input_ids, attention_mask, token_type_ids))

    def score_views(self, views: torch.Tensor):
        """``(B, N, m, d)`` view vectors -> scores ``(B, N)`` and anchors ``(B, m, d)``: the anchor
        decoder and the score, apart from the encoder. Candidates are encoded one by one, so a
        candidate's view vectors do not depend on its list: scoring one candidate among other
        contexts needs no second encoding (``bench/mvp_ablation.py listwise``)."""
        anchors = self.head(views)  # (B, m, d)
        scores = (views * anchors.unsqueeze(1)).sum(-1).mean(-1)
        return scores, anchors
