"""CrossEncoder: the pointwise baseline, a linear head on ``[CLS]`` of (query, passage) pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from viewrank.plugins.mvp.base import BackboneHeadModel, check_model_dir
from viewrank.plugins.mvp.config import MVPConfig


class CrossEncoder(BackboneHeadModel):
    """Scores each candidate on its own; trained with the same listwise loss and lists as MVP."""

    model_type = "cross-encoder"  # the key of its export config (viewrank_register_export_configs)

    def __init__(self, backbone, tokenizer, config: MVPConfig, head: nn.Linear | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.config = config
        self.head = head or nn.Linear(int(backbone.config.hidden_size), 1)

    @classmethod
    def from_backbone(cls, backbone_dir: str | Path, max_length: int = 256, seed: int = 0) -> "CrossEncoder":
        from transformers import AutoModel, AutoTokenizer

        path = check_model_dir(backbone_dir)
        torch.manual_seed(seed)
        config = MVPConfig(variant="cross-encoder", m=0, max_length=max_length, backbone=str(backbone_dir))
        model = cls(AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path), config)
        with torch.no_grad():
            model.head.weight.normal_(0, 0.02)
            model.head.bias.zero_()
        return model.eval()

    def score_pairs(self, queries: Sequence[str], passages: Sequence[str]) -> "np.ndarray":
        """One score per (query, passage) pair, the pairs of any number of queries in one pass
        (each pair is scored on its own, so this equals :meth:`score` query by query)."""
        import numpy as np

        from viewrank.types import pair_count

        if not pair_count(queries, passages):
            return np.zeros(0, dtype=np.float32)
        batch = {k: v.to(self.device) for k, v in self._tokenize_texts(list(queries), list(passages)).items()}
        with torch.inference_mode():
            return self(**batch).float().cpu().numpy()

    @property
    def uses_token_types(self) -> bool:
        return getattr(self.backbone.config, "type_vocab_size", 0) > 0

    def tokenize(self, query: str, passages: Sequence[str]) -> dict[str, torch.Tensor]:
        passages = list(passages)
        return self._tokenize_texts([query] * len(passages), passages)

    def score_lists(self, input_ids, attention_mask, token_type_ids=None):
        lead = input_ids.shape[:-1]
        flat = {"input_ids": input_ids.reshape(-1, input_ids.shape[-1]),
                "attention_mask": attention_mask.reshape(-1, attention_mask.shape[-1])}
        if token_type_ids is not None:
            flat["token_type_ids"] = token_type_ids.reshape(-1, token_type_ids.shape[-1])
        cls_vec = self.encode_rows(self.backbone, flat, 1)[:, 0]
        return self.head(cls_vec).squeeze(-1).reshape(lead), None
