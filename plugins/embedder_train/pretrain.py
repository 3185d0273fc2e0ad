"""Chang et al.'s pre-training tasks on the unlabelled corpus ("Pre-training Tasks for
Embedding-based Large-scale Retrieval"), as ``(query, positive, None)`` examples.

- Inverse Cloze Task (:func:`ict_examples`): a sentence of a passage is the query, the rest of the
  passage the positive (the sentence is left in with probability ``keep``, as in the paper).
- Body First Selection (:func:`bfs_examples`): a sentence from a document's first section is the
  query, another passage of the same document the positive. SciFact documents are one title and
  one abstract, with no sections and no second passage; what exists is used instead: the first
  section is the abstract's first ``first`` sentences (background), the other passage is the title
  with the rest of the abstract (the body). Documents too short for that give no example.
"""

from __future__ import annotations

import random
from typing import Iterable

from viewrank.datasets import Document
from viewrank.text import sentences


def ict_examples(docs: Iterable[Document], rng: random.Random, keep: float = 0.1,
                 min_sentences: int = 3) -> list[tuple[str, str, None]]:
    out = []
    for doc in docs:
        sents = sentences(doc.text)
        if len(sents) < min_sentences:
            continue
        i = rng.randrange(len(sents))
        rest = sents if rng.random() < keep else sents[:i] + sents[i + 1 :]
        body = " ".join(rest)
        out.append((sents[i], f"{doc.title} {body}".strip() if doc.title else body, None))
    return out


def bfs_examples(docs: Iterable[Document], rng: random.Random, first: int = 2,
                 min_sentences: int = 4) -> list[tuple[str, str, None]]:
    out = []
    for doc in docs:
        sents = sentences(doc.text)
        if len(sents) < min_sentences:
            continue
        head, body = sents[:first], sents[first:]
        query = head[rng.randrange(len(head))]
        out.append((query, f"{doc.title} {' '.join(body)}".strip() if doc.title else " ".join(body), None))
    return out
