"""Plain data types and the protocols every reranker and embedder implements."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

Role = Literal["query", "passage"]


@dataclass(frozen=True)
class Query:
    """A query (a BEIR "query", a TREC "topic")."""

    qid: str
    text: str


@dataclass(frozen=True)
class Candidate:
    """One first-stage hit: its id, its text and the first-stage score.

    ``title`` is kept apart from ``text`` because some models format it on its own;
    :attr:`contents` is what most models read (title and text joined by a space).
    """

    docid: str
    text: str
    score: float = 0.0
    title: str = ""

    @property
    def contents(self) -> str:
        return f"{self.title} {self.text}".strip() if self.title else self.text


@dataclass(frozen=True)
class ScoredDoc:
    docid: str
    score: float


@dataclass(frozen=True)
class RankedList:
    """A query's documents, best first, with the scores that ordered them."""

    qid: str
    items: tuple[ScoredDoc, ...] = field(default_factory=tuple)

    @property
    def docids(self) -> list[str]:
        return [item.docid for item in self.items]

    @property
    def scores(self) -> list[float]:
        return [item.score for item in self.items]

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_scores(cls, qid: str, candidates: Sequence[Candidate], scores: Sequence[float]) -> "RankedList":
        """Sort candidates by score, best first; ties keep the first-stage order (a stable sort)."""
        if len(candidates) != len(scores):
            raise ValueError(f"{len(candidates)} candidates but {len(scores)} scores for query {qid!r}")
        order = sorted(range(len(candidates)), key=lambda i: -float(scores[i]))
        return cls(qid, tuple(ScoredDoc(candidates[i].docid, float(scores[i])) for i in order))

    @classmethod
    def from_order(cls, qid: str, candidates: Sequence[Candidate], order: Sequence[int]) -> "RankedList":
        """A ranked list from a permutation (index into ``candidates``, best first).

        Rankers that produce an order rather than scores (a sliding window) get
        descending pseudo-scores ``n - rank`` so the TREC run sorts the same way.
        """
        n = len(candidates)
        if sorted(order) != list(range(n)):
            raise ValueError(f"order for query {qid!r} is not a permutation of {n} candidates")
        return cls(qid, tuple(ScoredDoc(candidates[i].docid, float(n - r)) for r, i in enumerate(order)))


