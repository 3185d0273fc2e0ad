"""Tiny random models for the MVP tests: a 2-layer BERT and a tiny T5, built offline."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)

WORDS = ["query", "context", "Query", "Context", "cat", "dog", "fish", "bird", "tree", "rock", "sun", "moon", "red", "blue",
         "green", "big", "small", "the", "a", "of", "and", "is"] + list(string.ascii_lowercase)
PUNCT = ["|", ":", ".", ","]


def _bert_dir(root: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizer

    root.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + PUNCT + WORDS
    tok = BertTokenizer(vocab={t: i for i, t in enumerate(dict.fromkeys(vocab))})
    tok.save_pretrained(root)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(dict.fromkeys(vocab)), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512)
    BertModel(cfg).save_pretrained(root)
    return root


def t5_tokenizer(root: Path, extra_ids: int = 8):
    from tokenizers import Tokenizer, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "</s>", "<unk>"] + [f"<extra_id_{i}>" for i in range(extra_ids)]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(specials + PUNCT + WORDS))}
    tk = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    tk.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                      special_tokens=[("</s>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                  additional_special_tokens=specials[3:])
    tok.save_pretrained(root)
    return tok


def _t5_dir(root: Path) -> Path:
    from transformers import T5Config, T5Model

    root.mkdir(parents=True, exist_ok=True)
    tok = t5_tokenizer(root)
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=len(tok), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=1,
                   num_heads=4, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    T5Model(cfg).save_pretrained(root)
    return root


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    return _bert_dir(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory) -> Path:
    return _t5_dir(tmp_path_factory.mktemp("tiny-t5"))


@pytest.fixture(scope="session")
def encoder_mvp(tiny_bert_dir):
    from viewrank.plugins.mvp.encoder_model import EncoderMVP

    return EncoderMVP.from_backbone(tiny_bert_dir, m=4, max_length=64)


@pytest.fixture(scope="session")
def t5_mvp(tiny_t5_dir):
    from viewrank.plugins.mvp.t5_model import T5MVP

    return T5MVP.from_t5(tiny_t5_dir, m=4, max_length=64)


@pytest.fixture(scope="session")
def cross_encoder(tiny_bert_dir):
    from viewrank.plugins.mvp.cross_encoder import CrossEncoder

    return CrossEncoder.from_backbone(tiny_bert_dir, max_length=64)
