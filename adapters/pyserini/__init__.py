"""Pyserini adapter: Lucene BM25 first stage, reranking into TREC runs, trec_eval, dense indexes.

Nothing here imports pyserini at module import time: importing pyserini starts a JVM, so
each function calls :func:`viewrank.adapters.pyserini.java.ensure_java` and imports it lazily.

Functions that look names up (an embedder spec, a codec, a reranker) take the plugin host to
look them up in; the commands pass their context's host. A script that passes none gets a new
host with the installed plugins (never a process-wide one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from viewrank.manager import PluginHost


def host_or_new(host: "PluginHost | None") -> "PluginHost":
    """``host``, or a new :class:`~viewrank.manager.PluginHost` (installed plugins) for a script."""
    if host is not None:
        return host
    from viewrank.manager import PluginHost

    return PluginHost()
