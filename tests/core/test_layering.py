"""The layering contracts of pyproject.toml hold (import-linter), and they can fail."""

from __future__ import annotations

import sys
import tomllib

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import lint_imports  # noqa: E402


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_every_core_module_is_under_the_core_contract():
    core = next(c for c in contracts() if c["forbidden_modules"][0] == "viewrank.plugins")
    found = {f"viewrank.{p.stem}" for p in (ROOT / "viewrank").glob("*.py") if p.stem != "__init__"}
    found |= {f"viewrank.{p.parent.name}" for p in (ROOT / "viewrank").glob("*/__init__.py")}
    assert found == set(core["source_modules"]), "list every module of viewrank/ in the core contract"


def test_lint_imports_passes():
    proc = lint_imports.check()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BROKEN" not in proc.stdout and "0 broken" in proc.stdout


def test_a_planted_violation_breaks_the_contracts():
    metrics = (ROOT / "viewrank" / "metrics.py").read_text()
    proc = lint_imports.check({"metrics.py": metrics + "\nimport viewrank.adapters.pyserini.lucene\n",
                               "plugins/dense/leak.py": "import pyserini\n"})
    assert proc.returncode != 0
    assert "viewrank.metrics -> viewrank.adapters.pyserini.lucene" in proc.stdout
    assert "viewrank.plugins.dense.leak -> pyserini" in proc.stdout
