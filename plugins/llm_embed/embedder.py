"""LlmEmbedder: sentence vectors from a decoder-only LM (Llama, Qwen2, ...), no training needed.

Two options, usable together or apart:

* ``bidirectional`` (ULLME-style): the causal mask is switched off so every token attends to
  the whole sentence; pair it with mean pooling. In transformers 5.x ``create_causal_mask``
  returns a bidirectional mask when ``config.is_causal`` is False, and SDPA's ``is_causal`` flag
  comes from each attention module's ``is_causal``; both are switched off.
* ``token_prepending`` (Fu et al. 2024, training-free): a placeholder token is put before the
  sentence; at the input of every layer in ``[tp_start, tp_exit)`` its state is replaced by the
  previous layer's LAST-token state, so earlier tokens can read a summary of the whole sentence
  under causal attention. ``tp_exit`` also exits the model early (later layers never run).
  The sentence vector is the last token's state (``pooling="last"``), usually with a prompt
  such as ``This sentence: "{text}" means in one word: "``.

Batches are LEFT-padded, so the last token of every row is at position -1, and position ids are
counted from each row's first real token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object
from viewrank.plugins.dense.embedder import layer_list, pool, set_depth
from viewrank.specopts import apply_options, split_options as parse_options
from viewrank.savedir import save_pretrained_dir
from viewrank.types import Role

CONFIG_NAME = "viewrank_llm.json"


@dataclass
class LlmConfig:
    bidirectional: bool = False
    pooling: str = "mean"
    token_prepending: bool = False
    tp_start: int = 1
    tp_exit: int | None = None
    placeholder: str | None = None  # token text; default: the tokenizer's unk/eos/pad token
    template: str = "{text}"
    normalize: bool = True
    max_length: int = 256
    batch_size: int = 16

    @classmethod
    def load(cls, model_dir: Path) -> "LlmConfig":
        path = model_dir / CONFIG_NAME
        if path.is_file():
            data = read_json_object(path, what="model config")
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        return cls()

    def with_options(self, options: dict[str, str]) -> "LlmConfig":
        return apply_options(self, options, what="llm", optional_ints=("tp_exit",))


def set_bidirectional(model: torch.nn.Module, on: bool = True) -> None:
    """Switch the causal mask off (on=True) or back on, for transformers 5.x decoders."""
    model.config.is_causal = not on
    for module in model.modules():
        if hasattr(module, "is_causal") and module is not model:
            module.is_causal = not on


class LlmEmbedder:
    """Embeds texts with a local decoder-only LM folder (AutoModel: the base model, no LM head)."""

    def __init__(self, model_dir: str | Path, config: LlmConfig | None = None, model=None, tokenizer=None) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir)
        self.config = config or LlmConfig.load(self.model_dir)
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(self.model_dir)
        self.model = (model or AutoModel.from_pretrained(self.model_dir)).eval()
        self.num_layers = len(layer_list(self.model))
        cfg = self.config
        if cfg.pooling not in ("mean", "last"):
            raise ViewrankError(f"llm pooling must be mean or last, got {cfg.pooling!r}")
        if cfg.token_prepending:
            exit_ = cfg.tp_exit or self.num_layers
            if not 0 <= cfg.tp_start < exit_ <= self.num_layers:
                raise ViewrankError(f"need 0 <= tp_start < tp_exit <= {self.num_layers}, got {cfg.tp_start}, {cfg.tp_exit}")
            if exit_ < self.num_layers:
                set_depth(self.model, exit_)
        set_bidirectional(self.model, cfg.bidirectional)
        self.placeholder_id = self._placeholder_id()
        self.dim = int(self.model.config.hidden_size)
        self._hooks = []
        if cfg.token_prepending:
            self._install_hooks()

    def _placeholder_id(self) -> int:
        tok = self.tokenizer
        text = self.config.placeholder
        if text is None:
            for cand in (tok.unk_token, tok.eos_token, tok.pad_token):
                if cand is not None:
                    return int(tok.convert_tokens_to_ids(cand))
            raise ViewrankError("the tokenizer has no unk/eos/pad token: set placeholder=TOKEN")
        ids = tok.convert_tokens_to_ids(text)
        if ids is None or ids == tok.unk_token_id and text != tok.unk_token:
            raise ViewrankError(f"placeholder {text!r} is not a single token of this tokenizer")
        return int(ids)

    def _install_hooks(self) -> None:
        blocks = layer_list(self.model)
        start = self.config.tp_start
        for idx in range(start, len(blocks)):
            self._hooks.append(blocks[idx].register_forward_pre_hook(self._replace, with_kwargs=True))

    def _replace(self, module, args, kwargs):
        """Input of a TP layer: the placeholder's state := the previous layer's last-token state."""
        hidden = args[0] if args else kwargs["hidden_states"]
        pos = self._ph_pos
        hidden = hidden.clone()
        rows = torch.arange(hidden.size(0))
        hidden[rows, pos] = hidden[:, -1].clone()
        if args:
            return (hidden, *args[1:]), kwargs
        kwargs["hidden_states"] = hidden
        return args, kwargs

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Left-padded ids; with Token Prepending the placeholder goes after any leading BOS/CLS."""
        tok = self.tokenizer
        rows, ph = [], []
        for text in texts:
            ids = tok(self.config.template.format(text=text), truncation=True,
                      max_length=self.config.max_length - 1)["input_ids"]
            if self.config.token_prepending:
                at = 1 if ids and ids[0] in (tok.bos_token_id, tok.cls_token_id) and ids[0] is not None else 0
                ids = ids[:at] + [self.placeholder_id] + ids[at:]
                ph.append(at)
            rows.append(ids)
        width = max(len(r) for r in rows)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, width - len(r):] = torch.tensor(r)
            mask[i, width - len(r):] = 1
        self._ph_pos = torch.tensor([width - len(r) + p for r, p in zip(rows, ph)]) if ph else None
        position_ids = (mask.cumsum(1) - 1).clamp(min=0)
        return {"input_ids": input_ids, "attention_mask": mask, "position_ids": position_ids}

    def hidden_states(self, texts: Sequence[str]) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        batch = self.tokenize(texts)
        out = self.model(**batch, output_hidden_states=True, use_cache=False)
        return out.hidden_states, batch["attention_mask"]

    def encode_tensor(self, texts: Sequence[str], role: Role = "passage") -> torch.Tensor:
        batch = self.tokenize(texts)
        hidden = self.model(**batch, use_cache=False).last_hidden_state
        vec = pool(hidden, batch["attention_mask"], self.config.pooling)
        return torch.nn.functional.normalize(vec, dim=-1) if self.config.normalize else vec

    def embed(self, texts: Sequence[str], role: Role = "passage") -> np.ndarray:
        if isinstance(texts, str):
            raise ViewrankError("embed() takes a list of texts, not a single string")
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for s in range(0, len(texts), self.config.batch_size):
                out[s : s + self.config.batch_size] = self.encode_tensor(texts[s : s + self.config.batch_size]).float().numpy()
        return out

    def save(self, out_dir: str | Path) -> Path:
        """Write the model folder (weights, tokenizer, config); a crash leaves no half-written model."""
        return save_pretrained_dir(out_dir, self.model, self.tokenizer, CONFIG_NAME, asdict(self.config))


def make_llm(arg: str | None, context) -> LlmEmbedder:
    model, options = parse_options(arg)
    if not model:
        raise ViewrankError("llm needs a model folder: llm:DIR[@bidirectional=true,pooling=mean,...]")
    path = context.host.resolve_model_path(model)
    return LlmEmbedder(path, LlmConfig.load(path).with_options(options))
