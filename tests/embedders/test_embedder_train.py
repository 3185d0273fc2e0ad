"""``viewrank train embedder``: the loss, KaLM's focal weights and negative mixing, PEG's
curriculum, ICT/BFS examples, Self-Positioning merging, teacher distillation and the command line,
on tiny models."""

from __future__ import annotations

import contextlib
import json
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from viewrank.cli import main
from viewrank.datasets import Document
from viewrank.errors import ViewrankError
from viewrank.plugins.dense.embedder import DenseEmbedder
from viewrank.plugins.embedder_train.losses import distill_kl, focal_weights, info_nce, mix_negatives
from viewrank.plugins.embedder_train.merge import merge_states, search_weights
from viewrank.plugins.embedder_train.negatives import curriculum_window, sample_negatives
from viewrank.plugins.embedder_train.pretrain import bfs_examples, ict_examples, sentences
from viewrank.plugins.embedder_train.trainer import EmbedderTrainConfig, Example, contrastive_step, train_embedder
from viewrank.teachers import teacher_scores
from viewrank.types import RankedList

TOPICS = ["vitamin d bone fractures", "statins cholesterol heart", "malaria artemisinin therapy",
          "smoking lung cancer", "sleep obesity children", "coffee mortality risk"]


def _examples():
    out = []
    for i, t in enumerate(TOPICS):
        pos = f"A study of {t} in a large cohort."
        negs = [f"A study of {TOPICS[j]} in a large cohort." for j in range(len(TOPICS)) if j != i]
        out.append(Example(t, pos, negs, frozenset([pos])))
    return out


def test_loss_decreases_on_a_toy_set(tiny_bert, tmp_path):
    cfg = EmbedderTrainConfig(batch_size=6, negatives=1, fn_margin=0, steps=30, lr=1e-3, warmup=0.0,
                              max_length=32, temperature=0.1, seed=0)
    out = train_embedder(DenseEmbedder(tiny_bert), _examples(), tmp_path / "m", cfg, progress=False)
    losses = [h["loss"] for h in json.loads((out / "viewrank_embedder_train.json").read_text())["history"]]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_info_nce_masks_judged_columns_and_focal_downweights_easy_examples():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(2, 8), dim=-1)
    d = torch.cat([q[0:1], F.normalize(torch.randn(1, 8), dim=-1), F.normalize(torch.randn(3, 8), dim=-1)])
    # query 0 is easy (its positive is itself), query 1 hard (a random positive)
    _, p = info_nce(q, d, torch.tensor([0, 1]), 0.05)
    assert p[0] > 0.9 and p[1] < p[0]
    w = focal_weights(p, 2.0)
    assert w[0] < 0.01 and w[1] > w[0] and not w.requires_grad
    plain, _ = info_nce(q, d, torch.tensor([0, 1]), 0.05)
    focal, _ = info_nce(q, d, torch.tensor([0, 1]), 0.05, focal=2.0)
    assert focal < plain
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[1, 0] = True  # column 0 is judged relevant to query 1 too: not a negative for it
    masked, p_masked = info_nce(q, d, torch.tensor([0, 1]), 0.05, mask=mask)
    assert p_masked[1] > p[1] and masked < plain


def test_mixing_makes_unit_vectors_between_two_hardest_negatives():
    d = torch.eye(6)[:5]                      # orthonormal candidates: a mixture shows its parents
    q = F.normalize(torch.tensor([[5.0, 4.0, 3.0, 2.0, 0.1, 0.0]]), dim=-1)
    ok = torch.tensor([[False, True, True, True, True]])   # column 0 is the positive
    gen = torch.Generator().manual_seed(0)
    mixed, valid = mix_negatives(q, d, ok, k=20, hardest=3, generator=gen)
    assert mixed.shape == (1, 20, 6) and valid.all()
    for m in mixed[0]:
        assert torch.isclose(m.norm(), torch.tensor(1.0), atol=1e-5)
        support = set(torch.nonzero(m > 1e-6).flatten().tolist())
        assert len(support) == 2 and support <= {1, 2, 3}  # two of the 3 hardest negatives, never the positive
        assert (m >= 0).all()                                 # a convex mixture
    none_ok = torch.tensor([[False, True, False, False, False]])
    _, valid = mix_negatives(q, d, none_ok, k=2, hardest=3)
    assert not valid.any()  # one negative cannot be mixed
    loss_all, _ = info_nce(q, d, torch.tensor([0]), 0.05, extra=mixed, extra_valid=torch.ones(1, 20, dtype=torch.bool))
    loss_none, _ = info_nce(q, d, torch.tensor([0]), 0.05, extra=mixed, extra_valid=torch.zeros(1, 20, dtype=torch.bool))
    plain, _ = info_nce(q, d, torch.tensor([0]), 0.05)
    assert torch.isclose(loss_none, plain) and loss_all > plain


