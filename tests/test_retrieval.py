"""The same catalogue lists the same publications in the same order, whatever
its indexing history: an index built and then added to equals one rebuilt
from the same files, for every query, in every sort, page by page."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from thb_search import Catalogue, add_files, sync

# A small vocabulary and short texts: many publications tie on score.
WORDS = ("labour trafficking victims police training shelter border court child online "
         "debt bondage audit migrant referral").split()
TYPES = ("Report", "Factsheet", "Guide")


def records(start: int, count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(start, start + count):
        out.append({
            "id": f"pub-{i:05d}",
            "title": " ".join(rng.choices(WORDS, k=rng.randint(1, 3))),
            "summary": " ".join(rng.choices(WORDS, k=rng.randint(0, 4))),
            # Few distinct dates: ties on date too.
            "date": f"20{rng.randint(20, 22)}-0{rng.randint(1, 2)}-01",
            "type": rng.choice(TYPES),
        })
    return out


def write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


QUERIES = [*WORDS, "labour trafficking", "police training", '"debt bondage"',
           "victims OR shelter", "child -online", "traffick*", "title:court", "polic~",
           "border audit migrant", ""]


def listings(index: Path) -> dict[tuple[str, str, str], list[str]]:
    """Every query's ids in every sort, read page by page (pages of 100)."""
    out = {}
    with Catalogue(index) as cat:
        for query in QUERIES:
            for sort in ("relevance", "date", "title"):
                for match in ("all", "any"):
                    ids: list[str] = []
                    page = 1
                    while True:
                        result = cat.search(query, sort=sort, match=match, limit=100,
                                            page=page, facets=False)
                        ids += [h.id for h in result.hits]
                        if page * 100 >= result.total:
                            break
                        page += 1
                    assert len(ids) == len(set(ids)) == result.total  # no repeats, none lost
                    out[(query, sort, match)] = ids
    return out


