"""The ml-commons bundle: a zip (one ``.onnx`` + ``tokenizer.json``) and the register request body.

ml-commons loads a local ONNX text model from a zip holding exactly one ``*.onnx`` file and
``tokenizer.json``; it feeds ``input_ids`` and ``attention_mask`` (int64, ``[batch, seq]``) and
``token_type_ids`` for ``bert``/``albert`` model types. ``TEXT_EMBEDDING`` with
``framework_type: sentence_transformers`` pools the graph's FIRST output as token embeddings
``[batch, tokens, dim]`` itself (``pooling_mode``, then ``normalize_result``): measured on a real
2.19 node, a pooled ``[batch, dim]`` output makes its mean pooling fail at deploy. So the zip's
embedder graph is ``model.onnx`` with ``sentence_embedding`` unsqueezed to ``[batch, 1, dim]``
as its only output and ``pooling_mode: CLS``: ml-commons takes that one "token", and the
pooling, Matryoshka truncation and normalisation baked into the graph are what the node returns.
``TEXT_SIMILARITY`` (cross-encoders) takes the first output as the pair's score. The body is
checked against these rules before anything is written.

The zip's graph is the fp32 one, or the int8 one (``variant="int8"``, ``--ml-commons-variant
int8``). ml-commons 2.19 runs ONNX Runtime 1.16.3, which refuses a graph whose ``opset_import``
names a domain at a version it does not know (onnx 1.23 stamps ``ai.onnx.ml`` 5 on the
quantiser's output, 1.16.3 knows up to 3), so imports of domains no node uses are dropped.
The export's parity gate judged the graph on the exporting machine's ONNX Runtime; the node's
1.16.3 computes int8 graphs differently (measured: max embedding difference 0.021 on MiniLM),
so ``viewrank opensearch verify-local`` re-runs the gate through the node.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Iterable

from viewrank.errors import ViewrankError
from viewrank.exporters.artifacts import sha256_file, write_json

ZIP_NAME = "ml_commons.zip"
BODY_NAME = "ml_commons_register.json"
FEEDS_TOKEN_TYPES = ("bert", "albert")
CHUNK = 10_000_000
BUNDLE_OUTPUT = "ml_commons_token_embeddings"  # [batch, 1, dim]: sentence_embedding as one "token"
BUNDLE_VARIANTS = ("fp32", "int8")


def register_body(cfg: dict, hf_config: dict, zip_path: Path, name: str, variant: str = "fp32") -> dict:
    size = zip_path.stat().st_size
    model_type = str(hf_config.get("model_type", "bert"))
    if cfg["kind"] == "embedder":
        function = "TEXT_EMBEDDING"
        model_config = {
            "model_type": model_type,
            "embedding_dimension": int(cfg["dim"]),
            "framework_type": "sentence_transformers",
            "pooling_mode": "CLS",  # the graph pools; see the module docstring
            "normalize_result": bool(cfg["normalize"]),
            "all_config": json.dumps(hf_config),
        }
    else:
        function = "TEXT_SIMILARITY"
        model_config = {"model_type": model_type, "embedding_dimension": 1,
                        "framework_type": "huggingface_transformers", "all_config": json.dumps(hf_config)}
    return {
        "name": name, "version": "1.0.0", "model_format": "ONNX", "function_name": function,
        "description": f"viewrank export of {cfg['source']} ({cfg['task']}, {variant})",
        "model_content_hash_value": sha256_file(zip_path),
        "model_content_size_in_bytes": size, "total_chunks": max(1, -(-size // CHUNK)),
        "model_config": model_config,
    }


def check_bundle(body: dict, cfg: dict, zip_path: Path) -> list[str]:
    """What ml-commons would reject or mis-feed; empty when the bundle is consistent."""
    problems = []
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
    onnx_files = [n for n in names if n.endswith(".onnx")]
    if len(onnx_files) != 1:
        problems.append(f"the zip must hold exactly one .onnx file, holds {onnx_files}")
    if "tokenizer.json" not in names:
        problems.append("the zip has no tokenizer.json")
    inputs = list(cfg["inputs"])
    if inputs[:2] != ["input_ids", "attention_mask"] or not set(inputs) <= {"input_ids", "attention_mask", "token_type_ids"}:
        problems.append(f"graph inputs {inputs}: ml-commons feeds input_ids, attention_mask[, token_type_ids]")
    mt = body["model_config"]["model_type"]
    if (mt in FEEDS_TOKEN_TYPES) != ("token_type_ids" in inputs):
        problems.append(f"model_type {mt!r}: ml-commons {'feeds' if mt in FEEDS_TOKEN_TYPES else 'does not feed'} "
                        f"token_type_ids but the graph {'lacks' if mt in FEEDS_TOKEN_TYPES else 'needs'} it")
    if body["function_name"] == "TEXT_EMBEDDING":
        if cfg["outputs"][0] != "sentence_embedding":
            problems.append("TEXT_EMBEDDING graphs must output 'sentence_embedding'")
        if body["model_config"].get("pooling_mode") != "CLS":
            problems.append("the bundle's graph emits one pooled 'token': pooling_mode must be CLS")
        if len(onnx_files) == 1:
            problems += _bundle_graph_problems(zip_path, onnx_files[0], int(cfg["dim"]))
    if body["model_content_hash_value"] != sha256_file(zip_path):
        problems.append("model_content_hash_value does not match the zip")
    for key in ("name", "version", "model_format", "function_name", "model_config"):
        if not body.get(key):
            problems.append(f"register body lacks {key}")
    return problems


def _bundle_graph_problems(zip_path: Path, member: str, dim: int) -> list[str]:
    import onnx

    with zipfile.ZipFile(zip_path) as zf:
        graph = onnx.load_from_string(zf.read(member)).graph
    out = graph.output[0]
    dims = [d.dim_value or d.dim_param for d in out.type.tensor_type.shape.dim]
    if len(dims) != 3 or dims[1] != 1 or dims[2] != dim:
        return [f"the zip's graph's first output {out.name} has shape {dims}; ml-commons pools a "
                f"[batch, tokens, {dim}] output: it must be [batch, 1, {dim}]"]
    return []


def for_node_runtime(model) -> None:
    """Drop ``opset_import`` entries of domains no node uses (in place): ml-commons' ONNX Runtime
    1.16.3 refuses versions newer than it knows even for unused domains."""
    used = {n.domain or "ai.onnx" for n in model.graph.node} | {"ai.onnx"}
    keep = [o for o in model.opset_import if (o.domain or "ai.onnx") in used]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def bundle_graph(src: Path, cfg: dict) -> bytes:
    """The zip's graph: ``src`` fit for the node's runtime; for embedders, with ``sentence_embedding``
    unsqueezed to ``[batch, 1, dim]`` as its only output."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    for_node_runtime(model)
    if cfg["kind"] == "embedder":
        graph, dim = model.graph, int(cfg["dim"])
        first = graph.output[0]
        dims = [d.dim_value or d.dim_param for d in first.type.tensor_type.shape.dim]
        graph.initializer.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "ml_commons_axis"))
        graph.node.append(helper.make_node("Unsqueeze", [first.name, "ml_commons_axis"], [BUNDLE_OUTPUT],
                                           name="ml_commons_unsqueeze"))
        new = helper.make_tensor_value_info(BUNDLE_OUTPUT, TensorProto.FLOAT, [dims[0] if dims else "batch", 1, dim])
        del graph.output[:]
        graph.output.append(new)
        onnx.checker.check_model(model)
    return model.SerializeToString()


