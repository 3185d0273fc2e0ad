"""``viewrank adapt``: fit a trained reranker to a user's corpus without labels.

In the style of Generative Pseudo Labeling, with no generator: pseudo-queries are sentences
taken from the corpus's own passages (the Inverse Cloze Task's queries), each with the passage
it came from as its positive. Their BM25 lists are ordered by a teacher (default: the zero-shot
bi-encoder fused with BM25, which needs no training), and the model is fine-tuned from where it
was, with the same trainer, lists and loss as ``viewrank train``. The labels of the user's
collection, if it has any, are never read.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from viewrank.datasets import BeirDataset
from viewrank.errors import ViewrankError
from viewrank.runs import atomic_write_text
from viewrank.text import sentences

PSEUDO_SPLIT = "train"


def pseudo_queries(ds: BeirDataset, count: int, seed: int, min_words: int = 6, max_words: int = 40) -> list[tuple[str, str]]:
    """``count`` (sentence, docid) pairs: one sentence of ``min_words``..``max_words`` words from each
    of ``count`` documents drawn with ``seed`` (documents without such a sentence are skipped)."""
    docs = sorted(ds.corpus.items())
    rng = random.Random(seed)
    rng.shuffle(docs)
    out: list[tuple[str, str]] = []
    for docid, doc in docs:
        candidates = [s for s in sentences(doc.text) if min_words <= len(s.split()) <= max_words]
        if candidates:
            out.append((rng.choice(candidates), docid))
        if len(out) >= count:
            break
    if not out:
        raise ViewrankError(f"{ds.root}: no passage has a sentence of {min_words}-{max_words} words to use as a pseudo-query")
    return out


def write_pseudo_dataset(corpus_dir: str | Path, out: str | Path, count: int, seed: int) -> Path:
    """A BEIR folder at ``out``: the corpus (linked), pseudo-queries and their positives as ``train`` qrels."""
    ds = BeirDataset(corpus_dir)
    pairs = pseudo_queries(ds, count, seed)
    root = Path(out)
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    link = root / "corpus.jsonl"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(ds.corpus_path.resolve())
    atomic_write_text(root / "queries.jsonl", "".join(json.dumps({"_id": f"pq{i}", "text": q}) + "\n"
                                                      for i, (q, _) in enumerate(pairs)))
    atomic_write_text(root / "qrels" / f"{PSEUDO_SPLIT}.tsv", "query-id\tcorpus-id\tscore\n" +
                      "".join(f"pq{i}\t{d}\t1\n" for i, (_, d) in enumerate(pairs)))
    return root


def adapt(opts, corpus: str | Path, queries: int, host) -> Path:
    """Fine-tune ``opts.init_from`` on pseudo-queries of ``corpus``; ``opts`` is a
    :class:`~viewrank.plugins.mvp.options.TrainOptions` whose ``dataset`` is replaced by the
    pseudo-query folder written under ``opts.out``. Returns the output folder."""
    from dataclasses import replace

    from viewrank.plugins.mvp.config import MVPConfig
    from viewrank.plugins.mvp.trainer import train

    if not opts.init_from:
        raise ViewrankError("adapt needs a trained model to start from (--model DIR)")
    config = MVPConfig.load(opts.init_from)
    if queries < 20:
        raise ViewrankError(f"--queries {queries}: use at least 20 pseudo-queries")
    data = write_pseudo_dataset(corpus, Path(opts.out) / "pseudo-queries", queries, opts.seed)
    index = opts.index or str(Path("indexes") / Path(corpus).name)
    return train(replace(opts, dataset=str(data), split=PSEUDO_SPLIT, index=index,
                         max_length=config.max_length, infer_max_length=config.max_length, val_queries=min(opts.val_queries, queries // 10)), host)
