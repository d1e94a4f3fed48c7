"""A large JSON Lines file read on two cores (:func:`thb_search.corpus.read_split`):
the same records, errors and warnings, in the same order and with the same
line numbers, as reading it in one; and the index built from it the same."""

from __future__ import annotations

import json
import multiprocessing.context
import os
import re
from pathlib import Path
from typing import Any

import pytest

import thb_search.corpus as corpus
from thb_search import Catalogue, sync
from thb_search.corpus import MAX_RECORD_BYTES, iter_file, read_split
from thb_search.errors import CorpusFormatError
from thb_search.records import Record

ENDS = ("\n", "\r\n", "\r")


def catalogue_lines() -> list[str]:
    """400 lines: records with line ends of every kind, blank lines, and
    errors and a warning in both halves."""
    lines = []
    for i in range(400):
        record: dict[str, Any] = {
            "id": f"r{i:03d}", "title": f"Forced labour report {i}",
            "date": f"20{10 + i % 12}-0{1 + i % 9}-1{i % 10}",
            "summary": f"Supply chains and victims, part {i}.",
            "office": ["OSCE Secretariat", "ODIHR"][i % 2], "themes": ["Labour"]}
        lines.append(json.dumps(record))
    lines[0] = "\ufeff" + lines[0]
    for n in (49, 100, 250):  # (after a line that ends in "\n" or "\r\n": a lone
        lines[n] = ""  # "\r" and the blank line's "\n" would make one line end)
    lines[29] = '{"id": "broken-1", "title": '  # line 30
    lines[349] = '{"id": "broken-2", "title": '  # line 350
    lines[119] = json.dumps({"id": "odd-1", "title": "Odd", "colour": "red"})  # line 120
    lines[149] = json.dumps({"id": "bare-1", "date": "2020-01-01"})  # line 150: a warning
    lines[299] = json.dumps({"id": "bare-2", "date": "2020-01-01"})  # line 300: a warning
    return lines


def write_catalogue(path: Path, lines: list[str]) -> Path:
    text = "".join(line + ENDS[n % 3] for n, line in enumerate(lines))
    path.write_bytes(text.encode("utf-8"))
    return path


def comparable(items: list[Any]) -> list[tuple[Any, ...]]:
    """Items as values (errors compare by identity; a record's line is not
    one of its compared fields)."""
    out: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, tuple):
            record, core, fp = item
            out.append(("record", record, record.line, record.source, core, fp))
        elif isinstance(item, CorpusFormatError):
            out.append(("error", str(item)))
        else:
            out.append(("warning", item))
    return out


def read_in_one(path: Path) -> list[tuple[Any, ...]]:
    items = []
    for item in iter_file(path):
        if isinstance(item, Record):
            core = item.core_hash()
            items.append((item, core, corpus.fingerprint(core, item.offices, item.themes)))
        else:
            items.append(item)
    return comparable(items)


def test_a_file_read_on_two_cores_gives_what_reading_it_in_one_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_catalogue(tmp_path / "big.jsonl", catalogue_lines())
    data = path.read_bytes()
    split = corpus._split_point(path)
    assert split is not None
    first = corpus._first_line(path, split)
    assert split is not None and split >= len(data) * 0.55 and data[split - 1:split] == b"\n"
    assert first == len(re.findall(rb"\r\n|\r|\n", data[:split])) + 1 == 224
    parts: list[tuple[int, int | None]] = []
    items = corpus._items

    def recorded(path: Path, only: Any = None, start: int = 0, end: int | None = None,
                 *rest: Any) -> Any:
        parts.append((start, end))
        return items(path, only, start, end, *rest)

    monkeypatch.setattr(corpus, "_items", recorded)
    got = comparable(list(read_split(path)))
    assert parts == [(0, split)]  # the rest was read by the other process
    monkeypatch.undo()
    assert got == read_in_one(path)
    shown = str(path)
    assert [g[1] for g in got if g[0] == "error"] == [
        f"{shown}:30: invalid JSON (Expecting value at column 29): each line must be one "
        "JSON object",
        f"{shown}:120: unknown field 'colour': the fields are id, title, date, type, office, "
        "themes, publisher, summary, url, collections, file, locations",
        f"{shown}:350: invalid JSON (Expecting value at column 29): each line must be one "
        "JSON object",
    ]
    assert [g[1] for g in got if g[0] == "warning"] == [
        f"{shown}:{n}: record '{rid}' has no title or summary: it is indexed but no text "
        "search can find it" for n, rid in ((150, "bare-1"), (300, "bare-2"))]
    records = [g[1] for g in got if g[0] == "record"]
    assert len(records) == 400 - 3 - 3
    assert [(r.id, r.line) for r in records[:2]] == [("r000", 1), ("r001", 2)]
    assert [(r.id, r.line) for r in records[-1:]] == [("r399", 400)]