@runtime_checkable
class Reranker(Protocol):
    """Reorders one query's candidates."""

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> RankedList: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to vectors: one row per text, ``dim`` columns."""

    dim: int

    def embed(self, texts: Sequence[str], role: Role = "passage") -> np.ndarray: ...


class Exporter(Protocol):
    """An export format (``viewrank_register_exporters``): ``viewrank export FORMAT MODEL``."""

    description: str
    options: type | None  # a dataclass whose fields are the keyword options of export(); None: no options

    def add_arguments(self, parser: "argparse.ArgumentParser") -> None: ...  # a flag per option, dest = field name

    def export(self, model_spec: str, out_dir: "str | Path", **options) -> "Path": ...


class Trainer(Protocol):
    """A kind of ``viewrank train KIND`` (``viewrank_register_trainers``)."""

    description: str

    def add_arguments(self, parser: "argparse.ArgumentParser") -> None: ...

    def run(self, args: "argparse.Namespace") -> int: ...


class Retriever(Protocol):
    """A first-stage search over one index (``viewrank_register_retrievers``)."""

    def search(self, queries: Sequence[Query], k: int) -> dict[str, list[tuple[str, float]]]: ...


class ExportConfig(Protocol):
    """How one model type becomes a graph (``viewrank_register_export_configs``, keyed by
    ``model_type``). The exporter reads the ``model_type`` a loaded model reports, looks the config
    up with ``host.export_config(model_type)`` and fits it to that model with :meth:`for_model`
    (whose inputs depend on the backbone: ``token_type_ids`` or not); the fitted config gives the
    module to trace, its input and output names and its dynamic axes."""

    model_type: str
    #: ``"embedder"`` or ``"reranker"``: which runtime loads the exported graph
    kind: str
    #: graph input names, in the order ``graph(model).forward`` takes them
    inputs: tuple[str, ...]
    #: graph output names
    outputs: tuple[str, ...]

    def for_model(self, model: object) -> "ExportConfig":
        """This config fitted to ``model`` (an object whose ``model_type`` is this config's)."""
        ...

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """For each input and output name, its dynamic axes (``{0: "batch", 1: "sequence"}``)."""
        ...

    def graph(self, model: object) -> object:
        """The ``torch.nn.Module`` (in eval mode) whose ``forward(*inputs)`` returns the outputs."""
        ...


class IndexCodec(Protocol):
    """Turns float passage vectors into stored codes and says how they are searched
    (``viewrank_register_index_codecs``; ``float``, ``int8`` and ``binary`` are built in).

    A codec owns the files of a dense index folder except ``docid`` and the metadata JSON:
    :meth:`write` fits what it needs on the corpus vectors (int8 ranges, binary thresholds or a
    rotation), computes the codes and writes them as the faiss file ``index`` (row ``i`` = id ``i``)
    beside its own files; :meth:`open` loads those back for search. ``metric`` says how ``index``
    is searched, so a search adapter picks its searcher without knowing the codec:

    - ``"ip"``: a faiss index (``faiss.read_index``) scored by inner product with the projected
      float query (``IndexFlatIP`` for float, ``IndexScalarQuantizer`` QT_8bit for int8);
    - ``"hamming"``: a faiss binary index (``faiss.read_index_binary``) searched by Hamming distance
      from the sign of the projected query; the candidates may then be rescored
      (:meth:`IndexCodecReader.rescore`).
    """

    name: str
    metric: Literal["ip", "hamming"]
    #: the keyword options :meth:`write` takes, with their defaults (checked before any encoding)
    options: Mapping[str, Any]

    def write(self, vectors: np.ndarray, folder: Path, **options: Any) -> dict[str, Any]:
        """Write the codes of ``vectors`` (float32, one row per document) into ``folder`` and return
        what the index metadata records about them (JSON values)."""
        ...

    def open(self, folder: Path, meta: Mapping[str, Any]) -> "IndexCodecReader":
        """Load what :meth:`write` stored in ``folder`` (``meta``: the index metadata)."""
        ...


class IndexCodecReader(Protocol):
    """An opened index's codec: the query side of search.

    ``rescore_store`` names the vectors :meth:`rescore` reads (``"float32"``, ``"int8"``), or is
    None when the index keeps none; then only the codes rank (for ``hamming``: the Hamming order,
    or the float query against the +-1 codes)."""

    rescore_store: str | None

    def project(self, queries: np.ndarray) -> np.ndarray:
        """Float query vectors -> what the index is searched with: the vectors to score by inner
        product (``ip``), or the real values whose sign is the query's code (``hamming``)."""
        ...

    def rescore(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Scores of the candidates ``ids`` (in that order) for one float query, from the vectors
        stored beside the index; only called when ``rescore_store`` is not None."""
        ...


class ScoringReranker:
    """Base for rerankers that give every candidate a score.

    Subclasses implement :meth:`score`; :meth:`rerank` sorts by it.
    """

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> RankedList:
        if not candidates:
            return RankedList(query.qid)
        scores = np.asarray(self.score(query.text, [c.contents for c in candidates]), dtype=np.float64)
        return RankedList.from_scores(query.qid, candidates, scores.tolist())


def pair_count(queries: Sequence[str], passages: Sequence[str]) -> int:
    """The number of (query, passage) pairs; a ValueError when the two lengths differ."""
    if len(passages) != len(queries):
        raise ValueError(f"score_pairs: {len(queries)} queries for {len(passages)} passages")
    return len(passages)


class PairScorer(ScoringReranker):
    """Base for pointwise rerankers: a (query, passage) pair's score does not depend on the other
    candidates, so pairs of different queries may share one model call (``viewrank serve`` merges
    the pairs of concurrent ``/rerank`` requests for such a reranker; a listwise one, MVP or a
    fusion normalised over the list, gets one query's list per call).

    Subclasses implement :meth:`score_pairs`; :meth:`score` is its one-query case.
    """

    def score_pairs(self, queries: Sequence[str], passages: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        """One score per pair ``(queries[i], passages[i])``."""
        raise NotImplementedError

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        passages = list(passages)
        return self.score_pairs([query] * len(passages), passages)
