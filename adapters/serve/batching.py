"""Dynamic batching for ``viewrank serve``: concurrent requests merged into one model call.

A :class:`Batcher` owns one worker thread. A request handler validates its input first, then
:meth:`Batcher.submit`\\s a job: a ``key`` (only jobs with equal keys share a call, e.g. the
embedding role) and a list of ``items`` (texts, or (query, passage) pairs). The worker takes the
oldest job, adds the jobs queued after it that have the same key while the items still fit in
``max_items``, and calls ``call(key, items)`` once on their concatenation; each job's future gets
exactly its own slice of the outputs, in order. A job is never split: one larger than
``max_items`` runs alone. Jobs with another key keep their place for the next call.

When a batch starts: at once when it is full; otherwise it waits for the requests that are still
being read or validated (:meth:`Batcher.arriving`), at most ``max_wait`` seconds counted from when
its oldest job was queued. When nothing else is on its way (one client), nothing waits; under load
the requests that queue while the model is busy make the next batch.

Failures: when a merged call raises (or returns a wrong number of outputs), every job of that
batch is run again on its own, so only the job the model cannot take fails; the others are
answered. A job whose future was cancelled before its batch started (its request timed out in the
queue) is dropped without running. :meth:`Batcher.close` refuses new jobs and lets the worker run
what is already queued before it exits.

With ``merge=False`` every call gets one job: the same queue and worker, one request per call
(for listwise rerankers, whose scores for a list depend on the rest of that list).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterator, Sequence

log = logging.getLogger("viewrank.serve")


class BatcherClosed(RuntimeError):
    """Raised by :meth:`Batcher.submit` once the batcher is closing."""


@dataclass
class Job:
    key: Hashable
    items: list
    future: Future = field(default_factory=Future)
    queued: float = field(default_factory=time.monotonic)


class Batcher:
    """Merges queued jobs with the same key into calls of at most ``max_items`` items.

    ``call(key, items)`` returns one output per item (a list or an array, sliced per job);
    ``lock`` (optional) is held around each call; ``on_batch(jobs, items)`` is told the number of
    jobs and the items of every call that succeeded (for metrics).
    """

    def __init__(self, call: Callable[[Hashable, list], Sequence[Any]], *, max_items: int, max_wait: float,
                 merge: bool = True, lock: Any = None, on_batch: Callable[[int, list], None] | None = None,
                 name: str = "batcher") -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        if max_wait < 0:
            raise ValueError(f"max_wait must be >= 0, got {max_wait}")
        self.call, self.max_items, self.max_wait, self.merge = call, max_items, max_wait, merge
        self.lock = lock if lock is not None else contextlib.nullcontext()
        self.on_batch = on_batch
        self.name = name
        self._cond = threading.Condition()
        self._pending: deque[Job] = deque()
        self._arriving = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    # -- the request side -------------------------------------------------------------------
    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        """Around reading and validating a request that will probably :meth:`submit`: a batch
        that is not full waits for it (at most ``max_wait``)."""
        with self._cond:
            self._arriving += 1
        try:
            yield
        finally:
            with self._cond:
                self._arriving -= 1
                self._cond.notify_all()

    def submit(self, key: Hashable, items: Sequence[Any]) -> Future:
        """Queue a job; its future gets the outputs of its items (or the call's exception)."""
        job = Job(key, list(items))
        with self._cond:
            if self._closing:
                raise BatcherClosed(f"{self.name} is shutting down")
            self._pending.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=f"viewrank-serve-{self.name}", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return job.future

    def queued(self) -> int:
        with self._cond:
            return sum(1 for job in self._pending if not job.future.cancelled())

    def close(self, timeout: float | None = None) -> bool:
        """Refuse new jobs, let the worker run the queued ones, wait for it (up to ``timeout`` s).
        True when the worker has finished."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- the worker -------------------------------------------------------------------------
    def _fill(self, key: Hashable) -> int:
        return sum(len(job.items) for job in self._pending if job.key == key and not job.future.cancelled())

    def _take(self) -> list[Job]:
        """The next batch, popped from the queue (called with the condition held)."""
        batch: list[Job] = []
        rest: deque[Job] = deque()
        size, key, full = 0, None, False
        for job in self._pending:
            if job.future.cancelled():
                continue  # its request already answered 504
            if batch and (full or not self.merge or job.key != key or size + len(job.items) > self.max_items):
                full = full or (job.key == key)  # FIFO within a key: nothing overtakes a job that did not fit
                rest.append(job)
                continue
            if not job.future.set_running_or_notify_cancel():
                continue
            batch.append(job)
            key, size = job.key, size + len(job.items)
        self._pending = rest
        return batch

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return  # closing, and everything queued has run
                first = self._pending[0]
                if self.merge:
                    deadline = first.queued + self.max_wait
                    while (self._arriving > 0 and not self._closing and self._fill(first.key) < self.max_items):
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
                batch = self._take()
            if batch:
                try:
                    self._run(batch, isolate=True)
                except BaseException as exc:  # never leave a request waiting on a dead worker
                    log.exception("%s: batch worker error", self.name)
                    for job in batch:
                        if not job.future.done():
                            job.future.set_exception(exc)

    def _run(self, batch: list[Job], isolate: bool) -> None:
        items = [item for job in batch for item in job.items]
        try:
            with self.lock:
                outputs = self.call(batch[0].key, items)
            if len(outputs) != len(items):
                raise RuntimeError(f"the model gave {len(outputs)} outputs for {len(items)} inputs")
        except Exception as exc:
            if isolate and len(batch) > 1:
                log.warning("%s: a call merging %d requests failed (%s); running them one at a time",
                            self.name, len(batch), type(exc).__name__)
                for job in batch:
                    self._run([job], isolate=False)
                return
            for job in batch:  # the request handlers log it and answer 500
                job.future.set_exception(exc)
            return
        if self.on_batch is not None:
            self.on_batch(len(batch), items)
        start = 0
        for job in batch:
            job.future.set_result(outputs[start : start + len(job.items)])
            start += len(job.items)
