"""The rules the fault run judges search answers by (no node needed)."""

from viewrank.adapters.opensearch.faults import judge

EXACT = {f"d{i}": 0.9 - i * 0.01 for i in range(20)}
TOP = [f"d{i}" for i in range(10)]


def test_bm25_answers_must_equal_the_answer_before_the_faults():
    want = [("a", 2.0), ("b", 1.0)]
    assert judge("bm25", list(want), want) is None
    assert "instead of" in judge("bm25", [("b", 1.0), ("a", 2.0)], want)
    assert "instead of" in judge("bm25", [("a", 2.0), ("b", 1.1)], want)


def test_neural_answers_may_differ_like_hnsw_copies_but_never_in_scores():
    exact_answer = [(d, EXACT[d]) for d in TOP]
    assert judge("neural", exact_answer, (EXACT, TOP)) is None
    # an approximate list: 8 of the exact 10 plus two near ones, each with its own score
    approx = [(d, EXACT[d]) for d in TOP[:8] + ["d11", "d12"]]
    assert judge("neural", approx, (EXACT, TOP)) is None
    assert "shares" in judge("neural", [(d, EXACT[d]) for d in TOP[:6] + ["d11", "d12", "d13", "d14"]], (EXACT, TOP))
    assert "own" in judge("neural", [("d0", 0.95)] + exact_answer[1:], (EXACT, TOP))
    assert "repeats" in judge("neural", exact_answer[:9] + [exact_answer[0]], (EXACT, TOP))
    assert "order" in judge("neural", exact_answer[::-1], (EXACT, TOP))
    assert "own" in judge("neural", [("unknown", 0.95)] + exact_answer[1:], (EXACT, TOP))
