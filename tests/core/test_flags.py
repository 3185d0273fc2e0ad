"""Shared flag types (viewrank/cli/flags.py)."""

from __future__ import annotations

import argparse

import pytest

from viewrank.cli.flags import int_range


@pytest.mark.parametrize("text, expected", [("1", (1, 1)), ("2-4", (2, 4)), (" 3-3 ", (3, 3))])
def test_int_range_reads_n_and_a_b(text, expected):
    assert int_range(text) == expected


@pytest.mark.parametrize("text", ["", "x", "0", "3-1", "1-", "-2", "1-2-3", "1.5"])
def test_int_range_names_a_bad_value(text):
    with pytest.raises(argparse.ArgumentTypeError, match=repr(text).replace("[", r"\[")):
        int_range(text)
