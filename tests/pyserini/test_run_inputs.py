"""The files around a reranking run, read without a JVM: runs (TREC, MS MARCO), topics (TSV,
TREC, JSONL, BEIR), qrels, collections, trec_eval measure specs."""

from __future__ import annotations

import gzip
import json

import pytest

from viewrank.adapters.pyserini.evaluate import format_table, overlap_warnings, parse_metrics
from viewrank.adapters.pyserini.rerank import fetch_texts, queries_of_run, rerank_run
from viewrank.datasets import CorpusTexts, MappingTexts, iter_documents, load_qrels, read_topics, write_topics_tsv
from viewrank.errors import ViewrankError
from viewrank.runs import as_lists, parse_run, read_run, write_run
from viewrank.types import Candidate, Query, RankedList


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# --- runs -------------------------------------------------------------------------------------

def test_trec_run_is_ordered_by_score_ties_in_file_order(tmp_path):
    run = parse_run(write(tmp_path / "r.trec", "q1 Q0 b 2 1.0 t\nq1 Q0 a 1 3.0 t\nq1 Q0 c 3 1.0 t\nq2 Q0 z 1 0.5 t\n"))
    assert run.format == "trec"
    assert run.lists == {"q1": [("a", 3.0), ("b", 1.0), ("c", 1.0)], "q2": [("z", 0.5)]}
    assert run.top(2) == {"q1": [("a", 3.0), ("b", 1.0)], "q2": [("z", 0.5)]}


def test_tab_separated_trec_lines_keep_ids_with_spaces(tmp_path):
    run = parse_run(write(tmp_path / "r.trec", "what is x\tQ0\tdoc one\t1\t2.5\tt\n"))
    assert run.lists == {"what is x": [("doc one", 2.5)]}


def test_msmarco_run_is_ordered_by_rank_and_scored_one_over_rank(tmp_path):
    run = parse_run(write(tmp_path / "r.tsv", "q1\td2\t2\nq1\td1\t1\nq 2\tdoc one\t1\n"))
    assert run.format == "msmarco"
    assert run.lists == {"q1": [("d1", 1.0), ("d2", 0.5)], "q 2": [("doc one", 1.0)]}


@pytest.mark.parametrize("text, message", [
    ("q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2\n", r"r.run:2: expected 6 columns \(TREC: qid Q0 docid rank score tag\) or 3 "),
    ("q1 Q0 doc one 1 1.0 t\n", r"r.run:1: expected 6 columns .* got 7; a run whose ids contain spaces cannot be split"),
    ("q1 Q0 d1 1 1.0 t\n\nq1 Q0 d1 2 0.5 t\n", r"r.run:3: document 'd1' is listed twice for query 'q1' \(also on line 1\)"),
    ("q1 Q0 d1 1 x t\n", r"r.run:1: score 'x' is not a number"),
    ("q1\td1\tfirst\n", r"r.run:1: rank 'first' is not a positive integer"),
    ("q1 Q0 d1 1 1.0 t\nq1\td2\t2\n", r"r.run:2: an MS MARCO line \(3 columns\) in a run whose first line is TREC"),
    ("\n\n", r"run file .*r.run is empty: it holds no run lines"),
])
def test_bad_run_lines_name_file_and_line(tmp_path, text, message):
    with pytest.raises(ViewrankError, match=message):
        parse_run(write(tmp_path / "r.run", text))


def test_msmarco_output_and_read_run_round_trip(tmp_path):
    ranked = {"q 1": RankedList.from_scores("q 1", [Candidate("doc one", ""), Candidate("d2", "")], [2.0, 1.0])}
    write_run(ranked, tmp_path / "r.tsv", output_format="msmarco")
    assert (tmp_path / "r.tsv").read_text() == "q%201\tdoc%20one\t1\nq%201\td2\t2\n"
    assert read_run(tmp_path / "r.tsv") == {"q 1": {"doc one": 1.0, "d2": 0.5}}
    write_run(ranked, tmp_path / "r.trec")
    assert parse_run(tmp_path / "r.trec").lists == {"q 1": [("doc one", 2.0), ("d2", 1.0)]}


def test_as_lists_accepts_what_scripts_hold():
    ranked = RankedList.from_scores("q1", [Candidate("a", ""), Candidate("b", "")], [1.0, 2.0])
    assert as_lists({"q1": ranked}) == {"q1": [("b", 2.0), ("a", 1.0)]}
    assert as_lists({"q1": {"a": 1.0, "b": 2.0}}) == {"q1": [("b", 2.0), ("a", 1.0)]}
    assert as_lists({"q1": [("a", 1.0)]}) == {"q1": [("a", 1.0)]}
    with pytest.raises(ViewrankError, match="document 'a' is listed twice for query 'q1'"):
        as_lists({"q1": [("a", 1.0), ("a", 0.5)]})


