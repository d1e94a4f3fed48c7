"""Work proportional to what changed: per-file state, patched facet arrays."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from thb_search import Catalogue, sync
from thb_search.facets import FacetIndex, _read_arrays, base_of, facets_file
from thb_search.indexdir import IndexDir
from thb_search.schema import FACET_FIELDS
from thb_search.state import STATE_FILE, CatalogueState

OFFICES = ["OSCE Secretariat", "ODIHR", "OSCE Mission to Moldova"]
THEMES = ["Labour exploitation", "Child trafficking", "Victim assistance"]
OFFICES_SORTED = sorted(OFFICES)

#: Paths opened while :func:`opened` watches (an audit hook cannot be removed:
#: it records only while the list is there).
_WATCH: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _WATCH and isinstance(args[0], (str, Path)):
        _WATCH[-1].append(str(args[0]))


sys.addaudithook(_audit)


class opened:  # noqa: N801 - a context manager read like a function
    """Every file opened (for reading or writing) within the block."""

    def __enter__(self) -> list[str]:
        _WATCH.append([])
        return _WATCH[-1]

    def __exit__(self, *exc: object) -> None:
        _WATCH.pop()


def records(start: int, count: int) -> str:
    return "\n".join(json.dumps({
        "id": f"rec-{n:05d}", "title": f"Report {n} on labour exploitation in supply chains",
        "date": f"{2000 + n % 25}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "type": "Study / report" if n % 3 else "Guide / manual / handbook",
        "office": OFFICES[n % 3], "themes": [THEMES[n % 3], THEMES[(n + 1) % 3]][: 1 + n % 2],
        "summary": f"Finding {n}: recruitment fees, debt bondage and wage theft (case {n % 7}).",
    }) for n in range(start, start + count)) + "\n"


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "big.jsonl").write_text(records(0, 400), encoding="utf-8")
    (corpus / "other.jsonl").write_text(records(400, 50), encoding="utf-8")
    index = tmp_path / "index"
    sync(index, [corpus])
    return corpus, index


def _state_files(index: Path) -> dict[str, tuple[int, int, bytes]]:
    gen = IndexDir(index).current()
    assert gen is not None
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in gen.glob("state-*.json")}


def test_adding_ten_reads_no_other_catalogue_file_and_rewrites_no_other_state(
        two_files: tuple[Path, Path]) -> None:
    corpus, index = two_files
    before = _state_files(index)
    assert len(before) == 2
    (corpus / "new.jsonl").write_text(records(1000, 10), encoding="utf-8")
    with opened() as paths:
        report = sync(index, [corpus])
    assert (report.added, report.updated, report.removed, report.total) == (10, 0, 0, 460)
    catalogue_read = sorted({Path(p).name for p in paths if p.startswith(str(corpus))})
    assert catalogue_read == ["new.jsonl"]
    states_opened = {Path(p).name for p in paths if Path(p).name.startswith("state-")}
    after = _state_files(index)
    assert {n: after[n] for n in before} == before  # not rewritten, not even touched
    (new_state,) = set(after) - set(before)
    assert states_opened == {new_state, new_state + ".tmp"}  # written, never read back
    copies = json.loads(after[new_state][2])["copies"]
    assert [c[0] for c in copies] == [f"rec-{n:05d}" for n in range(1000, 1010)]
    with Catalogue(index) as cat:
        assert cat.search("finding 1004").hits[0].id == "rec-01004"


def test_changing_one_file_rewrites_its_state_only(two_files: tuple[Path, Path]) -> None:
    corpus, index = two_files
    before = _state_files(index)
    text = (corpus / "other.jsonl").read_text("utf-8").replace("Finding 420:", "Result 420:")
    (corpus / "other.jsonl").write_text(text, encoding="utf-8")
    with opened() as paths:
        report = sync(index, [corpus])
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 449)
    assert sorted({Path(p).name for p in paths if p.startswith(str(corpus))}) == ["other.jsonl"]
    after = _state_files(index)
    assert len(set(before) & set(after)) == 1  # big.jsonl's state, untouched
    (kept,) = set(before) & set(after)
    assert after[kept] == before[kept]


def test_a_duplicate_across_files_is_resolved_with_the_unchanged_copy(
        two_files: tuple[Path, Path]) -> None:
    corpus, index = two_files
    # rec-00007 of big.jsonl again, in a new file, with one more office: merged.
    copy = json.loads(records(7, 1))
    copy["office"] = [copy["office"], "OSCE Mission to Serbia"]
    (corpus / "dup.jsonl").write_text(json.dumps(copy) + "\n", encoding="utf-8")
    report = sync(index, [corpus])
    assert (report.added, report.updated, report.merged, report.total) == (0, 1, 1, 450)
    state = CatalogueState.read(IndexDir(index).current())
    assert state is not None
    assert state.shared["rec-00007"][:2] == [1, 0]
    with Catalogue(index) as cat:
        assert cat.get("rec-00007").offices == ("ODIHR", "OSCE Mission to Serbia")
    # Removing the duplicate's file takes the record back to its one copy.
    (corpus / "dup.jsonl").unlink()
    report = sync(index, [corpus])
    assert (report.updated, report.merged, report.total) == (1, 0, 450)
    with Catalogue(index) as cat:
        assert cat.get("rec-00007").offices == ("ODIHR",)


def test_removing_a_file_removes_its_records(two_files: tuple[Path, Path]) -> None:
    corpus, index = two_files
    (corpus / "other.jsonl").unlink()
    report = sync(index, [corpus])
    assert (report.removed, report.total, report.files) == (50, 400, 1)
    gen = IndexDir(index).current()
    data = json.loads((gen / STATE_FILE).read_text("utf-8"))
    assert [Path(p).name for p in data["files"]] == ["big.jsonl"]
    assert len(list(gen.glob("state-*.json"))) == 1


def _dense(ranks: np.ndarray) -> np.ndarray:
    return np.unique(ranks, return_inverse=True)[1].reshape(len(ranks))


def _same_arrays(patched: FacetIndex, fresh: FacetIndex) -> None:
    assert patched.size == fresh.size
    for name in ("live", "datenum", "lengths", "body_lengths", "marks"):
        assert np.array_equal(getattr(patched, name), getattr(fresh, name)), name
    # Ranks are spaced and may leave gaps (keys of documents since deleted):
    # the same order.
    assert np.array_equal(_dense(patched.title_rank), _dense(fresh.title_rank))
    assert np.array_equal(_dense(patched.id_rank), _dense(fresh.id_rank))
    for by in ("date", "title"):  # saved by the commit, sorted here
        assert "date" in patched._orders
        assert patched.order(fresh.live, by).tolist() == fresh.order(fresh.live, by).tolist()
    everything = np.ones(fresh.size, dtype=bool)
    for name in FACET_FIELDS:
        assert patched.facet(name).single == fresh.facet(name).single, name  # saved: computed
        assert patched.counts(name, everything) == fresh.counts(name, everything), name
        for value in fresh.values(name):
            assert np.array_equal(patched.mask(name, [value]), fresh.mask(name, [value]))


def _each_commit(corpus: Path, index: Path) -> Iterator[str]:
    (corpus / "a.jsonl").write_text(records(2000, 10), encoding="utf-8")
    yield "add 10"
    (corpus / "b.jsonl").write_text(records(3000, 3), encoding="utf-8")
    yield "add 3"
    big = (corpus / "big.jsonl").read_text("utf-8").splitlines()
    (corpus / "big.jsonl").write_text("\n".join(big[:-5]) + "\n", encoding="utf-8")
    yield "remove 5 (deletions only)"
    text = (corpus / "a.jsonl").read_text("utf-8").replace("Report 2003", "Zebra report 2003")
    (corpus / "a.jsonl").write_text(text.replace("ODIHR", "OSCE Mission to Kosovo"), "utf-8")
    yield "update: new title order, new office value"
    (corpus / "c.jsonl").write_text(records(4000, 200), encoding="utf-8")
    yield "add 200"
    rows = [{**json.loads(line), "office": f"Office {n}"}
            for n, line in enumerate(records(5000, 300).splitlines())]
    (corpus / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    yield "add 300, each of an office of its own: more values than one byte holds"


def test_patched_facet_arrays_equal_computed_ones(two_files: tuple[Path, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, index = two_files
    computed = FacetIndex.from_reader
    takes: list[bool] = []  # each commit's file: takes parts of a whole one (or is whole)
    for step in _each_commit(corpus, index):
        with monkeypatch.context() as m:
            m.setattr(FacetIndex, "from_reader", None)  # a commit patches, never computes
            sync(index, [corpus])
        ixdir = IndexDir(index)
        gen = ixdir.current()
        ix = ixdir.open()
        path = facets_file(gen, ix.latest_generation())
        base = base_of(path)
        takes.append(base is not None)
        for thread in threading.enumerate():  # (superseded arrays go in a thread of their own)
            if thread.name == "thb-remove-arrays":
                thread.join()
        # Only the latest file is left, and the whole file it takes from.
        assert sorted(p.name for p in gen.glob("facets-*.arrays")) == sorted(
            {path.name, base or path.name}), step
        with ix.reader() as reader:
            saved = FacetIndex.load(path)
            assert saved.segments is not None, step
            _same_arrays(saved, computed(reader))
            offices = saved.values("office")
            # Ordinals take the narrowest type that holds them, widened as values come.
            assert saved.facet("office").ords.dtype == (np.uint16 if len(offices) > 256
                                                        else np.uint8), step
        with Catalogue(index) as catalogue:  # the summary marks the engine reads itself
            engine = catalogue._latest().engine
            kept = engine.mark
            assert kept.dtype == np.int32  # the arrays' own, saved by the commit
            engine._mark, engine.arrays.marks = None, None
            read = engine.mark
            assert np.array_equal(kept[engine.live], read[engine.live]), step
    assert len(offices) == 304
    # Adds of a few and removals write only what changed; more new documents
    # than an eighth of the whole file's make a whole file again.
    assert takes == [True, True, True, True, False, False]


def test_one_record_s_copies_are_found_in_its_file_s_state_as_reading_it_all_finds_them(
        tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = [json.loads(line) for line in records(0, 30).splitlines()]
    rows[4]["office"] = ["rec-00009", "ODIHR"]  # an office that reads like an id
    rows[5]["themes"] = ["rec-00009", "Child trafficking"]  # a theme too
    rows[6]["id"] = "rec-été"
    rows.append({**rows[9], "summary": "A later copy of rec-00009, in the same file."})
    (corpus / "big.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows),
                                      encoding="utf-8")
    index = tmp_path / "index"
    sync(index, [corpus])
    gen = IndexDir(index).current()
    assert gen is not None
    state = CatalogueState.read(gen)
    assert state is not None
    (path,) = state.files
    for rid in ("rec-00009", "rec-été", "rec-00000", "rec-00029", "rec-00099", "ODIHR"):
        found = state.copies_of(path, rid)
        assert found == [c for c in CatalogueState.read(gen).copies(path) if c.id == rid], rid
    assert [c.line for c in state.copies_of(path, "rec-00009")] == [10, 31]
    assert state.copies_of(path, "rec-00099") == state.copies_of(path, "ODIHR") == []
    state.copies(path)  # once every copy is read, they are what it answers from
    assert [c.line for c in state.copies_of(path, "rec-00009")] == [10, 31]


def test_an_add_s_facets_and_keys_are_taken_from_its_documents_as_its_segment_has_them(
        two_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """An add's new documents give their facet values and sort keys
    themselves (not read back from the new segment); the arrays are those
    that reading the segment gives, values in the same order."""
    from thb_search import facets

    corpus, index = two_files
    rows = [json.loads(line) for line in records(2000, 5).splitlines()]
    rows[0]["office"] = ["Zürich office", "ODIHR", "Zürich office"]  # a repeat, a known value
    rows[1]["office"], rows[1]["themes"] = ["Ärzte office"], []
    rows[2]["office"] = ["A first office", "Zürich office"]  # before every value
    rows[3]["type"] = "Zebra type"
    del rows[4]["date"]  # no year
    (corpus / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    made: list[tuple[FacetIndex, FacetIndex]] = []
    patched = FacetIndex.patched

    read_postings = facets.read_postings

    def refuse(reader: object, field: str, *args: object) -> object:
        assert field not in FACET_FIELDS.values(), "a facet of the new segment was read back"
        return read_postings(reader, field, *args)

    def both(self: FacetIndex, reader: object, added: list[dict] = ()) -> FacetIndex | None:
        assert len(added) == 5
        with monkeypatch.context() as m:
            m.setattr(facets, "read_postings", refuse)
            known = patched(self, reader, added)
        made.append((known, patched(self, reader)))
        return known

    monkeypatch.setattr(FacetIndex, "patched", both)
    assert sync(index, [corpus]).added == 5
    ((known, read),) = made
    for name in FACET_FIELDS:
        k, r = known.facet(name), read.facet(name)
        assert k.values == r.values, name
        assert k.single == r.single, name
        assert np.array_equal(k.ords, r.ords) and np.array_equal(k.docs, r.docs), name
    # New values come after the others, in the order of the segment's terms.
    assert known.facet("office").values == [*OFFICES_SORTED, "A first office", "Zürich office",
                                             "Ärzte office"]
    assert known.facet("type").values[-1] == "Zebra type"
    for by in ("date", "title"):
        assert np.array_equal(known.everything(by), read.everything(by)), by
    for column in ("title_sort", "id_sort"):
        assert np.array_equal(known.sorted_docs[column], read.sorted_docs[column]), column
    assert np.array_equal(known.title_rank, read.title_rank)
    assert np.array_equal(known.id_rank, read.id_rank)
    with Catalogue(index) as catalogue:
        counts = {c.value: c.count for c in catalogue.search("", office=["Zürich office"]).facets[
            "office"]}
    assert counts["Zürich office"] == 2 and counts["Ärzte office"] == 1


def test_an_add_writes_only_the_new_documents_part_of_each_array(
        two_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A commit that only adds documents does not copy the old arrays into
    new memory: each new array is the old one (its file's mapping) then the
    new documents' part.  Its file holds those parts only, and takes each
    per-document array's first values from the build's file, which stays;
    loaded, it gives exactly the joined arrays."""
    from thb_search.facets import _Facet, _Inserted, _Joined

    corpus, index = two_files
    made: list[FacetIndex] = []
    patched = FacetIndex.patched

    def keep(self: FacetIndex, reader: object, added: list[dict] = ()) -> FacetIndex | None:
        made.append(patched(self, reader, added))
        return made[-1]

    monkeypatch.setattr(FacetIndex, "patched", keep)
    (corpus / "a.jsonl").write_text(records(2000, 10), encoding="utf-8")
    assert sync(index, [corpus]).added == 10
    (new,) = made
    assert new is not None and new.size == 460
    # Facets of one value a document (here all but theme) need no documents:
    # the d-th value is document d's.
    assert [name for name in FACET_FIELDS if new.facet(name)._docs is None] == [
        "office", "type", "year"]
    parts = [new.datenum, new.title_rank, new.id_rank, new.lengths, new.body_lengths,
             new.marks, new.facet("theme").docs, *(new.facet(name).ords for name in FACET_FIELDS)]
    assert all(isinstance(a, _Joined) for a in parts)
    # The orders: the old ones with the new documents inserted.
    orders = [*new._orders.values(), *new.sorted_docs.values()]
    assert all(isinstance(o, _Inserted) and sorted(o.docs.tolist()) == list(range(450, 460))
               for o in orders)
    assert [len(p) for p in new.datenum.parts] == [450, 10]
    assert not new.datenum.parts[0].flags.writeable  # the old file's mapping, not a copy
    joined = FacetIndex(
        np.asarray(new.live), np.asarray(new.datenum), np.asarray(new.title_rank),
        np.asarray(new.id_rank), np.asarray(new.lengths),
        {name: _Facet(f.values, np.asarray(f.docs), np.asarray(f.ords), f.size,
                      single=f.single) for name, f in new._facets.items()},
        np.asarray(new.body_lengths), new.segments,
        {c: np.asarray(d) for c, d in new.sorted_docs.items()}, np.asarray(new.marks))
    joined._orders = {by: np.asarray(o) for by, o in new._orders.items()}
    ixdir = IndexDir(index)
    gen = ixdir.current()
    saved = facets_file(gen, ixdir.open().latest_generation())
    head = _read_arrays(saved)[1]
    base = gen / head["base"]["file"]
    assert base != saved and base.exists() and base_of(base) is None
    # 450 documents' values; theme's pairs (675: some have two themes).
    taken = {name: 450 for name in ["datenum", "title_rank", "id_rank", "lengths",
                                    "office.ords", "type.ords", "year.ords", "marks"]}
    taken |= {"theme.docs": 675, "theme.ords": 675}
    assert head["base"]["taken"] == taken
    new_pairs = len(new.facet("theme").docs) - 675
    assert new_pairs >= 10
    assert {name: head["arrays"][name][1] for name in taken} == {
        name: new_pairs if name.startswith("theme.") else 10 for name in taken}
    inserted = ["order.date", "order.title", "id_sort.sorted"]
    assert head["base"]["inserted"] == inserted
    assert {name: head["arrays"][name][1] for name in head["arrays"]
            if name.endswith((".at", ".docs")) and not name.startswith("theme")} == {
        f"{name}.{part}": 10 for name in inserted for part in ("at", "docs")}
    assert sorted(p.name for p in gen.glob("facets-*.arrays")) == sorted([base.name, saved.name])
    _same_arrays(FacetIndex.load(saved), joined)
    joined.save(tmp_path / "whole.arrays")
    assert saved.stat().st_size * 2 < (tmp_path / "whole.arrays").stat().st_size


