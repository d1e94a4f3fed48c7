"""Tests for thb_search.evaluation on hand-made runs.

Every expected figure is worked out by hand in the comments (log2 values:
log2(3) = 1.5849625007, log2(5) = 2.3219280949, log2(7) = 2.8073549221) and
checked to 1e-9.
"""

from __future__ import annotations

import dataclasses
import io
import math

import pytest

from thb_search.evaluation import (
    Evaluation,
    QueryScores,
    average_precision,
    evaluate,
    ndcg_at,
    precision_at,
    ranked,
    read_qrels,
    read_queries,
    read_run,
    recall_at,
    write_run,
)

TOL = 1e-9


def approx(value: float) -> object:
    return pytest.approx(value, abs=TOL, rel=0)


# ---------------------------------------------------------------------------
# trec_eval order


def test_ranked_score_descending_then_docid_descending() -> None:
    docs = [("d1", 1.0), ("d3", 2.0), ("d2", 1.0), ("d10", 1.0), ("D9", 1.0), ("d0", -0.5)]
    # 2.0 first (d3); the 1.0 tie by docid descending, string order:
    #   "d2" > "d10" ('2' > '1'), "d10" > "d1" (longer with same prefix),
    #   "d1" > "D9" ('d' = 0x64 > 'D' = 0x44); then -0.5 (d0).
    assert ranked(docs) == ["d3", "d2", "d10", "d1", "D9", "d0"]


def test_ranked_ignores_input_order_and_mixed_int_float_scores() -> None:
    docs = [("a", 1), ("b", 1.0), ("c", 0.5)]
    # 1 == 1.0 is a tie: b before a (docid descending), then c.
    assert ranked(docs) == ["b", "a", "c"]
    assert ranked(list(reversed(docs))) == ["b", "a", "c"]
    assert ranked([]) == []


def test_ranked_refuses_duplicates_and_nan() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        ranked([("a", 1.0), ("a", 0.5)])
    with pytest.raises(ValueError, match="NaN"):
        ranked([("a", math.nan)])


# ---------------------------------------------------------------------------
# Per-query measures on one hand-made ranking

# Judgments: a=3, b=2, f=2, c=1 are relevant (4 relevant); d=0 and e=-1 are not.
JUDGED = {"a": 3, "b": 2, "c": 1, "d": 0, "e": -1, "f": 2}
# Ranking (rank: doc grade): 1:d 0, 2:b 2, 3:x unjudged, 4:a 3, 5:e -1, 6:c 1
RANKING = ["d", "b", "x", "a", "e", "c"]


def test_precision_at_10_divides_by_10() -> None:
    # relevant in top 10: b, a, c = 3; 3 / 10 = 0.3 (only 6 retrieved)
    assert precision_at(RANKING, JUDGED, 10) == approx(0.3)
    # top 2: d, b -> 1 / 2 = 0.5
    assert precision_at(RANKING, JUDGED, 2) == approx(0.5)
    # a single relevant document retrieved: 1 / 10 = 0.1
    assert precision_at(["a"], JUDGED) == approx(0.1)
    assert precision_at([], JUDGED) == 0.0


def test_recall_at() -> None:
    # 3 of the 4 relevant within the top 100: 3 / 4 = 0.75
    assert recall_at(RANKING, JUDGED, 100) == approx(0.75)
    # top 4: b and a -> 2 / 4 = 0.5
    assert recall_at(RANKING, JUDGED, 4) == approx(0.5)
    # no relevant document in the judgments: 0
    assert recall_at(RANKING, {"d": 0, "e": -1}, 100) == 0.0


def test_average_precision() -> None:
    # relevant at ranks 2, 4, 6: precisions 1/2, 2/4, 3/6 -> sum 1.5
    # divided by all 4 relevant (f never retrieved): 1.5 / 4 = 0.375
    assert average_precision(RANKING, JUDGED) == approx(0.375)
    # depth 4 keeps d, b, x, a: (1/2 + 2/4) / 4 = 0.25
    assert average_precision(RANKING, JUDGED, depth=4) == approx(0.25)
    # perfect ranking of 2 relevant: (1/1 + 2/2) / 2 = 1
    assert average_precision(["p", "q", "n"], {"p": 1, "q": 5, "n": 0}) == approx(1.0)
    assert average_precision(RANKING, {"d": 0}) == 0.0
    assert average_precision([], JUDGED) == 0.0