# --- topics -----------------------------------------------------------------------------------

TREC_TOPICS = """<top>
<num> Number: 301
<title> International Organized Crime

<desc> Description:
Identify organizations that participate in
international criminal activity.

<narr> Narrative:
A relevant document must identify the organization.
</top>

<top>
<num>0302</num>
<title>Poliomyelitis and Post-Polio</title>
<desc>Is polio under control?</desc>
</top>
"""


def test_trec_topics_fields(tmp_path):
    path = write(tmp_path / "topics.robust", TREC_TOPICS)
    assert read_topics(path) == [Query("301", "International Organized Crime"),
                                 Query("0302", "Poliomyelitis and Post-Polio")]
    desc = read_topics(path, "desc")
    assert desc[0].text == "Identify organizations that participate in international criminal activity."
    assert read_topics(path, "title+desc")[1].text == "Poliomyelitis and Post-Polio Is polio under control?"


def test_tsv_jsonl_beir_and_gzipped_topics(tmp_path, tiny_dataset):
    tsv = write(tmp_path / "t.tsv", "0007\tsleep and obesity\nwhat is x\tx?\n")
    assert read_topics(tsv) == [Query("0007", "sleep and obesity"), Query("what is x", "x?")]  # ids as written
    jsonl = write(tmp_path / "t.jsonl", '{"qid": 7, "query": "a"}\n{"id": "b", "text": "bb"}\n')
    assert read_topics(jsonl) == [Query("7", "a"), Query("b", "bb")]
    beir = read_topics(tiny_dataset / "queries.jsonl")
    assert beir[0] == Query("q1", "vitamin D and bone fractures") and len(beir) == 4
    with gzip.open(tmp_path / "t.tsv.gz", "wt") as fh:
        fh.write("1\tone\n")
    assert read_topics(tmp_path / "t.tsv.gz") == [Query("1", "one")]
    write_topics_tsv([Query("q 1", "two\tlines\nhere")], tmp_path / "out.tsv")
    assert (tmp_path / "out.tsv").read_text() == "q 1\ttwo lines here\n"


@pytest.mark.parametrize("name, text, field, message", [
    ("t.tsv", "q1\tfine\nq2 no tab\n", "title", r"t.tsv:2: expected qid<TAB>text, got 1 tab-separated column"),
    ("t.tsv", "q1\ta\n\nq1\tb\n", "title", r"t.tsv:3: query 'q1' appears twice \(also on line 1\)"),
    ("t.tsv", "q1\t  \n", "title", r"t.tsv:1: query 'q1' has empty text"),
    ("t.tsv", "", "title", r"topics file .*t.tsv is empty"),
    ("t.tsv", "q1\ta\n", "desc", r"--topic-field desc applies to TREC topic files"),
    ("t.jsonl", '{"qid": "q1"}\n', "title", r"t.jsonl:1: a JSONL topic needs an id .* and a text"),
    ("t.trec", "<top>\n<title> x\n</top>\n", "title", r"t.trec:1: a <top> block without <num>"),
    ("t.trec", "<top>\n<num> 1\n<title> x\n</top>\n", "desc", r"t.trec:1: topic '1' has no <desc> text"),
])
def test_bad_topics_name_file_and_line(tmp_path, name, text, field, message):
    with pytest.raises(ViewrankError, match=message):
        read_topics(write(tmp_path / name, text), field)


def test_prebuilt_topic_names_are_not_looked_up(tmp_path):
    with pytest.raises(ViewrankError, match="names of Pyserini's prebuilt topics are not looked up"):
        read_topics("msmarco-passage-dev-subset")


# --- qrels and collections ----------------------------------------------------------------------

def test_qrels_trec_and_beir(tmp_path):
    assert load_qrels(write(tmp_path / "q.trec", "1 0 d1 1\n1 0 d%202 0\n")) == {"1": {"d1": 1, "d 2": 0}}
    assert load_qrels(write(tmp_path / "q.tsv", "query-id\tcorpus-id\tscore\n1\td 1\t2\n")) == {"1": {"d 1": 2}}
    with pytest.raises(ViewrankError, match="q2.trec:1: expected 3 tab-separated columns"):
        load_qrels(write(tmp_path / "q2.trec", "1 d1\n"))
    with pytest.raises(ViewrankError, match="is empty: it holds no judgements"):
        load_qrels(write(tmp_path / "q3.trec", "\n"))