def test_curriculum_draws_deep_ranks_early_and_the_hardest_late_from_a_growing_pool():
    lo0, hi0 = curriculum_window(0.0, 40)
    lo1, hi1 = curriculum_window(1.0, 40)
    assert (lo0, hi0) == (30, 40) and (lo1, hi1) == (0, 20)
    assert hi1 - lo1 > hi0 - lo0
    mids = [curriculum_window(t / 10, 40)[0] for t in range(11)]
    assert mids == sorted(mids, reverse=True)
    ranked = [f"d{i}" for i in range(40)]
    rng = random.Random(0)
    early = sample_negatives(ranked, 5, rng, progress=0.0)
    late = sample_negatives(ranked, 5, rng, progress=1.0)
    assert min(int(d[1:]) for d in early) >= 30 and max(int(d[1:]) for d in late) < 20
    assert len(set(sample_negatives(ranked, 50, rng))) == 40  # no curriculum: the whole list


DOC = Document("d1", "Vitamin D", "Vitamin D is made in skin. Deficiency is common. Fractures rise with it. "
                                  "Supplements reduce falls. The effect is small.")


def test_ict_and_bfs_examples():
    sents = sentences(DOC.text)
    assert len(sents) == 5 and sents[1] == "Deficiency is common."
    for q, p, n in ict_examples([DOC] * 20, random.Random(0), keep=0.0):
        assert q in sents and q not in p and p.startswith("Vitamin D ") and n is None
        assert sum(s in p for s in sents) == 4
    for q, p, n in bfs_examples([DOC] * 20, random.Random(1), first=2):
        assert q in sents[:2]
        assert p == "Vitamin D " + " ".join(sents[2:])
    short = Document("d2", "T", "One sentence only.")
    assert ict_examples([short], random.Random(0)) == [] and bfs_examples([short], random.Random(0)) == []


def test_merging_with_weight_one_and_zero_reproduces_a_parent(tiny_bert):
    base = DenseEmbedder(tiny_bert).model.state_dict()
    torch.manual_seed(1)
    parents = [{k: v + 0.1 * torch.randn_like(v) if torch.is_floating_point(v) else v for k, v in base.items()}
               for _ in range(2)]
    for weights, want in (((1.0, 0.0), parents[0]), ((0.0, 1.0), parents[1]), ((0.0, 0.0), base)):
        merged = merge_states(base, parents, weights)
        assert all(torch.allclose(merged[k], want[k], atol=1e-6) for k in base)
    avg = merge_states(base, parents, (0.5, 0.5))
    key = next(k for k in base if torch.is_floating_point(base[k]))
    assert torch.allclose(avg[key], (parents[0][key] + parents[1][key]) / 2, atol=1e-6)
    best, score, tried = search_weights(2, lambda w: -abs(w[0] - 0.75) - abs(w[1] - 0.25), max_evals=20)
    assert best == (0.75, 0.25) and len(tried) <= 20


def test_cli_trains_loads_as_dense_and_merges(tiny_bert, emb_dataset, tmp_path):
    a, b, m = tmp_path / "a", tmp_path / "b", tmp_path / "m"
    common = ["train", "embedder", "--model", str(tiny_bert), "--dataset", str(emb_dataset), "--negatives", "none",
              "--batch-size", "2", "--steps", "2", "--time-budget-min", "0", "--val-queries", "1", "--evals", "1",
              "--max-length", "32", "--threads", "1"]
    assert main(common + ["--output", str(a)]) == 0
    assert main(common + ["--output", str(b), "--focal", "1", "--lr", "1e-3", "--seed", "0"]) == 0
    record = json.loads((a / "viewrank_embedder_train.json").read_text())
    assert record["steps_run"] == 2 and len(record["val_queries"]) == 1
    assert [s["step"] for s in record["selection"]] == [0, 2]   # start model and the end, on held-out TRAIN
    from viewrank.manager import get_host

    assert get_host().embedder(f"dense:{a}").embed(["x"]).shape == (1, 32)
    assert main(["train", "embedder", "--model", str(tiny_bert), "--dataset", str(emb_dataset), "--negatives", "none",
                 "--merge", f"{a},{b}", "--output", str(m), "--val-queries", "1", "--merge-evals", "3"]) == 0
    info = json.loads((m / "viewrank_embedder_merge.json").read_text())
    assert len(info["weights"]) == 2 and len(info["tried"]) <= 3


