"""Free embeddings: how many documents can dimension ``d`` serve when every k-subset is a query?

No model: the ``n`` document vectors and the ``C(n, k)`` query vectors of dimension ``d`` are
themselves the parameters, optimised with Adam, full-batch, on a softmax cross-entropy over all
``n`` documents per query (each of the query's ``k`` documents against all documents), with
L2-normalised vectors and a temperature (cosine scores, as embedders use). An attempt succeeds
when every query scores its ``k`` documents above all others; it fails when the number of such
queries has not improved for ``patience`` steps or ``max_steps`` pass.

:func:`critical_n` grows ``n`` until an attempt fails, then bisects between the largest success
and the smallest failure. Each attempt starts from the documents of the largest success so far
(new documents random; queries at the normalised sum of their documents), and dimension ``d``
starts from the previous dimension's solution padded with zeros, which is a solution in ``d``
too, so the critical ``n`` never decreases with ``d``. The number found is what this optimiser
reaches within its budget, as in the paper: a lower bound on what ``d`` dimensions can represent.

The gradient is written out by hand and computed in chunks of queries, so the ``C(n, k) x n``
score matrix is never held whole (it is 45 M entries at n = 450): one pass per step, in cache.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from viewrank.errors import ViewrankError
from viewrank.runs import default_mode


@dataclass(frozen=True)
class FreeConfig:
    k: int = 2
    lr: float = 0.05
    temperature: float = 0.1
    max_steps: int = 2000
    patience: int = 200
    precision: float = 0.02  # stop bisecting when (first failure - last success) <= max(1, precision * n)
    time_budget: float = 120.0  # seconds per dimension
    seed: int = 0
    max_n: int = 2000
    reinit: int = 4  # times a stalled attempt re-draws its unsolved queries before it counts as failed
    device: str = "cpu"


@dataclass
class Attempt:
    n: int
    solved: bool
    fraction: float  # of the C(n, k) queries whose k documents score above all others (best step)
    steps: int
    seconds: float
    stopped: str  # "solved", "patience", "max-steps" or "time-budget"


@dataclass
class DimResult:
    d: int
    critical_n: int  # the largest n solved (every k-subset realised)
    first_failed_n: int | None  # the smallest n that failed (None: budget or max_n ran out first)
    budget_hit: bool  # the time budget ended the search: critical_n is only a lower bound
    seconds: float
    attempts: list[Attempt] = field(default_factory=list)


def subsets(n: int, k: int) -> torch.Tensor:
    """All k-subsets of range(n) as a ``(C(n, k), k)`` long tensor, in lexicographic order."""
    flat = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n), k)), dtype=np.int64,
                       count=math.comb(n, k) * k)
    return torch.from_numpy(flat.reshape(-1, k))


def _normalise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    norm = x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return x / norm, norm


def chunk_rows(n: int, device: str) -> int:
    """Queries per chunk: about 256 K scores on a CPU (they stay in cache), 64 M on a GPU."""
    budget = 1 << 26 if str(device).startswith("cuda") else 1 << 18
    return max(64, budget // n)


@torch.no_grad()
def loss_and_grads(queries: torch.Tensor, docs: torch.Tensor, pos: torch.Tensor, temperature: float,
                   chunk: int) -> tuple[float, int, torch.Tensor, torch.Tensor]:
    """Mean loss, the number of solved queries, and the gradients for queries and docs.

    Per query q with documents P: ``loss_q = logsumexp_j(s_qj) - mean_{p in P} s_qp`` with
    ``s = cos / temperature``; its gradient in the scores is ``softmax(s_q) - onehot(P) / k``.
    """
    m, k = pos.shape
    qh, qnorm = _normalise(queries)
    dh, dnorm = _normalise(docs)
    g_qh = torch.empty_like(qh)
    g_dh = torch.zeros_like(dh)
    scale = 1.0 / temperature
    minus = torch.full((min(chunk, m), k), -1.0 / k, dtype=queries.dtype, device=queries.device)
    solved = torch.zeros((), dtype=torch.long, device=queries.device)
    total = torch.zeros((), dtype=torch.float64, device=queries.device)
    for start in range(0, m, chunk):
        p = pos[start:start + chunk]
        s = (qh[start:start + chunk] @ dh.T).mul_(scale)
        pos_scores = s.gather(1, p)
        s.scatter_(1, p, float("-inf"))  # the hardest negative, then the positives go back
        solved += (pos_scores.amin(1) > s.amax(1)).sum()
        s.scatter_(1, p, pos_scores)
        top = s.amax(1, keepdim=True)
        g = s.sub_(top).exp_()
        norm = g.sum(1, keepdim=True)
        total += (top.squeeze(1) + norm.log().squeeze(1) - pos_scores.mean(1)).sum()
        g.div_(norm)  # softmax
        g.scatter_add_(1, p, minus[:p.shape[0]])
        g.mul_(scale / m)
        g_qh[start:start + chunk] = g @ dh
        g_dh.addmm_(g.T, qh[start:start + chunk])
    # through the normalisation: the gradient's component along the vector vanishes
    g_q = (g_qh - (g_qh * qh).sum(1, keepdim=True) * qh) / qnorm
    g_d = (g_dh - (g_dh * dh).sum(1, keepdim=True) * dh) / dnorm
    return float(total) / m, int(solved), g_q, g_d


@torch.no_grad()
def unsolved(queries: torch.Tensor, docs: torch.Tensor, pos: torch.Tensor, chunk: int) -> torch.Tensor:
    """Indices of the queries whose k documents do not all score above every other document."""
    qh, dh = _normalise(queries)[0], _normalise(docs)[0]
    rows = []
    for start in range(0, pos.shape[0], chunk):
        p = pos[start:start + chunk]
        s = qh[start:start + chunk] @ dh.T
        pos_scores = s.gather(1, p)
        s.scatter_(1, p, float("-inf"))
        rows.append(torch.nonzero(pos_scores.amin(1) <= s.amax(1)).squeeze(1) + start)
    return torch.cat(rows)


def optimise(n: int, d: int, config: FreeConfig, *, init_docs: torch.Tensor | None = None,
             deadline: float | None = None, generator: torch.Generator | None = None
             ) -> tuple[Attempt, torch.Tensor, torch.Tensor]:
    """One attempt at n documents in d dimensions. Returns the attempt, the documents and the queries."""
    k = config.k
    if not 1 <= k < n:
        raise ViewrankError(f"free embeddings need 1 <= k < n, got k={k}, n={n}")
    g = generator or torch.Generator().manual_seed(config.seed)
    device = torch.device(config.device)
    pos = subsets(n, k)
    m = pos.shape[0]
    docs = torch.randn(n, d, generator=g)  # drawn on the CPU: the same numbers on any device
    if init_docs is not None:
        have = min(n, init_docs.shape[0])
        docs[:have] = _normalise(init_docs[:have].cpu())[0] + 0.01 * docs[:have]
    docs = _normalise(docs)[0]
    queries = docs[pos].sum(1) + 0.1 * torch.randn(m, d, generator=g)
    docs, queries, pos = docs.to(device), queries.to(device), pos.to(device)
    opt = torch.optim.Adam([queries, docs], lr=config.lr)
    chunk = chunk_rows(n, config.device)
    started = time.perf_counter()
    best, best_step, stopped, step, reinits = -1, 0, "max-steps", 0, 0
    for step in range(config.max_steps + 1):
        _, solved, g_q, g_d = loss_and_grads(queries, docs, pos, config.temperature, chunk)
        if solved > best:
            best, best_step = solved, step
        if solved == m:
            stopped = "solved"
            break
        if step - best_step >= config.patience:
            if reinits >= config.reinit:
                stopped = "patience"
                break
            # a stalled query often sits on the wrong side of a document (gradient descent cannot
            # carry it round): draw the unsolved ones afresh, with fresh Adam moments, and go on
            reinits += 1
            rows = unsolved(queries, docs, pos, chunk)
            fresh = torch.randn(len(rows), d, generator=g).to(device)
            with torch.no_grad():
                queries[rows] = fresh
            state = opt.state.get(queries, {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in state:
                    state[key][rows] = 0
            best_step = step
            continue
        if deadline is not None and time.perf_counter() > deadline:
            stopped = "time-budget"
            break
        if step == config.max_steps:
            break
        queries.grad, docs.grad = g_q, g_d
        opt.step()
    attempt = Attempt(n=n, solved=stopped == "solved", fraction=round(best / m, 6), steps=step,
                      seconds=round(time.perf_counter() - started, 3), stopped=stopped)
    return attempt, docs.cpu(), queries.cpu()


def critical_n(d: int, config: FreeConfig, *, start: tuple[int, torch.Tensor] | None = None,
               log=None) -> tuple[DimResult, torch.Tensor | None]:
    """The largest n whose C(n, k) queries this optimiser solves in d dimensions (see the module
    docstring). ``start``: a known solution ``(n, docs)`` from a smaller dimension."""
    k = config.k
    t0 = time.perf_counter()
    deadline = t0 + config.time_budget
    g = torch.Generator().manual_seed(config.seed + 7919 * d)
    ok_n, ok_docs = k, None  # n = k: one query, trivially solved
    fail_n: int | None = None
    budget_hit = False
    attempts: list[Attempt] = []
    if start is not None and start[0] > k:
        prev_n, prev_docs = start
        padded = torch.zeros(prev_n, d)
        padded[:, :prev_docs.shape[1]] = prev_docs
        try_n = prev_n
        ok_docs = padded
    else:
        try_n = k + 1
    while True:
        if try_n > config.max_n:
            break
        attempt, docs, _ = optimise(try_n, d, config, init_docs=ok_docs, deadline=deadline, generator=g)
        attempts.append(attempt)
        if log:
            log(f"  d={d} n={try_n}: {'solved' if attempt.solved else attempt.stopped} "
                f"({attempt.fraction:.2%} of {math.comb(try_n, k):,} sets, {attempt.steps} steps, {attempt.seconds:.1f} s)")
        if attempt.solved:
            ok_n, ok_docs = try_n, docs
        elif attempt.stopped == "time-budget":
            budget_hit = True
            break
        else:
            fail_n = try_n if fail_n is None else min(fail_n, try_n)
        if fail_n is not None and fail_n - ok_n <= max(1, int(config.precision * ok_n)):
            break
        if fail_n is None:
            try_n = max(ok_n + 1, math.ceil(ok_n * 1.25))
        else:
            try_n = (ok_n + fail_n) // 2
        if time.perf_counter() > deadline:
            budget_hit = True
            break
    result = DimResult(d=d, critical_n=ok_n, first_failed_n=fail_n, budget_hit=budget_hit,
                       seconds=round(time.perf_counter() - t0, 2), attempts=attempts)
    return result, ok_docs if ok_n > k else None


def fit_polynomial(dims: list[int], values: list[int], degree: int = 3) -> dict:
    """Least-squares polynomial ``n(d)`` (degree at most len(dims) - 1); coefficients from the constant up."""
    if len(dims) < 2:
        return {"degree": 0, "coefficients": [float(values[0])] if values else [], "r2": None}
    deg = min(degree, len(dims) - 1)
    coef = np.polyfit(np.asarray(dims, float), np.asarray(values, float), deg)
    pred = np.polyval(coef, np.asarray(dims, float))
    y = np.asarray(values, float)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else None
    return {"degree": deg, "coefficients": [float(c) for c in coef[::-1]], "r2": r2,
            "exact": deg == len(dims) - 1}


def format_polynomial(coefficients: list[float]) -> str:
    terms = []
    for power, c in enumerate(coefficients):
        var = "" if power == 0 else ("d" if power == 1 else f"d^{power}")
        terms.append(f"{c:.4g}{'*' + var if var else ''}")
    return " + ".join(terms).replace("+ -", "- ")


def run_free(dims: list[int], config: FreeConfig, log=print) -> dict:
    """Critical n for each dimension (ascending), with the polynomial fit; a JSON-ready dict."""
    results: list[DimResult] = []
    start = None
    for d in sorted(dims):
        result, docs = critical_n(d, config, start=start, log=log)
        results.append(result)
        if docs is not None:
            start = (result.critical_n, docs)
    values = [r.critical_n for r in results]
    measured = [r for r in results if not r.budget_hit]
    fitted = measured if len(measured) >= 2 else results  # lower bounds only when too few measured points
    fit = fit_polynomial([r.d for r in fitted], [r.critical_n for r in fitted])
    fit["dims"] = [r.d for r in fitted]
    return {
        "config": asdict(config),
        "results": [asdict(r) for r in results],
        "fit": fit,
        "monotone": all(a <= b for a, b in zip(values, values[1:])),
    }


def plot(report: dict, path: str) -> None:
    """Log-log plot of critical n against d, with the polynomial fit (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    dims = [r["d"] for r in report["results"]]
    values = [r["critical_n"] for r in report["results"]]
    lower = [r["budget_hit"] for r in report["results"]]
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=110)
    ax.plot([d for d, lb in zip(dims, lower) if not lb], [v for v, lb in zip(values, lower) if not lb], "o",
            label="critical n (measured)")
    if any(lower):
        ax.plot([d for d, lb in zip(dims, lower) if lb], [v for v, lb in zip(values, lower) if lb], "^",
                label="lower bound (time budget)")
    coef = report["fit"]["coefficients"]
    if coef:
        grid = np.geomspace(min(dims), max(dims), 100)
        ax.plot(grid, np.polyval(coef[::-1], grid), "-", alpha=0.7,
                label=f"degree-{report['fit']['degree']} fit")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(dims)
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("embedding dimension d")
    ax.set_ylabel(f"critical n (k = {report['config']['k']})")
    ax.set_title("Free embeddings: all k-subsets of n documents")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def _save_figure(fig, path: str) -> None:
    """Render into a temporary file beside ``path``, then rename it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, default_mode())
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=target.suffix.lstrip(".") or "png")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
