"""The parity gate: ONNX Runtime against PyTorch on real SciFact queries and candidate lists.

The sample is fixed (no randomness): the first ``n_queries`` test queries that have qrels; each
list is the query's relevant documents plus its nearest lexical neighbours (the top BM25
documents that are not relevant), ``list_size`` in all, as a first stage would hand them to a
reranker. Hard distractors keep the gate's nDCG@10 check able to see a loss: with the earlier
sample (relevant documents plus a fixed stride of the corpus) every trained reranker scored
nDCG@10 1.0, so no variant could lose anything measurable.
Both sides run end to end (their own tokenisation included), so the gate also catches a
tokenizer that differs between the exported directory and the PyTorch model.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from viewrank.errors import ViewrankError
from viewrank.metrics import ndcg_at_k
from viewrank.settings import Settings

_TOKEN = re.compile(r"[a-z0-9]+")
# a few function words whose postings are the whole corpus: they only cost time
_STOP = frozenset("a an and are as at be by for from has have in is it of on or that the this to was were with".split())


@dataclass
class ParitySample:
    queries: list[tuple[str, str]]  # (qid, text)
    lists: list[list[tuple[str, str]]]  # per query: (docid, text)
    qrels: dict[str, dict[str, int]]


def _terms(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP]


class LexicalIndex:
    """A small in-memory BM25 (k1 0.9, b 0.4, Pyserini's defaults) over a corpus's contents.

    Only for picking distractors: the gate must not start a JVM, and a few queries over a few
    thousand documents need no engine.
    """

    def __init__(self, docs: dict[str, str], k1: float = 0.9, b: float = 0.4) -> None:
        self.ids = sorted(docs)
        self.postings: dict[str, list[tuple[int, int]]] = {}
        lengths = np.zeros(len(self.ids))
        for i, d in enumerate(self.ids):
            tf = Counter(_terms(docs[d]))
            lengths[i] = sum(tf.values())
            for term, n in tf.items():
                self.postings.setdefault(term, []).append((i, n))
        self.norm = k1 * (1 - b + b * lengths / max(float(lengths.mean()), 1.0))
        self.k1, self.n = k1, len(self.ids)

    def search(self, query: str, k: int) -> list[str]:
        scores = np.zeros(self.n)
        for term in set(_terms(query)):
            plist = self.postings.get(term)
            if not plist:
                continue
            idf = math.log(1 + (self.n - len(plist) + 0.5) / (len(plist) + 0.5))
            idx = np.fromiter((i for i, _ in plist), int, len(plist))
            tf = np.fromiter((n for _, n in plist), float, len(plist))
            scores[idx] += idf * tf * (self.k1 + 1) / (tf + self.norm[idx])
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in top if scores[i] > 0]


@lru_cache(maxsize=2)
def _lexical_index(corpus_path: Path, mtime_ns: int) -> tuple[LexicalIndex, dict[str, str]]:
    from viewrank.datasets import BeirDataset

    ds = BeirDataset(corpus_path.parent)
    contents = {d: doc.contents for d, doc in ds.corpus.items()}
    return LexicalIndex(contents), contents


def scifact_sample(data_dir: str | Path | None = None, n_queries: int = 8, list_size: int = 20,
                   max_chars: int = 1000, split: str = "test") -> ParitySample:
    """The gate's fixed sample: per query its relevant documents, then its top BM25 non-relevant ones.

    ``split`` is ``test`` for the gate; the mixed-precision int8 search calibrates on ``train``
    (:mod:`viewrank.exporters.mixed`), so the gate judges queries its choice never saw.
    """
    from viewrank.datasets import BeirDataset

    path = Path(data_dir) if data_dir else Settings.resolve().dataset("scifact")
    if not (path / "corpus.jsonl").is_file():
        raise ViewrankError(f"parity data {path} missing (SciFact in BEIR layout); pass --parity-data DIR")
    if n_queries < 1 or list_size < 2:
        raise ViewrankError(f"parity sample needs n_queries >= 1 and list_size >= 2 (got {n_queries}, {list_size})")
    ds = BeirDataset(path)
    if not ds.qrels_path(split).is_file():
        raise ViewrankError(f"parity data {path} has no {split} split ({ds.qrels_path(split)} missing)")
    qrels = ds.qrels(split)
    corpus_file = ds.corpus_path
    index, contents = _lexical_index(corpus_file, corpus_file.stat().st_mtime_ns)
    queries = [(q.qid, q.text) for q in ds.queries(split) if q.qid in qrels][:n_queries]
    lists = []
    for qid, text in queries:
        ids = [d for d in qrels[qid] if d in contents][: list_size // 2]
        for d in index.search(text, list_size + len(qrels[qid])):
            if len(ids) == list_size:
                break
            if d not in ids and d not in qrels[qid]:
                ids.append(d)
        if len(ids) < list_size:  # a query with few matching terms: fill from the corpus in id order
            ids += [d for d in index.ids if d not in ids][: list_size - len(ids)]
        lists.append([(d, contents[d][:max_chars]) for d in ids])
    return ParitySample(queries, lists, {q: qrels[q] for q, _ in queries})


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
    rel_rms: float = 0.0  # RMS of the score differences over the reference's score scale
    ndcg10_change_sd: float = 0.0  # spread (sd) over queries of each query's nDCG@10 change
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
            q, p = np.asarray(model.embed([qtext], role="query")), np.asarray(model.embed(texts, role="passage"))
            if q.dtype == np.uint8:  # packed binary codes: rank by Hamming distance, compare bits
                q, p = np.unpackbits(q, axis=1).astype(np.float32), np.unpackbits(p, axis=1).astype(np.float32)
                scores.append(-np.abs(p - q[0]).sum(1))
            else:  # float vectors, or int8 codes (dot product in code space)
                q, p = q.astype(np.float32), p.astype(np.float32)
                scores.append(p @ q[0])
            values.append(np.concatenate([q, p]))
        else:
            s = np.asarray(model.score(qtext, texts), np.float32)
            scores.append(s)
            values.append(s[:, None])
    return scores, values


def subsample(sample: ParitySample, n_queries: int) -> ParitySample:
    """The first ``n_queries`` queries of ``sample`` (with their lists and qrels)."""
    queries = sample.queries[:n_queries]
    return ParitySample(queries, sample.lists[:n_queries], {q: sample.qrels[q] for q, _ in queries})


def _mean_ndcg(sample: ParitySample, scores: list[np.ndarray]) -> float:
    run = {qid: {d: float(v) for (d, _), v in zip(cands, s)}
           for (qid, _), cands, s in zip(sample.queries, sample.lists, scores)}
    return float(ndcg_at_k(run, sample.qrels, 10))


def _per_query_ndcg(sample: ParitySample, scores: list[np.ndarray]) -> np.ndarray:
    return np.array([ndcg_at_k({qid: {d: float(v) for (d, _), v in zip(cands, s)}}, {qid: sample.qrels[qid]}, 10)
                     for (qid, _), cands, s in zip(sample.queries, sample.lists, scores)])


def torch_reference(sample: ParitySample, kind: str, torch_model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    import torch

    with torch.inference_mode():
        return _scores_and_values(sample, kind, torch_model)


def check(sample: ParitySample, kind: str, reference: tuple[list[np.ndarray], list[np.ndarray]], onnx_model,
          variant: str, atol: float, ndcg_limit: float, tau_limit: float = 0.99, tie: float = 0.0,
          diff_measure: str = "abs") -> ParityReport:
    """One variant against the reference. ``diff_measure``: ``abs``, the largest absolute
    difference of any output value; ``bit-fraction`` (binary codes), the largest fraction of one
    vector's bits that differ."""
    ref_scores, ref_values = reference
    scores, values = _scores_and_values(sample, kind, onnx_model)
    if diff_measure == "bit-fraction":
        diff = max(float(np.abs(a - b).mean(1).max()) for a, b in zip(ref_values, values))
    else:
        diff = max(float(np.abs(a - b).max()) for a, b in zip(ref_values, values))
    # ties: closer than ``tie`` x the reference's score scale (its range over the whole sample)
    scale = float(max(r.max() for r in ref_scores) - min(r.min() for r in ref_scores))
    taus = [kendall_tau(a, b, tie * scale) for a, b in zip(ref_scores, scores)]
    n_t, n_o = _mean_ndcg(sample, ref_scores), _mean_ndcg(sample, scores)
    err = np.concatenate([a - b for a, b in zip(ref_scores, scores)])
    rel_rms = float(np.sqrt(np.mean(err.astype(np.float64) ** 2)) / scale) if scale > 0 else float(np.abs(err).max())
    changes = _per_query_ndcg(sample, scores) - _per_query_ndcg(sample, ref_scores)
    sd = float(changes.std(ddof=1)) if len(changes) > 1 else 0.0
    rep = ParityReport(variant, diff, atol, float(min(taus)), float(np.mean(taus)), n_t, n_o, abs(n_t - n_o),
                       ndcg_limit, tau_limit, tie, rel_rms, sd)
    if not np.isfinite(diff) or diff > atol:
        rep.failures.append(f"max abs diff {diff:.3g} > tolerance {atol:g}")
    if rep.min_kendall_tau < tau_limit:
        worst = sample.queries[int(np.argmin(taus))][0]
        rep.failures.append(f"Kendall tau {rep.min_kendall_tau:.4f} < {tau_limit} (query {worst})")
    if n_t - n_o > ndcg_limit:  # a loss fails; a gain is reported (tau judges faithfulness)
        rep.failures.append(f"nDCG@10 drops by {n_t - n_o:.4f} > {ndcg_limit}")
    rep.passed = not rep.failures
    return rep
