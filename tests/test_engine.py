"""The numpy engine matches and scores exactly as Whoosh's own searcher does.

A few hundred generated records are indexed, then a tenth of them changed and
a tenth removed (so the index has deleted documents and several segments).
Whoosh's searcher runs the same term, phrase and boolean queries with its own
matchers; given the BM25 of :mod:`thb_search.ranking` as its weighting model,
its matches and scores must be the engine's.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh import matching, scoring
from whoosh import query as wq

from thb_search import Catalogue, sync
from thb_search.engine import Engine
from thb_search.plan import And, Not, Or, Phrase, Terms
from thb_search.ranking import bm25, idf
from thb_search.schema import RANK_FIELD, TITLE_BOOST

WORDS = ("border police victim shelter labour market supply chain audit court judge "
         "witness child online platform debt bondage domestic worker migrant route "
         "referral hotline survivor network training budget report council mission").split()


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS[: rng.randint(8, len(WORDS))])
                    for _ in range(rng.randint(low, high)))


def _records(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [{"id": f"r{i:04d}", "title": _text(rng, 2, 7), "summary": _text(rng, 5, 40),
             "date": f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"}
            for i in range(count)]


def _write(path: Path, records: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = tmp_path_factory.mktemp("engine")
    corpus = folder / "corpus.jsonl"
    records = _records(400, seed=7)
    _write(corpus, records)
    sync(folder / "index", [corpus])
    changed = _records(40, seed=8)
    for i, r in enumerate(changed):
        r["id"] = records[i * 3]["id"]
        records[i * 3] = r
    del records[200:240]
    _write(corpus, records)
    report = sync(folder / "index", [corpus])
    assert (report.updated, report.removed) == (40, 40)
    with Catalogue(folder / "index") as cat:
        snapshot = cat._latest()
        ix = whoosh_index.open_dir(str(snapshot.gen))
        with ix.searcher() as searcher:
            assert searcher.doc_count() == 360 < searcher.doc_count_all()
            yield snapshot.engine, searcher


class SameBM25(scoring.WeightingModel):
    """thb-search's BM25, computed by Whoosh's scorer from Whoosh's own
    statistics of the live documents."""

    def __init__(self, searcher) -> None:  # noqa: ANN001
        reader = searcher.reader()
        live = [d for d in range(reader.doc_count_all()) if not reader.is_deleted(d)]
        self.n = len(live)
        self.avg = sum(searcher.doc_field_length(d, RANK_FIELD) for d in live) / self.n
        # Document frequencies over the whole index (a scorer is made per segment).
        self.df = {text.decode(): sum(not reader.is_deleted(d)
                                      for d in reader.postings(RANK_FIELD, text).all_ids())
                   for text in reader.lexicon(RANK_FIELD)}

    def scorer(self, searcher, fieldname, text, qf=1):  # noqa: ANN001, ANN201
        text = text.decode() if isinstance(text, bytes) else text
        return _Scorer(searcher, idf(self.df.get(text, 0), self.n), self.avg)


class _Scorer(scoring.BaseScorer):
    def __init__(self, searcher, term_idf: float, avg: float) -> None:  # noqa: ANN001
        self.searcher, self.idf, self.avg = searcher, term_idf, avg

    def score(self, matcher) -> float:  # noqa: ANN001
        length = self.searcher.doc_field_length(matcher.id(), RANK_FIELD)
        return float(bm25(np.float32(matcher.weight()), np.float32(length), self.avg,
                          self.idf))


class _ZeroNot(wq.Not):
    """Whoosh's NOT, scoring 0 instead of 1 (as thb-search's NOT scores nothing)."""

    def matcher(self, searcher, context=None):  # noqa: ANN001, ANN201
        reader = searcher.reader()
        child = self.query.matcher(searcher, searcher.boolean_context())
        return matching.InverseMatcher(child, reader.doc_count_all(),
                                       missing=reader.is_deleted, weight=0.0)


def nothing(q: wq.Query) -> wq.Query:
    """Documents without ``q``, scoring nothing."""
    return _ZeroNot(q)


def whoosh_scores(searcher, q: wq.Query) -> dict[int, float]:  # noqa: ANN001
    hits = searcher.search(q, limit=None, scored=True)
    return {hit.docnum: hit.score for hit in hits}


def ours(engine, node) -> dict[int, float]:  # noqa: ANN001
    mask, scores = engine.run(node)
    return {int(d): float(scores[d]) for d in np.flatnonzero(mask)}


def assert_same(expected: dict[int, float], got: dict[int, float]) -> None:
    assert sorted(got) == sorted(expected)
    for doc, score in expected.items():
        assert math.isclose(got[doc], score, rel_tol=1e-6, abs_tol=1e-9), doc


def test_every_term_matches_and_scores_as_whoosh(indexed) -> None:  # noqa: ANN001
    engine, searcher = indexed
    searcher.weighting = SameBM25(searcher)
    for word in WORDS + ["nowhere"]:
        (term,) = _terms(word)
        assert_same(whoosh_scores(searcher, wq.Term(RANK_FIELD, term)),
                    ours(engine, Terms((term,))))


@pytest.mark.parametrize(("make_whoosh", "make_ours"), [
    (lambda a, b, c: wq.And([a, b]), lambda a, b, c: And((a, b))),
    (lambda a, b, c: wq.Or([a, b, c]), lambda a, b, c: Or((a, b, c))),
    # wq.And with wq.Not, not wq.AndNot: Whoosh 3.54's AndNotMatcher returns
    # documents holding the excluded term once segments have deletions.
    # Whoosh's NOT scores 1 where thb-search's scores nothing: see nothing().
    (lambda a, b, c: wq.And([a, nothing(b)]), lambda a, b, c: And((a, Not(b)))),
    (lambda a, b, c: wq.Or([wq.And([a, b]), c]), lambda a, b, c: Or((And((a, b)), c))),
    (lambda a, b, c: wq.And([a, wq.Or([b, c])]), lambda a, b, c: And((a, Or((b, c))))),
    (lambda a, b, c: wq.And([wq.Or([a, b]), nothing(c)]),
     lambda a, b, c: And((Or((a, b)), Not(c)))),
    (lambda a, b, c: wq.Or([wq.And([a, nothing(b)]), c]),
     lambda a, b, c: Or((And((a, Not(b))), c))),
])
def test_boolean_queries_match_and_score_as_whoosh(indexed, make_whoosh, make_ours) -> None:  # noqa: ANN001
    engine, searcher = indexed
    searcher.weighting = SameBM25(searcher)
    rng = random.Random(3)
    for _ in range(25):
        words = [_terms(x)[0] for x in rng.sample(WORDS, 3)]
        expected = whoosh_scores(searcher, make_whoosh(*(wq.Term(RANK_FIELD, t)
                                                         for t in words)))
        assert_same(expected, ours(engine, make_ours(*(Terms((t,)) for t in words))))


def test_phrases_match_as_whoosh_and_score_their_occurrences(indexed) -> None:  # noqa: ANN001
    engine, searcher = indexed
    weighting = SameBM25(searcher)
    rng = random.Random(5)
    mark = {d: p[0] for d, p in searcher.postings(RANK_FIELD, "_summary_").items_as("positions")}
    tested = 0
    for _ in range(60):
        words = [_terms(x)[0] for x in rng.sample(WORDS[:12], rng.choice([2, 2, 3]))]
        q = wq.Phrase(RANK_FIELD, words)
        matcher = q.matcher(searcher)
        # A phrase scores as one term whose frequency counts its occurrences,
        # those in the title weighted like title words.
        tf = {}
        while matcher.is_active():
            doc = matcher.id()
            tf[doc] = sum(TITLE_BOOST if span.start < mark[doc] else 1.0
                          for span in matcher.spans())
            matcher.next()
        tf = {d: f for d, f in tf.items() if not searcher.reader().is_deleted(d)}
        term_idf = idf(len(tf), weighting.n)
        expected = {d: float(bm25(np.float32(f), np.float32(searcher.doc_field_length(
            d, RANK_FIELD)), weighting.avg, term_idf)) for d, f in tf.items()}
        assert_same(expected, ours(engine, Phrase(tuple(words))))
        tested += bool(expected)
    assert tested >= 20  # most phrases occur


def test_scoped_words_match_only_in_their_field(indexed) -> None:  # noqa: ANN001
    engine, searcher = indexed
    mark = {d: p[0] for d, p in searcher.postings(RANK_FIELD, "_summary_").items_as("positions")}
    for word in WORDS:
        (term,) = _terms(word)
        where: dict[str, set[int]] = {"title": set(), "summary": set()}
        for doc, positions in searcher.postings(RANK_FIELD, term).items_as("positions"):
            if searcher.reader().is_deleted(doc):
                continue
            for pos in positions:
                where["title" if pos < mark[doc] else "summary"].add(doc)
        for scope in ("title", "summary"):
            got = set(np.flatnonzero(engine.mask(Terms((term,), scope))).tolist())
            assert got == where[scope], (word, scope)
            assert got == set(np.flatnonzero(engine.mask(Terms((term,)), scope)).tolist())


def _terms(word: str) -> list[str]:
    from thb_search.analysis import analyze

    return analyze(word)


def _added_up(engine, node) -> tuple[np.ndarray, np.ndarray | None]:  # noqa: ANN001
    """The general path: every part's scores over all documents, added in the
    items' order (None: scores nothing), as the engine adds them."""
    if isinstance(node, (Terms, Phrase)):
        return engine.run(node)
    if isinstance(node, Not):
        return engine.mask(node), None
    mask = engine.live.copy() if isinstance(node, And) else np.zeros(engine.size, dtype=bool)
    total = None
    for item in node.items:
        m, s = _added_up(engine, item)
        if isinstance(node, And):
            mask &= m
        else:
            mask |= m
        total = s.copy() if total is None and s is not None else (
            total if s is None else total + s)
    for item in node.bonus if isinstance(node, And) else ():
        s = _added_up(engine, item)[1]
        total = s.copy() if total is None else total + s
    if isinstance(node, And) and total is not None:
        total = total * mask
    return mask, total


