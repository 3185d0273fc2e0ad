"""MVP ablations and teacher comparison: one table, same seed, same budget (epochs and lists).

Every variant is trained by ``viewrank.plugins.mvp.trainer.train`` from the same backbone, seed,
BM25 lists and held-out validation slice (50 SciFact *train* queries, which also pick the fusion
weight), then evaluated on:

- SciFact test, all 300 queries, BM25 top 100 -> rerank in ONE pass (nDCG@10, R@100, MRR@10),
  and the same model scoring every candidate ALONE (a list of 1): the listwise gain;
- CISI (never trained or tuned on), all 76 judged queries, BM25 top 100 -> rerank;
- ``fuse:W:model`` with W picked on the validation slice, on both. ``evaluate`` (models trained
  elsewhere, ``--model NAME=DIR``) picks W on the train queries the model's own trainer held out
  (its ``training.json``): a run with another ``--seed`` trained on most of the default slice.

Two stages, because the GPU machine has no Java for Pyserini::

    python bench/mvp_ablation.py prepare --out .gpu          # where Pyserini runs: BM25 lists
    python bench/mvp_ablation.py run --prep .gpu --device cuda --variants mvp,ce,...   # anywhere (a GPU when lent)
    python bench/mvp_ablation.py run --device cpu --threads 2 --bf16 --budget-min 10 \
        --variants mvp,mvp-m1,mvp-m2,mvp-double-softmax,mvp-target-t0.3 --out bench/results/mvp_ablation_cpu.json

Is the listwise gain real at an equal list length? ``listwise`` scores every SciFact test
candidate of a trained encoder MVP in its list, alone, and among 15 other candidates (the top of
its own list, a random draw from it, or passages from elsewhere in the corpus), from one encoding::

    python bench/mvp_ablation.py listwise --model NAME=DIR [--model ...]   # bench/results/mvp_listwise_cpu.json
    python bench/mvp_ablation.py listwise --pool NAME,NAME   # the same tests on the models' per-query mean

Two evaluated models compared query by query (``evaluate`` keeps per-query nDCG@10)::

    python bench/mvp_ablation.py compare --pair A,B [--pair C,D ...]   # B - A, paired; the pairs as units
    python bench/mvp_ablation.py compare --pair A:fuse,B:fuse   # the same for their fusions with BM25

``prepare`` writes ``PREP/prep.json`` (BM25 top 100 of SciFact train/test and CISI test, the
held-out slice, CISI pseudo-queries and their BM25 top 50) and the trainer's BM25 cache
(``mined_negatives.json``). ``run`` computes the zero-shot baselines and the free teacher
(``fuse:0.4:bi-encoder``) on ``--device``, trains and evaluates each variant, and writes a table
and ``bench/results/mvp_ablation.json`` after every variant.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

from benchcli import bad_input, read_result, write_result  # bench/ is on sys.path when a bench script runs

RESULTS = Path(__file__).resolve().parent / "results" / "mvp_ablation.json"
FREE_TEACHER = "fuse:0.4:bi-encoder"
CROSSFIT = "cross-encoder:crossfit"  # the cross-fitted cross-encoders' scores (computed in `run`)
SEED = 13
VAL_QUERIES = 50
ADAPT_QUERIES = 1000

# name -> TrainOptions overrides on the shared recipe below. Ordered by what the issue needs first.
VARIANTS = {
    "mvp": {},  # TrainOptions' default anchor: the learned query per view (plugins/mvp/options.py)
    "ce": dict(kind="cross-encoder"),
    # the other anchor form. In mvp_ablation_h200.json (2026-12-04, when list anchors were the
    # default) "mvp" is list anchors and "mvp-query-anchor" learned queries; here "mvp" is the latter
    "mvp-list-anchor": dict(anchor="list"),
    "mvp-no-teacher": dict(teacher=[]),
    "ce-no-teacher": dict(kind="cross-encoder", teacher=[]),
    "mvp-teacher-ens": dict(teacher=[FREE_TEACHER, CROSSFIT]),
    "ce-teacher-ens": dict(kind="cross-encoder", teacher=[FREE_TEACHER, CROSSFIT]),
    "mvp-teacher-ce": dict(teacher=[CROSSFIT]),
    "mvp-m1": dict(m=1),
    "mvp-m2": dict(m=2),
    "mvp-double-softmax": dict(double_softmax=True),
    "mvp-target-t0.3": dict(target_temperature=0.3),
    "mvp-n8": dict(n=8, epochs=4),  # the same candidates seen: twice the lists of half the length
    "mvp-msmarco": dict(extra_triples="{msmarco}"),
    "mvp-lr3e-5": dict(lr=3e-5),
    # viewrank adapt on CISI's corpus (pseudo-queries, no labels) from the model trained above
    "mvp-adapt-cisi": dict(adapt="mvp"),
    "ce-adapt-cisi": dict(adapt="ce"),
    # training and inference lengths (the default trains at 128 tokens and infers at 256)
    "ce-len128": dict(kind="cross-encoder", infer_max_length=128),
    "ce-len256": dict(kind="cross-encoder", max_length=256),
    "mvp-len128": dict(infer_max_length=128),
    "mvp-len256": dict(max_length=256),
    # longer recipes a GPU affords (not equal budget: reported apart)
    "gpu-mvp-n32-e8": dict(n=32, neg_depth=45, epochs=8, batch_size=8),
    "gpu-ce-n32-e8": dict(kind="cross-encoder", n=32, neg_depth=45, epochs=8, batch_size=8),
    # lists of 16 at 256 tokens (train = inference length), 6 epochs: the three forms at one longer budget
    "gpu-mvpq-l256-e6": dict(anchor="query", max_length=256, epochs=6),
    "gpu-ce-l256-e6": dict(kind="cross-encoder", max_length=256, epochs=6),
    "gpu-mvp-l256-e6": dict(max_length=256, epochs=6),
    "gpu-mvpl-l256-e6": dict(anchor="list", max_length=256, epochs=6),
}
# infer_max_length 0: the model is validated and run at the length it was trained at. The first H200
# run (bench/results/mvp_ablation_h200.json, whose "recipe" records it) inferred at 256 after
# training at 128, which cost every model 0.09-0.15 nDCG@10.
RECIPE = dict(n=16, neg_depth=30, epochs=2, batch_size=4, max_length=128, infer_max_length=0, teacher=[FREE_TEACHER],
              seed=SEED, val_queries=VAL_QUERIES, val_depth=30, evals=4)


def _bm25(index: str, queries, depth: int) -> dict:
    from viewrank.adapters.pyserini.lucene import bm25_search

    return {q: [[d, float(s)] for d, s in h] for q, h in bm25_search(index, queries, depth).items()}


def _metrics(run: dict, qrels: dict) -> dict:
    from viewrank.metrics import evaluate

    return {k: round(v, 4) for k, v in evaluate(run, {q: qrels[q] for q in run}).items()}


def _per_query(run: dict, qrels: dict) -> dict[str, float]:
    """nDCG@10 of each judged query of ``run``."""
    from viewrank.metrics import ndcg_per_query

    return dict(sorted(ndcg_per_query(run, {q: qrels[q] for q in run if q in qrels}).items()))


def prepare(args) -> int:
    from viewrank.datasets import BeirDataset
    from viewrank.plugins.mvp.adapt import write_pseudo_dataset
    from viewrank.plugins.mvp.data import MINED_NAME, split_validation
    from viewrank.runs import atomic_write_text

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sci, cisi = BeirDataset(args.scifact), BeirDataset(args.cisi)
    train_q = sci.queries("train")
    hits = {"train": _bm25(args.scifact_index, train_q, 100), "test": _bm25(args.scifact_index, sci.queries("test"), 100),
            "cisi": _bm25(args.cisi_index, cisi.queries("test"), 100)}
    val = split_validation(args.scifact, "train", VAL_QUERIES, SEED)
    atomic_write_text(out / MINED_NAME, json.dumps({"split": "train", "depth": 50, "scored": True,
                                                    "hits": {q: h[:50] for q, h in hits["train"].items()}}))
    # viewrank adapt on CISI: pseudo-queries from its corpus (no labels), their BM25 lists
    pseudo = write_pseudo_dataset(args.cisi, out / "cisi-pseudo", ADAPT_QUERIES, SEED)
    hits["cisi-pseudo"] = _bm25(args.cisi_index, BeirDataset(pseudo).queries("train"), 50)
    atomic_write_text(out / "prep.json", json.dumps({"hits": hits, "val": val}))
    print(f"prepared {out}")
    return 0


def score_run(model, queries: dict, hits: dict, corpus, depth: int = 100, alone: bool = False) -> dict:
    """Rerank each query's BM25 top ``depth``: one pass over the list, or each candidate alone."""
    import torch

    run = {}
    with torch.inference_mode():
        for qid, text in queries.items():
            docs = [d for d, _ in hits[qid][:depth] if d in corpus]
            passages = [corpus[d].contents for d in docs]
            if alone:  # (N, 1, L): N lists of one candidate, one batch
                batch = {k: v.unsqueeze(1).to(model.device) for k, v in model.tokenize(text, passages).items()}
                scores = model.score_lists(**batch)[0].squeeze(1).float().cpu().numpy()
            else:
                scores = model.score(text, passages)
            run[qid] = dict(zip(docs, map(float, scores)))
    return run