def test_collections_pyserini_beir_and_msmarco_forms(tmp_path, tiny_dataset):
    jsonl = write(tmp_path / "docs.jsonl", '{"id": "doc one", "contents": "A b."}\n{"_id": "d2", "title": "T", "text": "x"}\n')
    docs = list(iter_documents(jsonl))
    assert [(d.docid, d.contents) for d in docs] == [("doc one", "A b."), ("d2", "T x")]
    tsv = write(tmp_path / "collection.tsv", "0\tfirst passage\n1\tsecond passage\n")
    assert CorpusTexts(tsv).lookup(["1", "9"])["1"].contents == "second passage"
    assert set(CorpusTexts(tiny_dataset).lookup(["d1", "d6", "zz"])) == {"d1", "d6"}
    with pytest.raises(ViewrankError, match=r"collection2.tsv:1: expected docid<TAB>text"):
        list(iter_documents(write(tmp_path / "collection2.tsv", "0\ta\tb\n")))
    with pytest.raises(ViewrankError, match=r"bad.jsonl:1: missing field\(s\) id"):
        list(iter_documents(write(tmp_path / "bad.jsonl", '{"contents": "x"}\n')))


def test_missing_documents_are_counted_or_skipped():
    texts = MappingTexts({"a": "A", "b": "B"})
    first = {"q1": [("a", 2.0), ("x", 1.5), ("b", 1.0)], "q2": [("y", 1.0)]}
    with pytest.raises(ViewrankError, match=r"2 of the run's 4 documents are not in the given texts \(first: 'x', 'y'\); "
                                            r"pass --skip-missing"):
        fetch_texts(first, texts)
    kept = fetch_texts(first, texts, skip_missing=True)
    assert kept.first_stage == {"q1": [("a", 2.0), ("b", 1.0)], "q2": []}
    assert (kept.skipped, kept.skipped_queries) == (2, 2)


def test_run_queries_must_be_in_the_topics():
    topics = [Query("0007", "a"), Query("2", "b")]
    assert queries_of_run({"2": []}, topics, "RUN", "TOPICS") == [Query("2", "b")]
    with pytest.raises(ViewrankError, match=r"2 of the 3 queries in RUN are not in TOPICS \(first: '7', 'q9'\).*"
                                            r"without their leading zeros"):
        queries_of_run({"7": [], "q9": [], "2": []}, topics, "RUN", "TOPICS")


def test_rerank_run_api_with_texts_in_a_dict():
    class Longest:  # a reranker that prefers longer passages, and records the first-stage scores it saw
        seen = []

        def rerank(self, query, candidates):
            Longest.seen += [c.score for c in candidates]
            return RankedList.from_scores(query.qid, candidates, [len(c.text) for c in candidates])

    run = {"q1": [("a", 3.0), ("b", 2.0), ("c", 1.0)]}
    out = rerank_run(run, Longest(), {"a": "x", "b": "xxx", "c": "xx"}, {"q1": "query"}, hits=2)
    assert out["q1"].docids == ["b", "a"] and Longest.seen == [3.0, 2.0]
    tail = rerank_run(run, Longest(), {"a": "x", "b": "xxx", "c": "xxxx"}, {"q1": "query"}, rerank_depth=2)
    assert tail["q1"].docids == ["b", "a", "c"]  # only the top 2 reranked, c stays below them


# --- measures and the table -------------------------------------------------------------------

def test_metric_specs():
    ms = parse_metrics(["nDCG@10", "MRR@10", "map", "ndcg_cut.5,20", "P.10"])
    assert [(m.measure, m.depth) for m in ms] == [("ndcg_cut.10", None), ("recip_rank", 10), ("map", None),
                                                  ("ndcg_cut.5,20", None), ("P.10", None)]
    assert [c for m in ms for c in m.columns()] == ["nDCG@10", "MRR@10", "map", "ndcg_cut_5", "ndcg_cut_20", "P_10"]
    assert [m.spec for m in parse_metrics(None)] == ["nDCG@10", "R@100", "MRR@10"]
    with pytest.raises(ViewrankError, match="--metrics 'nDCG 10' is neither"):
        parse_metrics(["nDCG 10"])


def test_one_cutoff_list_per_measure_family():
    """trec_eval keeps one cutoff list per measure: recall.2 and recall.10 must go as recall.2,10."""
    from viewrank.adapters.pyserini.evaluate import _merged

    assert _merged(["recall.2", "recall.10", "ndcg_cut.10", "map", "recall.10", "P.5"]) == \
        ["recall.2,10", "ndcg_cut.10", "map", "P.5"]


