"""viewrank: neural rerankers and embedders for the search engines people already run."""

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``@viewrank.hookimpl``.
hookimpl = pluggy.HookimplMarker("viewrank")

__all__ = ["__version__", "hookimpl"]
