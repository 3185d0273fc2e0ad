"""Ingest under node crashes on a local cluster, checked against a clean ingest.

:func:`ingest_with_faults` writes documents through an index's ingest pipeline (the in-node
embedding model) while, between bulk requests, it SIGKILLs one node, keeps writing while it is
gone, starts it again and keeps writing while it rejoins; the next node is killed only once the
cluster is green again (one replica: two nodes down at once could lose a shard). Searches run
the whole time on a second, finished index and every answer is compared with the answer it gave
before the faults. :func:`compare_indexes` then checks the faulted index against the clean one:
the same ids, no duplicates, the same stored vectors. Used by the cluster tests and
``bench/opensearch_cluster.py``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from viewrank.adapters.opensearch import client as C
from viewrank.adapters.opensearch import cluster as K


@dataclass
class FaultEvent:
    at_doc: int
    action: str  # "kill" or "restart"
    node: str
    seconds: float  # when, since the ingest started
    took: float = 0.0  # for a restart: until the node had rejoined


@dataclass
class SearchLog:
    answered: int = 0
    wrong: list[str] = field(default_factory=list)  # what differed from the answer before the faults
    errors: dict[str, int] = field(default_factory=dict)  # error kind -> count
    unexpected: list[str] = field(default_factory=list)  # errors that are not a retriable failure
    neural_overlaps: list[float] = field(default_factory=list)  # each neural answer's share of the exact top 10


@dataclass
class FaultRun:
    report: C.IngestReport
    events: list[FaultEvent]
    searches: SearchLog
    model_available_while_down: list[float | None]  # seconds after each kill until it answered; None: not in 120 s


def _error_kind(exc: BaseException) -> tuple[str, bool]:
    """A short name for a search error and whether it is a clear, retriable failure (connection
    refused or reset, a timeout, 429/5xx, search_phase_execution with shard failures, a model
    still deploying)."""
    from opensearchpy.exceptions import ConnectionError as OSConnectionError
    from opensearchpy.exceptions import ConnectionTimeout, TransportError

    if isinstance(exc, (OSConnectionError, ConnectionTimeout)):
        return type(exc).__name__, True
    if isinstance(exc, TransportError):
        status = exc.status_code
        kind = f"{status} {exc.error}"
        return kind, C.transient(status, exc.info) or (isinstance(status, int) and status >= 500)
    return type(exc).__name__, False


K_CHECK = 10
MIN_OVERLAP = 0.7  # of a neural answer's top 10 with the exact top 10 (HNSW is approximate per shard copy)


class _Searcher(threading.Thread):
    """Runs ``queries`` round and round on ``index`` until stopped; checks every answer.

    BM25 is exact: an answer must equal the one given before the faults. ``neural`` runs on an
    HNSW graph that each shard copy builds for itself, so a healthy cluster already answers from
    different copies with slightly different lists; an answer is wrong when a hit's score is not
    the exact score of that document (its stored vector against the query's), when a document
    repeats, when the order is not by score, or when fewer than ``MIN_OVERLAP`` of the exact top
    10 are there."""

    def __init__(self, client, index: str, queries: Sequence[tuple[str, str]], model_id: str, expected: dict):
        super().__init__(daemon=True)
        self.client, self.index, self.queries, self.model_id, self.expected = client, index, queries, model_id, expected
        self.log = SearchLog()
        self.halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            mode, text = self.queries[i % len(self.queries)]
            i += 1
            try:
                hits = C.search(self.client, self.index, mode, text, K_CHECK, self.model_id)
            except Exception as exc:  # every failure is logged and judged, none ends the loop
                kind, retriable = _error_kind(exc)
                self.log.errors[kind] = self.log.errors.get(kind, 0) + 1
                if not retriable:
                    self.log.unexpected.append(f"{mode} {text!r}: {exc}"[:300])
                time.sleep(0.2)
                continue
            self.log.answered += 1
            problem = judge(mode, hits, self.expected[(mode, text)])
            if mode == "neural":
                exact_top = self.expected[(mode, text)][1]
                self.log.neural_overlaps.append(len({d for d, _ in hits} & set(exact_top)) / len(exact_top))
            if problem:
                self.log.wrong.append(f"{mode} {text!r}: {problem}")


def judge(mode: str, hits: list[tuple[str, float]], expected) -> str | None:
    """What is wrong with an answer, or None (see :class:`_Searcher`)."""
    if mode != "neural":
        if [d for d, _ in hits] != [d for d, _ in expected] or not np.allclose(
                [s for _, s in hits], [s for _, s in expected], rtol=1e-4, atol=1e-5):
            return f"{hits[:3]} instead of {expected[:3]}"
        return None
    exact, exact_top = expected
    docs = [d for d, _ in hits]
    if len(set(docs)) != len(docs):
        return f"a document repeats: {docs}"
    if any(hits[j][1] < hits[j + 1][1] for j in range(len(hits) - 1)):
        return "not in score order"
    off = [(d, s, exact.get(d)) for d, s in hits if d not in exact or abs(exact[d] - s) > 1e-4]
    if off:
        return f"scores that are not the documents' own (hit, score, exact): {off[:3]}"
    if len(set(docs) & set(exact_top)) < MIN_OVERLAP * len(exact_top):
        return f"top {K_CHECK} {docs} shares < {MIN_OVERLAP:.0%} with the exact {exact_top}"
    return None


def reference_answers(client, index: str, queries: Sequence[tuple[str, str]], model_id: str) -> dict:
    """BM25: the answer before the faults. neural: every document's exact Lucene cosine score
    ((1 + cos) / 2, from the stored vectors and the model's query vector) and the exact top 10."""
    out: dict = {}
    vectors = None
    for mode, text in queries:
        if mode != "neural":
            out[(mode, text)] = C.search(client, index, mode, text, K_CHECK, model_id)
            continue
        if vectors is None:
            stored = C.stored_vectors(client, index)
            ids = list(stored)
            mat = np.asarray([stored[i] for i in ids], dtype=np.float64)
            mat /= np.linalg.norm(mat, axis=1, keepdims=True)
            vectors = (ids, mat)
        q = np.asarray(C.predict_local_embedding(client, model_id, [text])[0], dtype=np.float64)
        scores = (1 + vectors[1] @ (q / np.linalg.norm(q))) / 2
        exact = dict(zip(vectors[0], scores.tolist()))
        out[(mode, text)] = (exact, [vectors[0][j] for j in np.argsort(-scores)[:K_CHECK]])
    return out


def _model_answers(client, model_id: str, within: float) -> float | None:
    """Seconds until ``model_id`` answers a prediction (from the nodes still up), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        try:
            C.predict_local_embedding(client, model_id, ["is the model still served?"])
            return round(time.monotonic() - t0, 1)
        except Exception:  # any failure: try again until the deadline
            time.sleep(1.0)
    return None


def ingest_with_faults(client, state: K.ClusterState, index: str, docs: Sequence[Any], model_id: str,
                       kills: int = 3, search_index: str | None = None, queries: Sequence[tuple[str, str]] = (),
                       batch_size: int = 16, restart_wait: float = 300.0) -> FaultRun:
    """Ingest ``docs`` into ``index`` while node ``k % n`` is killed and restarted, ``kills`` times.

    The kills fall at evenly spaced points of the document stream; a restart starts (in a thread)
    a fifth of a spacing later, so writes go on while a node is down and while it rejoins.
    ``model_available_while_down``: how soon after each kill ``model_id`` answered a prediction
    from the surviving nodes."""
    n = len(state.nodes)
    spacing = max(len(docs) // (kills + 1), 1)
    kill_at = {spacing * (k + 1): k % n for k in range(kills)}
    restart_at = {at + max(spacing // 5, 1): node for at, node in kill_at.items()}
    events: list[FaultEvent] = []
    available: list[float | None] = []
    started = time.monotonic()
    pending: list[threading.Thread] = []

    searcher = None
    if search_index and queries:
        searcher = _Searcher(client, search_index, queries, model_id,
                             reference_answers(client, search_index, queries, model_id))
        searcher.start()

    def settle() -> None:
        for t in pending:
            t.join()
        pending.clear()
        C.wait_health(client, "green", nodes=n, within=600.0)

    def restart(node: int, at: int) -> None:
        t0 = time.monotonic()
        K.restart(state, node, wait=restart_wait)
        events.append(FaultEvent(at, "restart", state.nodes[node].name, round(t0 - started, 1),
                                 round(time.monotonic() - t0, 1)))

    def stream() -> Iterator[Any]:
        for i, doc in enumerate(docs):
            if i in kill_at:
                settle()
                node = kill_at[i]
                K.kill(state, node)
                events.append(FaultEvent(i, "kill", state.nodes[node].name, round(time.monotonic() - started, 1)))
                available.append(_model_answers(client, model_id, within=120.0))
            if i in restart_at:
                t = threading.Thread(target=restart, args=(restart_at[i], i), daemon=True)
                t.start()
                pending.append(t)
            yield doc

    try:
        report = C.bulk_ingest(client, index, stream(), batch_size=batch_size, total=len(docs), max_retries=8)
        settle()
    finally:
        if searcher is not None:
            searcher.halt.set()
            searcher.join(timeout=60)
    return FaultRun(report, sorted(events, key=lambda e: e.seconds), searcher.log if searcher else SearchLog(),
                    available)


def compare_indexes(client, faulted: str, clean: str, expected_ids: set[str]) -> dict:
    """What the faulted index holds against the clean one: counts, missing/extra/duplicate ids and
    the largest difference between stored vectors of the same id."""
    client.indices.refresh(index=faulted)
    got, want = C.stored_vectors(client, faulted), C.stored_vectors(client, clean)
    count = int(client.count(index=faulted)["count"])
    common = sorted(set(got) & set(want))
    diff = max((float(np.abs(np.asarray(got[i]) - np.asarray(want[i])).max()) for i in common), default=0.0)
    return {"count": count, "expected": len(expected_ids), "missing": sorted(expected_ids - set(got))[:20],
            "n_missing": len(expected_ids - set(got)), "extra": sorted(set(got) - expected_ids)[:20],
            "duplicates": count - len(got), "max_vector_diff": diff,
            "vectors_missing": sum(1 for i in common if got[i] is None)}