def test_a_line_too_long_to_read_where_the_file_is_split(tmp_path: Path) -> None:
    """The second part starts after the long line, whose length stands for it."""
    lines = catalogue_lines()
    lines[219] = json.dumps({"id": "long-1", "title": "x" * (MAX_RECORD_BYTES + 10)})
    path = write_catalogue(tmp_path / "big.jsonl", lines)
    split = corpus._split_point(path)
    assert split is not None
    first = corpus._first_line(path, split)
    assert first == 221
    got = comparable(list(read_split(path)))
    assert got == read_in_one(path)
    assert ("error", f"{path}:220: the line is {MAX_RECORD_BYTES + 39:,} bytes long: a "
            "record may be at most 1 MB; split or shorten it") in got


def test_a_line_that_is_not_utf8_in_the_first_part_ends_the_reading_there(
        tmp_path: Path) -> None:
    """As reading the file in one does: nothing after that line is given."""
    path = write_catalogue(tmp_path / "big.jsonl", catalogue_lines())
    data = path.read_bytes()
    bad = data.index(b'Forced labour report 10"')
    path.write_bytes(data[:bad] + b"\xff" + data[bad + 1:])
    got = comparable(list(read_split(path)))
    assert got == read_in_one(path)
    assert [g for g in got if g[0] != "record"] == [
        ("error", f"{path}:11: not valid UTF-8 text: save the file as UTF-8")]
    assert [g[2] for g in got if g[0] == "record"] == list(range(1, 11))


@pytest.mark.parametrize("failure", ["dies", "cannot start"])
def test_when_the_other_process_fails_this_one_reads_its_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    path = write_catalogue(tmp_path / "big.jsonl", catalogue_lines())
    spawn = multiprocessing.context.SpawnContext.Process

    def failing(*args: Any, **kwargs: Any) -> Any:
        process = spawn(target=os._exit, args=(3,), daemon=True)  # ends at once, sending nothing
        if failure == "cannot start":
            def start() -> None:
                raise OSError("no more processes")

            process.start = start
        return process

    monkeypatch.setattr(multiprocessing.context.SpawnContext, "Process",
                        staticmethod(failing))
    assert comparable(list(read_split(path))) == read_in_one(path)


def test_an_index_built_from_a_file_read_on_two_cores_is_the_one_read_in_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "corpus").mkdir()
    path = write_catalogue(tmp_path / "corpus" / "big.jsonl", catalogue_lines())
    one = sync(tmp_path / "one", [path], skip_invalid=True)
    size = path.stat().st_size
    assert not corpus.splits(path, size)  # too small to pay
    monkeypatch.setattr(corpus, "SPLIT_MIN_BYTES", 1)
    assert corpus.splits(path, size)
    two = sync(tmp_path / "two", [path], skip_invalid=True)
    assert [str(e) for e in two.skipped] == [str(e) for e in one.skipped]
    assert [str(e).split(": ", 1)[0] for e in two.skipped] == [
        f"{path}:30", f"{path}:120", f"{path}:350"]
    assert two.warnings == one.warnings
    assert (two.total, two.added) == (one.total, one.added) == (394, 394)
    with Catalogue(tmp_path / "one") as a, Catalogue(tmp_path / "two") as b:
        for query in ("forced labour", "report 7", ""):
            ra, rb = (c.search(query, limit=50, facets=True) for c in (a, b))
            assert [h.id for h in rb.hits] == [h.id for h in ra.hits]
            assert rb.total == ra.total
            assert rb.facets == ra.facets
        assert [b.get(f"r{i}") for i in range(215, 230)] == [
            a.get(f"r{i}") for i in range(215, 230)]


