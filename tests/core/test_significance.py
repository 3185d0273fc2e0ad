"""Paired randomization test and Holm's adjustment (viewrank.significance)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from viewrank.errors import ViewrankError
from viewrank.significance import holm, paired, randomization_test


def brute_force_p(d):
    """Every sign assignment written out, independently of the implementation's bit trick."""
    observed = abs(sum(d)) / len(d)
    hits = total = 0
    for signs in itertools.product((-1, 1), repeat=len(d)):
        total += 1
        hits += abs(sum(s * x for s, x in zip(signs, d))) / len(d) >= observed - 1e-12
    return hits / total


def test_exact_p_matches_every_sign_assignment_written_out():
    a = [0.5, 0.2, 0.9, 0.4, 0.0, 0.7, 0.3, 0.6]
    b = [0.6, 0.1, 1.0, 0.7, 0.2, 0.7, 0.5, 0.5]
    t = randomization_test(a, b, samples=10_000)
    assert t.exact and t.queries == 8
    assert t.diff == pytest.approx(np.mean(b) - np.mean(a))
    assert t.p == pytest.approx(brute_force_p([y - x for x, y in zip(a, b)]))


def test_sampled_p_is_close_to_the_exact_one_and_seeded():
    rng = np.random.default_rng(3)
    a = rng.random(14)
    b = a + rng.normal(0.05, 0.1, 14)
    exact = randomization_test(a, b, samples=2 ** 14)
    sampled = randomization_test(a, b, samples=4000, seed=1)
    assert exact.exact and not sampled.exact
    assert sampled.p == pytest.approx(exact.p, abs=0.03)
    assert randomization_test(a, b, samples=4000, seed=1) == sampled  # same seed, same answer


def test_identical_runs_are_not_different_and_a_consistent_gain_is():
    a = list(np.linspace(0, 1, 300))
    same = randomization_test(a, a)
    assert same.diff == 0 and same.p == 1.0
    better = randomization_test(a, [x + 0.01 for x in a])
    assert better.diff == pytest.approx(0.01) and better.p < 0.001
    flipped = randomization_test([x + 0.01 for x in a], a)  # two-sided: the same p the other way round
    assert flipped.p == better.p and flipped.diff == pytest.approx(-0.01)


def test_holm_steps_down_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([0.02]) == [0.02]


def test_missing_queries_count_zero_and_bad_input_is_named():
    a, b = paired({"q1": 0.5, "q2": 1.0}, {"q1": 0.7}, ["q1", "q2", "q3"])
    assert list(a) == [0.5, 1.0, 0.0] and list(b) == [0.7, 0.0, 0.0]
    with pytest.raises(ViewrankError, match="equally long"):
        randomization_test([0.1, 0.2], [0.1])
    with pytest.raises(ViewrankError, match="equally long"):
        randomization_test([], [])
