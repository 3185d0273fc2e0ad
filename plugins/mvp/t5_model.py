"""T5MVP: the faithful MVP model, a T5 encoder-decoder used Fusion-in-Decoder style.

Each candidate is encoded on its own; its first m hidden states are its view vectors e_ik.
For each view k, ONE decoder step from the decoder start token cross-attends over the N
candidates' e_ik with an all-ones mask. T5 cross-attention has no position bias, so the anchor
a_k is order-independent. Score s_i = mean_k <a_k, e_ik> (plain dot product).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import torch

from viewrank.errors import ViewrankError
from viewrank.plugins.mvp.base import ListScorerBase, check_model_dir
from viewrank.plugins.mvp.config import CONFIG_NAME, MVPConfig
from viewrank.plugins.mvp.text import find_view_offset, format_inputs, view_tokens
from viewrank.savedir import save_weights, staged_save

_WRAPPED = re.compile(r"^encoder\.encoder\.")
_MODULE = re.compile(r"\.module\.")


def remap_mvp_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a released MVP checkpoint's keys to plain ``T5Model`` keys.

    The authors wrap the FiD encoder (``encoder.encoder.…``) and each block in a checkpoint
    wrapper (``….block.N.module.…``); ``lm_head`` is unused by MVP and dropped. Keys of a plain
    T5 checkpoint pass through unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("model.") if key.startswith("model.encoder") or key.startswith("model.decoder") else key
        if key.startswith("lm_head."):
            continue
        key = _WRAPPED.sub("encoder.", key)
        key = _MODULE.sub(".", key)
        out[key] = value
    if "shared.weight" not in out:
        for alias in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
            if alias in out:
                out["shared.weight"] = out[alias]
                break
    return out


# Files a training run leaves beside the weights: never read as weights.
_NOT_WEIGHTS = re.compile(r"^(optimizer|scheduler|scaler|training_args|rng_state.*|trainer_state|mvp_head)\.(pt|pth|bin|safetensors)$")


def weight_files(model_dir: Path) -> list[Path]:
    """The checkpoint's weight files: Hugging Face's names first (``model.safetensors``, sharded
    ``model-*.safetensors`` via their index, ``pytorch_model.bin`` likewise); otherwise the one
    ``*.safetensors``/``*.bin``/``*.pt`` file that is not a training-state file (optimizer,
    scheduler, training arguments). Several candidates are an error naming them."""
    from viewrank.jsonfile import read_json_object

    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = model_dir / index_name
        if index.is_file():
            weight_map = read_json_object(index, what="checkpoint index").get("weight_map")
            if not isinstance(weight_map, dict):
                raise ViewrankError(f"checkpoint index {index} has no 'weight_map'")
            shards = sorted(set(weight_map.values()))
            return [model_dir / name for name in shards]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return [model_dir / name]
    found = sorted(f for pattern in ("*.safetensors", "*.bin", "*.pt") for f in model_dir.glob(pattern)
                   if not _NOT_WEIGHTS.match(f.name))
    if not found:
        raise ViewrankError(f"{model_dir}: no weights (model.safetensors, pytorch_model.bin, or one *.pt) found")
    if len(found) > 1:
        raise ViewrankError(f"{model_dir}: several weight files ({', '.join(f.name for f in found)}); "
                            "keep one, or name the shards in model.safetensors.index.json")
    return found


def read_state_dict(model_dir: Path) -> dict[str, torch.Tensor]:
    """The weights of a local checkpoint directory (see :func:`weight_files`)."""
    state: dict[str, torch.Tensor] = {}
    for f in weight_files(model_dir):
        if f.suffix == ".safetensors":
            from safetensors.torch import load_file

            state.update(load_file(str(f)))
        else:
            loaded = torch.load(str(f), map_location="cpu", weights_only=True)
            state.update(loaded.get("state_dict", loaded) if isinstance(loaded, dict) else loaded)
    return state


class T5MVP(ListScorerBase):
    model_type = "mvp-t5"  # the key of its export config (none is registered: not exportable yet)

    def __init__(self, t5, tokenizer, config: MVPConfig) -> None:
        super().__init__()
        self.t5 = t5  # transformers.T5Model (encoder, decoder, shared embeddings)
        self.tokenizer = tokenizer
        self.config = config
        start = t5.config.decoder_start_token_id
        self.start_id = int(start if start is not None else t5.config.pad_token_id or 0)

    @classmethod
    def from_t5(cls, model_dir: str | Path, m: int = 4, max_length: int = 256) -> "T5MVP":
        """Any local HF T5 directory, or a local copy of a released MVP checkpoint (keys remapped).

        ``max_length`` 256 is the authors' setting for MS MARCO-like passages; they use 512 for
        SciFact, NFCorpus and TREC-COVID and 1024 for long documents (set it in the saved
        ``viewrank_mvp.json``)."""
        from transformers import AutoTokenizer, T5Config, T5Model

        path = check_model_dir(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(path)
        missing_tokens = [t for t in view_tokens(m) if t not in tokenizer.get_vocab()]
        if missing_tokens:
            tokenizer.add_tokens(missing_tokens, special_tokens=True)
        t5 = T5Model(T5Config.from_pretrained(path))
        state = remap_mvp_keys(read_state_dict(path))
        result = t5.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not k.endswith("embed_tokens.weight")]
        if missing:
            raise ViewrankError(f"{path}: checkpoint lacks {len(missing)} T5 weights, e.g. {missing[:3]}")
        if len(tokenizer) > t5.get_input_embeddings().num_embeddings:
            t5.resize_token_embeddings(len(tokenizer))
        config = MVPConfig(variant="t5", m=m, max_length=max_length,
                           view_offset=find_view_offset(tokenizer, m), backbone=str(model_dir))
        return cls(t5, tokenizer, config).eval()

    def tokenize(self, query: str, passages: Sequence[str]) -> dict[str, torch.Tensor]:
        return self._tokenize_texts(format_inputs(query, passages, self.config.m))

    def score_lists(self, input_ids, attention_mask, token_type_ids=None):
        """``(B, N, L)`` -> scores ``(B, N)`` and anchors ``(B, m, d)``; ``token_type_ids`` is ignored."""
        b, n, length = input_ids.shape
        m, off = self.config.m, self.config.view_offset
        flat = {"input_ids": input_ids.reshape(b * n, length), "attention_mask": attention_mask.reshape(b * n, length)}
        hidden = self.encode_rows(self.t5.encoder, flat, off + m)
        d = hidden.shape[-1]
        views = hidden[:, off : off + m].reshape(b, n, m, d)  # e_ik
        per_view = views.permute(0, 2, 1, 3).reshape(b * m, n, d)  # (B·m, N, d)
        start = torch.full_like(per_view[:, :1, 0], self.start_id, dtype=torch.long)  # (B·m, 1)
        ones = torch.ones_like(per_view[:, :, 0], dtype=torch.long)  # all-ones cross-attention mask
        anchors = self.t5.decoder(input_ids=start, encoder_hidden_states=per_view,
                                  encoder_attention_mask=ones, use_cache=False).last_hidden_state
        anchors = anchors.reshape(b, m, d)
        scores = (views * anchors.unsqueeze(1)).sum(-1).mean(-1)
        return scores, anchors

    def save(self, out_dir: str | Path) -> Path:
        """Write the model folder; its config (the marker) arrives last, a crash leaves the old one."""

        def write(tmp: Path) -> None:
            save_weights(self.t5, tmp)
            self.tokenizer.save_pretrained(tmp)
            self.config.save(tmp)

        return staged_save(out_dir, write, marker=CONFIG_NAME)

    @classmethod
    def load(cls, model_dir: str | Path) -> "T5MVP":
        from transformers import AutoTokenizer, T5Model

        path = check_model_dir(model_dir)
        if not (path / CONFIG_NAME).is_file():  # a plain T5 or released MVP directory
            return cls.from_t5(path)
        config = MVPConfig.load(path)
        return cls(T5Model.from_pretrained(path), AutoTokenizer.from_pretrained(path), config).eval()
