"""The ml-commons bundle: a zip (one ``.onnx`` + ``tokenizer.json``) and the register request body.

ml-commons loads a local ONNX text model from a zip holding exactly one ``*.onnx`` file and
``tokenizer.json``; it feeds ``input_ids`` and ``attention_mask`` (int64, ``[batch, seq]``) and
``token_type_ids`` for ``bert``/``albert`` model types. ``TEXT_EMBEDDING`` with
``framework_type: sentence_transformers`` reads the already pooled ``sentence_embedding``
output; ``TEXT_SIMILARITY`` (cross-encoders) takes the first output as the pair's score. The
body is checked against these rules before anything is written.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from viewrank.errors import ViewrankError
from viewrank.exporters.artifacts import sha256_file, write_json

ZIP_NAME = "ml_commons.zip"
BODY_NAME = "ml_commons_register.json"
FEEDS_TOKEN_TYPES = ("bert", "albert")
CHUNK = 10_000_000


def register_body(cfg: dict, hf_config: dict, zip_path: Path, name: str) -> dict:
    size = zip_path.stat().st_size
    model_type = str(hf_config.get("model_type", "bert"))
    if cfg["kind"] == "embedder":
        function = "TEXT_EMBEDDING"
        model_config = {
            "model_type": model_type,
            "embedding_dimension": int(cfg["dim"]),
            "framework_type": "sentence_transformers",
            "pooling_mode": cfg["pooling"].upper(),
            "normalize_result": bool(cfg["normalize"]),
            "all_config": json.dumps(hf_config),
        }
    else:
        function = "TEXT_SIMILARITY"
        model_config = {"model_type": model_type, "embedding_dimension": 1,
                        "framework_type": "huggingface_transformers", "all_config": json.dumps(hf_config)}
    return {
        "name": name, "version": "1.0.0", "model_format": "ONNX", "function_name": function,
        "description": f"viewrank export of {cfg['source']} ({cfg['task']})",
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
    if body["function_name"] == "TEXT_EMBEDDING" and cfg["outputs"][0] != "sentence_embedding":
        problems.append("TEXT_EMBEDDING graphs must output 'sentence_embedding'")
    if body["model_content_hash_value"] != sha256_file(zip_path):
        problems.append("model_content_hash_value does not match the zip")
    for key in ("name", "version", "model_format", "function_name", "model_config"):
        if not body.get(key):
            problems.append(f"register body lacks {key}")
    return problems


def write_bundle(root: Path, cfg: dict, hf_config: dict, name: str) -> Path:
    """Write ``ml_commons.zip`` and ``ml_commons_register.json`` into ``root`` (checked first)."""
    if cfg["task"] == "mvp":
        raise ViewrankError("ml-commons has no listwise local-model function: serve MVP with `viewrank serve "
                            "--reranker onnx:DIR` and an ml-commons remote connector (docs/serve.md)")
    if cfg.get("output_dtype", "float32") != "float32":
        raise ViewrankError(f"ml-commons TEXT_EMBEDDING models return float vectors, and this graph emits "
                            f"{cfg['output_dtype']} codes: serve it with `viewrank serve --embedder onnx:DIR` and a "
                            f"remote connector, or bundle the float model (dense:DIR)")
    if cfg.get("external_data"):
        raise ViewrankError("ml-commons zips hold a single .onnx file; this graph uses external data (> 2 GB)")
    zip_path = root / ZIP_NAME
    tmp = root / (ZIP_NAME + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(root / cfg["variants"]["fp32"], f"{name}.onnx")
        zf.write(root / "tokenizer.json", "tokenizer.json")
    tmp.replace(zip_path)
    body = register_body(cfg, hf_config, zip_path, name)
    problems = check_bundle(body, cfg, zip_path)
    if problems:
        zip_path.unlink()
        raise ViewrankError("ml-commons bundle rejected: " + "; ".join(problems))
    return write_json(root / BODY_NAME, body)
