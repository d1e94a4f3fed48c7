"""Building the index and keeping it in line with the catalogue."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from conftest import (
    ALL_IDS,
    BIH,
    BUNDLED,
    ODIHR,
    OSR,
    SUPPLY_CHAINS,
    TERRORISM,
    UKRAINE,
    lock_held_elsewhere,
)
from thb_search import Catalogue, sync
from thb_search.adding import add_files
from thb_search.errors import (
    CorpusErrors,
    DiskFullError,
    IndexCorruptError,
    IndexingError,
    IndexLockedError,
    IndexNotFoundError,
    IndexOutdatedError,
)
from thb_search.indexing import STATE_FILE, VERSION_FILE, IndexDir, ensure_index
from thb_search.schema import SCHEMA_VERSION

NEW_JSONL = "\n".join(json.dumps(x) for x in [
    {"id": "new-1", "title": "Victim identification at borders", "date": "2023-05-02",
     "type": "Guide / manual / handbook", "office": [ODIHR], "themes": ["Border management"],
     "summary": "Front-line officers identify victims of trafficking at borders."},
    {"id": "new-2", "title": "Online recruitment of victims", "date": "2023-06-10",
     "type": "Study / report", "office": OSR, "themes": "Combating trafficking in human beings",
     "summary": "Traffickers recruit through social media."},
    # A changed copy of a bundled record (same title and date, new summary).
    {"title": "Trafficking in Human Beings and Terrorism: Where and How They Intersect",
     "date": "8 July 2021", "type": "Study / report", "office": [OSR],
     "themes": ["Combating trafficking in human beings"],
     "publisher": "Organization for Security and Co-operation in Europe",
     "summary": "A revised summary about terrorist groups and trafficking."},
]) + "\n"


def counts(report) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.removed, report.unchanged


def ids(catalogue: Catalogue, query: str = "") -> set[str]:
    return {h.id for h in catalogue.search(query, limit=1000).hits}


def test_bundled_catalogue_facet_counts(catalogue: Catalogue) -> None:
    assert len(catalogue) == 10
    facets = {k: [(c.value, c.count) for c in v] for k, v in catalogue.facets().items()}
    assert facets == {
        "office": [(OSR, 5), (ODIHR, 3), (BIH, 1), (UKRAINE, 1)],
        "theme": [("Combating trafficking in human beings", 10), ("Human rights", 4),
                  ("Rule of law", 1)],
        "type": [("Study / report", 5), ("Guide / manual / handbook", 2), ("Brochure", 1),
                 ("Factsheet", 1), ("Poster", 1)],
        "year": [(2021, 7), (2022, 3)],
    }
    assert ids(catalogue) == ALL_IDS


def test_incremental_add_update_rerun_and_remove(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    first = sync(index, [corpus_copy])
    assert (first.total, first.rebuilt, counts(first)) == (10, True, (10, 0, 0, 0))
    gen = IndexDir(index).current()

    (corpus_copy / "new.jsonl").write_text(NEW_JSONL, encoding="utf-8")
    second = sync(index, [corpus_copy])
    assert (second.total, second.rebuilt, counts(second)) == (12, False, (2, 1, 0, 9))
    assert (second.merged, second.superseded) == (0, 1)
    assert IndexDir(index).current() == gen  # written in place, not rebuilt
    with Catalogue(index) as cat:
        assert cat.get(TERRORISM).summary == ("A revised summary about terrorist groups and "
                                              "trafficking.")
        assert ids(cat, "social media") == {"new-2"}
        assert ids(cat, "terrorism") == {TERRORISM}  # one hit, no orphan duplicate

    third = sync(index, [corpus_copy])
    assert (third.changed, counts(third)) == (False, (0, 0, 0, 12))

    (corpus_copy / "new.jsonl").unlink()
    fourth = sync(index, [corpus_copy])
    assert counts(fourth) == (0, 1, 2, 9)  # the terrorism record reverts
    with Catalogue(index) as cat:
        assert ids(cat) == ALL_IDS
        assert cat.get(TERRORISM).summary.startswith("This paper explores")


def test_unchanged_files_are_not_read_again(tmp_path: Path, corpus_copy: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    (corpus_copy / "new.jsonl").write_text(NEW_JSONL, encoding="utf-8")
    read: list[str] = []
    import thb_search.scan as scan

    original = scan.iter_file
    monkeypatch.setattr(scan, "iter_file", lambda p: read.append(Path(p).name) or original(p))
    sync(index, [corpus_copy])
    # Only the new file is read: the listing is known from the last run.
    assert read == ["new.jsonl"]
    read.clear()
    sync(index, [corpus_copy])
    assert read == []


def test_a_build_reads_each_file_once_when_its_records_can_be_kept(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records read while planning are kept for writing up to RETAIN_RECORDS
    in all; a file beyond it is read again (only then), to the same index."""
    import thb_search.scan as scan

    (corpus_copy / "new.jsonl").write_text(NEW_JSONL, encoding="utf-8")
    read: list[str] = []
    original = scan.iter_file
    monkeypatch.setattr(scan, "iter_file",
                        lambda p, *lines: read.append(Path(p).name) or original(p, *lines))
    sync(tmp_path / "kept", [corpus_copy])
    assert sorted(read) == sorted(p.name for p in corpus_copy.iterdir())  # each once
    with Catalogue(tmp_path / "kept") as cat:
        kept = [cat.get(i).to_dict() for i in sorted(ids(cat))]

    read.clear()
    monkeypatch.setattr(scan, "RETAIN_RECORDS", 5)  # the listing's ten records are more
    sync(tmp_path / "read-again", [corpus_copy])
    assert sorted(read) == sorted([*(p.name for p in corpus_copy.iterdir()),
                                   "osce-thb-publications.txt"])
    with Catalogue(tmp_path / "read-again") as cat:
        assert [cat.get(i).to_dict() for i in sorted(ids(cat))] == kept
    assert len(kept) == 12