def fuse(run: dict, hits: dict, w: float) -> dict:
    from viewrank.plugins.first_stage import minmax

    out = {}
    for qid, scores in run.items():
        docs = list(scores)
        first = dict((d, s) for d, s in hits[qid])
        fused = (1 - w) * minmax([scores[d] for d in docs]) + w * minmax([first[d] for d in docs])
        out[qid] = dict(zip(docs, map(float, fused)))
    return out


def crossfit_teacher(args, prep, sci, work: Path, base: dict) -> dict:
    """Two cross-encoders, each trained on half of the non-validation train queries, score the
    other half's pools: no list is scored by a model that trained on it."""
    import torch

    from viewrank.plugins.mvp.loading import load_mvp_model
    from viewrank.plugins.mvp.options import TrainOptions
    from viewrank.manager import get_host
    from viewrank.plugins.mvp.trainer import train

    val = set(prep["val"])
    qids = sorted(q for q in sci.qrels("train") if q not in val)
    folds = [qids[0::2], qids[1::2]]
    scores: dict = {}
    for k, fold in enumerate(folds):
        root = work / f"fold{k}-data"
        (root / "qrels").mkdir(parents=True, exist_ok=True)
        for name in ("corpus.jsonl", "queries.jsonl"):
            if not (root / name).exists():
                (root / name).symlink_to(Path(args.scifact).resolve() / name)
        qrels = sci.qrels("train")
        lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{g}" for q in fold for d, g in qrels[q].items()]
        (root / "qrels" / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = work / f"fold{k}-ce"
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(args.prep) / "mined_negatives.json", out / "mined_negatives.json")
        opts = TrainOptions(**{**base, "kind": "cross-encoder", "dataset": str(root), "out": str(out),
                               "teacher": [], "val_queries": 0})
        train(opts, get_host())
        model = load_mvp_model(out).to(args.device).eval()
        other = folds[1 - k][: args.limit or None]
        hits = {q: prep["hits"]["train"][q][: RECIPE["neg_depth"]] for q in other}
        run = score_run(model, {q: sci.all_queries[q] for q in other}, hits, sci.corpus)
        scores.update(run)
        del model
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return scores


