"""Check the layering contracts of pyproject.toml ([tool.importlinter]) with import-linter.

The installed package maps the top-level folders plugins/, adapters/ and exporters/ into
``viewrank.plugins`` and so on (setup.py), and grimp reads a package's files from its folder, so it
would not see them. This script materialises the installed layout (a copy of the Python files
under one ``viewrank/`` folder) in a temporary directory and runs ``lint-imports`` there.

    python tools/lint_imports.py      # exit status of lint-imports; its report on stdout
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("plugins", "adapters", "exporters")


def materialise(dest: Path) -> Path:
    """Copy viewrank/ and the mapped folders (Python files only) into ``dest/viewrank``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    pkg = dest / "viewrank"
    shutil.copytree(ROOT / "viewrank", pkg, ignore=ignore)
    for top in MAPPED:
        shutil.copytree(ROOT / top, pkg / top, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return pkg


def check(extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run lint-imports on a materialised copy; ``extra`` maps paths under ``viewrank/`` to text
    written into the copy first (the tests plant a forbidden import that way)."""
    exe = Path(sys.executable).with_name("lint-imports")
    with tempfile.TemporaryDirectory(prefix="viewrank-layering-") as tmp:
        pkg = materialise(Path(tmp))
        for rel, text in (extra or {}).items():
            (pkg / rel).write_text(text, encoding="utf-8")
        # PYTHONPATH first on the path: grimp finds the copy, not the editable install.
        env = {**os.environ, "PYTHONPATH": tmp}
        return subprocess.run([str(exe), str(Path(tmp) / "pyproject.toml"), "--no-cache"],
                              cwd=tmp, env=env, text=True, capture_output=True)


def main() -> int:
    proc = check()
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
