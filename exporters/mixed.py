"""Mixed-precision int8: keep the quantisable nodes that cost the most accuracy in fp32.

``--int8-keep-fp32`` takes

- node names or globs (``'*layer.5/*'``, ``Attention_0``): those nodes stay fp32;
- a count ``N``: the ``N`` most sensitive nodes stay fp32;
- ``auto``: the fewest most-sensitive nodes with which the int8 graph meets the gate's int8
  criteria on a calibration sample *with a margin for that sample's noise*, up to
  ``--int8-fp32-budget`` (a share of the quantisable weights, which is about the share of the
  GEMM work per token left in fp32).

The margin: int8 moves nDCG@10 by reordering a relevant passage and a near-tied distractor in
a few queries, so one sample's nDCG@10 change is mostly noise at the 0.005 limit (on the
one-epoch cross-encoder, neighbouring choices moved it by up to 0.013 on 100 queries, either
way). A choice is accepted when its calibration loss plus 1.28 standard errors (the per-query
spread of the change over ``sqrt(n_calibration)``) stays within the limit: a one-sided 90% bound
on the graph's expected loss on such queries. The gate's own sample is as noisy; that noise
is the gate's verdict to give, not something a choice of nodes can remove.

Sensitivity is measured one node at a time: the graph with only that node quantised, its
scores against PyTorch's (RMS difference over the reference's score scale). Both the ranking and
the automatic choice run on SciFact **train** queries (relevant documents plus BM25 distractors,
as the gate builds its lists), never on the gate's test queries, so the gate still judges the
result on queries the choice did not see.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from viewrank.errors import ViewrankError

RANKING_QUERIES = 8  # the first calibration queries rank the nodes (one quantised graph per node)
CONFIDENCE_Z = 1.28  # one-sided 90% bound on the expected nDCG@10 loss


def loss_bound(rep, n_calibration: int) -> float:
    """Upper bound on the expected nDCG@10 loss: calibration loss + z standard errors (module doc)."""
    loss = rep.ndcg10_torch - rep.ndcg10_onnx
    return float(loss + CONFIDENCE_Z * rep.ndcg10_change_sd / np.sqrt(n_calibration))


@dataclass
class QuantNode:
    name: str
    op: str
    weights: int  # elements of its constant weight (0: both inputs are activations)


@dataclass
class KeepRequest:
    mode: str  # "none", "names", "count" or "auto"
    patterns: list[str] = field(default_factory=list)
    count: int = 0

    @classmethod
    def parse(cls, value: str | None) -> "KeepRequest":
        text = (value or "").strip()
        if not text:
            return cls("none")
        if text == "auto":
            return cls("auto")
        if text.isdigit():
            return cls("count", count=int(text))
        patterns = [p.strip() for p in text.split(",") if p.strip()]
        if not patterns:
            raise ViewrankError(f"--int8-keep-fp32 {value!r}: give auto, a count, or node names/globs")
        return cls("names", patterns=patterns)


def quantizable_nodes(path: Path) -> list[QuantNode]:
    """The nodes ``quantize_int8`` would quantise, in graph order, with their weight sizes."""
    import onnx

    from viewrank.exporters.quantize import QUANTIZED_OPS

    graph = onnx.load(str(path), load_external_data=False).graph
    shapes = {i.name: int(np.prod(i.dims)) for i in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type in QUANTIZED_OPS and node.domain in ("", "ai.onnx", "com.microsoft"):
            if not node.name:
                raise ViewrankError(f"{path}: a {node.op_type} node has no name; cannot choose nodes to keep fp32")
            weight = node.input[1] if len(node.input) > 1 else ""
            nodes.append(QuantNode(node.name, node.op_type, shapes.get(weight, 0)))
    return nodes


def resolve_patterns(patterns: Sequence[str], nodes: Sequence[QuantNode]) -> list[str]:
    """Node names the patterns (exact names or globs) select; a pattern matching nothing is an error."""
    names = [n.name for n in nodes]
    chosen: list[str] = []
    for pat in patterns:
        hits = [n for n in names if n == pat or fnmatch.fnmatchcase(n, pat)]
        if not hits:
            shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
            raise ViewrankError(f"--int8-keep-fp32: {pat!r} matches none of the graph's {len(names)} quantisable "
                                f"nodes ({shown}; the export log's int8 search lists them all)")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def fp32_share(nodes: Sequence[QuantNode], kept: Sequence[str]) -> float:
    """Share of the quantisable weights (their elements) left in fp32."""
    total = sum(n.weights for n in nodes)
    kept_set = set(kept)
    return 0.0 if not total else sum(n.weights for n in nodes if n.name in kept_set) / total


def short_name(name: str) -> str:
    """``/model/backbone/encoder/layer.3/output/dense/MatMul`` -> ``layer.3/output/dense/MatMul``."""
    for marker in ("/encoder/", "/model/"):
        if marker in name:
            return name.split(marker, 1)[1]
    return name.lstrip("/")


@dataclass
class Calibration:
    """Trial graphs of one fused source, scored on SciFact train queries against PyTorch.

    ``evaluate(graph_file, ranking)`` runs a trial graph file (inside ``folder``, which holds
    the export's tokenizer and runtime config) and returns its gate report on the calibration
    sample, or with ``ranking`` on its first queries (``ranking_sample``).
    """

    source: Path
    folder: Path
    weights: str
    evaluate: Callable[[str, bool], Any]  # (graph file name, ranking) -> ParityReport
    sample: Any
    ranking_sample: Any
    trial_name: str = "_int8_trial.onnx"

    def quantize(self, exclude: Sequence[str] = (), only: Sequence[str] | None = None) -> str:
        from viewrank.exporters.quantize import quantize_int8

        quantize_int8(self.source, self.folder / self.trial_name, self.weights, exclude=exclude, only=only)
        return self.trial_name

    def cleanup(self) -> None:
        (self.folder / self.trial_name).unlink(missing_ok=True)


def rank_nodes(cal: Calibration, nodes: Sequence[QuantNode], log: Callable[[str], None]) -> list[dict]:
    """Every node's error when it alone is quantised, most harmful first."""
    from tqdm.auto import tqdm

    rows = []
    for node in tqdm(nodes, desc="int8 sensitivity", unit="node"):
        report = cal.evaluate(cal.quantize(only=[node.name]), True)
        rows.append({"node": node.name, "op": node.op, "weights": node.weights, "rel_rms": report.rel_rms})
    rows.sort(key=lambda r: -r["rel_rms"])
    for r in rows[:8]:
        log(f"    {short_name(r['node']):<44} {r['op']:<9} rel. RMS {r['rel_rms']:.2e}")
    return rows


def choose_fp32_nodes(request: KeepRequest, cal_factory: Callable[[], Calibration], source: Path,
                      budget: float, log: Callable[[str], None]) -> tuple[list[str], dict]:
    """The nodes to keep fp32 for ``request`` and a report of how they were chosen."""
    nodes = quantizable_nodes(source)
    report: dict[str, Any] = {"mode": request.mode, "quantisable_nodes": len(nodes)}
    if request.mode == "none":
        return [], report
    if request.mode == "names":
        kept = resolve_patterns(request.patterns, nodes)
        report.update(patterns=request.patterns)
        return _finish(kept, nodes, report, log)
    if request.mode == "count" and not 0 < request.count <= len(nodes):
        raise ViewrankError(f"--int8-keep-fp32 {request.count}: the graph has {len(nodes)} quantisable nodes; "
                            f"give 1 to {len(nodes)}")
    if not 0 < budget <= 1:
        raise ViewrankError(f"--int8-fp32-budget {budget}: give a share of the weights in (0, 1]")
    cal = cal_factory()
    report["calibration"] = {"split": "train", "queries": len(cal.sample.queries),
                             "ranking_queries": len(cal.ranking_sample.queries)}
    try:
        steps = []
        if request.mode == "auto":
            log(f"  int8 search: all {len(nodes)} nodes int8 on {len(cal.sample.queries)} SciFact train queries")
            steps.append(_step([], nodes, cal.evaluate(cal.quantize(), False), cal, log))
            if steps[-1]["accepted"]:
                report.update(steps=steps, budget=budget)
                return _finish([], nodes, report, log)
        log(f"  int8 search: ranking {len(nodes)} nodes by their error alone "
            f"({len(cal.ranking_sample.queries)} train queries)")
        ranking = rank_nodes(cal, nodes, log)
        report["ranking"] = ranking
        order = [r["node"] for r in ranking]
        if request.mode == "count":
            return _finish(order[: request.count], nodes, report, log)
        for k in range(1, len(order) + 1):
            kept = order[:k]
            if fp32_share(nodes, kept) > budget:
                break
            steps.append(_step(kept, nodes, cal.evaluate(cal.quantize(exclude=kept), False), cal, log))
            if steps[-1]["accepted"]:
                report.update(steps=steps, budget=budget)
                return _finish(kept, nodes, report, log)
        raise ViewrankError(
            f"int8 search: no mixed-precision graph keeping at most {budget:.0%} of the weights in fp32 meets the "
            f"gate's int8 criteria on {len(cal.sample.queries)} SciFact train queries with the margin for their "
            f"noise (last try: " + "; ".join(steps[-1]["failures"]) + "); raise --int8-fp32-budget, "
            "or export without --int8")
    finally:
        cal.cleanup()


def _step(kept: Sequence[str], nodes: Sequence[QuantNode], rep, cal: Calibration, log: Callable[[str], None]) -> dict:
    bound = loss_bound(rep, len(cal.sample.queries))
    failures = list(rep.failures)
    if bound > rep.ndcg_limit:
        failures.append(f"90% bound on the nDCG@10 loss {bound:.4f} > {rep.ndcg_limit} (calibration loss "
                        f"{rep.ndcg10_torch - rep.ndcg10_onnx:+.4f}, per-query sd {rep.ndcg10_change_sd:.3f})")
    accepted = not failures
    log(f"  int8 search: {len(kept)} nodes fp32 ({fp32_share(nodes, kept):.0%} of the weights): "
        f"nDCG@10 change {rep.ndcg10_onnx - rep.ndcg10_torch:+.4f} (90% bound on the loss {bound:+.4f}), "
        f"min tau {rep.min_kendall_tau:.3f}, max|diff| {rep.max_abs_diff:.3f}, rel. RMS {rep.rel_rms:.4f} "
        f"-> {'accepted' if accepted else 'not yet'}")
    return {"fp32_nodes": len(kept), "fp32_weight_share": round(fp32_share(nodes, kept), 4),
            "ndcg10_change": round(rep.ndcg10_onnx - rep.ndcg10_torch, 4),
            "ndcg10_change_sd": round(rep.ndcg10_change_sd, 4), "loss_bound": round(bound, 4),
            "min_kendall_tau": round(rep.min_kendall_tau, 4), "max_abs_diff": round(rep.max_abs_diff, 4),
            "rel_rms": round(rep.rel_rms, 5), "accepted": accepted, "failures": failures}


def _finish(kept: list[str], nodes: Sequence[QuantNode], report: dict, log: Callable[[str], None]) -> tuple[list[str], dict]:
    share = fp32_share(nodes, kept)
    report.update(fp32_nodes=kept, fp32_weight_share=round(share, 4))
    log(f"  int8 keeps {len(kept)} of {len(nodes)} nodes in fp32 ({share:.0%} of the quantisable weights)"
        + (f": {', '.join(short_name(k) for k in kept)}" if kept else ""))
    return kept, report