def test_ndcg_at_10_linear_gains() -> None:
    # DCG@10: b 2/log2(3) + a 3/log2(5) + c 1/log2(7)
    #       = 1.2618595071 + 1.2920296742 + 0.3562071871 = 2.9100963685
    # (d grade 0, x unjudged, e grade -1 give nothing)
    # ideal: grades > 0 descending 3, 2, 2, 1:
    #       3/log2(2) + 2/log2(3) + 2/log2(4) + 1/log2(5)
    #     = 3 + 1.2618595071 + 1 + 0.4306765581 = 5.6925360652
    # nDCG@10 = 2.9100963685 / 5.6925360652 = 0.5112126362
    dcg = 2 / math.log2(3) + 3 / math.log2(5) + 1 / math.log2(7)
    ideal = 3 + 2 / math.log2(3) + 2 / 2 + 1 / math.log2(5)
    assert ndcg_at(RANKING, JUDGED, 10) == approx(dcg / ideal)
    assert ndcg_at(RANKING, JUDGED, 10) == approx(0.5112126361838933)


def test_ndcg_cutoff_applies_to_ranking_and_ideal() -> None:
    # 12 documents of grade 1; ideal is cut at 10: sum_{r=1..10} 1/log2(r+1)
    #   = 1 + 0.6309297536 + 0.5 + 0.4306765581 + 0.3868528072
    #     + 0.3562071871 + 0.3333333333 + 0.3154648768 + 0.3010299957
    #     + 0.2890648263 = 4.5435593381
    judged = {f"r{i:02d}": 1 for i in range(12)}
    # all 12 at the top: DCG@10 = ideal -> 1.0
    assert ndcg_at(sorted(judged), judged, 10) == approx(1.0)
    # 5 relevant at ranks 1..5, then 5 non-relevant, relevant again at 11, 12:
    # DCG@10 = 1 + 0.6309297536 + 0.5 + 0.4306765581 + 0.3868528072
    #        = 2.9484591189 -> 2.9484591189 / 4.5435593381 = 0.6489315753
    ranking = [f"r{i:02d}" for i in range(5)] + [f"n{i}" for i in range(5)]
    ranking += ["r05", "r06"]
    assert ndcg_at(ranking, judged, 10) == approx(0.6489315753318465)
    # the only relevant document at rank 11 is beyond the cutoff: 0
    assert ndcg_at([f"n{i}" for i in range(10)] + ["a"], {"a": 2}, 10) == 0.0


def test_ndcg_grade_order_matters() -> None:
    # grades 1 then 2: DCG = 1 + 2/log2(3) = 2.2618595071
    # ideal 2 then 1:       2 + 1/log2(3) = 2.6309297536 -> 0.8597186998
    value = ndcg_at(["lo", "hi"], {"hi": 2, "lo": 1})
    assert value == approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert value == approx(0.8597186998521227)
    # no relevant judgment at all: 0, not a division by zero
    assert ndcg_at(["a"], {"a": 0, "b": -2}) == 0.0


def test_measures_refuse_bad_cutoffs_and_duplicates() -> None:
    with pytest.raises(ValueError):
        ndcg_at(RANKING, JUDGED, 0)
    with pytest.raises(ValueError):
        precision_at(RANKING, JUDGED, -1)
    with pytest.raises(ValueError):
        average_precision(RANKING, JUDGED, depth=0)
    with pytest.raises(ValueError):
        recall_at(["a", "a"], JUDGED, 100)


# ---------------------------------------------------------------------------
# evaluate()

