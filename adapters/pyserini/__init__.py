"""Pyserini adapter: Lucene BM25 first stage, reranking into TREC runs, trec_eval.

Nothing here imports pyserini at module import time: importing pyserini starts a JVM, so
each function calls :func:`viewrank.adapters.pyserini.java.ensure_java` and imports it lazily.
"""
