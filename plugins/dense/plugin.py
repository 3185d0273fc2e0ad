"""Registers the ``dense[:DIR]`` embedder and the ``bi-encoder[:DIR]`` reranker.

Both accept options after ``@``: ``dense:DIR@pooling=cls,max_length=128,query_prefix=query: ``
(any :class:`~viewrank.plugins.dense.embedder.DenseConfig` field; the saved config is the base).
"""

from __future__ import annotations

from viewrank import hookimpl
from viewrank.manager import get_host

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def make_dense(arg: str | None):
    from viewrank.plugins.dense.embedder import DenseConfig, DenseEmbedder, parse_options

    model, options = parse_options(arg)
    path = get_host().resolve_model_path(model or DEFAULT_MODEL)
    config = DenseConfig.load(path).with_options(options) if options else None
    return DenseEmbedder(path, config)


def make_bi_encoder(arg: str | None):
    from viewrank.plugins.dense.bi_encoder import BiEncoderReranker

    return BiEncoderReranker(make_dense(arg))


@hookimpl
def viewrank_register_embedders(registry):
    registry.add("dense", make_dense, arg_help="DIR[@KEY=VALUE,...]",
                 description="mean/CLS-pooled HF encoder (default: packaged all-MiniLM-L6-v2)")


@hookimpl
def viewrank_register_rerankers(registry):
    registry.add("bi-encoder", make_bi_encoder, arg_help="DIR[@KEY=VALUE,...]",
                 description="zero-shot cosine between query and passage embeddings (default: all-MiniLM-L6-v2)")