@pytest.mark.slow  # a JVM (trec_eval)
def test_several_cutoffs_of_one_measure_are_all_printed(tiny_dataset, tiny_index, tmp_path):
    from viewrank.adapters.pyserini.evaluate import evaluate_run
    from viewrank.adapters.pyserini.lucene import Bm25
    from viewrank.datasets import BeirDataset

    ds = BeirDataset(tiny_dataset)
    hits = Bm25(tiny_index).search(ds.queries("test"), 6)
    run = tmp_path / "bm25.trec"
    run.write_text("".join(f"{q} Q0 {d} {r} {s} bm25\n" for q, h in hits.items() for r, (d, s) in enumerate(h, 1)))
    got = evaluate_run(run, ds.qrels_path("test"), ["recall.2", "recall.10", "R@100"])
    assert set(got) == {"recall_2", "recall_10", "R@100"} and got["recall_2"] <= got["recall_10"]


def test_overlap_warnings_and_table():
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    assert overlap_warnings({"q1": ["d1"], "q2": ["d2"]}, qrels) == []
    [none] = overlap_warnings({"x": ["d1"]}, qrels)
    assert "share no query with the run (1 run queries, 2 judged queries)" in none
    partial = overlap_warnings({"q1": [("d9", 1.0)], "q3": []}, qrels)
    assert partial[0].startswith("1 of the run's 2 queries have no qrels")
    assert partial[1].startswith("1 of the 2 judged queries are not in the run")
    assert "no document of the run is judged" in partial[2]
    lines = format_table("run", [("a.trec", {"nDCG@10": 0.5}, ["3"])], ["nDCG@10", "map"], ["queries"])
    assert lines[0].split() == ["run", "nDCG@10", "map", "queries"]
    assert lines[2].split() == ["a.trec", "0.5000", "-", "3"]


def test_json_collection_line_mixing_forms_prefers_contents(tmp_path):
    path = write(tmp_path / "c.jsonl", json.dumps({"id": "1", "title": "T", "contents": "C"}) + "\n")
    assert [d.contents for d in iter_documents(path)] == ["C"]


@pytest.mark.slow  # loads the bi-encoder
@pytest.mark.parametrize("fmt", ["trec", "msmarco"])
def test_fuse_interpolates_with_the_runs_own_scores(tmp_path, tiny_dataset, fmt):
    """fuse:1.0 keeps the run's order, fuse:0.0 is the reranker's: the first-stage score (a TREC
    score, or 1/rank for an MS MARCO run) reaches the reranker."""
    from viewrank.manager import PluginHost

    # every query's judged document last: a first stage the bi-encoder disagrees with
    order = {"q1": ["d6", "d5", "d4", "d3", "d2", "d1"], "q2": ["d1", "d2", "d4", "d5", "d6", "d3"]}
    lines = [f"{q} Q0 {d} {r} {10 - r}.5 x\n" if fmt == "trec" else f"{q}\t{d}\t{r}\n"
             for q, docs in order.items() for r, d in enumerate(docs, 1)]
    run = write(tmp_path / "run", "".join(lines))
    host = PluginHost()
    fused = {w: {q: r.docids for q, r in rerank_run(run, f"fuse:{w}:bi-encoder", tiny_dataset, tiny_dataset / "queries.jsonl",
                                                      host=host).items()} for w in ("1.0", "0.0")}
    alone = {q: r.docids for q, r in rerank_run(run, "bi-encoder", tiny_dataset, tiny_dataset / "queries.jsonl", host=host).items()}
    assert fused["1.0"] == order
    assert fused["0.0"] == alone and alone != order
    assert alone["q1"][0] == "d1" and alone["q2"][0] == "d3"


def test_stored_documents_of_every_kind_of_index():
    from viewrank.adapters.pyserini.lucene import stored_document

    class Doc:
        def __init__(self, raw, contents=None):
            self._raw, self._contents = raw, contents

        def raw(self):
            return self._raw

        def contents(self):
            return self._contents

    json_collection = stored_document("d1", Doc('{\n  "id" : "d1",\n  "contents" : "Title text"\n}'), "index I")
    assert (json_collection.title, json_collection.text) == ("", "Title text")
    beir_style = stored_document("d1", Doc('{"_id": "d1", "title": "T", "text": "x"}'), "index I")
    assert (beir_style.title, beir_style.contents) == ("T", "T x")
    assert stored_document("d1", Doc("<DOC>plain</DOC>"), "index I").text == "<DOC>plain</DOC>"
    assert stored_document("d1", Doc(None, "stored contents"), "index I").text == "stored contents"
    with pytest.raises(ViewrankError, match="index I stores no text for document 'd1': build it with --storeRaw"):
        stored_document("d1", Doc(None, None), "index I")