@pytest.mark.parametrize("bad", [
    ["--negatives", "nosuch"], ["--pretrain", "mlm"], ["--temperature", "0"], ["--focal", "-1"],
    ["--batch-size", "1"], ["--dims", "a,b"], ["--merge", "only-one"], ["--triples", "/nonexistent.tsv"],
    ["--dataset", "/nonexistent"], [], ["--distill-weight", "1"], ["--teacher-cache", "x.json"],
    ["--teacher-temperature", "0", "--teacher", "none"], ["--distill-group", "-1", "--teacher", "none"],
])
def test_cli_rejects_bad_input_with_exit_2(bad, tmp_path, capsys):
    out = [] if bad == [] else ["--output", str(tmp_path / "o")]
    assert main(["train", "embedder", *out, *bad]) == 2
    err = capsys.readouterr().err
    assert (bad[0] if bad else "--output") in err


def test_merge_rejects_a_folder_that_is_not_a_model(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    assert main(["train", "embedder", "--merge", f"{tmp_path / 'x'},{tmp_path / 'y'}", "--output", str(tmp_path / "m")]) == 2
    assert "--merge" in capsys.readouterr().err


# --- distillation from a teacher (--teacher) ---------------------------------------------------

def test_distill_kl_is_zero_when_the_distributions_agree_and_positive_otherwise():
    teacher = torch.tensor([[1.0, 0.5, 0.0, 0.2]])
    # cosine / 0.05 == teacher / 0.1 up to a shift: the same softmax
    agree = teacher / 2 + 0.1
    assert float(distill_kl(agree, teacher, 0.05, 0.1)) == pytest.approx(0.0, abs=1e-6)
    reversed_ = (1.0 - teacher) / 2
    assert float(distill_kl(reversed_, teacher, 0.05, 0.1)) > 0.5
    flat = torch.zeros(1, 4)
    assert 0 < float(distill_kl(flat, teacher, 0.05, 0.1)) < float(distill_kl(reversed_, teacher, 0.05, 0.1))
    # a softer teacher (higher T) is easier to match by a flat student
    assert float(distill_kl(flat, teacher, 0.05, 1.0)) < float(distill_kl(flat, teacher, 0.05, 0.1))


def test_distill_kl_gradient_moves_the_student_to_the_teacher_order():
    teacher = torch.tensor([[0.0, 0.3, 1.0, 0.6], [1.0, 0.0, 0.5, 0.2]])
    student = torch.tensor([[0.9, 0.5, 0.1, 0.3], [0.1, 0.8, 0.4, 0.2]], requires_grad=True)
    loss = distill_kl(student, teacher, 0.05, 0.1)
    loss.backward()
    g = student.grad
    assert g[0, 0] > 0 and g[0, 2] < 0      # lower the student's wrong favourite, raise the teacher's
    assert g[1, 1] > 0 and g[1, 0] < 0
    # descending it reaches the teacher's whole order (a soft teacher, T=1, so the bottom ranks
    # weigh something: at T=0.1 they carry e^-10 of the mass)
    s = student.detach().clone().requires_grad_(True)
    start = float(distill_kl(s.detach(), teacher, 0.05, 1.0))
    for _ in range(300):
        s.grad = None
        distill_kl(s, teacher, 0.05, 1.0).backward()
        with torch.no_grad():
            s -= 0.01 * s.grad
    assert [row.argsort(descending=True).tolist() for row in s.detach()] == \
           [row.argsort(descending=True).tolist() for row in teacher]
    assert float(distill_kl(s.detach(), teacher, 0.05, 1.0)) < 0.01 * start


def test_distill_kl_ignores_masked_entries_and_single_candidate_rows():
    teacher = torch.tensor([[1.0, 0.0, 0.7], [1.0, 0.0, 0.0]])
    student = torch.tensor([[0.2, 0.5, 0.9], [0.3, 0.1, 0.6]], requires_grad=True)
    valid = torch.tensor([[True, True, False], [True, False, False]])
    loss = distill_kl(student, teacher, 0.05, 0.1, valid)
    changed = student.detach().clone()
    changed[0, 2], changed[1, 1] = -5.0, 7.0            # only masked entries change
    assert torch.isclose(loss, distill_kl(changed, teacher, 0.05, 0.1, valid))
    only_row0 = distill_kl(student[:1, :2], teacher[:1, :2], 0.05, 0.1)
    assert torch.isclose(loss, only_row0)              # row 1 has one valid candidate: not counted
    loss.backward()
    assert torch.isfinite(student.grad).all() and student.grad[1].abs().sum() == 0 and student.grad[0, 2] == 0
    none = distill_kl(student, teacher, 0.05, 0.1, torch.zeros(2, 3, dtype=torch.bool))
    assert float(none.detach()) == 0.0 and none.requires_grad


def test_contrastive_step_adds_the_weighted_kl_over_positive_negatives_and_pooled_extras(tiny_bert):
    emb = DenseEmbedder(tiny_bert)
    plain = _examples()
    taught = []
    for e in plain:
        pool = [e.positive, *e.negatives]
        taught.append(Example(e.query, e.positive, e.negatives, e.judged, {t: 1.0 - i / len(pool) for i, t in enumerate(pool)}))
    base = dict(batch_size=3, negatives=1, fn_margin=0, temperature=0.05, max_length=32)

    def step(examples, **kw):
        torch.manual_seed(0)
        with torch.no_grad():
            return contrastive_step(emb, examples[:3], EmbedderTrainConfig(**base, **kw), random.Random(0), 0.0,
                                    torch.Generator().manual_seed(0))

    emb.model.eval()
    loss0, stats0 = step(plain)
    off, stats_off = step(taught, distill_weight=0.0)
    assert torch.isclose(off, loss0) and "kl" not in stats_off      # weight 0: exactly InfoNCE
    on, stats_on = step(taught, distill_weight=2.0, distill_group=3)
    assert stats_on["kl"] > 0 and stats_on["candidates"] == stats0["candidates"]  # extras are not InfoNCE's
    assert float(on) == pytest.approx(float(loss0) + 2.0 * stats_on["kl"], rel=1e-3, abs=1e-3)


class _CountingHost:
    """A host whose one reranker (``first``) returns the first-stage scores and counts its lists."""

    def __init__(self) -> None:
        self.lists = 0

    def shared_rerankers(self):
        return contextlib.nullcontext()

    def reranker(self, spec):
        if spec != "first":
            raise ViewrankError(f"unknown reranker {spec!r}")
        host = self

        class First:
            def rerank(self, query, candidates):
                host.lists += 1
                return RankedList.from_scores(query.qid, candidates, [c.score for c in candidates])

        return First()


def test_teacher_cache_is_reused_only_for_the_same_specs_pools_and_queries(tmp_path):
    corpus = {f"d{i}": Document(f"d{i}", "", f"document {i}") for i in range(6)}
    queries = {"q1": "first query", "q2": "second query"}
    pools = {"q1": [("d0", 3.0), ("d1", 2.0), ("d2", 1.0)], "q2": [("d3", 5.0), ("d4", 1.0)]}
    cache = tmp_path / "t.json"
    host = _CountingHost()
    stats: dict = {}
    first = teacher_scores(host, ["first"], queries, pools, corpus, cache=cache, stats=stats, progress=False)
    assert host.lists == 2 and stats == {"cached": False, "scored_lists": 2}
    assert first["q1"] == {"d0": 1.0, "d1": 0.5, "d2": 0.0}      # min-max per pool
    again = teacher_scores(host, ["first"], queries, pools, corpus, cache=cache, stats=stats, progress=False)
    assert again == first and host.lists == 2 and stats["cached"]
    variants = [
        ({**pools, "q1": [("d5", 3.0), ("d1", 2.0), ("d2", 1.0)]}, queries),   # another document, same length
        ({**pools, "q1": [("d0", 3.0), ("d1", 2.5), ("d2", 1.0)]}, queries),   # another first-stage score
        (pools, {**queries, "q2": "another text"}),                            # another query text
    ]
    for i, (p, q) in enumerate(variants, 1):
        teacher_scores(host, ["first"], q, p, corpus, cache=cache, stats=stats, progress=False)
        assert not stats["cached"] and host.lists == 2 + 2 * i
    teacher_scores(host, ["first", "first"], queries, pools, corpus, cache=cache, stats=stats, progress=False)
    assert not stats["cached"] and host.lists == 2 * 4 + 4      # another spec list: an ensemble of two
    cache.write_text("{not json")
    assert teacher_scores(host, ["first"], queries, pools, corpus, cache=cache, progress=False) == first
    with pytest.raises(ViewrankError, match="--teacher nosuch"):
        teacher_scores(host, ["nosuch"], queries, pools, corpus, cache=tmp_path / "other.json", progress=False)


def test_mined_negatives_are_cached_per_retriever(tmp_path):
    from viewrank.plugins.embedder_train.negatives import mine
    from viewrank.types import Query

    class Fixed:  # a retriever: the Retriever protocol, fixed hits
        calls = 0

        def __init__(self, docs):
            self.docs = docs

        def search(self, queries, k):
            Fixed.calls += 1
            return {q.qid: [(d, 1.0 / (i + 1)) for i, d in enumerate(self.docs[:k])] for q in queries}

    qs, judged, cache = [Query("q1", "x")], {"q1": {"d2": 1}}, tmp_path / "neg.json"
    assert mine(qs, lambda: Fixed(["d1", "d2", "d3", "d4"]), 2, judged, cache, source="a") == {"q1": ["d1", "d3"]}
    assert mine(qs, lambda: Fixed(["d9"]), 2, judged, cache, source="a") == {"q1": ["d1", "d3"]}  # read back
    assert mine(qs, lambda: Fixed(["d4", "d3"]), 2, judged, cache, source="b") == {"q1": ["d4", "d3"]}  # mined again
    assert Fixed.calls == 2 and json.loads(cache.read_text())["source"] == "b"


def test_exact_search_ranks_the_corpus_by_inner_product_in_batches():
    from viewrank.plugins.embedder_train.negatives import ExactSearch
    from viewrank.types import Query

    vectors = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [0.6, 0.8], "q1": [1.0, 0.1], "q2": [0.0, 1.0]}

    class Lookup:  # an embedder: one fixed vector per text
        calls = 0

        def embed(self, texts, role="passage", progress=False):
            Lookup.calls += 1
            return np.asarray([vectors[t] for t in texts], dtype=np.float32)

    corpus = {d: Document(d, "", d) for d in "abc"}
    search = ExactSearch(Lookup(), corpus, batch=1)
    hits = search.search([Query("q1", "q1"), Query("q2", "q2")], 2)
    assert [d for d, _ in hits["q1"]] == ["a", "c"] and [d for d, _ in hits["q2"]] == ["b", "c"]
    assert hits["q1"][0][1] == pytest.approx(1.0)
    assert [d for d, _ in search.search([Query("q2", "q2")], 10)["q2"]] == ["b", "c", "a"]  # k > corpus: all
    assert Lookup.calls == 4  # the corpus once, then one call per query batch of 1


