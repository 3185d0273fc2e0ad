"""A BEIR-layout folder as the inputs Pyserini's own CLIs read.

    python docs/examples/beir_to_pyserini.py DATASET OUT [--split test]

writes ``OUT/collection/docs.jsonl`` (JsonCollection: ``{"id", "contents"}``, contents = title + " "
+ text, as ``viewrank index`` indexes it), ``OUT/topics.SPLIT.tsv`` (``qid<TAB>text``, the split's
judged queries) and ``OUT/qrels.SPLIT.trec`` (``qid 0 docid rel``, ids with spaces percent-encoded
as viewrank's runs write them).
"""

import argparse
import json
from pathlib import Path

from viewrank.datasets import BeirDataset, write_qrels_trec, write_topics_tsv
from viewrank.runs import atomic_write_text

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("dataset", help="BEIR-layout folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)")
ap.add_argument("out", help="output folder")
ap.add_argument("--split", default="test")
args = ap.parse_args()

dataset, out = BeirDataset(args.dataset), Path(args.out)
docs = [json.dumps({"id": d.docid, "contents": d.contents}, ensure_ascii=False) + "\n" for d in dataset.iter_corpus()]
atomic_write_text(out / "collection" / "docs.jsonl", "".join(docs))
write_topics_tsv(dataset.queries(args.split), out / f"topics.{args.split}.tsv")
write_qrels_trec(dataset.qrels(args.split), out / f"qrels.{args.split}.trec")
print(f"{len(docs)} documents, {len(dataset.queries(args.split))} topics ({args.split}) -> {out}")
