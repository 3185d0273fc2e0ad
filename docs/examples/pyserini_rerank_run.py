"""Rerank a whole Pyserini run from your own script, and write the reranked run.

    python docs/examples/pyserini_rerank_run.py INDEX RUN TOPICS OUTPUT [RERANKER]

RUN is any TREC or MS MARCO run (``python -m pyserini.search.lucene ... --output RUN``), TOPICS
the topic file it was made from; passage texts come from INDEX's stored raw documents (a BEIR
folder, a collection file or a ``{docid: text}`` dict work as well).
"""

import sys

from viewrank.adapters.pyserini.rerank import rerank_run
from viewrank.runs import write_run

index, run, topics, output = sys.argv[1:5]
reranker = sys.argv[5] if len(sys.argv) > 5 else "bi-encoder"  # or "fuse:0.4:bi-encoder", "mvp:models/mvp-minilm"

reranked = rerank_run(run, reranker, index, topics, hits=100)  # {qid: RankedList}, in topic order
write_run(reranked, output, tag=f"viewrank-{reranker}")
qid, ranked = next(iter(reranked.items()))
print(qid, " ".join(ranked.docids[:3]))