QRELS = {
    "q1": {"a": 1, "b": 0, "c": 2},  # 2 relevant (a, c)
    "q2": {"x": 0},  # no relevant: skipped
    "q3": {"m": 1},  # 1 relevant, missing from the run: zeros
}
RUN = {
    "q1": [("a", 0.5), ("b", 0.9), ("c", 0.5), ("z", 0.1)],
    "q2": [("x", 1.0)],
    "q4": [("k", 1.0)],  # not in the qrels: skipped
}
# q1 in trec_eval order: b 0.9, then the 0.5 tie by docid descending c, a; z 0.1
#   ranks: 1 b (0), 2 c (2), 3 a (1), 4 z (unjudged)
# q1 P@10 = 2/10 = 0.2; recall@100 = 2/2 = 1
# q1 AP = (1/2 + 2/3) / 2 = 7/12 = 0.5833333333
# q1 DCG@10 = 2/log2(3) + 1/log2(4) = 1.2618595071 + 0.5 = 1.7618595071
#    ideal  = 2/log2(2) + 1/log2(3) = 2 + 0.6309297536 = 2.6309297536
#    nDCG@10 = 0.6696718165
Q1_NDCG = (2 / math.log2(3) + 0.5) / (2 + 1 / math.log2(3))


def test_evaluate_per_query_and_averages() -> None:
    result = evaluate(RUN, QRELS)
    assert isinstance(result, Evaluation)
    assert result.evaluated == 2
    assert result.skipped == ("q2", "q4")
    q1, q3 = result.queries
    assert q1.qid == "q1" and q3.qid == "q3"
    assert q1.ndcg_10 == approx(Q1_NDCG)
    assert q1.ndcg_10 == approx(0.66967181649423)
    assert q1.map == approx(7 / 12)
    assert q1.p_10 == approx(0.2)
    assert q1.recall_100 == approx(1.0)
    assert (q1.relevant, q1.retrieved) == (2, 4)
    assert q3 == QueryScores("q3", 0.0, 0.0, 0.0, 0.0, relevant=1, retrieved=0)
    # averages over q1 and q3 (q3 all zeros):
    # nDCG 0.6696718165 / 2 = 0.3348359082; MAP (7/12) / 2 = 7/24 = 0.2916666667
    # P@10 0.2 / 2 = 0.1; recall 1 / 2 = 0.5
    assert result.ndcg_10 == approx(Q1_NDCG / 2)
    assert result.ndcg_10 == approx(0.334835908247115)
    assert result.map == approx(7 / 24)
    assert result.p_10 == approx(0.1)
    assert result.recall_100 == approx(0.5)


def test_evaluate_depth_cuts_the_run() -> None:
    # depth 2 keeps b, c: P@10 = 1/10; recall = 1/2; AP = (1/2) / 2 = 0.25
    # DCG = 2/log2(3) = 1.2618595071 -> nDCG = 1.2618595071 / 2.6309297536
    #     = 0.4796249331
    result = evaluate(RUN, QRELS, depth=2)
    q1 = result.queries[0]
    assert q1.retrieved == 2
    assert q1.p_10 == approx(0.1)
    assert q1.recall_100 == approx(0.5)
    assert q1.map == approx(0.25)
    assert q1.ndcg_10 == approx(0.4796249331362629)
    assert result.map == approx(0.125)


def test_evaluate_depth_1000_default_truncates_long_runs() -> None:
    # 1001 documents, the only relevant one ("rel") is last (score 0):
    # it falls at rank 1001, past the default depth of 1000 -> all zeros
    docs = [(f"n{i:04d}", 1.0 + i) for i in range(1000)] + [("rel", 0.0)]
    result = evaluate({"q": docs}, {"q": {"rel": 1}})
    assert result.queries[0].retrieved == 1000
    assert result.map == 0.0
    # with depth 1001 it counts: AP = (1/1001) / 1 = 0.000999000999
    assert evaluate({"q": docs}, {"q": {"rel": 1}}, depth=1001).map == approx(1 / 1001)


def test_evaluate_nothing_to_evaluate() -> None:
    result = evaluate({"q": [("a", 1.0)]}, {"q": {"a": 0}})
    assert result.evaluated == 0
    assert result.queries == ()
    assert result.skipped == ("q",)
    assert (result.ndcg_10, result.map, result.p_10, result.recall_100) == (0.0, 0.0, 0.0, 0.0)


