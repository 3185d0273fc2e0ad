"""Input formatting shared by every MVP variant."""

from __future__ import annotations

from typing import Sequence


def view_tokens(m: int) -> list[str]:
    """T5's sentinel tokens, used as the m view tokens: ``<extra_id_0>`` … ``<extra_id_{m-1}>``."""
    return [f"<extra_id_{k}>" for k in range(m)]


def format_input(query: str, passage: str, m: int) -> str:
    """``<extra_id_0>…<extra_id_{m-1}> | Query: {q} | Context: {passage}`` (the paper's layout)."""
    return "".join(view_tokens(m)) + f" | Query: {query} | Context: {passage}"


def format_inputs(query: str, passages: Sequence[str], m: int) -> list[str]:
    return [format_input(query, p, m) for p in passages]


def find_view_offset(tokenizer, m: int) -> int:
    """Where the first view token lands once the tokenizer adds its special tokens.

    Raises ``ValueError`` when the m view tokens are not consecutive single tokens.
    """
    ids = tokenizer(format_input("q", "p", m))["input_ids"]
    view_ids = tokenizer.convert_tokens_to_ids(view_tokens(m))
    for start in range(len(ids) - m + 1):
        if list(ids[start : start + m]) == list(view_ids):
            return start
    raise ValueError(f"view tokens {view_tokens(m)} are not consecutive single tokens for this tokenizer")
