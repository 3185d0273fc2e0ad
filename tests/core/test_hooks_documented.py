"""Every hookspec is documented in docs/hooks.md and exercised by a test (datasette's rule)."""

import inspect
from pathlib import Path

import pytest

from viewrank import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("viewrank_"))


def test_hookspecs_are_prefixed_typed_and_say_how_results_combine():
    assert HOOKS, "no hookspecs found"
    for name in HOOKS:
        fn = getattr(hookspecs, name)
        doc = inspect.getdoc(fn) or ""
        assert "firstresult" in doc or "collect-all" in doc, f"{name}: docstring must say firstresult or collect-all"
        assert all(p.annotation is not inspect.Parameter.empty for p in inspect.signature(fn).parameters.values()), name


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented(name):
    docs = (ROOT / "docs" / "hooks.md").read_text()
    assert f"## {name}" in docs, f"{name} has no section in docs/hooks.md"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name):
    this = Path(__file__).resolve()
    users = [p for p in (ROOT / "tests").rglob("test_*.py") if p.resolve() != this and name in p.read_text()]
    assert users, f"no test mentions {name}"
