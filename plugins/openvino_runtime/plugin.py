"""Registers ``openvino:DIR`` as an embedder and as a reranker (whichever the directory holds).

Threads: ``threads=N`` in the spec, else the context's settings (``VIEWRANK_THREADS``, default 2).
Nothing is imported here at registration: OpenVINO loads when a spec is built.
"""

from __future__ import annotations

from functools import partial

from viewrank import hookimpl

HELP = "DIR[@variant=int8,threads=N,streams=S]"


def _options(arg: str | None, context) -> tuple[str, dict]:
    from viewrank.errors import ViewrankError
    from viewrank.plugins.openvino_runtime.runtime import parse_arg

    model, options = parse_arg(arg)
    try:
        threads = int(options.get("threads", context.settings.threads))
    except ValueError:
        raise ViewrankError(f"openvino:{arg}: threads= takes a whole number") from None
    if threads < 1:
        raise ViewrankError(f"openvino:{arg}: threads= must be at least 1")
    streams = options.get("streams", "1")
    if not streams.isdigit() or not 1 <= int(streams) <= threads:
        raise ViewrankError(f"openvino:{arg}: streams= takes a whole number from 1 to the threads ({threads})")
    return model, {**options, "threads": threads, "streams": int(streams)}


def make_embedder(arg: str | None, context):
    from viewrank.plugins.openvino_runtime.embedder import OpenVinoEmbedder

    model, options = _options(arg, context)
    return OpenVinoEmbedder(model, **options)


def make_reranker(arg: str | None, context):
    from viewrank.plugins.onnx_runtime.reranker import graph_reranker
    from viewrank.plugins.openvino_runtime.runtime import OvModel

    from viewrank.errors import ViewrankError

    model, options = _options(arg, context)
    if options["streams"] != 1:  # a reranker scores one list per call: one request, all threads
        raise ViewrankError(f"openvino:{arg}: streams= is for embedders (batches in parallel); a reranker "
                            f"scores each list in one call")
    return graph_reranker(OvModel(model, **options), model)


@hookimpl
def viewrank_register_embedders(registry, context):
    registry.add("openvino", partial(make_embedder, context=context), arg_help=HELP,
                 description="an embedder exported with `viewrank export openvino`, on OpenVINO (CPU)")


@hookimpl
def viewrank_register_rerankers(registry, context):
    registry.add("openvino", partial(make_reranker, context=context), arg_help=HELP,
                 description="a cross-encoder / MVP graph exported with `viewrank export openvino`, on OpenVINO (CPU)")
