"""Registers the ``dense[:DIR]`` embedder and the ``bi-encoder[:DIR]`` reranker."""

from __future__ import annotations

from viewrank import hookimpl
from viewrank.manager import get_host

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def make_dense(arg: str | None):
    from viewrank.plugins.dense.embedder import DenseEmbedder

    return DenseEmbedder(get_host().resolve_model_path(arg or DEFAULT_MODEL))


def make_bi_encoder(arg: str | None):
    from viewrank.plugins.dense.bi_encoder import BiEncoderReranker

    return BiEncoderReranker(make_dense(arg))


@hookimpl
def viewrank_register_embedders(registry):
    registry.add("dense", make_dense, arg_help="DIR",
                 description="mean/CLS-pooled HF encoder (default: packaged all-MiniLM-L6-v2)")


@hookimpl
def viewrank_register_rerankers(registry):
    registry.add("bi-encoder", make_bi_encoder, arg_help="DIR",
                 description="zero-shot cosine between query and passage embeddings (default: all-MiniLM-L6-v2)")
