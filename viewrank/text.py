"""Text building blocks shared by training, adaptation and inference: one sentence splitter and
one window cutter for all of them."""

from __future__ import annotations

import re

# sentence-final punctuation, whitespace, then a capital, digit or bracket: "e.g. the" and
# "et al. showed" stay whole, as they would not with a split on any ". "
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, empty ones dropped."""
    return [s.strip() for s in _SENT.split(text.strip()) if s.strip()]


def windows(text: str, words: int, stride: int, limit: int = 0) -> list[str]:
    """``text`` cut into runs of ``words`` whitespace-separated words starting every ``stride``
    words; the last window reaches the end. At most ``limit`` windows when ``limit`` > 0. A text
    of ``words`` words or fewer is one window: the text itself, unchanged. Used by the ``maxp``
    reranker and by trainers that train on the windows it reads (``--windows``)."""
    tokens = text.split()
    starts = [0]
    while starts[-1] + words < len(tokens) and (limit <= 0 or len(starts) < limit):
        starts.append(starts[-1] + stride)
    if len(starts) == 1:
        return [text]
    return [" ".join(tokens[s : s + words]) for s in starts]
