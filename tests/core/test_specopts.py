"""One ``@KEY=VALUE`` parser and one set of value rules for every spec with options."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from viewrank.errors import ViewrankError
from viewrank.specopts import apply_options, split_options


@dataclass(frozen=True)
class Cfg:
    flag: bool = False
    size: int = 3
    depth: int | None = None
    name: str = "x"


def test_split_options():
    assert split_options("DIR@a=1, b = two") == ("DIR", {"a": "1", "b": "two"})
    assert split_options("@dim=64") == (None, {"dim": "64"})
    assert split_options("models/a@b@c=1") == ("models/a@b", {"c": "1"})
    assert split_options(None) == (None, {})
    with pytest.raises(ViewrankError, match="expected KEY=VALUE"):
        split_options("DIR@novalue")


@pytest.mark.parametrize("raw,value", [("true", True), ("YES", True), ("1", True), ("false", False), ("no", False), ("0", False)])
def test_booleans_follow_one_rule(raw, value):
    assert apply_options(Cfg(), {"flag": raw}, what="t").flag is value


def test_bad_values_and_keys_are_named():
    with pytest.raises(ViewrankError, match="flag='maybe' is not a boolean"):
        apply_options(Cfg(), {"flag": "maybe"}, what="t")
    with pytest.raises(ViewrankError, match="size='big' is not an integer"):
        apply_options(Cfg(), {"size": "big"}, what="t")
    with pytest.raises(ViewrankError, match="unknown t option 'nope'; known: depth, flag, name, size"):
        apply_options(Cfg(), {"nope": "1"}, what="t")


def test_optional_integers():
    assert apply_options(Cfg(), {"depth": "4"}, what="t", optional_ints=["depth"]).depth == 4
    assert apply_options(Cfg(depth=4), {"depth": "all"}, what="t", optional_ints=["depth"],
                         none_words=["none", "all"]).depth is None


def test_dense_and_llm_specs_share_the_rules():
    from viewrank.plugins.dense.embedder import DenseConfig
    from viewrank.plugins.llm_embed.embedder import LlmConfig

    for cfg in (DenseConfig(), LlmConfig()):
        with pytest.raises(ViewrankError, match="is not a boolean"):
            cfg.with_options({"normalize": "maybe"})
    assert DenseConfig().with_options({"layer": "full", "dim": "64"}).dim == 64
    assert LlmConfig().with_options({"tp_exit": "none", "bidirectional": "yes"}).bidirectional is True
