"""A complete third-party viewrank plugin: it implements every hook viewrank defines.

A reranker, an embedder, an exporter, a command (``viewrank corpus-stats``), a trainer
(``viewrank train shortest-first``), an export configuration, an index codec, a first-stage
retriever and a model-path resolver, each through the same hooks the built-ins use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewrank import hookimpl
from viewrank.types import ScoringReranker


class ShortestFirst(ScoringReranker):
    """Scores a passage by minus its length in words (optionally capped by ARG)."""

    def __init__(self, cap: int | None = None) -> None:
        self.cap = cap

    def score(self, query, passages):
        lengths = [len(p.split()) for p in passages]
        if self.cap is not None:
            lengths = [min(n, self.cap) for n in lengths]
        return -np.asarray(lengths, dtype=float)


class LengthEmbedder:
    """A 2-d 'embedding': word count and character count."""

    dim = 2
    model_type = "length"  # the key of its export configuration

    def embed(self, texts, role="passage"):
        return np.asarray([[len(t.split()), len(t)] for t in texts], dtype=np.float32).reshape(len(texts), 2)


@dataclass
class JsonOptions:
    opset: int = 17


class JsonExporter:
    """Writes the model spec and its export configuration to a JSON file: the smallest format."""

    description = "the model spec as JSON (sample plugin)"
    options = JsonOptions

    def __init__(self, context):
        self.context = context

    def add_arguments(self, parser):
        parser.add_argument("--opset", type=int, default=JsonOptions.opset)

    def export(self, model_spec, out_dir, **options):
        record = {"model": model_spec, **options}
        is_embedder = model_spec.partition(":")[0] in self.context.host.registry.names("embedder")
        model = self.context.host.embedder(model_spec) if is_embedder else None
        if model is not None:  # an embedder: its export configuration, looked up by model type
            config = self.context.host.export_config(model.model_type).for_model(model)
            record.update(model_type=model.model_type, inputs=list(config.inputs), outputs=list(config.outputs))
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.json").write_text(json.dumps(record))
        return out


class LengthConfig:
    """The export configuration of the ``length`` embedder: word and character counts in, the
    2-d vector out."""

    model_type = "length"
    kind = "embedder"
    inputs = ("counts",)
    outputs = ("embedding",)

    def for_model(self, model):
        return self

    def dynamic_axes(self):
        return {"counts": {0: "batch"}, "embedding": {0: "batch"}}

    def graph(self, model):
        import torch

        class Identity(torch.nn.Module):
            def forward(self, counts):
                return counts.float()

        return Identity().eval()


class HalfCodec:
    """``--codec half``: vectors rounded to float16 precision, searched by inner product."""

    name = "half"
    metric = "ip"
    options = {}

    def write(self, vectors, folder, **options):
        import faiss

        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors.astype(np.float16).astype(np.float32)))
        faiss.write_index(index, str(Path(folder) / "index"))
        return {"precision": "float16"}

    def open(self, folder, meta):
        return HalfReader()


class HalfReader:
    rescore_store = None

    def project(self, queries):
        return queries.astype(np.float16).astype(np.float32)

    def rescore(self, query, ids):  # never called: rescore_store is None
        raise NotImplementedError


def make_shortest_first(arg):
    """``shortest-first:CAP`` or ``shortest-first:DIR`` (a folder ``viewrank train shortest-first`` wrote)."""
    if arg and Path(arg).is_dir():
        return ShortestFirst(json.loads((Path(arg) / "cap.json").read_text())["cap"])
    return ShortestFirst(int(arg) if arg else None)


class CapTrainer:
    """``viewrank train shortest-first``: 'learns' the cap as the median passage length of a corpus."""

    description = "fit shortest-first's cap to a corpus (sample plugin)"

    def __init__(self, context):
        self.context = context

    def add_arguments(self, parser):
        parser.add_argument("--dataset", default=str(self.context.settings.dataset("scifact")))
        parser.add_argument("--output", required=True)

    def run(self, args):
        from viewrank.datasets import BeirDataset

        lengths = sorted(len(d.contents.split()) for d in BeirDataset(args.dataset).iter_corpus())
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "cap.json").write_text(json.dumps({"cap": lengths[len(lengths) // 2]}))
        print(f"cap {lengths[len(lengths) // 2]} written to {out}")
        return 0


def corpus_stats(args, context):
    from viewrank.datasets import BeirDataset

    docs = list(BeirDataset(args.dataset or context.settings.dataset("scifact")).iter_corpus())
    print(json.dumps({"documents": len(docs), "words": sum(len(d.contents.split()) for d in docs)}))
    return 0


@hookimpl
def viewrank_register_rerankers(registry):
    registry.add("shortest-first", make_shortest_first,
                 arg_help="CAP|DIR", description="prefers short passages (sample plugin)")


@hookimpl
def viewrank_register_trainers(registry, context):
    registry.add("shortest-first", lambda arg: CapTrainer(context), description=CapTrainer.description)


@hookimpl
def viewrank_add_commands(subparsers, context):
    p = subparsers.add_parser("corpus-stats", help="documents and words of a BEIR corpus (sample plugin)")
    p.add_argument("--dataset", default=None, help="BEIR folder (default: scifact under --data)")
    p.set_defaults(func=lambda args: corpus_stats(args, context))


@hookimpl
def viewrank_register_embedders(registry):
    registry.add("length", lambda arg: LengthEmbedder(), description="word and character counts (sample plugin)")


@hookimpl
def viewrank_register_exporters(registry, context):
    registry.add("json", lambda arg: JsonExporter(context), description=JsonExporter.description)


@hookimpl
def viewrank_register_export_configs(registry):
    registry.add("length", lambda arg: LengthConfig(), description="word/character counts (sample plugin)")


@hookimpl
def viewrank_register_index_codecs(registry):
    registry.add("half", lambda arg: HalfCodec(), description="float16-rounded vectors, inner product (sample plugin)")


class OverlapRetriever:
    """``overlap:DIR``: documents of a BEIR corpus ranked by the words they share with the query."""

    def __init__(self, folder):
        from viewrank.datasets import BeirDataset

        self.docs = {d.docid: set(d.contents.lower().split()) for d in BeirDataset(folder).iter_corpus()}

    def search(self, queries, k):
        out = {}
        for q in queries:
            words = set(q.text.lower().split())
            scored = sorted(((len(words & w), d) for d, w in self.docs.items()), key=lambda t: (-t[0], t[1]))
            out[q.qid] = [(d, float(s)) for s, d in scored[:k]]
        return out


@hookimpl
def viewrank_register_retrievers(registry):
    registry.add("overlap", OverlapRetriever, arg_help="DIR", description="shared-word counts (sample plugin)")


@hookimpl
def viewrank_resolve_model_path(name):
    if name == "sample-model":
        return Path(__file__).parent
    return None
