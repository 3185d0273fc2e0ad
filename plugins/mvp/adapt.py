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


def pseudo_queries(ds: BeirDataset, count: int, seed: int, min_words: int = 6, max_words: int = 40,
                   span: tuple[int, int] = (1, 1)) -> list[tuple[str, str]]:
    """``count`` (pseudo-query, docid) pairs, one from each of ``count`` documents drawn with ``seed``.

    A pseudo-query is a run of k consecutive sentences of its passage, k drawn from ``span``
    (``(1, 1)``: one sentence; ``(1, 3)``: one to three, for users whose queries are paragraphs),
    each sentence of ``min_words``..``max_words`` words. Where a passage has no run of k such
    sentences, the longest shorter run of at least ``span[0]`` is taken; documents without one are
    skipped."""
    lo, hi = span
    if not 1 <= lo <= hi:
        raise ViewrankError(f"pseudo-query span {lo}-{hi}: expected 1 <= A <= B sentences")
    docs = sorted(ds.corpus.items())
    rng = random.Random(seed)
    rng.shuffle(docs)
    out: list[tuple[str, str]] = []
    for docid, doc in docs:
        sents = sentences(doc.text)
        ok = [min_words <= len(s.split()) <= max_words for s in sents]
        want = rng.randint(lo, hi) if hi > lo else lo  # one-sentence draws stay as they always were
        for k in range(want, lo - 1, -1):
            starts = [i for i in range(len(sents) - k + 1) if all(ok[i:i + k])]
            if starts:
                i = rng.choice(starts)
                out.append((" ".join(sents[i:i + k]), docid))
                break
        if len(out) >= count:
            break
    if not out:
        raise ViewrankError(f"{ds.root}: no passage has {lo} consecutive sentence(s) of {min_words}-{max_words} words "
                            "to use as a pseudo-query")
    return out


def write_pseudo_dataset(corpus_dir: str | Path, out: str | Path, count: int, seed: int,
                         span: tuple[int, int] = (1, 1)) -> Path:
    """A BEIR folder at ``out``: the corpus (linked), pseudo-queries and their positives as ``train`` qrels."""
    ds = BeirDataset(corpus_dir)
    pairs = pseudo_queries(ds, count, seed, span=span)
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
    atomic_write_text(root / "made.json", json.dumps({"corpus": str(ds.root), "asked": count, "made": len(pairs),
                                                      "seed": seed, "sentences": list(span)}, indent=1) + "\n")
    return root


def adapt(opts, corpus: str | Path, queries: int, host, span: tuple[int, int] = (1, 1), max_length: int = 0) -> Path:
    """Fine-tune ``opts.init_from`` on pseudo-queries of ``corpus`` (runs of ``span`` sentences);
    ``opts`` is a :class:`~viewrank.plugins.mvp.options.TrainOptions` whose ``dataset`` is replaced
    by the pseudo-query folder written under ``opts.out``. The model trains, validates and is saved
    at ``max_length`` tokens per candidate (0: the length it was trained at). Returns the output folder."""
    from dataclasses import replace

    from viewrank.plugins.mvp.config import MVPConfig
    from viewrank.plugins.mvp.trainer import train

    if not opts.init_from:
        raise ViewrankError("adapt needs a trained model to start from (--model DIR)")
    config = MVPConfig.load(opts.init_from)
    if max_length < 0 or 0 < max_length < 16:
        raise ViewrankError(f"--max-length {max_length}: use 0 (the model's own, {config.max_length}) or at least 16")
    length = max_length or config.max_length
    if queries < 20:
        raise ViewrankError(f"--queries {queries}: use at least 20 pseudo-queries")
    data = write_pseudo_dataset(corpus, Path(opts.out) / "pseudo-queries", queries, opts.seed, span)
    index = opts.index or str(Path("indexes") / Path(corpus).name)
    return train(replace(opts, dataset=str(data), split=PSEUDO_SPLIT, index=index,
                         max_length=length, infer_max_length=length, val_queries=min(opts.val_queries, queries // 10)), host)