def limited(pools: dict, limit: int) -> dict:
    """The first ``limit`` queries' pools (a dry run); all of them when ``limit`` is 0."""
    return dict(sorted(pools.items())[: limit or None])


def write_teacher_cache(path: Path, specs: list, pools: dict, scores: dict, queries: dict) -> None:
    """The trainer's teacher cache (``viewrank.teachers``, its key included) for ``pools``; queries
    without scores (a dry run's ``--limit``) keep BM25's order."""
    from viewrank.teachers import cache_key, write_cache

    write_cache(path, cache_key(specs, queries, pools), scores)


class TeacherHost:
    """What :func:`viewrank.teachers.teacher_scores` needs of a host, with the zero-shot
    bi-encoder on ``device`` (the registered spec runs on the CPU): ``bi-encoder`` and
    ``fuse:0.4:bi-encoder`` share one model and its passage-vector cache."""

    def __init__(self, backbone: str, device: str) -> None:
        from viewrank.manager import get_host
        from viewrank.plugins.dense.bi_encoder import BiEncoderReranker
        from viewrank.plugins.dense.embedder import DenseEmbedder
        from viewrank.plugins.first_stage import FusedReranker

        bi = BiEncoderReranker(DenseEmbedder(get_host().resolve_model_path(backbone), device=device))
        self.specs = {"bi-encoder": bi, FREE_TEACHER: FusedReranker(bi, 0.4)}

    def reranker(self, spec: str):
        return self.specs[spec]

    def shared_rerankers(self):
        import contextlib

        return contextlib.nullcontext()


def evaluate_model(model, sets: dict, quick: bool = False, alone: bool = True) -> dict:
    """Metrics of ``model`` on every set (``test`` only when ``quick``), the test set scored with
    each candidate alone (``alone``), and ``fuse:W:model`` with W picked on ``val``."""
    import time as _time

    row: dict = {}
    runs = {}
    for key, (ds, split, qs, h) in sets.items():
        if quick and key != "test":
            continue
        t = _time.perf_counter()
        runs[key] = score_run(model, qs, h, ds.corpus)
        row[key] = _metrics(runs[key], ds.qrels(split))
        row[key]["ms_per_query"] = round(1000 * (_time.perf_counter() - t) / max(len(qs), 1), 1)
        if key != "val":  # per query, for paired tests between models (the compare stage)
            row[key]["per_query_nDCG@10"] = {q: round(v, 4) for q, v in _per_query(runs[key], ds.qrels(split)).items()}
    if quick:
        return row
    if alone:
        ds, split, qs, h = sets["test"]
        row["test_alone"] = _metrics(score_run(model, qs, h, ds.corpus, alone=True), ds.qrels(split))
    grid = [round(0.1 * i, 1) for i in range(10)]
    val_ds, val_split, _, val_h = sets["val"]
    best_w = max(grid, key=lambda w: (_metrics(fuse(runs["val"], val_h, w), val_ds.qrels(val_split))["nDCG@10"], -w))
    row["fuse"] = {"w": best_w, "nDCG@10_by_w": {}}  # by_w: how much the choice of W decides, set by set
    for k in ("test", "cisi"):
        qrels = sets[k][0].qrels(sets[k][1])
        fused = {w: fuse(runs[k], sets[k][3], w) for w in grid}
        row["fuse"]["nDCG@10_by_w"][k] = {str(w): _metrics(run, qrels)["nDCG@10"] for w, run in fused.items()}
        row["fuse"][k] = _metrics(fused[best_w], qrels)
        row["fuse"][k]["per_query_nDCG@10"] = {q: round(v, 4) for q, v in _per_query(fused[best_w], qrels).items()}
    return row


def load_prep(folder: str | Path) -> dict:
    """What ``prepare`` wrote into ``folder`` (BM25 lists, held-out slices), or a bad-input stop."""
    path = Path(folder) / "prep.json"
    if not path.is_file():
        bad_input(f"--prep {folder}: no prep.json there; run `python bench/mvp_ablation.py prepare --out {folder}` first")
    return read_result(path)


def load_sets(args, prep: dict) -> dict:
    """name -> (dataset, split, {qid: text}, BM25 hits) for val, test and cisi (``--limit`` each)."""
    from viewrank.datasets import BeirDataset

    sci, cisi = BeirDataset(args.scifact), BeirDataset(args.cisi)
    hits = prep["hits"]
    sets = {"val": (sci, "train", {q: sci.all_queries[q] for q in prep["val"]}, hits["train"]),
            "test": (sci, "test", {q.qid: q.text for q in sci.queries("test")}, hits["test"]),
            "cisi": (cisi, "test", {q.qid: q.text for q in cisi.queries("test")}, hits["cisi"])}
    if args.limit:
        sets = {k: (ds, sp, dict(list(qs.items())[: args.limit]), h) for k, (ds, sp, qs, h) in sets.items()}
    return sets


