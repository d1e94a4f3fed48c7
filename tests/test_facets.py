"""Facet counts: every way of counting gives the counts of the pairs themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thb_search.facets import _Facet


def naive(docs: np.ndarray, ords: np.ndarray, mask: np.ndarray, m: int) -> np.ndarray:
    counts = np.zeros(m, dtype=np.int64)
    for d, o in zip(docs.tolist(), ords.tolist(), strict=True):
        if mask[d]:
            counts[o] += 1
    return counts


@pytest.mark.parametrize("seed", range(6))
def test_counts_equal_the_pairs_counted_one_by_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size, m = 3_000, 17
    # 0 to 3 values a document (no value: a publication with no type, say),
    # given in value order as a facet's postings are read.
    per_doc = [sorted(rng.choice(m, size=rng.integers(0, 4), replace=False).tolist())
               for _ in range(size)]
    pairs = sorted((o, d) for d, values in enumerate(per_doc) for o in values)
    ords = np.array([o for o, _ in pairs], dtype=np.int32)
    docs = np.array([d for _, d in pairs], dtype=np.int32)
    facet = _Facet([f"v{i}" for i in range(m)], docs, ords, size)
    assert bool(np.all(facet.docs[1:] >= facet.docs[:-1]))  # kept in document order
    facet.starts  # noqa: B018 - the runs' starts computed: few documents are counted from them
    for density in (0.0, 0.0005, 0.01, 0.031, 0.05, 0.2, 0.26, 0.5, 1.0):
        mask = rng.random(size) < density
        expected = naive(docs, ords, mask, m).tolist()
        assert facet.counts(mask).tolist() == expected, density
        # A facet just loaded finds a few documents' runs by bisection.
        assert _Facet(facet.values, docs, ords, size).counts(mask).tolist() == expected, density
    for values in (["v3"], ["v0", "v16"], ["nothing"], []):
        wanted = {facet.ordinal[v] for v in values if v in facet.ordinal}
        expected = [any(o in wanted for o in per_doc[d]) for d in range(size)]
        assert facet.mask(values).tolist() == expected
        assert facet.mask(values).tolist() == expected  # the values' documents kept


@pytest.mark.parametrize("seed", range(4))
def test_every_path_of_counting_gives_the_same_counts(seed: int) -> None:
    """A reader's first count (over the pairs at once), most documents
    (counted as all less those outside), many (first values and later
    pairs), few (runs from their starts, or bisected), one value each: the
    same counts as the pairs counted one by one, with or without the mask's
    documents given."""
    rng = np.random.default_rng(100 + seed)
    size, m = 2_000, 9
    per_doc = [sorted(rng.choice(m, size=rng.choice(4, p=[0.1, 0.6, 0.2, 0.1]),
                                 replace=False).tolist()) for _ in range(size)]
    pairs = sorted((o, d) for d, values in enumerate(per_doc) for o in values)
    ords = np.array([o for o, _ in pairs], dtype=np.int32)
    docs = np.array([d for _, d in pairs], dtype=np.int32)
    single = rng.integers(0, m, size).astype(np.int32)
    for density in (0.0, 0.001, 0.02, 0.1, 0.3, 0.49, 0.51, 0.8, 0.999, 1.0):
        mask = rng.random(size) < density
        expected = naive(docs, ords, mask, m).tolist()
        for warm in (False, True):
            facet = _Facet([f"v{i}" for i in range(m)], docs, ords, size)
            if warm:
                facet.starts  # noqa: B018
            assert facet.counts(mask).tolist() == expected, (density, warm)
            assert facet._split is None  # counted over the pairs (or bisected): no split built
            assert facet.counts(mask, np.flatnonzero(mask)).tolist() == expected, density
            n = int(np.count_nonzero(mask))
            bisected = not warm and min(n, size - n) * 32 <= size  # (most: those outside)
            assert (facet._split is None) is bisected  # the second count built it
            assert facet.counts(mask).tolist() == expected, density
        one = _Facet([f"v{i}" for i in range(m)], np.arange(size, dtype=np.int32), single, size)
        assert one.single
        assert one.counts(mask).tolist() == np.bincount(single[mask], minlength=m).tolist()


def test_facet_index_counts_list_values_by_count_and_keep_selected_ones() -> None:
    from thb_search.facets import FacetIndex

    docs = np.array([0, 1, 1, 2, 3, 3], dtype=np.int32)
    ords = np.array([1, 0, 2, 1, 0, 1], dtype=np.int32)
    size = 5
    facet = _Facet(["a", "b", "c", "d"], docs, ords, size)
    zeros = np.zeros(size, dtype=np.int64)
    fx = FacetIndex(np.ones(size, dtype=bool), zeros.astype(np.int32), zeros, zeros, zeros,
                    {"office": facet})
    mask = np.array([True, True, False, True, False])
    got = fx.counts("office", mask, ["d", "c", "zz", "c"])
    assert [(c.value, c.count) for c in got] == [
        ("a", 2), ("b", 2), ("c", 1), ("d", 0), ("zz", 0)]
    got = fx.counts("office", mask, ["d"], docs=np.flatnonzero(mask))
    assert [(c.value, c.count) for c in got] == [("a", 2), ("b", 2), ("c", 1), ("d", 0)]
    assert fx.mask("office", ["b", "c"]).tolist() == [True, True, True, True, False]


def test_one_value_each() -> None:
    docs = np.array([2, 0, 1, 3], dtype=np.int32)
    ords = np.array([0, 1, 1, 2], dtype=np.int32)
    facet = _Facet(["a", "b", "c"], docs, ords, 5)  # document 4 has none
    assert facet.counts(np.array([True, False, True, False, True])).tolist() == [1, 1, 0]
    assert facet.counts(np.ones(5, dtype=bool)).tolist() == [1, 2, 1]
    assert facet.counts(np.zeros(5, dtype=bool)).tolist() == [0, 0, 0]


def test_every_document_one_value() -> None:
    rng = np.random.default_rng(7)
    ords = rng.integers(0, 5, 1_000).astype(np.int32)
    facet = _Facet([f"v{i}" for i in range(5)], np.arange(1_000, dtype=np.int32), ords, 1_000)
    for density in (0.0, 0.01, 0.3, 1.0):
        mask = rng.random(1_000) < density
        assert facet.counts(mask).tolist() == np.bincount(ords[mask], minlength=5).tolist()


def _ranked(keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    from thb_search.facets import _spaced_rank

    return _spaced_rank(keys)


def test_spaced_ranks_are_the_keys_dense_ranks_and_equal_keys_keep_document_order() -> None:
    from thb_search.facets import RANK_SPACING

    ranks, in_order = _ranked([b"b", b"a", b"b", b"", b"\xc3\xa9", b"a"])
    assert (ranks // RANK_SPACING).tolist() == [2, 1, 2, 0, 3, 1]
    assert in_order.tolist() == [3, 1, 5, 0, 2, 4]
    rng = np.random.default_rng(3)
    words = [b"", b"a", b"ab", b"b", b"m", b"\x00", b"a\x00"]
    keys = [words[i] for i in rng.integers(0, len(words), 500)]
    ranks, in_order = _ranked(keys)
    dense = np.unique(np.array(keys, dtype=object), return_inverse=True)[1]
    assert (ranks // RANK_SPACING).tolist() == dense.tolist()
    assert in_order.tolist() == sorted(range(500), key=lambda d: (keys[d], d))
    assert [len(a) for a in _ranked([])] == [0, 0]


@pytest.mark.parametrize("seed", range(5))
def test_new_keys_are_ranked_among_the_old_as_a_full_ranking_would(seed: int) -> None:
    from thb_search.facets import _place

    rng = np.random.default_rng(seed)
    words = [b"", b"a", b"ab", b"b", b"m", b"mm", b"z", b"zz", b"\xc3\xa9"]
    old = [words[i] for i in rng.integers(0, len(words), 40)]
    new = [words[i] for i in rng.integers(0, len(words), 12)] + [b"mma", b"mmb", b"\x00"]
    ranks, in_order = _ranked(old)
    column = old + new
    placed = _place(column, np.concatenate([ranks, np.zeros(len(new), np.int64)]), in_order,
                    [(len(old) + i, k) for i, k in enumerate(new)])
    assert placed is not None
    got_ranks, got_order = placed
    dense = np.unique(np.array(column, dtype=object), return_inverse=True)[1]
    assert np.unique(got_ranks, return_inverse=True)[1].tolist() == dense.tolist()
    assert sorted(got_order.tolist()) == list(range(len(column)))
    assert [column[d] for d in got_order] == sorted(column)


def test_a_gap_too_small_asks_for_a_full_ranking() -> None:
    from thb_search.facets import RANK_SPACING, _place

    column = [b"a", b"b"]
    ranks = np.array([0, RANK_SPACING], dtype=np.int64)
    in_order = np.array([0, 1], dtype=np.int32)
    for n in range(25):  # halving the gap between "a" and "b" each time
        key = b"a" + b"z" * (25 - n)
        column.append(key)
        placed = _place(column, np.concatenate([ranks, [0]]), in_order, [(len(column) - 1, key)])
        if placed is None:
            break
        ranks, in_order = placed
    assert n == 20 and placed is None  # 2^20 apart: 20 keys fit, one after the other


@pytest.mark.parametrize("seed", range(20))
def test_arena_arrays_equal_numpys(seed: int) -> None:
    """A commit's arrays carved out of one allocation (facets._Arena) equal
    numpy's own concatenate and insert; those that do not fit are allocated."""
    from thb_search.facets import _Arena

    rng = np.random.default_rng(seed)
    arena = _Arena(int(rng.integers(0, 4000)))
    for _ in range(5):
        array = rng.integers(0, 1000, size=int(rng.integers(0, 60))).astype(np.int32)
        places = sorted(rng.integers(0, len(array) + 1, size=int(rng.integers(0, 8))).tolist())
        values = rng.integers(0, 1000, size=len(places)).tolist()
        inserted = arena.insert(array, places, values)
        assert inserted.dtype == array.dtype
        assert inserted.tolist() == np.insert(array, places, values).tolist()
        parts = [array, rng.integers(0, 9, size=3).astype(np.int64)]
        joined = arena.concatenate(parts)
        assert joined.dtype == np.int32 and joined.tolist() == np.concatenate(parts).tolist()
    assert arena.insert(np.arange(5), [3, 1], [7, 8]).tolist() == [0, 8, 1, 2, 7, 3, 4]