def test_a_reader_writes_an_add_s_part_after_the_whole_file_s_in_its_own_memory(
        two_files: tuple[Path, Path]) -> None:
    """The whole file leaves room after each per-document array; a reader
    maps it copy-on-write and writes the new documents' part there: the
    arrays are those computed from the index, read-only, and the file on
    disk stays byte for byte as it was, however many readers load it."""
    corpus, index = two_files
    ixdir = IndexDir(index)
    gen = ixdir.current()
    (whole,) = gen.glob("facets-*.arrays")
    places = _read_arrays(whole)[1]["arrays"]
    assert places["datenum"][1:] == [450, places["datenum"][2], 450 + 1024]
    assert places["live"][3] == places["live"][1] == 450  # (never taken: no room)
    before = whole.read_bytes()
    (corpus / "a.jsonl").write_text(records(2000, 10), encoding="utf-8")
    sync(index, [corpus])
    path = facets_file(gen, ixdir.open().latest_generation())
    assert base_of(path) == whole.name
    first, second = FacetIndex.load(path), FacetIndex.load(path)
    with ixdir.open().reader() as reader:
        _same_arrays(first, FacetIndex.from_reader(reader))
    _same_arrays(second, first)
    assert not first.datenum.flags.writeable and len(first.datenum) == 460
    assert whole.read_bytes() == before
    assert base_of(gen / "facets-999.arrays") is None  # (missing: takes nothing)


def test_an_add_to_arrays_saved_without_room_writes_a_whole_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrays saved by an earlier version (no room after them): the first
    add writes a whole file, with room, which the next add takes from."""
    import thb_search.facets as facets

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "big.jsonl").write_text(records(0, 300), encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(facets, "_room", lambda n: n)
        sync(index, [corpus])
    ixdir = IndexDir(index)
    for start, takes in ((1000, False), (2000, True)):
        (corpus / f"{start}.jsonl").write_text(records(start, 5), encoding="utf-8")
        sync(index, [corpus])
        path = facets_file(ixdir.current(), ixdir.open().latest_generation())
        assert (base_of(path) is not None) == takes
    with Catalogue(index) as catalogue:
        assert len(catalogue) == 310
        assert [h.id for h in catalogue.search("report", sort="title", limit=3).hits] == [
            "rec-00000", "rec-00001", "rec-00010"]