def test_cli_mines_dense_negatives_with_the_start_model_by_default(tiny_bert, emb_dataset, tmp_path):
    from viewrank.plugins.dense.embedder import DenseEmbedder

    from .conftest import QUERIES

    out = tmp_path / "o"
    assert main(["train", "embedder", "--model", str(tiny_bert), "--dataset", str(emb_dataset), "--batch-size", "2",
                 "--steps", "1", "--time-budget-min", "0", "--val-queries", "0", "--evals", "0", "--max-length", "32",
                 "--threads", "1", "--neg-depth", "2", "--output", str(out)]) == 0
    cache = json.loads((tmp_path / ".o.negatives.json").read_text())
    assert cache["source"] == f"dense:{tiny_bert}@exact" and not (tmp_path / ".o.mined.json").exists()  # no BM25
    judged = {q: d for q, _, d in QUERIES}
    start = DenseEmbedder(tiny_bert)  # the same ranking, recomputed: the start model's vectors, exact search
    from viewrank.datasets import BeirDataset

    ds = BeirDataset(emb_dataset)
    ids = list(ds.corpus)
    dv = start.embed([ds.corpus[d].contents for d in ids])
    for q in ds.queries("train"):
        row = start.embed([q.text], "query")[0] @ dv.T
        ranked = [ids[j] for j in sorted(range(len(ids)), key=lambda j: (-row[j], ids[j])) if ids[j] != judged[q.qid]]
        assert cache["hits"][q.qid] == ranked[:2]
    record = json.loads((out / "viewrank_embedder_train.json").read_text())
    assert record["negatives_source"] == "dense" and record["negatives_mined_by"] == cache["source"]


