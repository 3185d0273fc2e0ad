"""Is a difference between two runs more than chance? Paired tests over per-query scores.

IR papers compare systems on the same queries, so the test is paired: per query, the difference
of a measure between run B and run A. :func:`randomization_test` is the two-sided paired
randomization (permutation) test that Smucker, Allan and Carterette (CIKM 2007) recommend for IR:
under the null hypothesis each query's difference is as likely to have either sign, so the p-value
is the share of sign assignments whose mean difference is at least as far from 0 as the observed
one. With few queries (2^n <= ``samples``) every assignment is enumerated (exact); otherwise
``samples`` random assignments are drawn from a seeded generator (the observed one counted in, so
p is never 0). :func:`holm` adjusts a family of p-values (several runs each compared with one
baseline) by Holm's step-down method.

Pure numpy: ``viewrank eval --compare`` and the benches use the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from viewrank.errors import ViewrankError

SAMPLES = 10_000
SEED = 0


@dataclass(frozen=True)
class PairedTest:
    """B minus A over ``queries`` paired queries: the mean difference and its two-sided p-value."""

    queries: int
    mean_a: float
    mean_b: float
    diff: float
    p: float
    exact: bool  # every sign assignment enumerated (True) or ``samples`` drawn


def paired(a: Mapping[str, float], b: Mapping[str, float], queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-query values of A and B over ``queries`` in that order; a query a run lacks counts 0
    (trec_eval -c's convention: every judged query counts)."""
    return (np.array([float(a.get(q, 0.0)) for q in queries]), np.array([float(b.get(q, 0.0)) for q in queries]))


def randomization_test(a: Sequence[float], b: Sequence[float], samples: int = SAMPLES, seed: int = SEED) -> PairedTest:
    """The two-sided paired randomization test of mean(b - a) = 0 (see the module)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ViewrankError(f"a paired test needs two equally long, non-empty lists of per-query values "
                            f"(got {a.shape} and {b.shape})")
    if samples < 1:
        raise ViewrankError(f"samples {samples}: need at least 1")
    d = b - a
    n = len(d)
    observed = abs(d.mean())
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))  # float sums of the same magnitudes in another order
    if 2 ** n <= samples:
        signs = ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1) * 2 - 1
        means = np.abs(signs @ d) / n
        p, exact = float(np.mean(means >= observed - tol)), True
    else:
        rng = np.random.default_rng(seed)
        hits = 0
        for start in range(0, samples, 1000):
            signs = rng.integers(0, 2, size=(min(1000, samples - start), n)) * 2 - 1
            hits += int(np.sum(np.abs(signs @ d) / n >= observed - tol))
        p, exact = (hits + 1) / (samples + 1), False
    return PairedTest(n, float(a.mean()), float(b.mean()), float(d.mean()), p, exact)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (same order as given), capped at 1."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    out = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        out[i] = running
    return out
