"""Running the shell blocks of docs/pyserini.md, and Pyserini's own CLIs, from tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

DOC = ROOT / "docs" / "pyserini.md"


def docs_block(name: str) -> str:
    """The ```bash block after ``<!-- test:NAME -->`` in docs/pyserini.md."""
    match = re.search(rf"<!-- test:{re.escape(name)} -->\s*```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, f"docs/pyserini.md has no block marked <!-- test:{name} -->"
    return match.group(1)


def java_env() -> dict[str, str]:
    """JAVA_HOME (a JDK 21+) and PATH as docs/pyserini.md asks for them, with this venv's
    ``python`` and ``viewrank`` first on PATH."""
    from viewrank.adapters.pyserini.java import ensure_java

    home = ensure_java().path
    path = os.pathsep.join([str(Path(sys.executable).parent), str(home / "bin"), os.environ.get("PATH", "")])
    return {"JAVA_HOME": str(home), "PATH": path}


def run_bash(script: str, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """``bash -euo pipefail`` on ``script`` in the repository root: the first failing command fails it."""
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **java_env(), **(env or {})}, timeout=timeout)


def failure(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-5000:]}"


def trec_eval_values(stdout: str, measure: str) -> list[float]:
    """The ``MEASURE all VALUE`` lines trec_eval printed, in order."""
    return [float(line.split()[2]) for line in stdout.splitlines()
            if len(line.split()) == 3 and line.split()[:2] == [measure, "all"]]
