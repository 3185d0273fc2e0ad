"""Settings resolved once per process and handed to every hook through :class:`~viewrank.context.Context`.

One place decides where data lives, where caches go, how many threads torch uses and which
device models run on; no plugin reads these environment variables itself.

Order for each setting: an explicit value (a CLI flag such as ``--data``), then the environment
(``VIEWRANK_DATA``, ``VIEWRANK_CACHE``, ``VIEWRANK_THREADS``, ``VIEWRANK_DEVICE``), then the default.
``VIEWRANK_SHARED_DATA`` (the name before 0.2) is still read after ``VIEWRANK_DATA``, with a warning.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_DATA = Path("../shared/data")
DEFAULT_THREADS = 2  # the CPU machines this project targets have 2 cores; more threads only contend


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    cache_dir: Path
    threads: int
    device: str

    @classmethod
    def resolve(cls, *, data: str | Path | None = None, cache: str | Path | None = None,
                threads: int | None = None, device: str | None = None) -> "Settings":
        env = os.environ
        if data is None:
            data = env.get("VIEWRANK_DATA")
        if data is None and env.get("VIEWRANK_SHARED_DATA"):
            warnings.warn("VIEWRANK_SHARED_DATA is deprecated: set VIEWRANK_DATA", DeprecationWarning, stacklevel=2)
            data = env["VIEWRANK_SHARED_DATA"]
        if cache is None:
            cache = env.get("VIEWRANK_CACHE") or Path(env.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "viewrank"
        if threads is None:
            raw = env.get("VIEWRANK_THREADS")
            threads = int(raw) if raw else min(DEFAULT_THREADS, os.cpu_count() or 1)
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        return cls(Path(data) if data is not None else DEFAULT_DATA, Path(cache), threads,
                   device or env.get("VIEWRANK_DEVICE") or "cpu")

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed (a command's ``--threads`` or ``--device``)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def dataset(self, name: str) -> Path:
        """``<data_dir>/<name>``: where a named dataset (``scifact``, ``cisi``) lives."""
        return self.data_dir / name

    def apply_threads(self) -> None:
        """Limit torch's intra-op threads to ``threads`` (torch imported only here, lazily)."""
        import torch

        torch.set_num_threads(self.threads)
