import os

import pytest

from viewrank.errors import ViewrankError
from viewrank.runs import RunWriter, atomic_write_text, read_run
from viewrank.types import Candidate, RankedList


def ranked(qid, n=3):
    cands = [Candidate(f"{qid}-d{i}", "t", score=float(n - i)) for i in range(n)]
    return RankedList.from_scores(qid, cands, [c.score for c in cands])


def test_atomic_write_leaves_no_temp_files(tmp_path):
    path = atomic_write_text(tmp_path / "sub" / "f.txt", "hello")
    assert path.read_text() == "hello"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]


def test_run_appears_only_when_complete(tmp_path):
    out = tmp_path / "run.trec"
    writer = RunWriter(out, tag="t")
    writer.write(ranked("q1"))
    assert not out.exists()
    writer.close()
    assert read_run(out) == {"q1": {"q1-d0": 3.0, "q1-d1": 2.0, "q1-d2": 1.0}}
    assert not writer.partial.exists() and not writer.progress.exists()


def test_resume_after_a_crash_mid_query(tmp_path):
    out = tmp_path / "run.trec"
    writer = RunWriter(out)
    writer.write(ranked("q1"))
    writer.write(ranked("q2"))
    writer.abandon()
    # a crash while writing q3: half a block in the run, half a line in the progress file
    with open(writer.partial, "ab") as fh:
        fh.write(b"q3 Q0 q3-d0 1 3.0 vie")
    with open(writer.progress, "a") as fh:
        fh.write("q3\t99")
    resumed = RunWriter(out, resume=True)
    assert resumed.is_done("q1") and resumed.is_done("q2") and not resumed.is_done("q3")
    resumed.write(ranked("q3"))
    resumed.close()
    run = read_run(out)
    assert sorted(run) == ["q1", "q2", "q3"] and len(run["q3"]) == 3
    assert len(out.read_text().splitlines()) == 9


def test_resume_refuses_a_finished_run_and_a_lying_progress_file(tmp_path):
    out = tmp_path / "run.trec"
    with RunWriter(out) as w:
        w.write(ranked("q1"))
    with pytest.raises(ViewrankError, match="already complete"):
        RunWriter(out, resume=True)
    out2 = tmp_path / "run2.trec"
    w = RunWriter(out2)
    w.write(ranked("q1"))
    w.abandon()
    w.progress.write_text(f"q1\t{os.path.getsize(w.partial) + 100}\n")
    with pytest.raises(ViewrankError, match="is shorter"):
        RunWriter(out2, resume=True)


def test_writing_a_query_twice_is_an_error(tmp_path):
    w = RunWriter(tmp_path / "r.trec")
    w.write(ranked("q1"))
    with pytest.raises(ViewrankError, match="written twice"):
        w.write(ranked("q1"))
    w.abandon()


def test_read_run_names_the_bad_line(tmp_path):
    bad = tmp_path / "bad.trec"
    bad.write_text("q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 x t\n")
    with pytest.raises(ViewrankError, match=r"bad.trec:2: score 'x'"):
        read_run(bad)


def test_ranked_list_ties_keep_first_stage_order_and_orders_are_checked():
    cands = [Candidate("a", ""), Candidate("b", ""), Candidate("c", "")]
    assert RankedList.from_scores("q", cands, [1.0, 2.0, 1.0]).docids == ["b", "a", "c"]
    assert RankedList.from_order("q", cands, [2, 0, 1]).docids == ["c", "a", "b"]
    with pytest.raises(ValueError, match="not a permutation"):
        RankedList.from_order("q", cands, [0, 0, 1])


def test_ids_with_spaces_round_trip_through_run_files(tmp_path):
    from viewrank.runs import decode_id, encode_id, read_run

    ids = ["doc 1", "a\tb", "50%", "caf\u00e9 au\u00a0lait", "plain-id", "lit%41eral"]
    for value in ids:
        assert decode_id(encode_id(value)) == value
        assert not any(c.isspace() for c in encode_id(value))
    assert encode_id("plain-id") == "plain-id" and encode_id("doc 1") == "doc%201"
    assert decode_id("lit%41eral") == "lit%41eral"  # another system's literal %41 stays
    with RunWriter(tmp_path / "run.trec") as w:
        w.write(RankedList.from_scores("q 1", [Candidate(d, "") for d in ids], [6, 5, 4, 3, 2, 1]))
    lines = (tmp_path / "run.trec").read_text().splitlines()
    assert all(len(line.split()) == 6 for line in lines)
    assert read_run(tmp_path / "run.trec") == {"q 1": dict(zip(ids, [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]))}
