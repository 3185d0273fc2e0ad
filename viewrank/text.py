"""Text building blocks shared by training and adaptation: one sentence splitter for all of them."""

from __future__ import annotations

import re

# sentence-final punctuation, whitespace, then a capital, digit or bracket: "e.g. the" and
# "et al. showed" stay whole, as they would not with a split on any ". "
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, empty ones dropped."""
    return [s.strip() for s in _SENT.split(text.strip()) if s.strip()]
