"""Registers the ``llm:DIR[@OPTIONS]`` embedder (decoder-only LMs)."""

from __future__ import annotations

from viewrank import hookimpl


def _factory(arg: str | None, context):
    from viewrank.plugins.llm_embed.embedder import make_llm

    return make_llm(arg, context)


@hookimpl
def viewrank_register_embedders(registry, context):
    registry.add("llm", lambda arg: _factory(arg, context), arg_help="DIR[@bidirectional=true|token_prepending=true,...]",
                 description="decoder-only LM embedder: bidirectional attention (mean) or Token Prepending (last token)")
