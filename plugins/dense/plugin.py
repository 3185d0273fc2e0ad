"""Registers the ``dense[:DIR]`` embedder and the ``bi-encoder[:DIR]`` reranker.

Both accept options after ``@``: ``dense:DIR@pooling=cls,max_length=128,query_prefix=query: ``
(any :class:`~viewrank.plugins.dense.embedder.DenseConfig` field; the saved config is the base).
"""

from __future__ import annotations

from functools import partial

from viewrank import hookimpl

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def make_dense(arg: str | None, context):
    from viewrank.plugins.dense.embedder import DenseConfig, DenseEmbedder, parse_options

    model, options = parse_options(arg)
    path = context.host.resolve_model_path(model or DEFAULT_MODEL)
    config = DenseConfig.load(path).with_options(options) if options else None
    return DenseEmbedder(path, config)


def make_bi_encoder(arg: str | None, context):
    from viewrank.plugins.dense.bi_encoder import BiEncoderReranker

    return BiEncoderReranker(make_dense(arg, context))


@hookimpl
def viewrank_register_embedders(registry, context):
    registry.add("dense", partial(make_dense, context=context), arg_help="DIR[@KEY=VALUE,...]",
                 description="mean/CLS-pooled HF encoder (default: packaged all-MiniLM-L6-v2)")


@hookimpl
def viewrank_register_rerankers(registry, context):
    registry.add("bi-encoder", partial(make_bi_encoder, context=context), arg_help="DIR[@KEY=VALUE,...]",
                 description="zero-shot cosine between query and passage embeddings (default: all-MiniLM-L6-v2)")
