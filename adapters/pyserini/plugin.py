"""The Pyserini adapter's plugin: the ``bm25`` and ``dense`` retrievers, the ``float`` index codec (``int8`` and
``binary`` come from the ``binary`` plugin) and the ``index``, ``rerank``, ``eval``, ``encode`` and
``search`` commands."""

from __future__ import annotations

from pathlib import Path

from viewrank import hookimpl
from viewrank.errors import ViewrankError
from viewrank.specopts import split_options


def make_bm25(arg: str | None):
    """``bm25:INDEX[@corpus=DIR]``: BM25 over a Lucene index; with ``corpus``, the index is built
    from that BEIR folder first when it does not exist yet."""
    from viewrank.adapters.pyserini.lucene import Bm25, build_index

    index, options = split_options(arg)
    if not index:
        raise ViewrankError("bm25 needs an index folder: bm25:INDEX[@corpus=DIR]")
    unknown = sorted(set(options) - {"corpus"})
    if unknown:
        raise ViewrankError(f"bm25:{arg}: unknown option(s) {', '.join(unknown)}; the only option is corpus=DIR")
    corpus = options.get("corpus")
    if corpus is not None and not Path(index).is_dir():
        build_index(corpus, index)
    return Bm25(index)


class DenseRetriever:
    """``dense:INDEX``: exact search (Pyserini's ``FaissSearcher``) over an index written by
    ``viewrank encode``, queries embedded by the embedder the index records."""

    def __init__(self, index: Path, host) -> None:
        from viewrank.adapters.pyserini.dense import read_meta

        self.index, self.host = index, host
        read_meta(index)  # a folder that is not a viewrank dense index fails here, naming it

    def search(self, queries, k: int) -> dict[str, list[tuple[str, float]]]:
        from viewrank.adapters.pyserini.dense_search import search

        result = search(self.index, list(queries), mode="dense", k=k, host=self.host)
        return {r.qid: [(d.docid, d.score) for d in r.items] for r in result.ranked}


def make_dense(arg: str | None, context):
    if not arg:
        raise ViewrankError("dense needs an index folder written by `viewrank encode`: dense:INDEX")
    return DenseRetriever(Path(arg), context.host)


@hookimpl
def viewrank_register_retrievers(registry, context):
    registry.add("bm25", make_bm25, arg_help="INDEX[@corpus=DIR]",
                 description="Pyserini BM25 (k1 0.9, b 0.4); with corpus=DIR the index is built when absent")
    registry.add("dense", lambda arg: make_dense(arg, context), arg_help="INDEX",
                 description="exact inner-product search over a `viewrank encode` index (float or int8 codec), "
                             "queries embedded by the index's own embedder")


def make_float_codec(arg: str | None):
    from viewrank.adapters.pyserini.codecs import FloatCodec

    if arg is not None:
        raise ViewrankError(f"the float codec takes no argument (got float:{arg})")
    return FloatCodec()


@hookimpl
def viewrank_register_index_codecs(registry):
    registry.add("float", make_float_codec, description="faiss IndexFlatIP of the float32 vectors (exact inner product)")


@hookimpl
def viewrank_add_commands(subparsers, context):
    from viewrank.adapters.pyserini.commands import encode, eval, index, rerank, search

    for command in (index, rerank, eval, encode, search):
        command.register(subparsers, context)
