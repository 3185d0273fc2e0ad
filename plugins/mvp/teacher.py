"""Teacher scores for MVP's training lists: the generic building block lives in
:mod:`viewrank.teachers` (any reranker spec, or an ensemble, over each query's pool, cached);
these names stay importable from here.

The lists built from these scores pin the relevant documents first and order the negatives by the
teacher (Rank-DistiLLM's teacher-ordered lists, with the labels kept). Scores are cached as
``teacher_scores.json`` in the output folder, keyed by specs and pool.
"""

from __future__ import annotations

from viewrank.teachers import TEACHER_NAME, _minmax, cache_key, ensemble, teacher_scores

__all__ = ["TEACHER_NAME", "_minmax", "cache_key", "ensemble", "teacher_scores"]
