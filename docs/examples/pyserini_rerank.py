"""Rerank Pyserini BM25 hits with a viewrank reranker from your own script.

    python docs/examples/pyserini_rerank.py INDEX "a query" [RERANKER]
"""

import sys

from viewrank.adapters.pyserini.java import ensure_java
from viewrank.adapters.pyserini.rerank import rerank_hits

ensure_java()  # a Java 21+ on JAVA_HOME and PATH before pyserini starts its JVM
from pyserini.search.lucene import LuceneSearcher  # noqa: E402

index, query = sys.argv[1], sys.argv[2]
reranker = sys.argv[3] if len(sys.argv) > 3 else "bi-encoder"  # or "mvp:models/mvp-minilm"

searcher = LuceneSearcher(index)
hits = searcher.search(query, k=100)
ranked = rerank_hits(searcher, query, hits, reranker)
for rank, (docid, score) in enumerate(zip(ranked.docids[:10], ranked.scores[:10]), 1):
    print(rank, docid, f"{score:.4f}")