def test_malformed_file_leaves_index_as_it_was(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    with Catalogue(index) as cat:
        before = cat.search("forced labour").to_dict()
    state_before = (IndexDir(index).current() / STATE_FILE).read_bytes()
    bad = corpus_copy / "bad.jsonl"
    bad.write_text('{"title": "Fine", "date": "2023-01-01"}\n{"title": "Broken",\n',
                   encoding="utf-8")
    with pytest.raises(CorpusErrors) as err:
        sync(index, [corpus_copy])
    assert str(err.value) == (f"{bad}:2: invalid JSON (Expecting property name enclosed in "
                              "double quotes at column 20): each line must be one JSON object")
    assert (IndexDir(index).current() / STATE_FILE).read_bytes() == state_before
    with Catalogue(index) as cat:
        assert cat.search("forced labour").to_dict() == before
        assert len(cat) == 10


def test_skip_invalid_indexes_the_rest_and_lists_what_it_skipped(
        tmp_path: Path, corpus_copy: Path) -> None:
    bad = corpus_copy / "bad.jsonl"
    bad.write_text('{"title": "Fine one", "date": "2023-01-01"}\n{"title": "Bad", '
                   '"date": "31 Febuary 2022"}\n', encoding="utf-8")
    report = sync(tmp_path / "index", [corpus_copy], skip_invalid=True)
    assert report.total == 11
    assert [str(e) for e in report.skipped] == [
        f"{bad}:2: unreadable date '31 Febuary 2022' (expected e.g. 25 February 2022 or "
        "2022-02-25)"]
    # The file is not cached as clean: the next run reports it again.
    again = sync(tmp_path / "index", [corpus_copy], skip_invalid=True)
    assert len(again.skipped) == 1 and not again.changed
    with pytest.raises(CorpusErrors):
        sync(tmp_path / "index", [corpus_copy])


def test_several_errors_are_all_reported(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"x": 1}\n{"title": ""}\n{"title": "ok"}\n')
    with pytest.raises(CorpusErrors) as err:
        sync(tmp_path / "index", [tmp_path / "a.jsonl"])
    assert len(err.value.errors) == 2
    assert str(err.value).endswith("(and 1 more problem; fix them, or pass --skip-invalid to "
                                   "index the rest)")
    assert not IndexDir(tmp_path / "index").exists()


def test_duplicates_across_files_merge_offices_and_themes(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_text(json.dumps({"title": "Same", "date": "2020-01-01", "office": ["X"],
                             "themes": ["T1"]}) + "\n")
    b.write_text(json.dumps({"title": "Same", "date": "2020-01-01", "office": ["Y"],
                             "themes": ["T1", "T2"]}) + "\n")
    t = time.time()
    os.utime(a, (t - 10, t - 10))
    report = sync(tmp_path / "index", [a, b])
    assert (report.total, report.merged, report.superseded) == (1, 1, 0)
    with Catalogue(tmp_path / "index") as cat:
        (hit,) = cat.search("same").hits
        assert (hit.offices, hit.themes) == (("Y", "X"), ("T1", "T2"))


def test_only_given_paths_end_up_in_the_index(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    extra = tmp_path / "extra.jsonl"
    extra.write_text(NEW_JSONL, encoding="utf-8")
    report = sync(index, [extra])
    assert (report.total, report.removed) == (3, 9)
    with Catalogue(index) as cat:
        assert ids(cat) == {"new-1", "new-2", TERRORISM}


def test_rebuild_swaps_in_a_new_generation(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    old = IndexDir(index).current()
    with Catalogue(index) as cat:
        assert cat.search("supply chains").hits[0].id == SUPPLY_CHAINS
        report = sync(index, [corpus_copy], rebuild=True)
        assert (report.rebuilt, report.added) == (True, 10)
        new = IndexDir(index).current()
        assert new != old and not old.exists()
        # An open catalogue follows the swap.
        assert cat.search("supply chains").hits[0].id == SUPPLY_CHAINS


def test_failed_rebuild_keeps_the_old_index(tmp_path: Path, corpus_copy: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    old = IndexDir(index).current()
    import thb_search.indexing as indexing

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(indexing, "write_new_index", crash)
    with pytest.raises(RuntimeError):
        sync(index, [corpus_copy], rebuild=True)
    assert IndexDir(index).current() == old
    assert sorted(p.name for p in index.glob("gen-*")) == [old.name]
    monkeypatch.undo()
    with Catalogue(index) as cat:
        assert len(cat) == 10


def test_a_failing_document_cancels_the_writer(tmp_path: Path, corpus_copy: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    (corpus_copy / "new.jsonl").write_text(NEW_JSONL, encoding="utf-8")
    import thb_search.scan as scan

    original = scan.to_document
    calls = []

    def failing(record, fingerprint):  # noqa: ANN001, ANN202
        calls.append(record.id)
        doc = original(record, fingerprint)
        if len(calls) == 2:
            doc["no_such_field"] = "x"  # Whoosh rejects it inside add_document
        return doc

    monkeypatch.setattr(scan, "to_document", failing)
    with pytest.raises(Exception, match="no_such_field"):
        sync(index, [corpus_copy])
    monkeypatch.undo()
    # The writer was cancelled: no lock left behind, nothing half-written.
    with Catalogue(index) as cat:
        assert len(cat) == 10 and ids(cat, "terrorism") == {TERRORISM}
    report = sync(index, [corpus_copy])
    assert counts(report) == (2, 1, 0, 9)
    with Catalogue(index) as cat:
        assert ids(cat, "terrorism") == {TERRORISM}


def test_second_writer_waits_then_fails_clearly(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    with lock_held_elsewhere(index) as holder:
        start = time.monotonic()
        with pytest.raises(IndexLockedError) as err:
            sync(index, [corpus_copy], wait=0.3)
        assert time.monotonic() - start >= 0.3
        # Searches keep working meanwhile.
        with Catalogue(index) as cat:
            assert len(cat) == 10
    assert str(err.value) == (
        f"the index at {index}/ is being written by another thb-search process (process "
        f"{holder}); waited 0.3 s. Try again when it has finished, or wait longer with "
        "--wait SECONDS")
    assert sync(index, [corpus_copy], wait=0).total == 10


def test_outdated_schema_is_rebuilt_with_a_message(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    (IndexDir(index).current() / VERSION_FILE).write_text("0.0\n")
    messages: list[str] = []
    with Catalogue(index, corpus=[BUNDLED], notify=messages.append) as cat:
        assert len(cat) == 10
    assert messages == [f"the index at {index}/ was built by another version of thb-search "
                        f"(schema 0.0, now {SCHEMA_VERSION}); rebuilding it"]
    assert ensure_index(index, [BUNDLED]) is None


def test_missing_index_is_built_on_first_use(tmp_path: Path, corpus_copy: Path) -> None:
    messages: list[str] = []
    with pytest.raises(IndexNotFoundError, match="run 'thb-search index'"):
        Catalogue(tmp_path / "index")
    with Catalogue(tmp_path / "index", corpus=[corpus_copy], notify=messages.append) as cat:
        assert len(cat) == 10
    assert messages == [f"no index at {tmp_path / 'index'}/ yet: building it from "
                        f"{corpus_copy}/"]


def test_folder_that_is_not_an_index_is_left_alone(tmp_path: Path, corpus_copy: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(IndexNotFoundError, match="is not a thb-search index"):
        sync(other, [corpus_copy])
    assert (other / "precious.txt").read_text() == "keep me"


def test_add_files_copies_validates_and_is_idempotent(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    new = tmp_path / "incoming" / "new.jsonl"
    new.parent.mkdir()
    new.write_text(NEW_JSONL, encoding="utf-8")
    report = add_files(corpus_copy, index, [new])
    assert report.copied == ((str(new), str(corpus_copy / "new.jsonl")),)
    assert counts(report.index) == (2, 1, 0, 9)
    again = add_files(corpus_copy, index, [new])
    assert again.copied == () and again.present == ((str(new), str(corpus_copy / "new.jsonl")),)
    assert not again.index.changed

    # A different file of the same name goes in beside it, never over it.
    other = tmp_path / "other" / "new.jsonl"
    other.parent.mkdir()
    other.write_text(json.dumps({"id": "new-3", "title": "Third"}) + "\n", encoding="utf-8")
    third = add_files(corpus_copy, index, [other])
    assert third.copied == ((str(other), str(corpus_copy / "new-2.jsonl")),)
    assert counts(third.index) == (1, 0, 0, 12)


def test_add_files_rejects_invalid_files_and_copies_nothing(tmp_path: Path,
                                                             corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    bad = tmp_path / "bad.csv"
    bad.write_text("title,date\nA,someday\n", encoding="utf-8")
    with pytest.raises(CorpusErrors, match="bad.csv:2: unreadable date 'someday'"):
        add_files(corpus_copy, index, [bad])
    assert sorted(p.name for p in corpus_copy.iterdir()) == ["osce-thb-publications.txt"]


def test_add_files_removes_its_copies_when_indexing_fails(tmp_path: Path,
                                                          corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    new = tmp_path / "new.jsonl"
    new.write_text(NEW_JSONL, encoding="utf-8")
    with lock_held_elsewhere(index), pytest.raises(IndexLockedError):
        add_files(corpus_copy, index, [new], wait=0)
    assert sorted(p.name for p in corpus_copy.iterdir()) == ["osce-thb-publications.txt"]


def test_add_files_takes_back_its_copies_when_indexing_fails(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import thb_search.adding as adding

    index = tmp_path / "index"
    sync(index, [corpus_copy])
    new = tmp_path / "new.jsonl"
    new.write_text(NEW_JSONL, encoding="utf-8")
    seen: list[list[str]] = []

    def failing_sync(*args: object, **kwargs: object) -> None:
        seen.append(sorted(p.name for p in corpus_copy.iterdir()))
        raise IndexingError("the indexing failed")

    monkeypatch.setattr(adding, "sync", failing_sync)
    with pytest.raises(IndexingError):
        add_files(corpus_copy, index, [new])
    assert seen == [[f".thb-add-{os.getpid()}.json", "new.jsonl",
                     "osce-thb-publications.txt"]]
    assert sorted(p.name for p in corpus_copy.iterdir()) == ["osce-thb-publications.txt"]


def test_outdated_index_without_a_catalogue_says_to_rebuild(tmp_path: Path,
                                                            corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    (IndexDir(index).current() / VERSION_FILE).write_text("0.0\n")
    with pytest.raises(IndexOutdatedError) as err:
        Catalogue(index)
    assert str(err.value) == (
        f"the index at {index}/ was built by another version of thb-search (schema 0.0, now "
        f"{SCHEMA_VERSION}): rebuild it with 'thb-search index --rebuild' (with --index "
        f"{index})")


def test_damaged_index_is_a_clear_error(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    (toc,) = IndexDir(index).current().glob("*.toc")
    toc.write_bytes(b"not a pickle")
    with pytest.raises(IndexCorruptError) as err:
        Catalogue(index)
    # The signature tells before Whoosh reads a byte of it.
    assert str(err.value) == (
        f"the index at {index}/ is not opened: a file was changed after it was signed "
        f"({toc.name}): rebuild it from the catalogue with 'thb-search index --rebuild'")
    # The next indexing run notices and rebuilds it.
    messages: list[str] = []
    report = sync(index, [corpus_copy], notify=messages.append)
    assert report.rebuilt and report.total == 10
    assert messages == [f"the index at {index}/ is not opened: a file was changed after it was "
                        f"signed ({toc.name}); rebuilding it"]


def _rebuild_with_worker(worker: object, expected: type[Exception], tmp_path: Path,
                        corpus: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Exception]:
    """A rebuild whose worker processes run ``worker``: it must fail with
    ``expected`` and leave the index's generation as it was."""
    import thb_search.writer as writer

    index = tmp_path / "index"
    sync(index, [corpus])
    before = IndexDir(index).current()
    monkeypatch.setattr(writer, "PARALLEL_MIN_DOCS", 1)
    monkeypatch.setattr(writer, "BATCH_DOCS", 3)
    monkeypatch.setattr(writer, "_worker", worker)
    with pytest.raises(expected) as err:
        sync(index, [corpus], rebuild=True)
    assert IndexDir(index).current() == before
    assert [p.name for p in index.iterdir() if p.name.startswith("gen-")] == [before.name]
    return index, err.value


def test_a_crashed_worker_is_a_clear_error_and_the_index_stays(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, err = _rebuild_with_worker(_broken_worker, IndexingError, tmp_path, corpus_copy,
                                  monkeypatch)
    assert str(err) == (
        "an indexing worker process failed (ValueError: a batch it could not read); the "
        "index was left as it was: fix the cause and run the command again")
    assert isinstance(err, IndexingError) and "Traceback" in err.details


def test_a_worker_out_of_disk_space_says_the_disk_is_full(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index, err = _rebuild_with_worker(_failing_worker, DiskFullError, tmp_path, corpus_copy,
                                      monkeypatch)
    assert str(err) == (
        f"the disk holding {index}/ is full, or a write to it failed (the file size limit, "
        "an I/O error): free some space there and run the command again; nothing was lost and "
        "the index is as it was before this command")


def _broken_worker(jobs, results, k, texts, inboxes=()):  # noqa: ANN001, ANN202
    """A worker process that fails for a reason of its own."""
    import traceback

    try:
        raise ValueError("a batch it could not read")
    except ValueError as exc:
        results.put((k, "error", (f"{type(exc).__name__}: {exc}", traceback.format_exc()), {}))


def _failing_worker(jobs, results, k, texts, inboxes=()):  # noqa: ANN001, ANN202
    """A worker process that runs out of disk space."""
    import errno
    import traceback

    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as exc:
        results.put((k, "error", (f"{type(exc).__name__}: {exc}", traceback.format_exc()), {}))


def test_writer_active_tells_whether_another_writer_holds_the_lock(tmp_path: Path,
                                                                   corpus_copy: Path) -> None:
    import subprocess
    import sys

    index = tmp_path / "index"
    sync(index, [corpus_copy])
    ixdir = IndexDir(index)
    assert ixdir.writer_active() is False
    with ixdir.lock():
        assert ixdir.writer_active() is False  # this process is the writer
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from thb_search.indexdir import IndexDir\n"
         "with IndexDir(sys.argv[1]).lock():\n    print('locked', flush=True)\n"
         "    time.sleep(60)", str(index)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        assert ixdir.writer_active() is True
    finally:
        holder.kill()  # a writer killed while holding the lock
        holder.wait()
        holder.stdout.close()
    assert ixdir.writer_active() is False  # never blocks the next one
    assert sync(index, [corpus_copy], wait=0).total == 10
    assert IndexDir(tmp_path / "none").writer_active() is False