def held_out_set(sets: dict, training: dict | None, limit: int = 0) -> tuple[tuple, str]:
    """The set a model's fusion weight is picked on, and which it is: the SciFact train queries the
    model's own trainer held out (drawn again from the options in its ``training.json``, as the
    trainer draws them), so W is never picked on queries the model was trained on (a run with
    another ``--seed`` than ``prepare``'s holds out other queries and trains on most of prepare's
    slice); ``prepare``'s slice when the model was not trained on this dataset's split with a
    held-out slice (no ``training.json``, models adapted on another corpus)."""
    from viewrank.plugins.mvp.data import split_validation

    ds, split, queries, hits = sets["val"]
    opts = (training or {}).get("options") or {}
    same_data = bool(opts.get("dataset")) and Path(opts["dataset"]).resolve() == ds.root.resolve()
    if not (same_data and opts.get("split") == split and opts.get("val_queries", 0) > 0):
        return sets["val"], f"prepare's {len(queries)} held-out train queries"
    own = [q for q in split_validation(ds.root, split, opts["val_queries"], opts["seed"]) if q in hits]
    own = own[:limit] if limit else own
    return (ds, split, {q: ds.all_queries[q] for q in own}, hits), f"its own {len(own)} held-out train queries"


def evaluate_stage(args) -> int:
    """Evaluate trained model folders (``--model NAME=DIR``) on the same sets, into ``--out``."""
    import torch

    from viewrank.plugins.mvp.loading import load_mvp_model

    torch.set_num_threads(args.threads)
    prep = load_prep(args.prep)
    sets = load_sets(args, prep)
    out = Path(args.out)
    report = read_result(out, {"bench": "mvp_ablation", "systems": {}})
    for item in args.model:
        name, _, folder = item.partition("=")
        model = load_mvp_model(folder).eval()
        training = Path(folder) / "training.json"
        row = {"model": folder, "training": {k: v for k, v in read_result(training).items()
                                             if k != "log"} if training.is_file() else None}
        val, row["val_slice"] = held_out_set(sets, row["training"], args.limit)
        row.update(evaluate_model(model, {**sets, "val": val},
                                  alone=model.config.variant != "cross-encoder" and not args.no_alone))
        report["systems"][name] = row
        report.update(device=platform.processor() or platform.machine(), date=time.strftime("%Y-%m-%d"))
        write_result(out, report)
        alone = row.get("test_alone", {}).get("nDCG@10", float("nan"))
        print(f"{name:<20} test {row['test']['nDCG@10']:.4f} alone {alone:.4f} cisi {row['cisi']['nDCG@10']:.4f} "
              f"fuse(w={row['fuse']['w']}, on {row['val_slice']}) "
              f"{row['fuse']['test']['nDCG@10']:.4f}/{row['fuse']['cisi']['nDCG@10']:.4f} "
              f"({row['test']['ms_per_query']} ms/q)", flush=True)
    return 0


CONTEXTS = ("list", "alone", "top", "own", "foreign")
# (baseline, tested): each test is tested - baseline, paired over queries
CONTEXT_TESTS = (("foreign", "top"), ("foreign", "own"), ("foreign", "list"), ("alone", "list"), ("alone", "foreign"))


def context_tests(values: dict) -> dict:
    """Paired randomization tests of CONTEXT_TESTS over per-query values (one list per context,
    queries in the same order): ``{"b - a": {"diff", "p"}}``."""
    from viewrank.significance import randomization_test

    tests = {}
    for a, b in CONTEXT_TESTS:
        t = randomization_test(values[a], values[b])
        tests[f"{b} - {a}"] = {"diff": round(t.diff, 4), "p": round(t.p, 4)}
    return tests


def tests_line(tests: dict) -> str:
    return ", ".join(f"{k} {v['diff']:+.4f} (p {v['p']:.3f})" for k, v in tests.items())


def context_scores(model, views, foreign, size: int, rng) -> tuple[dict, dict]:
    """Scores of one query's N candidates (``views``: ``(N, m, d)``, in BM25 order), each read in
    five contexts by the anchor decoder alone (a candidate's view vectors do not depend on its list):

    - ``list``: the whole list, one pass (what ``mvp:DIR`` does);
    - ``alone``: a list of one;
    - ``top``: the candidate and the first ``size - 1`` others of BM25's order (the lists the
      trainer builds: competitors from the top of the same query's ranking);
    - ``own``: the candidate and ``size - 1`` others drawn at random from the same list;
    - ``foreign``: the candidate and ``size - 1`` passages from elsewhere in the corpus, paired
      with the same query (``foreign``: ``(size - 1, m, d)``): a list of the same length whose
      other candidates say nothing about this query's competition.

    ``own``/``top`` against ``foreign`` is the listwise gain at an equal list length.

    Returns the scores per context (``(N,)`` each) and, per context other than ``list``, how far
    its anchors moved from the list's: ``|a - a_list| / |a_list|``, averaged over candidates and views."""
    import torch

    n = views.shape[0]
    scores, anchors = model.score_views(views[None])
    out, moved = {"list": scores[0]}, {}
    ref = anchors[0].float()  # (m, d)

    def read(name: str, ctx) -> None:
        s, a = model.score_views(ctx)
        out[name] = s[:, 0]
        moved[name] = float(((a.float() - ref).norm(dim=-1) / ref.norm(dim=-1)).mean())

    read("alone", views[:, None])
    k = min(size - 1, n - 1)
    others = {"top": [[j for j in range(n) if j != i][:k] for i in range(n)],
              "own": [rng.choice([j for j in range(n) if j != i], size=k, replace=False).tolist() for i in range(n)]}
    for name, idx in others.items():
        read(name, torch.cat([views[:, None], views[torch.tensor(idx, dtype=torch.long).reshape(n, k)]], dim=1))
    read("foreign", torch.cat([views[:, None], foreign[None].expand(n, *foreign.shape)], dim=1))
    return {name: out[name].float().cpu().numpy() for name in CONTEXTS}, moved


