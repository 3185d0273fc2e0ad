"""The configuration saved beside MVP / cross-encoder weights as ``viewrank_mvp.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object
from viewrank.runs import atomic_write_text

CONFIG_NAME = "viewrank_mvp.json"
Variant = Literal["t5", "encoder", "cross-encoder"]
VARIANTS = ("t5", "encoder", "cross-encoder")


@dataclass
class MVPConfig:
    """Everything needed to rebuild a model from its directory.

    ``variant`` picks the class: ``t5`` (faithful FiD-style T5), ``encoder`` (BERT-family
    encoder + small anchor decoder) or ``cross-encoder`` (the pointwise baseline).
    ``view_offset`` is where the first view token sits in a tokenized input (1 after BERT's
    ``[CLS]``, 0 for T5); it is measured when the model is built, not guessed.
    ``anchor`` (encoder variant): ``list`` (anchors computed from the view's list, from one shared
    start vector) or ``query`` (a learned query per view: the form trained before 2026-12-04;
    a saved config without the field is read as ``query``).
    ``encoder_chunk``: at inference, candidates go through the encoder in length-sorted chunks
    of this many rows (0 = all at once); it changes speed only, never scores.
    """

    variant: Variant = "encoder"
    m: int = 4
    max_length: int = 256
    view_offset: int = 0
    temperature: float = 0.8
    backbone: str = ""
    anchor_heads: int = 4
    anchor_ffn: int = 1024
    anchor: str = "list"
    encoder_chunk: int = 16
    extra: dict = field(default_factory=dict)

    def save(self, model_dir: str | Path) -> Path:
        path = Path(model_dir) / CONFIG_NAME
        atomic_write_text(path, json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, model_dir: str | Path) -> "MVPConfig":
        path = Path(model_dir) / CONFIG_NAME
        if not path.is_file():
            raise ViewrankError(f"{model_dir} is not a viewrank MVP model directory ({CONFIG_NAME} missing)")
        data = read_json_object(path, what="MVP config")
        if data.get("variant") not in VARIANTS:
            raise ViewrankError(f"{path}: variant {data.get('variant')!r} unknown; expected one of {', '.join(VARIANTS)}")
        data.setdefault("anchor", "query")  # configs written before list-aware anchors existed
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