def test_a_reader_after_an_add_takes_over_each_facets_runs_and_split(
        tmp_path: Path, corpus_copy: Path) -> None:
    """A catalogue kept open sees an add of records with known values: its
    new arrays take over what the old ones had worked out of a facet (each
    document's run, the split of first values and later pairs), extended
    by the new documents: equal to what is worked out afresh, and the
    counts exact.  An add with a value new to the facet works them out
    again, when needed."""
    import json

    from thb_search import Catalogue, sync

    def themes(cat: Catalogue) -> dict[str, int]:
        return {c.value: c.count for c in cat.search("").facets["theme"]}

    def add(name: str, *records: dict[str, object]) -> None:
        (corpus_copy / name).write_text("".join(json.dumps(r) + "\n" for r in records))
        sync(index, [corpus_copy])

    index = tmp_path / "index"
    sync(index, [corpus_copy])
    with Catalogue(index) as cat:
        assert themes(cat) == themes(cat) == {
            "Combating trafficking in human beings": 10, "Human rights": 4, "Rule of law": 1}
        old = cat._snapshot.arrays.facet("theme")  # type: ignore[union-attr]
        assert old.split is not None and old.starts is not None  # (worked out, as searches do)
        add("more.jsonl", {"title": "Two themes", "themes": ["Rule of law", "Human rights"]},
            {"title": "One theme", "themes": ["Rule of law"]})
        assert themes(cat) == {
            "Combating trafficking in human beings": 10, "Human rights": 5, "Rule of law": 3}
        new = cat._snapshot.arrays.facet("theme")  # type: ignore[union-attr]
        assert new is not old and new.size == 12 and new._split is not None
        fresh = _Facet(new.values, new.docs.copy(), new.ords.copy(), new.size)
        for taken, made in zip(new._split, fresh.split, strict=True):
            assert taken.tolist() == made.tolist()
        assert new._starts is not None and new._starts.tolist() == fresh.starts.tolist()
        add("new.jsonl", {"title": "A new theme", "themes": ["Gender equality"]})
        assert themes(cat) == {"Combating trafficking in human beings": 10,
                               "Gender equality": 1, "Human rights": 5, "Rule of law": 3}
        newer = cat._snapshot.arrays.facet("theme")  # type: ignore[union-attr]
        assert newer is not new and newer.size == 13
        assert newer._split is None  # (a value new to the facet: not taken over)
