"""``viewrank train embedder --output DIR``: contrastive fine-tuning of a dense embedder (the
recipes are options), or ``--merge DIR1,DIR2,...`` to merge fine-tuned checkpoints."""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from viewrank.cli.flags import require_output
from viewrank.context import Context
from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object

DESCRIPTION = ("fine-tune a dense embedder: InfoNCE with in-batch + mined hard negatives (BM25 or dense), false-negative "
               "filtering, focal loss, negative mixing, curriculum, ICT/BFS warm-up, 2DMSE, distillation from "
               "--teacher rerankers; or --merge checkpoints")


def add_arguments(ap: argparse.ArgumentParser, context: Context) -> None:
    data = context.settings.data_dir
    ap.add_argument("--output", dest="out", default=None, help="folder the trained model goes to (required)")
    ap.add_argument("--model", default="all-MiniLM-L6-v2", help="start encoder (folder or packaged name); the merge base")
    ap.add_argument("--dataset", default=str(data / "scifact"), help="BEIR folder with qrels/train.tsv")
    ap.add_argument("--triples", default="", help="also train on a query<TAB>pos<TAB>neg TSV (e.g. MS MARCO toy)")
    ap.add_argument("--negatives", default="dense", metavar="dense|bm25|none|RETRIEVER",
                    help="where hard negatives are mined: dense (the default: the start --model's own vectors of "
                         "--dataset's corpus, searched exactly in memory), bm25 (BM25 over --bm25-index), none, or "
                         "any retriever spec, e.g. dense:INDEX (a `viewrank encode` index of --dataset)")
    ap.add_argument("--bm25-index", default=None, help="BM25 index of --dataset (default indexes/<dataset name>, built when absent)")
    ap.add_argument("--neg-depth", type=int, default=30, help="mined ranks per query")
    ap.add_argument("--hard-negatives", type=int, default=1, help="mined negatives per query per step")
    ap.add_argument("--fn-margin", type=float, default=0.95,
                    help="drop a negative whose similarity to the query exceeds the positive's times this (0: off)")
    ap.add_argument("--temperature", type=float, default=0.05)
    ap.add_argument("--focal", type=float, default=0.0, metavar="GAMMA", help="weight each query's loss by (1-p_pos)^GAMMA")
    ap.add_argument("--mix-negatives", type=int, default=0, metavar="K", help="K synthetic negatives per query mixed from its hardest")
    ap.add_argument("--curriculum", action="store_true", help="easy-to-hard negatives (deep ranks early, hardest late)")
    ap.add_argument("--pretrain", default="none", help="warm-up task on the unlabelled corpus: ict, bfs or none")
    ap.add_argument("--pretrain-steps", type=int, default=50)
    ap.add_argument("--matryoshka", action="store_true", help="add the 2DMSE loss (layers x dims)")
    ap.add_argument("--dims", default="384,256,128,64", help="Matryoshka dims (with --matryoshka)")
    ap.add_argument("--teacher", action="append", default=[], metavar="SPEC",
                    help="distil this reranker (repeat for an ensemble: the mean of per-pool min-max scores): it "
                         "scores each training query's pool (BM25 top --neg-depth + its relevant documents) once, "
                         "before training and outside --time-budget-min; --dataset queries only, not --triples")
    ap.add_argument("--distill-weight", type=float, default=None, metavar="W",
                    help="loss = InfoNCE + W x KL(teacher || student) (default 1.0 with --teacher)")
    ap.add_argument("--teacher-temperature", type=float, default=None, metavar="T",
                    help="teacher softmax temperature (default 0.1). Teacher scores are min-max normalised to "
                         "[0, 1] per pool, so 0.1 puts a pool's top and bottom e^10 apart, about the spread of "
                         "cosines / --temperature 0.05; the student's side is cosine / --temperature")
    ap.add_argument("--distill-group", type=int, default=None, metavar="N",
                    help="pooled candidates per query added to its KL group (the positive and the sampled hard "
                         "negatives are always in it; default 8; each is encoded, so steps get slower)")
    ap.add_argument("--teacher-cache", default=None, metavar="FILE",
                    help="teacher scores JSON (default OUTPUT/teacher_scores.json); share one file between runs. "
                         "A file written for other specs, pools or queries is scored again, never reused")
    ap.add_argument("--merge", default=None, metavar="DIR1,DIR2", help="merge these fine-tuned checkpoints of --model instead of training")
    ap.add_argument("--merge-evals", type=int, default=12, help="merge weight candidates validated at most")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4,
                    help="AdamW learning rate (default 1e-4: chosen on held-out SciFact train queries at the 30-minute budget)")
    ap.add_argument("--max-length", type=int, default=128, help="training max tokens (inference keeps the model's)")
    ap.add_argument("--time-budget-min", type=float, default=30.0, help="plan steps to fit this many minutes (0: --steps)")
    ap.add_argument("--steps", type=int, default=2000, help="steps without a budget; an upper bound with one")
    ap.add_argument("--val-queries", type=int, default=60, help="held-out TRAIN queries that pick the checkpoint")
    ap.add_argument("--val-pool", type=int, default=600, help="documents the held-out queries are searched in")
    ap.add_argument("--evals", type=int, default=2, help="held-out validations during training (plus the start)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=context.settings.threads)


def check_args(args: argparse.Namespace) -> None:
    """Reject bad input before any model loads (each message names the flag)."""
    require_output(args)
    if args.pretrain not in ("ict", "bfs", "none"):
        raise ViewrankError(f"--pretrain {args.pretrain!r}: choose ict, bfs or none")
    positive = {"--temperature": args.temperature, "--batch-size": args.batch_size, "--lr": args.lr,
                "--max-length": args.max_length, "--neg-depth": args.neg_depth}
    for flag, value in positive.items():
        if not value > 0:
            raise ViewrankError(f"{flag} {value}: must be > 0")
    nonneg = {"--focal": args.focal, "--mix-negatives": args.mix_negatives, "--pretrain-steps": args.pretrain_steps,
              "--time-budget-min": args.time_budget_min, "--fn-margin": args.fn_margin, "--steps": args.steps,
              "--val-queries": args.val_queries, "--evals": args.evals, "--hard-negatives": args.hard_negatives}
    for flag, value in nonneg.items():
        if value < 0:
            raise ViewrankError(f"{flag} {value}: must be >= 0")
    if args.batch_size < 2:
        raise ViewrankError(f"--batch-size {args.batch_size}: in-batch negatives need at least 2")
    distill = {"--distill-weight": args.distill_weight, "--teacher-temperature": args.teacher_temperature,
               "--distill-group": args.distill_group, "--teacher-cache": args.teacher_cache}
    for flag, value in distill.items():
        if value is not None and not args.teacher:
            raise ViewrankError(f"{flag} {value}: only with --teacher SPEC")
    if args.teacher and args.merge is not None:
        raise ViewrankError(f"--teacher {args.teacher[0]}: --merge trains nothing; distil in the runs it merges")
    if args.distill_weight is not None and args.distill_weight < 0:
        raise ViewrankError(f"--distill-weight {args.distill_weight}: must be >= 0")
    if args.teacher_temperature is not None and not args.teacher_temperature > 0:
        raise ViewrankError(f"--teacher-temperature {args.teacher_temperature}: must be > 0")
    if args.distill_group is not None and args.distill_group < 0:
        raise ViewrankError(f"--distill-group {args.distill_group}: must be >= 0")
    if args.mix_negatives and args.negatives == "none" and args.batch_size < 3:
        raise ViewrankError("--mix-negatives needs two negatives per query: a --batch-size of 3 or more")
    try:
        dims = tuple(int(d) for d in args.dims.split(","))
    except ValueError:
        raise ViewrankError(f"--dims {args.dims!r}: expected comma-separated integers such as 384,256,128") from None
    if not dims or min(dims) < 1:
        raise ViewrankError(f"--dims {args.dims!r}: dimensions must be >= 1")
    if not Path(args.dataset).is_dir():
        raise ViewrankError(f"--dataset {args.dataset}: no such folder")
    if args.triples and not Path(args.triples).is_file():
        raise ViewrankError(f"--triples {args.triples}: no such file")
    if args.merge is not None:
        dirs = [d for d in args.merge.split(",") if d]
        if len(dirs) < 2:
            raise ViewrankError(f"--merge {args.merge!r}: name at least two model folders, comma-separated")
        for d in dirs:
            if not (Path(d) / "config.json").is_file():
                raise ViewrankError(f"--merge {d}: not a model folder (no config.json)")


SOURCES = ("dense", "bm25", "none")  # --negatives values that are not a retriever spec


def run(args: argparse.Namespace, context: Context) -> int:
    check_args(args)
    retriever = None
    if args.negatives not in SOURCES:
        try:  # a dense index is only opened here (its metadata read): a bad spec fails before any work
            retriever = context.host.retriever(args.negatives)
        except ViewrankError as exc:
            raise ViewrankError(f"--negatives {args.negatives}: {exc} (or {', '.join(SOURCES)})") from None
    if args.teacher:
        from viewrank.teachers import check_specs

        check_specs(context.host, args.teacher)  # an unknown name fails before mining or loading anything
    context.settings.with_(threads=args.threads).apply_threads()
    if args.merge is not None:
        return _merge(args, context, retriever)
    return _train(args, context, retriever)


def _dataset(args):
    from viewrank.datasets import BeirDataset

    ds = BeirDataset(args.dataset)
    if "train" not in ds.splits():
        raise ViewrankError(f"--dataset {args.dataset}: no qrels/train.tsv to train on")
    return ds


def _mined(args, context, ds, queries, qrels, out: Path, scored: bool = False):
    """BM25's hits: ``(mined lists, first-stage scores)``; ``(None, None)`` unless --negatives is bm25
    or ``scored`` (a teacher's pool is BM25's whatever --negatives says)."""
    if args.negatives != "bm25" and not scored:
        return None, None
    from viewrank.plugins.embedder_train.negatives import mine_scored

    index = args.bm25_index or str(Path("indexes") / Path(args.dataset).name)
    return mine_scored(queries, lambda: context.host.retriever(f"bm25:{index}@corpus={args.dataset}"),
                       args.neg_depth, qrels, cache=out.parent / f".{out.name}.mined.json", need_scores=scored)


def _negatives(args, context, ds, queries, qrels, out: Path, pooled, retriever, start: Path):
    """The mined lists hard negatives are drawn from: BM25's (``pooled`` when already mined),
    None for --negatives none, the ``start`` model's own exact search for dense, else
    ``retriever``'s, the one --negatives names (cached beside ``out`` by source)."""
    if args.negatives == "none":
        return None
    if args.negatives == "bm25":
        return pooled if pooled is not None else _mined(args, context, ds, queries, qrels, out)[0]
    from viewrank.plugins.embedder_train.negatives import ExactSearch, mine

    if args.negatives == "dense":
        from viewrank.plugins.dense.embedder import DenseEmbedder

        make = lambda: ExactSearch(DenseEmbedder(start), ds.corpus)  # noqa: E731 - called on a cache miss only
    else:
        make = lambda: retriever  # noqa: E731
    return mine(queries, make, args.neg_depth, qrels, cache=out.parent / f".{out.name}.negatives.json",
                source=_mined_by(args, start))


def _mined_by(args, start: Path) -> str:
    """What mined the hard negatives, as the cache and the training record name it: ``bm25``,
    ``none``, ``dense:START@exact`` (the start model's own exact search) or the retriever spec."""
    return f"dense:{start}@exact" if args.negatives == "dense" else args.negatives


def _teacher(args, context, texts, qids, mined, first_stage, qrels, corpus, out: Path) -> tuple[dict, dict]:
    """Each training query's ``{text: teacher score}`` over its pool, and what the record keeps
    (teacher_seconds: the scoring or cache reading, outside the trainer's time budget)."""
    from viewrank.plugins.embedder_train.negatives import teacher_pools
    from viewrank.teachers import TEACHER_NAME, teacher_scores

    cache = Path(args.teacher_cache) if args.teacher_cache else out / TEACHER_NAME
    pools = teacher_pools(qids, mined, first_stage, qrels, corpus)
    stats: dict = {}
    t = time.monotonic()
    scores = teacher_scores(context.host, args.teacher, texts, pools, corpus, cache=cache, stats=stats)
    seconds = time.monotonic() - t
    how = f"read from {cache}" if stats["cached"] else f"scored in {seconds:.1f} s, cached in {cache}"
    print(f"teacher {' + '.join(args.teacher)}: {len(pools)} query pools ({sum(map(len, pools.values()))} "
          f"candidates) {how}")
    by_text = {q: {corpus[d].contents: float(v) for d, v in scores.get(q, {}).items()} for q in qids}
    return by_text, {"teacher": list(args.teacher), "teacher_cache": str(cache), "teacher_cached": stats["cached"],
                     "teacher_seconds": round(seconds, 1), "teacher_queries": len(pools),
                     "teacher_candidates": sum(map(len, pools.values())),
                     "distill_note": "KL term on --dataset queries only (--triples examples: InfoNCE only)"}


def _train(args, context, retriever) -> int:
    from viewrank.plugins.dense.data import triples_examples
    from viewrank.plugins.dense.embedder import DenseEmbedder
    from viewrank.plugins.embedder_train.pretrain import bfs_examples, ict_examples
    from viewrank.plugins.embedder_train.trainer import EmbedderTrainConfig, Example, train_embedder
    from viewrank.plugins.embedder_train.validate import HeldOut, held_out_qids

    out = Path(args.out)
    ds = _dataset(args)
    qrels = ds.qrels("train")
    queries = ds.queries("train")
    texts = ds.all_queries
    corpus = ds.corpus
    base = context.host.resolve_model_path(args.model)
    pooled, first_stage = _mined(args, context, ds, queries, qrels, out, scored=bool(args.teacher))
    mined = _negatives(args, context, ds, queries, qrels, out, pooled, retriever, base)
    val = held_out_qids(qrels, args.val_queries, args.seed)
    held = HeldOut.build(val, texts, qrels, corpus, mined, args.val_pool, args.seed) if val else None
    examples = []
    skip = set(val)
    train_qids = [q.qid for q in queries if q.qid not in skip
                  and any(r > 0 and d in corpus for d, r in qrels[q.qid].items())]
    teacher, teacher_info = {}, {"teacher": [], "teacher_seconds": 0.0}
    if args.teacher:
        teacher, teacher_info = _teacher(args, context, texts, train_qids, pooled, first_stage, qrels, corpus, out)
    for q in queries:
        if q.qid in skip:
            continue
        judged = frozenset(corpus[d].contents for d, r in qrels[q.qid].items() if r > 0 and d in corpus)
        negs = [corpus[d].contents for d in (mined or {}).get(q.qid, []) if d in corpus]
        for d, r in sorted(qrels[q.qid].items()):
            if r > 0 and d in corpus:
                examples.append(Example(q.text, corpus[d].contents, negs, judged, teacher.get(q.qid)))
    if args.triples:
        examples += [Example(qt, p, [n], frozenset([p])) for qt, p, n in triples_examples(args.triples)]
    pre = []
    if args.pretrain != "none":
        make = ict_examples if args.pretrain == "ict" else bfs_examples
        pre = make(ds.iter_corpus(), random.Random(args.seed))
        if not pre:
            raise ViewrankError(f"--pretrain {args.pretrain}: no document of {args.dataset} is long enough")
    cfg = EmbedderTrainConfig(
        temperature=args.temperature, batch_size=args.batch_size, negatives=args.hard_negatives if mined else 0,
        fn_margin=args.fn_margin, focal=args.focal, mix_negatives=args.mix_negatives, curriculum=args.curriculum,
        matryoshka=args.matryoshka, dims=tuple(int(d) for d in args.dims.split(",")),
        pretrain_steps=args.pretrain_steps if pre else 0, lr=args.lr, max_length=args.max_length,
        time_budget_min=args.time_budget_min, steps=args.steps, evals=args.evals, seed=args.seed,
        distill_weight=(1.0 if args.distill_weight is None else args.distill_weight) if args.teacher else 0.0,
        teacher_temperature=0.1 if args.teacher_temperature is None else args.teacher_temperature,
        distill_group=8 if args.distill_group is None else args.distill_group)
    emb = DenseEmbedder(base)
    info = {"model": str(base), "dataset": str(args.dataset), "negatives_source": args.negatives,
            "negatives_mined_by": _mined_by(args, base),
            "pretrain": args.pretrain, "triples": args.triples, "val_queries": val,
            "bfs_note": "SciFact: first section = the abstract's first 2 sentences; other passage = title + rest"
            if args.pretrain == "bfs" else None, **teacher_info}
    saved = train_embedder(emb, examples, out, cfg, held, pre, info)
    record = json.loads((saved / "viewrank_embedder_train.json").read_text())
    print(f"saved embedder to {saved} ({record['steps_run']} steps, held-out train nDCG@10 "
          f"{record['heldout_ndcg@10']} at step {record['kept_step']}); load it as dense:{saved}")
    return 0


def _merge(args, context, retriever) -> int:
    import torch
    from transformers import AutoModel

    from viewrank.plugins.dense.embedder import DenseEmbedder
    from viewrank.plugins.dense.finetune import save_trained
    from viewrank.plugins.embedder_train.merge import check_compatible, merge_states, search_weights
    from viewrank.plugins.embedder_train.validate import HeldOut, held_out_qids

    dirs = [d for d in args.merge.split(",") if d]
    ds = _dataset(args)
    qrels = ds.qrels("train")
    out = Path(args.out)
    base_dir = context.host.resolve_model_path(args.model)
    mined = _negatives(args, context, ds, ds.queries("train"), qrels, out, None, retriever, base_dir)
    val = held_out_qids(qrels, args.val_queries or 60, args.seed)
    for d in dirs:  # a parent must not have trained on the slice that weighs it
        rec = Path(d) / "viewrank_embedder_train.json"
        if rec.is_file():
            seen = set(val) - set(read_json_object(rec, what="training record").get("val_queries") or [])
            if seen:
                raise ViewrankError(f"--merge {d}: it trained on {len(seen)} of the held-out queries "
                                    "(train the parents with the same --seed and --val-queries)")
    held = HeldOut.build(val, ds.all_queries, qrels, ds.corpus, mined, args.val_pool, args.seed)
    emb = DenseEmbedder(dirs[0])
    base = {k: v.clone() for k, v in AutoModel.from_pretrained(base_dir).state_dict().items()}
    parents = [AutoModel.from_pretrained(d).state_dict() for d in dirs]
    check_compatible(base, parents, dirs)

    def score(weights):
        emb.model.load_state_dict(merge_states(base, parents, weights))
        with torch.inference_mode():
            value = held.ndcg(emb)
        print(f"weights {list(weights)}: held-out train nDCG@10 {value}")
        return value

    weights, best, tried = search_weights(len(dirs), score, args.merge_evals)
    emb.model.load_state_dict(merge_states(base, parents, weights))
    save_trained(emb, out, "viewrank_embedder_merge.json",
                 {"base": str(base_dir), "parents": dirs, "weights": list(weights), "heldout_ndcg@10": best,
                  "tried": tried, "val_queries": val})
    print(f"saved merged embedder to {out} (weights {list(weights)}, held-out train nDCG@10 {best})")
    return 0
