"""Short checks with the real packaged MiniLM on a slice of SciFact (marked slow)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm():
    from viewrank.manager import get_host
    from viewrank.plugins.dense.embedder import DenseEmbedder

    try:
        path = get_host().resolve_model_path("all-MiniLM-L6-v2")
    except Exception as exc:  # the packaged model is an optional dependency
        pytest.skip(f"all-MiniLM-L6-v2 is not installed: {exc}")
    return DenseEmbedder(path)


def test_minilm_ranks_relevant_abstracts_first_and_quantises_stably(minilm, scifact):
    from viewrank.datasets import BeirDataset
    from viewrank.plugins.binary.codes import BinaryQuantizer
    from viewrank.plugins.binary.int8 import Int8Quantizer

    ds = BeirDataset(scifact)
    qrels = ds.qrels("test")
    queries = ds.queries("test")[:5]
    rel = [next(iter(qrels[q.qid])) for q in queries]
    others = [d for d in list(ds.corpus)[:40] if d not in rel]
    docids = rel + others
    d = minilm.embed([ds.corpus[x].contents for x in docids])
    q = minilm.embed([x.text for x in queries], "query")
    assert minilm.dim == 384 and minilm.config.max_length == 256  # from sentence_bert_config.json
    ranks = [int(np.sum(d @ v > d[i] @ v)) for i, v in enumerate(q)]
    assert np.mean([r < 3 for r in ranks]) >= 0.8, ranks
    int8 = Int8Quantizer.calibrate(d)
    single = int8.quantize(q[:1])
    assert np.count_nonzero(single) > 300 and np.array_equal(single, int8.quantize(q)[:1])
    codes = BinaryQuantizer.calibrate(d, "itq").pack(d)
    assert codes.shape == (len(docids), 48)
