"""DenseEmbedder: a local Hugging Face encoder with pooling and L2 normalisation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch

from viewrank.errors import ViewrankError
from viewrank.types import Role

Pooling = Literal["mean", "cls"]
CONFIG_NAME = "viewrank_dense.json"


@dataclass
class DenseConfig:
    """How texts become vectors; saved beside the weights as ``viewrank_dense.json``."""

    pooling: Pooling = "mean"
    normalize: bool = True
    query_prefix: str = ""
    passage_prefix: str = ""
    max_length: int = 256
    batch_size: int = 32

    @classmethod
    def load(cls, model_dir: Path) -> "DenseConfig":
        path = model_dir / CONFIG_NAME
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        st = model_dir / "1_Pooling" / "config.json"  # a sentence-transformers folder
        if st.is_file():
            pooling = json.loads(st.read_text(encoding="utf-8"))
            return cls(pooling="cls" if pooling.get("pooling_mode_cls_token") else "mean")
        return cls()


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    raise ViewrankError(f"unknown pooling {pooling!r}; choose mean or cls")


class DenseEmbedder:
    """Embeds texts with a local encoder directory (no downloads)."""

    def __init__(self, model_dir: str | Path, config: DenseConfig | None = None, device: str | None = None) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise ViewrankError(f"{self.model_dir} holds no Hugging Face model (config.json missing)")
        self.config = config or DenseConfig.load(self.model_dir)
        self.device = torch.device(device or "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModel.from_pretrained(self.model_dir).to(self.device).eval()
        self.dim = int(self.model.config.hidden_size)

    def _prefix(self, role: Role) -> str:
        if role == "query":
            return self.config.query_prefix
        if role == "passage":
            return self.config.passage_prefix
        raise ViewrankError(f"unknown role {role!r}; use 'query' or 'passage'")

    def encode_tensor(self, texts: Sequence[str], role: Role = "passage") -> torch.Tensor:
        """Pooled (and normalised) vectors as a tensor, with gradients if enabled."""
        prefix = self._prefix(role)
        batch = self.tokenizer(
            [prefix + t for t in texts], padding=True, truncation=True,
            max_length=self.config.max_length, return_tensors="pt",
        ).to(self.device)
        out = self.model(**batch).last_hidden_state
        vec = pool(out, batch["attention_mask"], self.config.pooling)
        return torch.nn.functional.normalize(vec, dim=-1) if self.config.normalize else vec

    def embed(self, texts: Sequence[str], role: Role = "passage") -> np.ndarray:
        if isinstance(texts, str):
            raise ViewrankError("embed() takes a list of texts, not a single string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.config.batch_size):
                chunks.append(self.encode_tensor(texts[start : start + self.config.batch_size], role).float().cpu().numpy())
        return np.concatenate(chunks)

    def save(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        (out / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2), encoding="utf-8")
        return out
