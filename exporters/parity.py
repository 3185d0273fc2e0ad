"""The parity gate: ONNX Runtime against PyTorch on real SciFact queries and candidate lists.

The sample is fixed (no randomness): the first ``n_queries`` test queries that have qrels; each
list is the query's relevant documents plus the relevant documents of the following queries
(distractors on nearby topics) and a fixed stride of other corpus documents, ``list_size`` in all.
Both sides run end to end (their own tokenisation included), so the gate also catches a
tokenizer that differs between the exported directory and the PyTorch model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.metrics import ndcg_at_k

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"


@dataclass
class ParitySample:
    queries: list[tuple[str, str]]  # (qid, text)
    lists: list[list[tuple[str, str]]]  # per query: (docid, text)
    qrels: dict[str, dict[str, int]]


def scifact_sample(data_dir: str | Path | None = None, n_queries: int = 8, list_size: int = 20,
                   max_chars: int = 1000) -> ParitySample:
    from viewrank.datasets import BeirDataset

    path = Path(data_dir) if data_dir else DEFAULT_DATA
    if not (path / "corpus.jsonl").is_file():
        raise ViewrankError(f"parity data {path} missing (SciFact in BEIR layout); pass --parity-data DIR")
    ds = BeirDataset(path)
    split = "test"
    qrels = ds.qrels(split)
    queries = [(q.qid, q.text) for q in ds.queries(split) if q.qid in qrels][: n_queries + 3]
    corpus_ids = sorted(ds.corpus)[:: max(1, len(ds.corpus) // 200)]
    chosen, lists = [], []
    for i, (qid, text) in enumerate(queries[:n_queries]):
        ids: list[str] = []
        for j in range(i, min(i + 4, len(queries))):
            for d in qrels[queries[j][0]]:
                if d not in ids and d in ds.corpus:
                    ids.append(d)
        k = i * 7
        while len(ids) < list_size:
            d = corpus_ids[k % len(corpus_ids)]
            k += 1
            if d not in ids:
                ids.append(d)
        ids = ids[:list_size]
        lists.append([(d, ds.candidate(d).contents[:max_chars]) for d in ids])
        chosen.append((qid, text))
    return ParitySample(chosen, lists, {q: qrels[q] for q, _ in chosen})


def kendall_tau(a: np.ndarray, b: np.ndarray, margin: float = 0.0) -> float:
    """Kendall's tau-b of ranking ``b`` against reference ``a`` (ties counted as neither).

    ``margin`` > 0: reference pairs closer than ``margin`` count as ties, so noise the variant is
    allowed (int8) does not count when it reorders documents the reference itself barely
    separates; over the pairs it separates by more, tau = (concordant - discordant) / pairs, a
    tie in ``b`` counting as neither.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    iu = np.triu_indices(len(a), 1)
    gap = (a[:, None] - a[None, :])[iu]
    db = np.sign(b[:, None] - b[None, :])[iu]
    if margin > 0:
        separated = np.abs(gap) > margin
        return 1.0 if not separated.any() else float((np.sign(gap) * db)[separated].mean())
    da = np.sign(gap)
    num = float((da * db).sum())
    den = float(np.sqrt((da != 0).sum() * (db != 0).sum()))
    return 1.0 if den == 0 else num / den


@dataclass
class ParityReport:
    variant: str
    max_abs_diff: float
    atol: float
    min_kendall_tau: float
    mean_kendall_tau: float
    ndcg10_torch: float
    ndcg10_onnx: float
    ndcg10_diff: float
    ndcg_limit: float
    tau_limit: float
    tau_tie: float = 0.0
    passed: bool = False
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


Scorer = Callable[[str, list[str]], np.ndarray]


def _scores_and_values(sample: ParitySample, kind: str, model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per query: the ranking scores and the raw outputs compared for max abs diff."""
    scores, values = [], []
    for (qid, qtext), cands in zip(sample.queries, sample.lists):
        texts = [t for _, t in cands]
        if kind == "embedder":
            q = np.asarray(model.embed([qtext], role="query"), np.float32)
            p = np.asarray(model.embed(texts, role="passage"), np.float32)
            scores.append(p @ q[0])
            values.append(np.concatenate([q.ravel(), p.ravel()]))
        else:
            s = np.asarray(model.score(qtext, texts), np.float32)
            scores.append(s)
            values.append(s)
    return scores, values


def _mean_ndcg(sample: ParitySample, scores: list[np.ndarray]) -> float:
    run = {qid: {d: float(v) for (d, _), v in zip(cands, s)}
           for (qid, _), cands, s in zip(sample.queries, sample.lists, scores)}
    return float(ndcg_at_k(run, sample.qrels, 10))


def torch_reference(sample: ParitySample, kind: str, torch_model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    import torch

    with torch.inference_mode():
        return _scores_and_values(sample, kind, torch_model)


def check(sample: ParitySample, kind: str, reference: tuple[list[np.ndarray], list[np.ndarray]], onnx_model,
          variant: str, atol: float, ndcg_limit: float, tau_limit: float = 0.99, tie: float = 0.0) -> ParityReport:
    ref_scores, ref_values = reference
    scores, values = _scores_and_values(sample, kind, onnx_model)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ref_values, values))
    # ties: closer than ``tie`` x the reference's score scale (its range over the whole sample)
    scale = float(max(r.max() for r in ref_scores) - min(r.min() for r in ref_scores))
    taus = [kendall_tau(a, b, tie * scale) for a, b in zip(ref_scores, scores)]
    n_t, n_o = _mean_ndcg(sample, ref_scores), _mean_ndcg(sample, scores)
    rep = ParityReport(variant, diff, atol, float(min(taus)), float(np.mean(taus)), n_t, n_o, abs(n_t - n_o),
                       ndcg_limit, tau_limit, tie)
    if not np.isfinite(diff) or diff > atol:
        rep.failures.append(f"max abs diff {diff:.3g} > tolerance {atol:g}")
    if rep.min_kendall_tau < tau_limit:
        worst = sample.queries[int(np.argmin(taus))][0]
        rep.failures.append(f"Kendall tau {rep.min_kendall_tau:.4f} < {tau_limit} (query {worst})")
    if rep.ndcg10_diff > ndcg_limit:
        rep.failures.append(f"nDCG@10 differs by {rep.ndcg10_diff:.4f} > {ndcg_limit}")
    rep.passed = not rep.failures
    return rep
