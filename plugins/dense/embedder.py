"""DenseEmbedder: a local Hugging Face encoder with pooling, truncation and L2 normalisation.

Everything that decides how a text becomes a vector lives in :class:`DenseConfig` and is saved
beside the weights as ``viewrank_dense.json``, so a saved folder re-embeds identically.
``layer`` and ``dim`` make the same class serve 2D-Matryoshka models: the encoder is cut after
``layer`` transformer blocks (a real early exit, not a discarded computation) and the pooled
vector is truncated to its first ``dim`` components before normalisation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object
from viewrank.plugins.dense.pooling import POOLINGS, Pooling, pool
from viewrank.specopts import apply_options, split_options
from viewrank.savedir import save_pretrained_dir
from viewrank.types import Role

CONFIG_NAME = "viewrank_dense.json"


@dataclass
class DenseConfig:
    """How texts become vectors; saved beside the weights as ``viewrank_dense.json``.

    ``layer``: number of transformer blocks to run (None = all); ``dim``: keep the first
    ``dim`` components of the pooled vector (None = all).
    """

    pooling: Pooling = "mean"
    normalize: bool = True
    query_prefix: str = ""
    passage_prefix: str = ""
    max_length: int = 256
    batch_size: int = 32
    layer: int | None = None
    dim: int | None = None

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ViewrankError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}")
        for name in ("max_length", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ViewrankError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("layer", "dim"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise ViewrankError(f"{name} must be >= 1, got {value!r}")

    @classmethod
    def load(cls, model_dir: Path) -> "DenseConfig":
        path = model_dir / CONFIG_NAME
        if path.is_file():
            data = read_json_object(path, what="embedder config")
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        st = model_dir / "1_Pooling" / "config.json"  # a sentence-transformers folder
        if st.is_file():
            pooling = read_json_object(st, what="sentence-transformers pooling config")
            cfg = cls(pooling="cls" if pooling.get("pooling_mode_cls_token") else "mean")
            st_cfg = model_dir / "sentence_bert_config.json"
            if st_cfg.is_file():
                cfg.max_length = int(read_json_object(st_cfg, what="sentence-transformers config").get("max_seq_length", cfg.max_length))
            return cfg
        return cls()

    def with_options(self, options: dict[str, str]) -> "DenseConfig":
        """A copy with ``key=value`` overrides (from a spec such as ``dense:DIR@pooling=cls``)."""
        return apply_options(self, options, what="embedder", optional_ints=("layer", "dim"),
                             none_words=("", "none", "all", "full"))


# ``DIR@KEY=VALUE,...``: the one spec-option parser (viewrank.specopts), re-exported for the
# plugins that build dense embedders.
parse_options = split_options


def layer_list(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The ModuleList of transformer blocks (BERT-like ``encoder.layer``, Llama-like ``layers``)."""
    for path in ("encoder.layer", "layers", "model.layers", "transformer.layer", "transformer.h", "h"):
        obj: object = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, torch.nn.ModuleList):
            return obj
    raise ViewrankError(f"cannot find the transformer blocks of {type(model).__name__} (needed for layer=)")


def set_depth(model: torch.nn.Module, depth: int) -> None:
    """Keep only the first ``depth`` blocks (early exit); the weights of the rest are dropped."""
    blocks = layer_list(model)
    if depth > len(blocks):
        raise ViewrankError(f"layer={depth} but the model has only {len(blocks)} layers")
    parent_path = None
    for path in ("encoder.layer", "layers", "model.layers", "transformer.layer", "transformer.h", "h"):
        head, _, last = path.rpartition(".")
        parent = model
        ok = True
        for part in filter(None, head.split(".")):
            parent = getattr(parent, part, None)
            if parent is None:
                ok = False
                break
        if ok and getattr(parent, last, None) is blocks:
            setattr(parent, last, torch.nn.ModuleList(list(blocks)[:depth]))
            parent_path = path
            break
    assert parent_path is not None
    for attr in ("num_hidden_layers", "n_layer", "num_layers"):
        if hasattr(model.config, attr):
            setattr(model.config, attr, depth)
    if hasattr(model.config, "layer_types") and isinstance(model.config.layer_types, list):
        model.config.layer_types = model.config.layer_types[:depth]