def rank_corr(a, b) -> float:
    """Spearman's rho of two score vectors over the same candidates (ties broken by position)."""
    import numpy as np

    ra, rb = np.argsort(np.argsort(a, kind="stable")), np.argsort(np.argsort(b, kind="stable"))
    return float(np.corrcoef(ra, rb)[0, 1])


def listwise_stage(args) -> int:
    """Does a candidate's score use its list? Every SciFact test candidate scored in the contexts
    of :func:`context_scores`; nDCG@10 and MRR@10 of each, and paired randomization tests of
    ``top``/``own``/``list`` against ``foreign`` and ``alone`` (``--out``: table + JSON)."""
    import numpy as np
    import torch

    from viewrank.metrics import mrr_at_k
    from viewrank.plugins.mvp.encoder_model import EncoderMVP
    from viewrank.plugins.mvp.loading import load_mvp_model
    from viewrank.plugins.onnx_runtime.cpu import describe

    if args.context < 2:
        bad_input(f"--context {args.context}: a list needs at least 2 candidates")
    if not args.model and not args.pool:
        bad_input("listwise: name a --model NAME=DIR to score, or --pool NAME,NAME of models already scored")
    torch.set_num_threads(args.threads)
    prep = load_prep(args.prep)
    ds, split, qs, hits = load_sets(args, prep)["test"]
    qrels = ds.qrels(split)
    ids = sorted(ds.corpus)
    out = Path(args.out)
    report = read_result(out, {"bench": "mvp_listwise", "systems": {}})
    for item in args.model:
        name, _, folder = item.partition("=")
        model = load_mvp_model(folder).eval()
        if not isinstance(model, EncoderMVP):
            bad_input(f"--model {item}: a {model.config.variant} model; contexts need the encoder MVP's anchor decoder")
        runs = {c: {} for c in CONTEXTS}
        rho = {c: [] for c in CONTEXTS if c != "list"}
        shift = {c: [] for c in rho}
        t0 = time.perf_counter()
        with torch.inference_mode():
            for i, (qid, text) in enumerate(qs.items()):
                rng = np.random.default_rng([SEED, i])
                docs = [d for d, _ in hits[qid][:100] if d in ds.corpus]
                taken = set(docs) | set(qrels.get(qid, {}))
                foreign = []
                while len(foreign) < args.context - 1:
                    d = ids[int(rng.integers(len(ids)))]
                    if d not in taken:
                        taken.add(d)
                        foreign.append(d)
                batch = model.tokenize(text, [ds.corpus[d].contents for d in docs + foreign])
                views = model.encode_views(**{k: v.to(model.device) for k, v in batch.items()})
                scores, moved = context_scores(model, views[: len(docs)], views[len(docs):], args.context, rng)
                for c in CONTEXTS:
                    runs[c][qid] = dict(zip(docs, map(float, scores[c])))
                    if c != "list" and len(docs) > 1:
                        rho[c].append(rank_corr(scores["list"], scores[c]))
                        shift[c].append(moved[c])
                if (i + 1) % 50 == 0:
                    print(f"{name}: {i + 1}/{len(qs)} queries, {time.perf_counter() - t0:.0f} s", flush=True)
        per_query = {c: _per_query(runs[c], qrels) for c in CONTEXTS}
        judged = sorted(per_query["list"])
        # every scored query is judged (qrels[q] above), so the mean of the per-query values is the run's nDCG@10
        row = {"model": folder, "anchor": model.config.anchor, "m": model.config.m,
               "contexts": {c: {"nDCG@10": round(float(np.mean(list(per_query[c].values()))), 4),
                                "MRR@10": round(mrr_at_k(runs[c], {q: qrels[q] for q in runs[c]}), 4)} for c in CONTEXTS}}
        row["tests"] = context_tests({c: [per_query[c][q] for q in judged] for c in CONTEXTS})
        # label-free: how far each context reorders the list's ranking (1.0: the list is not read)
        row["rank_corr_with_list"] = {c: round(float(np.mean(v)), 4) for c, v in rho.items()}
        # how far the anchors move from the list of 100's: a list that moves them without
        # reordering the candidates moves them along directions the candidates do not differ in
        row["anchor_shift_from_list"] = {c: round(float(np.mean(v)), 4) for c, v in shift.items()}
        row["seconds"] = round(time.perf_counter() - t0, 1)
        # per query, so that runs of several models (seeds) can be pooled or tested again later
        row["per_query_nDCG@10"] = {c: {q: round(per_query[c][q], 4) for q in judged} for c in CONTEXTS}
        report["systems"][name] = row
        report.update(device=describe(), date=time.strftime("%Y-%m-%d"), context=args.context, queries=len(judged),
                      sets="SciFact test, BM25 top 100; foreign: random corpus passages outside the list and the qrels")
        write_result(out, report)
        print(f"{name:<20} " + " ".join(f"{c} {row['contexts'][c]['nDCG@10']:.4f}" for c in CONTEXTS)
              + " | " + tests_line(row["tests"])
              + " | rho with list: " + ", ".join(f"{c} {v:.3f}" for c, v in row["rank_corr_with_list"].items())
              + " | anchor shift: " + ", ".join(f"{c} {v:.3f}" for c, v in row["anchor_shift_from_list"].items()), flush=True)
    if args.pool:
        names = args.pool.split(",")
        rows = [report["systems"].get(n) or {} for n in names]
        missing = [n for n, r in zip(names, rows) if "per_query_nDCG@10" not in r]
        if len(names) < 2 or missing:
            bad_input(f"--pool {args.pool}: name two or more models of {out} scored with per-query values"
                      + (f" (none for {', '.join(missing)}: score them with --model)" if missing else ""))
        common = sorted(set.intersection(*(set(r["per_query_nDCG@10"]["list"]) for r in rows)))
        mean = {c: [float(np.mean([r["per_query_nDCG@10"][c][q] for r in rows])) for q in common] for c in CONTEXTS}
        pooled = {"models": names, "queries": len(common),
                  "contexts": {c: {"nDCG@10": round(float(np.mean(mean[c])), 4)} for c in CONTEXTS},
                  "tests": context_tests(mean)}
        # the runs as the units: each model's mean over the common queries, tested with the same
        # paired sign-flip test (exact: 2^runs assignments), so the runs' spread is in the p-value
        per_run = {c: [float(np.mean([r["per_query_nDCG@10"][c][q] for q in common])) for r in rows] for c in CONTEXTS}
        pooled["over_runs"] = {"runs": len(rows), "tests": context_tests(per_run),
                               "per_run": {f"{b} - {a}": [round(y - x, 4) for x, y in zip(per_run[a], per_run[b])]
                                           for a, b in CONTEXT_TESTS}}
        report.setdefault("pooled", {})[args.pool] = pooled
        write_result(out, report)
        print(f"pooled {args.pool}: " + tests_line(pooled["tests"]), flush=True)
        print(f"over the {len(rows)} runs: " + tests_line(pooled["over_runs"]["tests"]), flush=True)
    return 0