def test_few_documents_scores_add_up_as_every_documents_would(indexed) -> None:  # noqa: ANN001
    """A word or phrase scores its own documents only; the sums its parents
    make are the same, to the last bit, as adding scores over every document."""
    engine, _ = indexed
    rng = random.Random(11)
    terms = [_terms(w)[0] for w in WORDS]

    def leaf():  # noqa: ANN202
        kind = rng.random()
        scope = rng.choice([None, None, "title", "summary"])
        if kind < 0.5:
            return Terms((rng.choice(terms),), scope, boost=rng.choice([1.0, 0.1]))
        if kind < 0.7:
            return Terms(tuple(rng.sample(terms, 2)), scope)
        if kind < 0.9:
            return Phrase(tuple(rng.sample(terms[:12], 2)), scope, boost=rng.choice([1.0, 0.1]))
        return Not(Terms((rng.choice(terms),)))

    def tree(depth: int):  # noqa: ANN202
        if depth == 0 or rng.random() < 0.3:
            return leaf()
        items = tuple(tree(depth - 1) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.5:
            return Or(items)
        bonus = tuple(Phrase(tuple(rng.sample(terms[:12], 2)), boost=0.1)
                      for _ in range(rng.randint(0, 2)))
        return And(items, bonus)

    memo: dict = {}  # one search's words and phrases, walked again by later plans
    for i in range(300):
        node = tree(3)
        mask, scores = engine.run(node)
        expected_mask, expected = _added_up(engine, node)
        assert np.array_equal(mask, expected_mask)
        if expected is None:
            expected = np.zeros(engine.size)
        assert scores.dtype == expected.dtype == np.float64
        assert np.array_equal(scores, expected), node
        if i % 3 == 0:  # what another search walked is walked again from the memo
            assert np.array_equal(engine.mask(node, memo=memo), mask)
        remembered_mask, remembered = engine.run(node, memo=memo)
        assert np.array_equal(remembered_mask, mask)
        assert np.array_equal(remembered, scores)
        assert np.array_equal(engine.mask(node, memo=memo), mask)
        if i % 10 == 0:  # scores kept by the engine are those a new engine computes
            fresh = Engine(engine._read, engine.layout.segments, engine.arrays)
            fresh_mask, fresh_scores = fresh.run(node)
            assert np.array_equal(fresh_mask, mask)
            assert np.array_equal(fresh_scores, scores)
    assert len(memo) > 50
    assert len(engine._scores) > 50


def test_unique_of_ascending_values_is_numpys() -> None:
    from thb_search.engine import _unique_sorted

    rng = np.random.default_rng(3)
    for values in (np.zeros(0, dtype=np.int64), np.array([5], dtype=np.int64),
                   np.sort(rng.integers(0, 50, 200)), rng.integers(0, 50, 200)):
        unique, inverse = _unique_sorted(values)
        expected_unique, expected_inverse = np.unique(values, return_inverse=True)
        assert unique.tolist() == expected_unique.tolist()
        assert inverse.tolist() == expected_inverse.reshape(-1).tolist()


def test_union_of_ascending_documents_is_numpys() -> None:
    from thb_search.engine import _union_sorted

    rng = np.random.default_rng(4)
    empty = np.zeros(0, dtype=np.int32)

    def docs(n: int, dtype: type) -> np.ndarray:
        return np.unique(rng.integers(0, 60, n)).astype(dtype)

    for a, b in ((empty, empty), (empty, docs(5, np.int64)), (docs(5, np.int32), empty),
                 (docs(40, np.int32), docs(40, np.int64)), (docs(1, np.int32), docs(1, np.int32)),
                 (np.arange(10, dtype=np.int32), np.arange(10, dtype=np.int32))):
        got, expected = _union_sorted(a, b), np.union1d(a, b)
        assert (got.tolist(), got.dtype) == (expected.tolist(), expected.dtype)


def test_sorted_intersection_keeps_the_first_arrays_values() -> None:
    from thb_search.engine import _intersect_sorted

    rng = np.random.default_rng(9)
    for _ in range(300):
        a = np.sort(rng.integers(0, 400, int(rng.integers(0, 600))))
        b = np.sort(rng.integers(0, 400, int(rng.integers(0, 600))))
        if rng.random() < 0.5:
            a, b = np.unique(a), np.unique(b)
        for x, y in ((a, b), (b, a), (a, b[: len(b) // 9]), (a[: len(a) // 9], b)):
            got = _intersect_sorted(x, y)
            assert got.dtype == np.int64
            assert got.tolist() == x[np.isin(x, y)].tolist()
