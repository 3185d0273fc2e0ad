"""Activation smoothing before dynamic int8 (``--int8-smooth ALPHA``), after SmoothQuant.

Dynamic int8 quantises each activation tensor with ONE scale (its min/max at run time), so a
few input channels with large values (transformers have such outlier channels) leave little
resolution for all the others. For a node ``Y = X W`` with a constant weight, scaling input
channel ``k`` by ``1/s_k`` and weight row ``k`` by ``s_k`` leaves ``Y`` unchanged in exact
arithmetic and moves the outliers' range into the weights, which are quantised per output
channel. With ``s_k = max|X_k|^a / max|W_k|^(1-a)`` (``a`` = ALPHA, 0.5 in the paper) both sides
end up with comparable ranges.

The graph gets one ``Mul`` by ``1/s`` in front of each smoothed node (MatMul, or ONNX Runtime's
fused Attention) and its weight rows scaled; the channel maxima come from running the fp32
graph on SciFact **train** texts (the search's calibration sample), never on the gate's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from viewrank.errors import ViewrankError

SMOOTHED_OPS = ("MatMul", "Attention")
MIN_SCALE = 1e-5


class _Recorder:
    """Stands in for an InferenceSession: runs with the extra outputs, keeps their channel maxima."""

    def __init__(self, session, names: list[str]) -> None:
        self.session, self.names = session, names
        self.maxima: dict[str, np.ndarray] = {}

    def get_inputs(self):
        return self.session.get_inputs()

    def get_outputs(self):
        return self.session.get_outputs()[:1]

    def run(self, output_names, feeds):
        outs = self.session.run(None, feeds)
        for name, value in zip(self.names, outs[1:]):
            value = np.abs(np.asarray(value, np.float32))
            peak = value.reshape(-1, value.shape[-1]).max(0)
            self.maxima[name] = np.maximum(self.maxima[name], peak) if name in self.maxima else peak
        return outs[:1]


def smoothable(model) -> dict[int, tuple[str, str]]:
    """Node index -> (activation name, weight name) for each node whose weight is a 2-D constant."""
    dims = {i.name: len(i.dims) for i in model.graph.initializer}
    return {k: (node.input[0], node.input[1]) for k, node in enumerate(model.graph.node)
            if node.op_type in SMOOTHED_OPS and len(node.input) > 1 and dims.get(node.input[1]) == 2}


def channel_maxima(source: Path, folder: Path, run_sample: Callable[[str], object]) -> dict[str, np.ndarray]:
    """Per input channel max |value| of every smoothable node's activation on the calibration texts.

    ``run_sample(graph_file)`` builds a runtime on ``folder/graph_file`` and scores the
    calibration sample with it; this wraps its session to see the activations.
    """
    import onnx

    model = onnx.load(str(source))
    names = list(dict.fromkeys(act for act, _ in smoothable(model).values()))
    if not names:
        raise ViewrankError(f"{source}: no MatMul/Attention node with a constant weight to smooth")
    known = {o.name for o in model.graph.output}
    for name in names:
        if name not in known:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    probe = folder / "_smooth_probe.onnx"
    onnx.save(model, str(probe))
    try:
        return run_sample(probe.name)
    finally:
        probe.unlink(missing_ok=True)


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ViewrankError(f"--int8-smooth {alpha}: give a migration strength between 0 and 1 (0.5 is usual)")


def apply_smoothing(source: Path, dst: Path, maxima: dict[str, np.ndarray], alpha: float) -> dict:
    """Write ``dst``: ``source`` with every smoothable node's input divided and weight rows
    multiplied by ``s``; returns a summary (nodes smoothed, the largest activation range cut)."""
    import onnx
    from onnx import numpy_helper

    check_alpha(alpha)
    model = onnx.load(str(source))
    inits = {i.name: i for i in model.graph.initializer}
    targets = smoothable(model)
    nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in model.graph.node]
    new_nodes, added, ratios = [], [], []
    for k, node in enumerate(nodes):
        if k not in targets or targets[k][0] not in maxima:
            new_nodes.append(node)
            continue
        act, weight = targets[k]
        w = numpy_helper.to_array(inits[weight]).astype(np.float32)
        x_max = np.maximum(maxima[act].astype(np.float32), MIN_SCALE)
        if x_max.shape[0] != w.shape[0]:
            raise ViewrankError(f"{source}: {node.name}: {x_max.shape[0]} input channels, weight has {w.shape[0]} rows")
        w_max = np.maximum(np.abs(w).max(1), MIN_SCALE)
        s = np.maximum(x_max ** alpha / w_max ** (1 - alpha), MIN_SCALE).astype(np.float32)
        ratios.append(float(x_max.max() / np.median(x_max)))
        base = node.name or f"smooth_{k}"
        inv = numpy_helper.from_array((1.0 / s).astype(np.float32), f"{base}_smooth_inv_scale")
        scaled = numpy_helper.from_array((w * s[:, None]).astype(np.float32), f"{base}_smoothed_weight")
        added += [inv, scaled]
        new_nodes.append(onnx.helper.make_node("Mul", [act, inv.name], [f"{base}_smoothed_input"], name=f"{base}_smooth"))
        node.input[0], node.input[1] = f"{base}_smoothed_input", scaled.name
        new_nodes.append(node)
    used = {name for node in new_nodes for name in node.input}
    kept = [i for i in model.graph.initializer if i.name in used] + added
    model.graph.ClearField("initializer")
    model.graph.initializer.extend(kept)
    model.graph.ClearField("node")
    model.graph.node.extend(new_nodes)
    onnx.save(model, str(dst))
    smoothed = len(ratios)
    return {"alpha": alpha, "nodes": smoothed,
            "max_over_median_channel": round(max(ratios), 1) if ratios else None}