def check_variant(variant: str, exported: Iterable[str]) -> None:
    """The bundle can hold ``variant``: a CPU variant (fp32, int8) among the ``exported`` ones."""
    if variant not in BUNDLE_VARIANTS:
        raise ViewrankError(f"--ml-commons-variant {variant!r}: choose one of {', '.join(BUNDLE_VARIANTS)} "
                            "(fp16 needs a GPU, which ml-commons' local models do not use)")
    if variant not in exported:
        raise ViewrankError(f"--ml-commons-variant {variant} bundles the {variant} graph, which the export lacks: "
                            f"add {variant} (--{variant})")


def write_bundle(root: Path, cfg: dict, hf_config: dict, name: str, variant: str = "fp32") -> Path:
    """Write ``ml_commons.zip`` and ``ml_commons_register.json`` into ``root`` (checked first), the
    zip holding the ``variant`` graph (fp32 or int8)."""
    if cfg["task"] == "mvp":
        raise ViewrankError("ml-commons has no listwise local-model function: serve MVP with `viewrank serve "
                            "--reranker onnx:DIR` and an ml-commons remote connector (docs/serve.md)")
    if cfg.get("output_dtype", "float32") != "float32":
        raise ViewrankError(f"ml-commons TEXT_EMBEDDING models return float vectors, and this graph emits "
                            f"{cfg['output_dtype']} codes: serve it with `viewrank serve --embedder onnx:DIR` and a "
                            f"remote connector, or bundle the float model (dense:DIR)")
    if cfg.get("external_data"):
        raise ViewrankError("ml-commons zips hold a single .onnx file; this graph uses external data (> 2 GB)")
    check_variant(variant, cfg["variants"])
    zip_path = root / ZIP_NAME
    tmp = root / (ZIP_NAME + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.onnx", bundle_graph(root / cfg["variants"][variant], cfg))
        zf.write(root / "tokenizer.json", "tokenizer.json")
    tmp.replace(zip_path)
    body = register_body(cfg, hf_config, zip_path, name, variant)
    problems = check_bundle(body, cfg, zip_path)
    if problems:
        zip_path.unlink()
        raise ViewrankError("ml-commons bundle rejected: " + "; ".join(problems))
    return write_json(root / BODY_NAME, body)