def compare_stage(args) -> int:
    """Paired tests between models already evaluated (``evaluate`` keeps per-query nDCG@10 of
    SciFact test and CISI, alone and fused with BM25; ``NAME:fuse`` names the latter): for each
    ``--pair A,B`` the difference B - A over the common queries
    with its paired randomization test, and with two or more pairs the pairs as the units (each
    pair's mean difference, exact sign-flip test), as ``listwise --pool`` does for runs."""
    from viewrank.significance import randomization_test

    out = Path(args.out)
    report = read_result(out, {})
    systems = report.get("systems", {})

    def per_query(name: str, key: str) -> dict:
        """NAME's per-query values on ``key``; NAME:fuse, those of its fusion with BM25."""
        base, _, part = name.partition(":")
        if part not in ("", "fuse"):
            return {}
        row = systems.get(base, {})
        return (row.get("fuse", {}) if part else row).get(key, {}).get("per_query_nDCG@10", {})

    pairs = []
    for item in args.pair:
        names = item.split(",")
        missing = [n for n in names if not per_query(n, "test")]
        if len(names) != 2 or missing:
            bad_input(f"--pair {item}: name two models of {out} evaluated with per-query values (A,B)"
                      + (f"; none for {', '.join(missing)}: evaluate them first" if missing and len(names) == 2 else ""))
        pairs.append(names)
    result = {"pairs": [], "over_pairs": {}}
    for key in ("test", "cisi"):
        means = ([], [])
        for a, b in pairs:
            pa, pb = per_query(a, key), per_query(b, key)
            common = sorted(set(pa) & set(pb))
            t = randomization_test([pa[q] for q in common], [pb[q] for q in common])
            result["pairs"].append({"set": key, "a": a, "b": b, "queries": len(common),
                                    "a_nDCG@10": round(t.mean_a, 4), "b_nDCG@10": round(t.mean_b, 4),
                                    "diff": round(t.diff, 4), "p": round(t.p, 4)})
            means[0].append(t.mean_a)
            means[1].append(t.mean_b)
            print(f"{key}: {b} - {a} = {t.diff:+.4f} (p {t.p:.3f}, {len(common)} queries)", flush=True)
        if len(pairs) > 1:
            t = randomization_test(*means)
            result["over_pairs"][key] = {"pairs": len(pairs), "diff": round(t.diff, 4), "p": round(t.p, 4),
                                         "per_pair": [round(y - x, 4) for x, y in zip(*means)]}
            print(f"{key}, the {len(pairs)} pairs as the units: {t.diff:+.4f} (p {t.p:.3f})", flush=True)
    report.setdefault("compared", {})[" ".join(args.pair)] = result
    write_result(out, report)
    return 0


