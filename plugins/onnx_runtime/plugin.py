"""Registers ``onnx:DIR`` as an embedder and as a reranker (whichever the directory holds)."""

from __future__ import annotations

from viewrank import hookimpl


def _options(arg):
    from viewrank.plugins.onnx_runtime.runtime import parse_arg

    model, options = parse_arg(arg)
    if "threads" in options:
        options["threads"] = int(options["threads"])
    return model, options


def make_embedder(arg: str | None):
    from viewrank.plugins.onnx_runtime.embedder import OnnxEmbedder

    model, options = _options(arg)
    return OnnxEmbedder(model, **options)


def make_reranker(arg: str | None):
    from viewrank.plugins.onnx_runtime.reranker import graph_reranker
    from viewrank.plugins.onnx_runtime.runtime import OnnxModel

    model, options = _options(arg)
    return graph_reranker(OnnxModel(model, **options), model)


HELP = "DIR[@variant=int8|fp16,providers=P1;P2,threads=N]"


@hookimpl
def viewrank_register_embedders(registry):
    registry.add("onnx", make_embedder, arg_help=HELP,
                 description="an exported embedder on ONNX Runtime (TensorRT/CUDA when present, else CPU)")


@hookimpl
def viewrank_register_rerankers(registry):
    registry.add("onnx", make_reranker, arg_help=HELP,
                 description="an exported cross-encoder / MVP graph on ONNX Runtime (one query's list per call)")