def indexed(tmp_path: Path, rows: list[dict[str, object]]) -> tuple[Path, Path]:
    """(corpus, index): ``rows`` as ``corpus/base.jsonl``, indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write(corpus / "base.jsonl", rows)
    index = tmp_path / "index"
    sync(index, [corpus])
    return corpus, index


def built_then_added(tmp_path: Path, base: int, added: int) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write(corpus / "base.jsonl", records(0, base, seed=1))
    incremental = tmp_path / "incremental"
    sync(incremental, [corpus])
    new = records(base, added, seed=2)
    # A few of the added records replace existing ones (same id, new content).
    for k, row in enumerate(new[:added // 20]):
        row["id"] = f"pub-{k * 7:05d}"
    write(tmp_path / "more.jsonl", new)
    report = add_files(corpus, incremental, [tmp_path / "more.jsonl"])
    assert report.index.added == added - added // 20 and not report.index.rebuilt
    rebuilt = tmp_path / "rebuilt"
    sync(rebuilt, [corpus], rebuild=True)
    return incremental, rebuilt


def test_incremental_and_rebuilt_indexes_list_the_same_order(tmp_path: Path) -> None:
    incremental, rebuilt = built_then_added(tmp_path, 1500, 60)
    a, b = listings(incremental), listings(rebuilt)
    assert a == b
    assert len(a[("", "date", "all")]) == 1500 + 60 - 3
    # Ties really are broken by date, then id: the listing of a word that
    # many short titles share.
    with Catalogue(rebuilt) as cat:
        hits = cat.search("labour", limit=200, facets=False).hits
    keys = [(-h.score, -int(h.date.replace("-", "")), h.id) for h in hits]
    assert keys == sorted(keys) and len(set(h.score for h in hits)) < len(hits) / 2


@pytest.mark.slow
def test_incremental_and_rebuilt_indexes_list_the_same_order_at_20000(tmp_path: Path) -> None:
    incremental, rebuilt = built_then_added(tmp_path, 20_000, 200)
    assert listings(incremental) == listings(rebuilt)


def test_a_snapshot_keeps_its_plans_and_a_commit_builds_them_afresh(tmp_path: Path) -> None:
    """A plan kept is the plan built; after a commit (a new snapshot), a
    wildcard expands to the terms the commit added."""
    from thb_search import retrieval

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write(corpus / "base.jsonl", records(0, 200, seed=1))
    index = tmp_path / "index"
    sync(index, [corpus])
    with Catalogue(index) as cat:
        snap = cat._latest()
        for query in [*QUERIES, "type:report labour", "year:2021 police", "zzword*"]:
            for match in ("all", "any"):
                plan = retrieval.build_plan(snap, query, match)
                assert retrieval.build_plan(snap, query, match) is plan  # kept
                assert plan == retrieval.new_plan(snap, query, match)
        assert retrieval.build_plan(snap, "zzword*", "all").highlight == frozenset()
        write(tmp_path / "more.jsonl", [{"id": "pub-new", "title": "zzwordier labour",
                                         "summary": "", "date": "2023-01-01"}])
        add_files(corpus, index, [tmp_path / "more.jsonl"])
        fresh = cat._latest()
        assert fresh is not snap
        assert retrieval.build_plan(fresh, "zzword*", "all").highlight == {"zzwordier"}
        # A plan that asked nothing of the index is the one the commit's
        # snapshot starts with; one that resolved a facet value is built again.
        for query in QUERIES:
            if not set(query) & {"*", "~"}:
                assert retrieval.build_plan(fresh, query, "all") is retrieval.build_plan(
                    snap, query, "all")
        for query in ("type:report labour", "year:2021 police", "traffick*", "polic~"):
            plan = retrieval.build_plan(fresh, query, "all")
            assert plan is not retrieval.build_plan(snap, query, "all")
            assert plan == retrieval.new_plan(fresh, query, "all")
        assert [h.id for h in cat.search("zzword*").hits] == ["pub-new"]


def test_a_snapshot_keeps_the_publications_it_read(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A publication kept is the one stored; the oldest go past the bound; a
    commit's snapshot reads its own (an updated record shows its new title)."""
    from thb_search import snapshot

    monkeypatch.setattr(snapshot, "PUBLICATIONS", 5)
    rows = records(0, 30, seed=3)
    corpus, index = indexed(tmp_path, rows)
    with Catalogue(index) as cat:
        snap = cat._latest()
        first = snap.publication(0)
        assert first == snap.read_publication(0)
        assert snap.publication(0) is first
        for d in range(1, 10):
            assert snap.publication(d) == snap.read_publication(d)
        assert snap.publication(0) is not first  # read again
        for _ in range(2):  # read, then kept (5 of them)
            hits = cat.search("", sort="date", limit=30).hits
            assert len(hits) == 30
            assert all(h.publication == snap.read_publication(snap.docnum(h.id)) for h in hits)
        kept = {d: snap.publication(d) for d in range(25, 30)}
        write(corpus / "base.jsonl", [{**rows[0], "title": "zzrenamed"}, *rows[1:]])
        sync(index, [corpus])
        assert [h.title for h in cat.search("zzrenamed").hits] == ["zzrenamed"]
        assert cat.get(rows[0]["id"]).title == "zzrenamed"
        # The commit left the first segment in place (it added one, with the
        # new copy): what the last snapshot kept of it is this one's.
        fresh = cat._latest()
        assert fresh.unchanged_docs == 30
        assert all(fresh.publication(d) is pub for d, pub in kept.items())
        assert fresh.publication(30) == fresh.read_publication(30)
        assert fresh.publication(30).title == "zzrenamed"


