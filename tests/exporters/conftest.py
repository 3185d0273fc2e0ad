"""Tiny random models (2-layer BERT, hidden 32, MiniLM's real WordPiece vocabulary) saved as the
folders viewrank's registered specs load: ``dense:DIR``, ``cross-encoder:DIR``, ``mvp:DIR``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)

SCIFACT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "scifact"
needs_scifact = pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").is_file(),
                                   reason=f"SciFact (the parity gate's data) not found at {SCIFACT}")


def tiny_bert(root: Path) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from viewrank.manager import get_host

    root.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(get_host().resolve_model_path("all-MiniLM-L6-v2"))
    tok.save_pretrained(root)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512)
    BertModel(cfg).save_pretrained(root)
    (root / "viewrank_dense.json").write_text('{"pooling": "mean", "max_length": 64, "dim": 24}', encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_dense(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-dense"))


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory, tiny_dense) -> Path:
    from viewrank.plugins.mvp.cross_encoder import CrossEncoder

    out = tmp_path_factory.mktemp("tiny-ce")
    CrossEncoder.from_backbone(tiny_dense, max_length=64).save(out)
    return out


@pytest.fixture(scope="session")
def tiny_mvp(tmp_path_factory, tiny_dense) -> Path:
    from viewrank.plugins.mvp.encoder_model import EncoderMVP

    out = tmp_path_factory.mktemp("tiny-mvp")
    EncoderMVP.from_backbone(tiny_dense, m=2, max_length=64).save(out)
    return out


def export(spec: str, out: Path, **options) -> Path:
    from viewrank.manager import get_host

    options.setdefault("parity_queries", 3)
    return get_host().exporter("onnx").export(spec, out, **options)


def damaged_copy(export_dir: Path, out: Path, name: str) -> Path:
    """A copy of ``export_dir`` at ``out`` with three bytes of its file ``name`` overwritten."""
    import shutil

    shutil.copytree(export_dir, out)
    with open(out / name, "r+b") as fh:
        fh.seek(64)
        fh.write(b"\x00\x01\x02")
    return out