def test_evaluate_refuses_duplicate_documents() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        evaluate({"q1": [("a", 1.0), ("a", 2.0)]}, QRELS)


def test_to_dict_shapes() -> None:
    result = evaluate(RUN, QRELS)
    data = result.to_dict()
    assert set(data) == {"measures", "queries_evaluated", "per_query"}
    assert data["queries_evaluated"] == 2
    assert data["measures"] == {
        "ndcg@10": result.ndcg_10,
        "map": result.map,
        "p@10": result.p_10,
        "recall@100": result.recall_100,
    }
    assert data["per_query"][1] == {
        "qid": "q3",
        "ndcg@10": 0.0,
        "map": 0.0,
        "p@10": 0.0,
        "recall@100": 0.0,
        "relevant": 1,
        "retrieved": 0,
    }
    assert data["per_query"][0]["map"] == approx(7 / 12)


def test_dataclasses_are_frozen() -> None:
    result = evaluate(RUN, QRELS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.map = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.queries[0].p_10 = 1.0  # type: ignore[misc]


# ---------------------------------------------------------------------------
# Files


def test_read_queries(tmp_path) -> None:
    path = tmp_path / "queries.tsv"
    path.write_bytes(b"q1\tchild labour\r\n\n  \nq2\tforced\tmarriage \n")
    assert read_queries(path) == {"q1": "child labour", "q2": "forced\tmarriage"}


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("q1\tok\nq2 no tab\n", 2, "no tab"),
        ("q1\tok\n\n\tno id\n", 3, "empty query id"),
        ("q1\t   \n", 1, "empty text"),
        ("q1\ta\nq1\tb\n", 2, "duplicate"),
    ],
)
def test_read_queries_errors(tmp_path, content: str, line: int, what: str) -> None:
    path = tmp_path / "queries.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=what) as excinfo:
        read_queries(path)
    assert str(excinfo.value).startswith(f"{path}:{line}: ")


def test_read_queries_invalid_utf8_names_the_line(tmp_path) -> None:
    path = tmp_path / "queries.tsv"
    path.write_bytes(b"q1\tok\nq2\t\xff\xfe\n")
    with pytest.raises(ValueError) as excinfo:
        read_queries(path)
    assert str(excinfo.value).startswith(f"{path}:2: not valid UTF-8")


def test_read_qrels(tmp_path) -> None:
    path = tmp_path / "qrels.txt"
    path.write_text("q1 0 a 2\nq1 0 b 0\n\nq2\t1\tc\t-1\nq1 Q0 d 1\n", encoding="utf-8")
    assert read_qrels(path) == {"q1": {"a": 2, "b": 0, "d": 1}, "q2": {"c": -1}}


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("q1 0 a 1\nq1 0 b\n", 2, "expected 4 fields"),
        ("q1 0 a 1 extra\n", 1, "expected 4 fields"),
        ("q1 0 a 1\n\nq1 0 b 1.0\n", 3, "not an integer"),
        ("q1 0 a one\n", 1, "not an integer"),
        ("q1 0 a 1\nq1 0 a 2\n", 2, "duplicate judgment"),
    ],
)
def test_read_qrels_errors(tmp_path, content: str, line: int, what: str) -> None:
    path = tmp_path / "qrels.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=what) as excinfo:
        read_qrels(path)
    assert str(excinfo.value).startswith(f"{path}:{line}: ")