def test_a_snapshot_keeps_its_hits_snippets(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A query asked again, or drilled down by a facet, shows the snippets it
    showed without working them out again; other words get their own; a
    commit's snapshot keeps those of the documents it left as they were
    and works out the others (an updated record's new text is marked)."""
    from thb_search import retrieval

    made: list[int] = []
    original = retrieval._Search.snippet

    def counting(run, docnum, *args):  # noqa: ANN001, ANN202
        made.append(docnum)
        return original(run, docnum, *args)

    monkeypatch.setattr(retrieval._Search, "snippet", counting)
    rows = records(0, 30, seed=3)
    corpus, index = indexed(tmp_path, rows)
    labour = [r for r in rows if "labour" in f"{r['title']} {r['summary']}".split()]
    with Catalogue(index) as cat:
        first = cat.search("labour", limit=30)
        assert len(made) == len(first.hits) == first.total == len(labour) == 6
        shown = [h for h in first.hits if "labour" in (h.summary or h.title).split()]
        assert shown and all(("labour", True) in h.snippet_parts for h in shown)
        made.clear()
        assert cat.search("labour", limit=30).to_dict() == first.to_dict()
        assert made == []
        report = cat.search("labour", type=["Report"], limit=30)
        assert 0 < len(report.hits) < 6 and made == []
        assert [h.snippet_parts for h in report.hits] == [
            h.snippet_parts for h in first.hits if h.publication.type == "Report"]
        cat.search("police", limit=30)
        assert len(made) == cat.search("police", limit=30).total > 0
        made.clear()
        write(corpus / "base.jsonl", [
            {**r, "summary": f"{r['summary']} labour"} if r is labour[0] else r
            for r in rows])
        sync(index, [corpus])
        again = cat.search("labour", limit=30)
        assert cat._latest().unchanged_docs == 30
        assert made == [cat._latest().docnum(labour[0]["id"])]  # the new copy only
        assert [h.snippet_parts for h in again.hits if h.id != labour[0]["id"]] == [
            h.snippet_parts for h in first.hits if h.id != labour[0]["id"]]
        (updated,) = [h for h in again.hits if h.id == labour[0]["id"]]
        assert updated.snippet_parts[-1] == ("labour", True)


def test_the_most_covered_documents_rank_as_all_of_them() -> None:
    """Related results are ranked among the documents covering the most
    parts only: the same first ones as among all of them (ties on coverage,
    score and date included)."""
    import numpy as np

    from thb_search.facets import FacetIndex
    from thb_search.retrieval import most_covered

    rng = np.random.default_rng(4)
    size = 3_000
    fx = FacetIndex(np.ones(size, dtype=bool), rng.integers(20200101, 20200105, size).astype(
        np.int32), np.zeros(size, dtype=np.int64), rng.permutation(size).astype(np.int64),
        np.ones(size, dtype=np.int64), {})
    for _ in range(200):
        parts = int(rng.integers(1, 5))
        coverage = rng.integers(0, parts + 1, size).astype(np.int32)
        scores = rng.choice([0.5, 1.0, 1.25, 2.0, 3.5], size) * (coverage > 0)
        mask = rng.random(size) < rng.choice([0.001, 0.01, 0.3, 1.0])
        for k in (1, 5, 40):
            kept = most_covered(mask, coverage, k)
            assert not (kept & ~mask).any()
            assert fx.top(kept, scores, k, coverage) == fx.top(mask, scores, k, coverage)


def test_the_first_of_an_order_are_those_of_the_whole_order() -> None:
    """A browse reads its order from the start in growing steps: the same
    first documents as the mask's whole order, for any density and depth."""
    import numpy as np

    from thb_search.facets import FacetIndex

    rng = np.random.default_rng(5)
    size = 20_000
    fx = FacetIndex(rng.random(size) < 0.95, rng.integers(20100101, 20250101, size).astype(
        np.int32), rng.integers(0, 500, size).astype(np.int64) << 20,
        rng.permutation(size).astype(np.int64), np.ones(size, dtype=np.int64), {})
    for density in (0.0, 0.00005, 0.001, 0.05, 0.5, 1.0):
        mask = (rng.random(size) < density) & fx.live
        for by in ("date", "title"):
            for depth in (1, 10, 100, 5_000, 30_000):
                assert (fx.order(mask, by, depth).tolist()
                        == fx.order(mask, by)[:depth].tolist()), (density, by, depth)