def _write_mined(out, depth: int) -> None:
    """The trainer's BM25 cache for the tiny dataset (every document, in DOCS order), so no
    search engine starts: what `viewrank train embedder` reads before it would start Pyserini."""
    from .conftest import DOCS, QUERIES

    judged = {q: d for q, _, d in QUERIES}
    ids = [d for d, _, _ in DOCS]
    hits = {q: [d for d in ids if d != judged[q]][:depth] for q, _, _ in QUERIES}
    scores = {q: {d: 10.0 - i for i, d in enumerate(ids)} for q, _, _ in QUERIES}
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / f".{out.name}.mined.json").write_text(json.dumps({"depth": depth, "hits": hits, "scores": scores}))


def test_cli_distils_a_teacher_and_shares_its_cache(tiny_bert, emb_dataset, tmp_path):
    cache = tmp_path / "shared" / "teacher.json"
    common = ["train", "embedder", "--model", str(tiny_bert), "--dataset", str(emb_dataset), "--batch-size", "2",
              "--steps", "3", "--time-budget-min", "0", "--val-queries", "0", "--evals", "0", "--max-length", "32",
              "--threads", "1", "--neg-depth", "5", "--teacher", "none", "--distill-group", "2"]
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out in (a, b):
        _write_mined(out, 5)
    _write_mined(c, 4)
    assert main(common + ["--output", str(a)]) == 0           # default cache: OUTPUT/teacher_scores.json
    rec = json.loads((a / "viewrank_embedder_train.json").read_text())
    assert (a / "config.json").is_file() and (a / "teacher_scores.json").is_file()
    assert rec["teacher"] == ["none"] and rec["teacher_cached"] is False and rec["teacher_seconds"] >= 0
    assert rec["distill_weight"] == 1.0 and rec["teacher_temperature"] == 0.1 and rec["distill_group"] == 2
    assert rec["teacher_queries"] == 2 and rec["teacher_candidates"] == 12   # 2 train queries x (5 mined + 1 judged)
    assert all(h["kl"] >= 0 for h in rec["history"]) and len(rec["history"]) == 3
    scores = json.loads((a / "teacher_scores.json").read_text())["scores"]
    # q1's pool: its judged d1 (BM25 score 10) and the mined d2..d6 (9..5), min-max scaled
    assert scores["q1"] == pytest.approx({"d1": 1.0, "d2": 0.8, "d3": 0.6, "d4": 0.4, "d5": 0.2, "d6": 0.0})
    assert main(common + ["--output", str(b), "--teacher-cache", str(cache)]) == 0
    stamp = cache.stat().st_mtime_ns
    assert main(common + ["--output", str(b), "--teacher-cache", str(cache), "--seed", "1"]) == 0
    rec_b = json.loads((b / "viewrank_embedder_train.json").read_text())
    assert rec_b["teacher_cached"] is True and cache.stat().st_mtime_ns == stamp   # read, not rescored
    assert main(common[:-6] + ["--neg-depth", "4", "--teacher", "none", "--distill-group", "2", "--output", str(c),
                               "--teacher-cache", str(cache)]) == 0
    rec_c = json.loads((c / "viewrank_embedder_train.json").read_text())
    assert rec_c["teacher_cached"] is False and rec_c["teacher_candidates"] == 10   # another pool: scored again
    assert json.loads(cache.read_text())["key"]["pools"] == [["q1", 5], ["q2", 5]]


def test_cli_names_an_unknown_teacher_spec_with_exit_2(tiny_bert, emb_dataset, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["train", "embedder", "--model", str(tiny_bert), "--dataset", str(emb_dataset), "--output", str(out),
                 "--teacher", "none", "--teacher", "nosuch:models/x"]) == 2
    err = capsys.readouterr().err
    assert "--teacher nosuch:models/x" in err and "unknown reranker 'nosuch'" in err
    assert not out.exists() and not (tmp_path / ".o.mined.json").exists()   # failed before any work