def run(args) -> int:
    import torch

    from viewrank.datasets import BeirDataset
    from viewrank.plugins.mvp.loading import load_mvp_model
    from viewrank.plugins.mvp.options import TrainOptions
    from viewrank.plugins.mvp.data import split_validation
    from viewrank.teachers import TEACHER_NAME, ensemble, teacher_scores
    from viewrank.manager import get_host
    from viewrank.plugins.mvp.trainer import train
    from viewrank.runs import atomic_write_text
    from viewrank.types import Query

    if args.budget_min < 0:
        bad_input(f"--budget-min {args.budget_min}: give minutes >= 0 (0: the epochs alone)")
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        bad_input(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    prep_dir = Path(args.prep)
    prep = load_prep(prep_dir)
    sci = BeirDataset(args.scifact)
    hits = prep["hits"]
    sets = load_sets(args, prep)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base = dict(RECIPE, backbone=args.backbone, dataset=args.scifact, split="train", index="unused", device=args.device,
                time_budget_min=args.budget_min, checkpoint_every=0, threads=args.threads, max_steps=args.max_steps,
                bf16=args.bf16)
    results = read_result(args.out, {}).get("systems", {}) if args.resume else {}
    shim = TeacherHost(args.backbone, args.device)
    t0 = time.perf_counter()
    for key, (ds, split, qs, h) in sets.items():
        if args.quick and key != "test":
            continue
        qrels = ds.qrels(split)
        results.setdefault("bm25", {"baseline": True})[key] = _metrics({q: dict(map(tuple, h[q])) for q in qs}, qrels)
        for spec in ("bi-encoder", FREE_TEACHER):
            rr = shim.reranker(spec)
            run_ = {}
            for qid, text in qs.items():
                ranked = rr.rerank(Query(qid, text), [ds.candidate(d, sc) for d, sc in h[qid]])
                run_[qid] = dict(zip(ranked.docids, ranked.scores))
            results.setdefault(spec, {"baseline": True})[key] = _metrics(run_, qrels)
    val = set(prep["val"])
    pools = {q: [tuple(x) for x in hits["train"][q][: RECIPE["neg_depth"]]]
             for q in sci.qrels("train") if q in hits["train"] and q not in val}
    free = teacher_scores(shim, [FREE_TEACHER], sci.all_queries, limited(pools, args.limit), sci.corpus)
    print(f"baselines and the free teacher: {time.perf_counter() - t0:.0f} s; "
          + ", ".join(f"{k} " + " ".join(f"{s} {m['nDCG@10']:.4f}" for s, m in results[k].items() if s != "baseline")
                      for k in ("bm25", "bi-encoder", FREE_TEACHER)), flush=True)
    crossfit = None
    for name in names:
        overrides = {k: (v.format(msmarco=args.msmarco) if isinstance(v, str) else v) for k, v in VARIANTS[name].items()}
        opts_d = {**base, **overrides}
        out = work / name
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        source = opts_d.pop("adapt", None)
        teacher = opts_d["teacher"]
        if source is not None:  # viewrank adapt's recipe on CISI's pseudo-queries, from the trained model
            pseudo = prep_dir / "cisi-pseudo"
            link = pseudo / "corpus.jsonl"
            link.unlink(missing_ok=True)
            link.symlink_to(Path(args.cisi).resolve() / "corpus.jsonl")
            atomic_write_text(out / "mined_negatives.json", json.dumps({"split": "train", "depth": 50, "scored": True,
                                                                       "hits": hits["cisi-pseudo"]}))
            src_cfg = read_result(work / source / "viewrank_mvp.json")
            opts_d.update(kind="cross-encoder" if src_cfg["variant"] == "cross-encoder" else "mvp",
                          init_from=str(work / source), dataset=str(pseudo), teacher=[FREE_TEACHER], epochs=1,
                          lr=3e-5, head_lr=1e-4, infer_max_length=src_cfg["max_length"])
            pseudo_ds = BeirDataset(pseudo)
            ppools = {q: [tuple(x) for x in hits["cisi-pseudo"][q][: RECIPE["neg_depth"]]] for q in pseudo_ds.qrels("train")
                      if q in hits["cisi-pseudo"]}
            held = set(split_validation(pseudo, "train", VAL_QUERIES, SEED))
            ppools = {q: p for q, p in ppools.items() if q not in held}
            write_teacher_cache(out / TEACHER_NAME, [FREE_TEACHER], ppools, teacher_scores(
                shim, [FREE_TEACHER], pseudo_ds.all_queries, limited(ppools, args.limit), pseudo_ds.corpus),
                pseudo_ds.all_queries)
        else:
            shutil.copyfile(prep_dir / "mined_negatives.json", out / "mined_negatives.json")
        if teacher and source is None:
            if CROSSFIT in teacher and crossfit is None:
                t = time.perf_counter()
                crossfit = crossfit_teacher(args, prep, sci, work, base)
                print(f"cross-fitted cross-encoder teacher: {time.perf_counter() - t:.0f} s", flush=True)
            scores = ensemble([free if s == FREE_TEACHER else crossfit for s in teacher])
            write_teacher_cache(out / TEACHER_NAME, teacher, pools, scores, sci.all_queries)
        opts = TrainOptions(**{**opts_d, "out": str(out)})
        t0 = time.perf_counter()
        train(opts, get_host())
        train_s = time.perf_counter() - t0
        report = read_result(out / "training.json")
        if report["teacher_seconds"] > 5:
            print(f"warning: {name} recomputed its teacher ({report['teacher_seconds']} s): cache key mismatch", flush=True)
        model = load_mvp_model(out).to(args.device).eval()
        row: dict = {"recipe": {k: v for k, v in opts_d.items() if k in overrides or k in ("kind", "n", "epochs", "teacher")},
                     "steps": report["steps"], "chosen_step": report["chosen_step"], "train_seconds": round(train_s, 1),
                     "validation_during_training": report["validation"]}
        row.update(evaluate_model(model, sets, quick=args.quick,
                                  alone=model.config.variant != "cross-encoder" and not args.no_alone))
        if args.quick:
            results[name] = row
            print(f"{name:<20} test {row['test']['nDCG@10']:.4f} steps {row['steps']} ({train_s:.0f} s)", flush=True)
            write_result(args.out, {"bench": "mvp_ablation", "quick": True, **_setup(args, base, prep), "systems": results})
            continue
        best_w = row["fuse"]["w"]
        results[name] = row
        del model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        alone = row.get("test_alone", {}).get("nDCG@10", float("nan"))
        print(f"{name:<20} test {row['test']['nDCG@10']:.4f} alone {alone:.4f} cisi {row['cisi']['nDCG@10']:.4f} "
              f"val {row['val']['nDCG@10']:.4f} fuse(w={best_w}) {row['fuse']['test']['nDCG@10']:.4f}/"
              f"{row['fuse']['cisi']['nDCG@10']:.4f} steps {row['steps']} ({train_s:.0f} s)", flush=True)
        report_all = {"bench": "mvp_ablation", **_setup(args, base, prep), "systems": results}
        write_result(args.out, report_all)
    return 0


def _setup(args, base: dict, prep: dict) -> dict:
    """What a results file says of its run: the device (the CPU described as every bench does),
    software, the shared recipe, the sets, the limit and the date."""
    import torch

    from viewrank.plugins.onnx_runtime.cpu import describe

    return {"device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else describe(),
            "software": {"torch": torch.__version__, "python": platform.python_version()},
            "recipe": {k: v for k, v in base.items() if k not in ("backbone", "dataset", "device", "threads")},
            "sets": {"val": f"{len(prep['val'])} held-out SciFact train queries, BM25 top 100",
                     "test": "SciFact test (300), BM25 top 100", "cisi": "CISI test (76), BM25 top 100, never tuned on"},
            "limit": args.limit, "date": time.strftime("%Y-%m-%d")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="stage", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", default=".gpu")
    p.add_argument("--scifact-index", default="indexes/scifact")
    p.add_argument("--cisi-index", default="indexes/cisi")
    r = sub.add_parser("run")
    r.add_argument("--prep", default=".gpu")
    r.add_argument("--variants", default=",".join(VARIANTS))
    r.add_argument("--backbone", default="all-MiniLM-L6-v2")
    r.add_argument("--device", default="cuda")
    r.add_argument("--threads", type=int, default=8)
    r.add_argument("--work", default="runs/mvp_ablation")
    r.add_argument("--msmarco", default="../shared/data/msmarco-toy/triples.tsv")
    r.add_argument("--max-steps", type=int, default=0, help="cut each training after K steps (a dry run)")
    r.add_argument("--budget-min", type=float, default=0.0,
                   help="each variant's training time budget in minutes (the trainer plans its steps to fit; "
                        "the recipe's epochs stay the upper bound); 0: the epochs alone")
    r.add_argument("--bf16", action="store_true", help="train under bf16 autocast (CPUs with AMX: the trainer refuses others)")
    r.add_argument("--no-alone", action="store_true", help="skip scoring every candidate alone")
    r.add_argument("--limit", type=int, default=0, help="evaluate the first N queries of each set (a dry run)")
    r.add_argument("--quick", action="store_true", help="evaluate SciFact test only (no CISI, no alone, no fusion)")
    r.add_argument("--resume", action="store_true", help="keep the rows already in --out")
    r.add_argument("--out", default=str(RESULTS))
    e = sub.add_parser("evaluate", help="evaluate trained model folders on the same sets")
    e.add_argument("--prep", default=".gpu")
    e.add_argument("--model", action="append", required=True, metavar="NAME=DIR")
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--limit", type=int, default=0)
    e.add_argument("--no-alone", action="store_true", help="skip scoring every candidate alone (halves the time)")
    e.add_argument("--out", default=str(RESULTS.with_name("mvp_quality_cpu.json")))
    w = sub.add_parser("listwise", help="each SciFact test candidate scored in its list, alone, and among "
                                         "other candidates (same-query or foreign) of an equal list length")
    w.add_argument("--prep", default=".gpu")
    w.add_argument("--model", action="append", default=[], metavar="NAME=DIR")
    w.add_argument("--pool", default="", metavar="NAME,NAME",
                   help="also test the per-query mean of these models' rows in --out (seeds of one recipe; "
                        "query-level noise only), and the models' means with the runs as the units "
                        "(exact sign-flip test: the runs' spread is in that p-value; it needs 6 runs or more to reach p < 0.05)")
    w.add_argument("--context", type=int, default=16, help="list length of the top/own/foreign contexts (training's)")
    w.add_argument("--threads", type=int, default=2)
    w.add_argument("--limit", type=int, default=0)
    w.add_argument("--out", default=str(RESULTS.with_name("mvp_listwise_cpu.json")))
    c = sub.add_parser("compare", help="paired tests between evaluated models (B - A), per pair and over the pairs")
    c.add_argument("--pair", action="append", required=True, metavar="A,B",
                   help="two model names of --out; NAME:fuse for NAME fused with BM25 at its W")
    c.add_argument("--out", default=str(RESULTS.with_name("mvp_quality_cpu.json")))
    for q in (p, r, e, w):
        q.add_argument("--scifact", default="../shared/data/scifact")
        q.add_argument("--cisi", default="../shared/data/cisi")
    args = ap.parse_args()
    return {"prepare": prepare, "run": run, "evaluate": evaluate_stage, "listwise": listwise_stage,
            "compare": compare_stage}[args.stage](args)


if __name__ == "__main__":
    sys.exit(main())