def test_which_files_are_read_on_two_cores_and_how(monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON Lines files from 32 MB; up to 200 MB with their records (the
    indexer may keep them), beyond 400 MB (too many to keep) with copies;
    in between, in one (records that might be kept are not held twice)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert [corpus.splits(name, size) for name, size in [
        ("a.jsonl", 31_999_999), ("a.jsonl", 32_000_000), ("a.JSONL", 200_000_000),
        ("a.jsonl", 200_000_001), ("a.jsonl", 400_000_000), ("a.jsonl", 400_000_001),
        ("a.jsonl", 2_000_000_000), ("a.csv", 100_000_000), ("a.txt", 500_000_000)]] == [
        None, "records", "records", None, None, "copies", "copies", None, None]
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert corpus.splits("a.jsonl", 100_000_000) is None


def test_the_other_process_can_send_its_records_as_copies(tmp_path: Path) -> None:
    """As a file's state holds them (Copy.compact), which copy_of reads."""
    path = write_catalogue(tmp_path / "big.jsonl", catalogue_lines())
    split = corpus._split_point(path)
    assert split is not None
    first = corpus._first_line(path, split)
    got = list(read_split(path, copies=True))
    whole = read_in_one(path)
    assert len(got) == len(whole)
    sent = [item for item in got if type(item) is list]
    assert [c[1] for c in sent] == [g[2] for g in whole if g[0] == "record" and g[2] >= first]
    assert sent[0][1] == first
    for item, expected in zip(got, whole, strict=True):
        if type(item) is list:
            assert expected[0] == "record"
            _, record, line, _, core, fp = expected
            copy = corpus.Copy(record.id, str(path), line, 7, core, record.offices,
                               record.themes, fp, record.file)
            assert item == copy.compact()
            assert corpus.copy_of(item, str(path), 7, {}) == copy
        else:
            assert comparable([item]) == [expected]
    # Equal office lists are one tuple (a copy takes a fifth of a record's memory).
    assert len({id(c[3]) for c in sent}) == len({c[3] for c in sent}) == 3


def test_an_index_built_from_copies_is_the_one_read_in_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file too large to keep its records is read again to be written."""
    import thb_search.scan as scan

    (tmp_path / "corpus").mkdir()
    path = write_catalogue(tmp_path / "corpus" / "big.jsonl", catalogue_lines())
    one = sync(tmp_path / "one", [path], skip_invalid=True)
    for name in ("SPLIT_MIN_BYTES", "SPLIT_MAX_BYTES", "SPLIT_BRIEF_BYTES"):
        monkeypatch.setattr(corpus, name, 1)
    assert corpus.splits(path, path.stat().st_size) == "copies"
    read_again: list[str] = []
    original = scan.iter_file
    monkeypatch.setattr(scan, "iter_file", lambda p, *lines: read_again.append(Path(p).name)
                        or original(p, *lines))
    two = sync(tmp_path / "two", [path], skip_invalid=True)
    assert read_again == ["big.jsonl"]
    assert [str(e) for e in two.skipped] == [str(e) for e in one.skipped]
    assert two.warnings == one.warnings
    assert (two.total, two.added) == (one.total, one.added) == (394, 394)
    with Catalogue(tmp_path / "one") as a, Catalogue(tmp_path / "two") as b:
        ra, rb = (c.search("forced labour", limit=400, facets=True) for c in (a, b))
        assert [h.id for h in rb.hits] == [h.id for h in ra.hits]
        assert rb.facets == ra.facets
        assert [b.get(f"r{i}") for i in range(215, 230)] == [
            a.get(f"r{i}") for i in range(215, 230)]


def test_the_other_process_ends_quietly_when_the_reader_is_gone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """It leaves Ctrl-C to the indexer, and a pipe closed under it (the
    indexer stopped reading) ends it without a traceback on the terminal."""
    import signal

    import thb_search.workers

    path = write_catalogue(tmp_path / "big.jsonl", catalogue_lines())
    split = corpus._split_point(path)
    assert split is not None

    class Closed:
        def send(self, batch: Any) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    exits: list[int] = []

    def exit_(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    handlers: list[tuple[int, Any]] = []
    monkeypatch.setattr(thb_search.workers, "die_with_parent", lambda: None)
    monkeypatch.setattr(signal, "signal", lambda sig, handler: handlers.append((sig, handler)))
    monkeypatch.setattr(os, "_exit", exit_)
    with pytest.raises(SystemExit):
        corpus._read_part(str(path), split, Closed())
    assert exits == [1]
    assert handlers == [(signal.SIGINT, signal.SIG_IGN)]
    assert capsys.readouterr() == ("", "")