def test_read_run_keeps_scores_and_ignores_ranks(tmp_path) -> None:
    path = tmp_path / "run.txt"
    # ranks in the file disagree with the scores: scores decide
    path.write_text(
        "q1 Q0 a 1 0.5 tag\nq1 Q0 b 2 0.9 tag\n\nq2 Q0 c 1 -3e-2 tag\nq1 Q0 c 3 0.5 tag\n",
        encoding="utf-8",
    )
    run = read_run(path)
    assert run == {"q1": [("a", 0.5), ("b", 0.9), ("c", 0.5)], "q2": [("c", -0.03)]}
    assert ranked(run["q1"]) == ["b", "c", "a"]


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("q1 Q0 a 1 0.5 tag\nq1 Q0 b 2 0.4\n", 2, "expected 6 fields"),
        ("q1 Q0 a one 0.5 tag\n", 1, "rank 'one' is not an integer"),
        ("q1 Q0 a 1 high tag\n", 1, "score 'high' is not a number"),
        ("q1 Q0 a 1 nan tag\n", 1, "NaN"),
        ("q1 Q0 a 1 0.5 t\nq2 Q0 a 1 0.5 t\nq1 Q0 a 2 0.4 t\n", 3, "duplicate document"),
    ],
)
def test_read_run_errors(tmp_path, content: str, line: int, what: str) -> None:
    path = tmp_path / "run.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=what) as excinfo:
        read_run(path)
    assert str(excinfo.value).startswith(f"{path}:{line}: ")


def test_write_run_exact_text() -> None:
    run = {"q2": [("a", 1.0), ("b", 1.0), ("c", 3)], "q1": [("x", 0.5)], "q3": []}
    out = io.StringIO()
    write_run(run, out, tag="mine")
    # q1 before q2; in q2: c 3 first, then the 1.0 tie b, a; q3 writes nothing
    assert out.getvalue() == (
        "q1 Q0 x 1 0.5 mine\n"
        "q2 Q0 c 1 3.0 mine\n"
        "q2 Q0 b 2 1.0 mine\n"
        "q2 Q0 a 3 1.0 mine\n"
    )


def test_write_run_round_trip_keeps_close_scores_apart(tmp_path) -> None:
    # 0.1 + 0.2 = 0.30000000000000004 and 0.3 print the same with "%.6f"
    # (and with "%.10g"); written with repr they stay distinct, so the
    # order read back is "hi" (0.30000000000000004) above "lo" (0.3).
    close = 0.1 + 0.2
    run = {
        "q1": [("lo", 0.3), ("hi", close), ("t1", 1e-12), ("t2", 1e-12), ("big", 1e300)],
        "q2": [(f"d{i}", float(i % 3)) for i in range(10)],
    }
    path = tmp_path / "run.txt"
    write_run(run, path, depth=1000)
    back = read_run(path)
    assert {qid: dict(docs) for qid, docs in back.items()} == {
        qid: dict(docs) for qid, docs in run.items()
    }
    for qid in run:
        assert [doc for doc, _ in back[qid]] == ranked(run[qid])
    assert ranked(back["q1"]) == ["big", "hi", "lo", "t2", "t1"]
    assert evaluate(back, {"q1": {"hi": 1}}).to_dict() == evaluate(run, {"q1": {"hi": 1}}).to_dict()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "q1 Q0 big 1 1e+300 thb-search"
    assert [line.split()[3] for line in lines[:5]] == ["1", "2", "3", "4", "5"]


def test_write_run_depth(tmp_path) -> None:
    run = {"q": [(f"d{i}", float(i)) for i in range(5)]}
    out = io.StringIO()
    write_run(run, out, depth=2)
    assert out.getvalue() == "q Q0 d4 1 4.0 thb-search\nq Q0 d3 2 3.0 thb-search\n"


@pytest.mark.parametrize(
    ("run", "kwargs"),
    [
        ({"q": [("a b", 1.0)]}, {}),
        ({"q 1": [("a", 1.0)]}, {}),
        ({"q": [("a", 1.0)]}, {"tag": "my tag"}),
        ({"q": [("a", 1.0)]}, {"depth": 0}),
        ({"q": [("a", 1.0), ("a", 2.0)]}, {}),
    ],
)
def test_write_run_refuses_unwritable_runs(run, kwargs) -> None:
    out = io.StringIO()
    with pytest.raises(ValueError):
        write_run(run, out, **kwargs)
    assert out.getvalue() == ""


def test_module_never_prints(tmp_path, capsys) -> None:
    path = tmp_path / "run.txt"
    write_run(RUN, path)
    evaluate(read_run(path), QRELS).to_dict()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