class DenseEmbedder:
    """Embeds texts with a local encoder directory (no downloads)."""

    model_type = "dense"  # the key of its export config (viewrank_register_export_configs)

    def __init__(self, model_dir: str | Path, config: DenseConfig | None = None, device: str | None = None) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise ViewrankError(f"{self.model_dir} holds no Hugging Face model (config.json missing)")
        self.config = config or DenseConfig.load(self.model_dir)
        self.device = torch.device(device or "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModel.from_pretrained(self.model_dir).to(self.device).eval()
        self.num_layers = len(layer_list(self.model))
        if self.config.layer is not None:
            if self.config.layer > self.num_layers:
                raise ViewrankError(f"layer={self.config.layer} but {self.model_dir} has {self.num_layers} layers")
            if self.config.layer < self.num_layers:
                set_depth(self.model, self.config.layer)
        hidden = int(self.model.config.hidden_size)
        if self.config.dim is not None and self.config.dim > hidden:
            raise ViewrankError(f"dim={self.config.dim} but {self.model_dir} has hidden size {hidden}")
        self.dim = int(self.config.dim or hidden)

    def _prefix(self, role: Role) -> str:
        if role == "query":
            return self.config.query_prefix
        if role == "passage":
            return self.config.passage_prefix
        raise ViewrankError(f"unknown role {role!r}; use 'query' or 'passage'")

    def tokenize(self, texts: Sequence[str], role: Role) -> dict[str, torch.Tensor]:
        prefix = self._prefix(role)
        return self.tokenizer(
            [prefix + t for t in texts], padding=True, truncation=True,
            max_length=self.config.max_length, return_tensors="pt",
        ).to(self.device)

    def finish(self, vec: torch.Tensor) -> torch.Tensor:
        """Truncate to ``dim`` and normalise (when configured)."""
        if self.config.dim is not None:
            vec = vec[:, : self.config.dim]
        return torch.nn.functional.normalize(vec, dim=-1) if self.config.normalize else vec

    def encode_tensor(self, texts: Sequence[str], role: Role = "passage") -> torch.Tensor:
        """Pooled (truncated, normalised) vectors as a tensor, with gradients if enabled."""
        batch = self.tokenize(texts, role)
        out = self.model(**batch).last_hidden_state
        return self.finish(pool(out, batch["attention_mask"], self.config.pooling))

    def _batches(self, texts: Sequence[str]) -> list[list[int]]:
        """Index batches of similar length (less padding); results are put back in order."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = self.config.batch_size
        return [order[s : s + size] for s in range(0, len(order), size)]

    def embed(self, texts: Sequence[str], role: Role = "passage", progress: bool = False) -> np.ndarray:
        if isinstance(texts, str):
            raise ViewrankError("embed() takes a list of texts, not a single string")
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        batches = self._batches(texts)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc=f"embed {'queries' if role == 'query' else 'passages'}", unit="batch")
        with torch.inference_mode():
            for idx in batches:
                out[idx] = self.encode_tensor([texts[i] for i in idx], role).float().cpu().numpy()
        return out

    def embed_layers(self, texts: Sequence[str], role: Role = "passage", progress: bool = False) -> np.ndarray:
        """Pooled, un-normalised, untruncated vectors of EVERY layer in one pass: ``(L+1, n, H)``.

        Index 0 is the embedding layer, index ``l`` the output of block ``l``. Used to measure a
        2D-Matryoshka grid (any layer x any dim) from a single encoding of a corpus.
        """
        texts = list(texts)
        hidden = int(self.model.config.hidden_size)
        n_layers = len(layer_list(self.model))
        out = np.zeros((n_layers + 1, len(texts), hidden), dtype=np.float32)
        batches = self._batches(texts)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc=f"embed {'queries' if role == 'query' else 'passages'} (all layers)", unit="batch")
        with torch.inference_mode():
            for idx in batches:
                batch = self.tokenize([texts[i] for i in idx], role)
                states = self.model(**batch, output_hidden_states=True).hidden_states
                for layer, h in enumerate(states):
                    out[layer, idx] = pool(h, batch["attention_mask"], self.config.pooling).float().cpu().numpy()
        return out

    def save(self, out_dir: str | Path) -> Path:
        """Write the model folder (weights, tokenizer, config); a crash leaves no half-written model."""
        return save_pretrained_dir(out_dir, self.model, self.tokenizer, CONFIG_NAME, asdict(self.config))
