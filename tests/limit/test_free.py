"""Free-embedding optimisation: the hand-written gradient, a solvable and an impossible case, the search."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from viewrank.plugins.limit.free import (  # noqa: E402
    FreeConfig, critical_n, fit_polynomial, loss_and_grads, optimise, run_free, subsets,
)

QUICK = FreeConfig(max_steps=2000, patience=100, time_budget=20.0, seed=0)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_subsets_are_all_k_subsets_in_order():
    pos = subsets(5, 2)
    assert pos.shape == (10, 2) and pos[0].tolist() == [0, 1] and pos[-1].tolist() == [3, 4]
    assert subsets(6, 3).shape == (math.comb(6, 3), 3)


@pytest.mark.parametrize("chunk", [3, 64])
def test_hand_written_gradient_matches_autograd(chunk):
    g = torch.Generator().manual_seed(0)
    n, d, k, tau = 7, 3, 2, 0.1
    pos = subsets(n, k)
    q = torch.randn(pos.shape[0], d, generator=g, dtype=torch.float64)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    loss, solved, g_q, g_d = loss_and_grads(q, x, pos, tau, chunk)

    qa, xa = q.clone().requires_grad_(), x.clone().requires_grad_()
    s = torch.nn.functional.normalize(qa, dim=1) @ torch.nn.functional.normalize(xa, dim=1).T / tau
    ref = (torch.logsumexp(s, 1) - s.gather(1, pos).mean(1)).mean()
    ref.backward()
    assert loss == pytest.approx(float(ref.detach()), rel=1e-9)
    assert torch.allclose(g_q, qa.grad, atol=1e-10) and torch.allclose(g_d, xa.grad, atol=1e-10)
    with torch.no_grad():
        neg = s.scatter(1, pos, float("-inf")).amax(1)
        assert solved == int((s.gather(1, pos).amin(1) > neg).sum())


def test_four_dimensions_represent_every_pair_of_six_documents():
    attempt, docs, queries = optimise(6, 4, QUICK)
    assert attempt.solved and attempt.fraction == 1.0 and attempt.stopped == "solved"
    scores = torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(docs, dim=1).T
    top = scores.topk(2, dim=1).indices.sort(dim=1).values
    assert top.tolist() == subsets(6, 2).tolist()  # each query's top 2 is exactly its pair


def test_one_dimension_cannot_represent_every_pair_of_four_documents():
    # in one dimension a query can only rank documents by their value or its reverse: 2 of the 6 pairs at most
    attempt, _, _ = optimise(4, 1, QUICK)
    assert not attempt.solved and attempt.fraction < 1.0 and attempt.stopped in ("patience", "max-steps")


def test_critical_n_of_one_dimension_is_two():
    result, _ = critical_n(1, QUICK)
    assert (result.critical_n, result.first_failed_n, result.budget_hit) == (2, 3, False)


def test_search_grows_then_bisects_and_stays_monotone():
    report = run_free([2, 3], QUICK, log=None)
    values = [r["critical_n"] for r in report["results"]]
    assert report["monotone"] and values[0] == 3 and values[1] >= values[0]  # d = 2: at most 3 (see docs/limit.md)
    for r in report["results"]:
        assert r["first_failed_n"] == r["critical_n"] + 1  # exact at this size (precision 2% < 1 document)
        assert any(a["n"] == r["critical_n"] and a["solved"] for a in r["attempts"])


def test_time_budget_makes_the_result_a_lower_bound():
    result, _ = critical_n(6, FreeConfig(time_budget=0.05, max_steps=100000, patience=100000))
    assert result.budget_hit


def test_polynomial_fit_recovers_a_cubic():
    dims = [2, 4, 8, 16, 32]
    fit = fit_polynomial(dims, [1 + 2 * d + 0.5 * d ** 3 for d in dims])
    assert fit["degree"] == 3 and fit["r2"] == pytest.approx(1.0)
    assert fit["coefficients"] == pytest.approx([1, 2, 0, 0.5], abs=1e-6)
    assert fit_polynomial([4, 8], [10, 30])["degree"] == 1
