"""Every `viewrank ...` command line in the README and docs/ parses with today's command line:
a renamed or removed flag in the docs fails here, not in a user's terminal."""

from __future__ import annotations

import argparse
import re
import shlex

import pytest

from tests.conftest import ROOT
from viewrank.cli import build_parser
from viewrank.manager import PluginHost

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def command_lines() -> list[tuple[str, str]]:
    """(page:line, command) for each `viewrank` line of a fenced shell block (continuations joined)."""
    found = []
    for page in PAGES:
        in_block, pending, start = False, "", 0
        for no, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip().startswith("```"):
                in_block, pending = (not in_block and line.strip() in ("```bash", "```sh", "```shell")), ""
                continue
            if not in_block:
                continue
            text = line.split(" #")[0].rstrip() if not pending else line.rstrip()
            if not pending and not text.lstrip().startswith("viewrank "):
                continue
            start = start if pending else no
            pending += " " + text.rstrip("\\").strip()
            if not text.endswith("\\"):
                found.append((f"{page.relative_to(ROOT)}:{start}", pending.split(" #")[0].strip()))
                pending = ""
    return found


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser(PluginHost())


class Rejected(Exception):
    pass


@pytest.mark.parametrize("where,command", command_lines())
def test_documented_command_parses(parser, where, command, monkeypatch):
    text = command.removesuffix("&")
    while re.search(r"\[[^\[\]]*\]", text):  # optional parts of a synopsis: [--seed S], [RUN ...]
        text = re.sub(r"\[[^\[\]]*\]", "", text)
    words = [w for w in shlex.split(text)[1:] if w != "..."]
    elided = " ... " in f" {command} "  # `viewrank rerank ... --reranker X`: only the flags shown are checked

    def error(message):
        raise Rejected(message)

    monkeypatch.setattr(argparse.ArgumentParser, "error", lambda self, message: error(f"{self.prog}: {message}"))
    try:
        parser.parse_args(words)
    except Rejected as exc:
        if elided and "required" in str(exc):
            return
        if re.search(r"invalid \w+ value: '[A-Z][A-Z_]*'", str(exc)):  # a synopsis placeholder (N, K) for a number
            return
        pytest.fail(f"{where}: `{command}` does not parse: {exc}")


def test_the_pages_have_commands():
    assert len(command_lines()) >= 20
