"""``python -m viewrank.rerank ARGS``: the same as ``viewrank rerank ARGS``, in the module style of
Pyserini's own entry points (``python -m pyserini.search.lucene``).

The command itself comes from the Pyserini adapter's plugin; this module only runs the CLI
(through the plugin host), so the core imports no adapter.
"""

from __future__ import annotations

import sys

from viewrank.cli import main


def run(argv: list[str] | None = None) -> int:
    return main(["rerank", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(run())
