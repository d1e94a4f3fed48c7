"""Reading catalogue files: the three formats, their variations, their errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import inspect
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import BUNDLED, NRM_HANDBOOK, ODIHR, OSR, SMALL_LISTING, THREE_ACTION_AREAS
from thb_search.corpus import (
    Copy,
    Record,
    derive_id,
    find_files,
    fingerprint,
    parse_date,
    read_file,
    read_records,
    resolve,
)
from thb_search.errors import CorpusNotFoundError


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def only_error(path: Path) -> str:
    result = read_file(path)
    assert len(result.errors) == 1, result.errors
    return str(result.errors[0])


# -- the bundled listing ---------------------------------------------------


def test_bundled_listing_reads_ten_records() -> None:
    result = read_file(BUNDLED / "osce-thb-publications.txt")
    assert result.errors == [] and result.warnings == []
    assert len(result.records) == 10
    first = result.records[0]
    assert first.id == THREE_ACTION_AREAS
    assert first.title == "Three Action Areas for Parliaments to Combat Trafficking in Human Beings"
    assert first.date == dt.date(2022, 2, 25)
    assert first.type == "Brochure"
    assert first.offices == (OSR,)
    assert first.themes == ("Combating trafficking in human beings",)
    assert first.publisher == "Organization for Security and Co-operation in Europe"
    assert first.summary.startswith("This handout identifies three areas")
    assert first.line == 1
    handbook = result.records[1]
    assert handbook.id == NRM_HANDBOOK
    assert handbook.themes == ("Combating trafficking in human beings", "Human rights")
    assert handbook.offices == (ODIHR,)
    # The poster has no summary: the next line is the next record's title.
    poster = result.records[7]
    assert poster.title.endswith("Event Flyer") and poster.summary == ""
    assert result.records[8].title.startswith("National Referral Mechanisms: Joining")
    assert [r.line for r in result.records] == [1, 8, 15, 22, 29, 36, 43, 50, 56, 63]


# -- listing variations ----------------------------------------------------


def test_listing_with_bom_crlf_blank_lines_and_no_final_newline(tmp_path: Path) -> None:
    text = "\r\n\r\n" + SMALL_LISTING.replace("\n", "\r\n").rstrip("\r\n")
    path = write(tmp_path, "a.txt", b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = read_file(path)
    assert result.errors == []
    assert [r.title for r in result.records] == [
        "Forced Labour in Supply Chains: A Guide", "Factsheet: Organ Removal"]
    assert [r.line for r in result.records] == [3, 11]
    assert result.records[1].summary == "Trafficking for the removal of organs is a grave crime."


def test_listing_titles_with_colons_and_label_words(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", SMALL_LISTING)
    records = read_file(path).records
    assert records[0].title == "Forced Labour in Supply Chains: A Guide"
    assert records[1].title == "Factsheet: Organ Removal"
    assert records[0].offices == ("OSCE Mission to Serbia", ODIHR)


def test_listing_optional_labels_and_collections(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", (
        "Minimal record\n"
        "Publishing date: 5 May 2015\n"
        "Another: with a colon in its title\n"
        "Publishing date: 6 May 2015\n"
        "Collections: Reports, Legal texts\n"
        "Publisher: Somebody: with a colon\n"
        "A summary “with curly quotes” and Dačić.\n"))
    result = read_file(path)
    assert result.errors == []
    a, b = result.records
    assert (a.title, a.summary, a.type, a.offices, a.themes) == ("Minimal record", "", "", (), ())
    assert b.title == "Another: with a colon in its title"
    assert b.collections == ("Reports", "Legal texts")
    assert b.publisher == "Somebody: with a colon"
    assert b.summary == "A summary “with curly quotes” and Dačić."


def test_listing_unreadable_date(tmp_path: Path) -> None:
    text = SMALL_LISTING.replace("1 June 2019", "31 Febuary 2022")
    assert only_error(write(tmp_path, "new.txt", text)) == (
        f"{tmp_path / 'new.txt'}:10: unreadable date '31 Febuary 2022' "
        "(expected e.g. 25 February 2022 or 2022-02-25)")


def test_listing_impossible_date(tmp_path: Path) -> None:
    text = SMALL_LISTING.replace("1 June 2019", "31 February 2022")
    assert only_error(write(tmp_path, "new.txt", text)).endswith(
        ":10: unreadable date '31 February 2022' (expected e.g. 25 February 2022 or 2022-02-25)")


def test_listing_missing_date(tmp_path: Path) -> None:
    text = SMALL_LISTING.replace("Publishing date: 1 June 2019\n", "")
    message = only_error(write(tmp_path, "new.txt", text))
    assert message.endswith(":9: record 'Factsheet: Organ Removal' has no 'Publishing date:' "
                            "line: add one right after the title (expected e.g. 25 February "
                            "2022 or 2022-02-25)")


def test_listing_label_cut_off(tmp_path: Path) -> None:
    text = SMALL_LISTING.replace("Content type: Factsheet", "Content type:")
    assert only_error(write(tmp_path, "new.txt", text)).endswith(
        ":11: 'Content type:' line has no value (cut off?): complete it or remove the line")


def test_listing_title_cut_off_at_end(tmp_path: Path) -> None:
    text = SMALL_LISTING + "A last title with nothing after it\n"
    path = write(tmp_path, "new.txt", text)
    assert only_error(path) == (
        f"{path}:16: record 'A last title with nothing after it' is cut off: a title must be "
        "followed by its 'Publishing date:' line")
    # The record before it is still read (and indexed with --skip-invalid).
    assert len(read_file(path).records) == 1


def test_listing_second_summary_line(tmp_path: Path) -> None:
    text = SMALL_LISTING.replace("their supply chains.\n", "their supply chains.\nMore text.\n")
    path = write(tmp_path, "new.txt", text)
    assert only_error(path) == (
        f"{path}:8: a record has at most one summary line: join the summary into one line "
        "(or, if this is a title, give it a 'Publishing date:' line)")
    assert [r.title for r in read_file(path).records] == ["Factsheet: Organ Removal"]


def test_listing_date_line_without_title(tmp_path: Path) -> None:
    assert only_error(write(tmp_path, "a.txt", "Publishing date: 1 June 2019\nText\n")) == (
        f"{tmp_path / 'a.txt'}:1: 'Publishing date:' line where a title was expected: "
        "each record starts with its title line")


def test_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", b"Title\nPublishing date: 1 June 2019\nbad \xff byte\n")
    assert only_error(path) == f"{path}:3: not valid UTF-8 text: save the file as UTF-8"


# -- JSON Lines ------------------------------------------------------------


def test_jsonl_lists_strings_and_dates(tmp_path: Path) -> None:
    lines = [
        {"title": "A", "date": "2022-02-25", "office": ["X", "Y"], "themes": "T1, T2",
         "type": "Factsheet", "summary": "s", "url": "https://example.org/a"},
        {"id": 17, "summary": "only a summary", "date": "25 February 2022"},
        {"title": "No date at all"},
    ]
    path = write(tmp_path, "a.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    result = read_file(path)
    assert result.errors == []
    a, b, c = result.records
    assert (a.offices, a.themes, a.date, a.url) == (
        ("X", "Y"), ("T1", "T2"), dt.date(2022, 2, 25), "https://example.org/a")
    assert (b.id, b.title, b.date) == ("17", "", dt.date(2022, 2, 25))
    assert (c.date, c.year) == (None, None)
    assert [r.line for r in result.records] == [1, 2, 3]


def test_jsonl_aliases(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", json.dumps(
        {"title": "A", "offices": ["X"], "theme": "T"}) + "\n")
    (record,) = read_file(path).records
    assert (record.offices, record.themes) == (("X",), ("T",))


@pytest.mark.parametrize(("line", "problem"), [
    ('{"title": "A",', "invalid JSON (Expecting property name enclosed in double quotes at "
                      "column 15): each line must be one JSON object"),
    ('{"title": "A", "url": ' + "9" * 5000 + "}",
     "a number on this line has too many digits to be read: write it as a string (in "
     "quotes)"),
    ('["A"]', "expected a JSON object, got list: each line must be one object such as "
              '{"title": ..., "date": ...}'),
    ('{"tittle": "A"}', "unknown field 'tittle': the fields are id, title, date, type, office, "
                        "themes, publisher, summary, url, collections, file, locations"),
    ('{"title": "A", "date": "yesterday"}',
     "unreadable date 'yesterday' (expected e.g. 25 February 2022 or 2022-02-25)"),
    ('{"date": "2022-01-01"}', "record has no text: give it a title or a summary"),
    ('{"title": "A", "type": ["x"]}', "field 'type' must be a string"),
    ('{"title": "A", "id": "two words"}',
     "invalid id 'two words': an id is one word, e.g. 'nrm-handbook-2022'; leave it out to "
     "have one derived"),
])
def test_jsonl_errors(tmp_path: Path, line: str, problem: str) -> None:
    path = write(tmp_path, "a.jsonl", '{"title": "fine"}\n' + line + "\n")
    assert only_error(path) == f"{path}:2: {problem}"


def test_jsonl_lines_with_the_same_keys_are_each_checked(tmp_path: Path) -> None:
    """A file's key sets are worked out once each: lines repeating a wrong
    one are each reported, those between them read as usual."""
    path = write(tmp_path, "a.jsonl", "".join(json.dumps(line) + "\n" for line in [
        {"title": "One", "office": "A"}, {"title": "Two", "colour": "red"},
        {"title": "Three", "office": "B"}, {"title": "Four", "colour": "blue"},
        {"office": "C", "title": "Five"}]))
    result = read_file(path)
    assert [(r.title, r.offices, r.line) for r in result.records] == [
        ("One", ("A",), 1), ("Three", ("B",), 3), ("Five", ("C",), 5)]
    assert [str(e) for e in result.errors] == [
        f"{path}:{n}: unknown field 'colour': the fields are id, title, date, type, office, "
        "themes, publisher, summary, url, collections, file, locations" for n in (2, 4)]


def test_record_with_id_and_no_text_is_kept_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", '{"id": "471", "title": "", "summary": ""}\n')
    result = read_file(path)
    assert [r.id for r in result.records] == ["471"]
    assert result.warnings == [f"{path}:1: record '471' has no title or summary: it is "
                               "indexed but no text search can find it"]


# -- CSV -------------------------------------------------------------------


def test_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", (
        "title,date,office,themes,type,summary\n"
        'Guide,2020-03-03,"A, B",T,Guide,"multi\nline summary"\n'
        "\n"
        "Second,,,,,\n"))
    result = read_file(path)
    assert result.errors == []
    a, b = result.records
    assert (a.offices, a.summary, a.line) == (("A", "B"), "multi line summary", 2)
    assert (b.title, b.date, b.line) == ("Second", None, 5)


def test_csv_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "title,colour\nA,red\n")
    assert only_error(path) == (f"{path}:1: unknown field 'colour': the fields are id, title, "
                                "date, type, office, themes, publisher, summary, url, "
                                "collections, file, locations")
    path = write(tmp_path, "b.csv", "title,date\nA,2020-01-01,extra\n")
    assert only_error(path) == (f"{path}:2: row has 3 cells, the header 2: quote cells that "
                                'contain commas ("A, B")')
    path = write(tmp_path, "c.csv", "date,type\n2020-01-01,x\n")
    assert "neither 'title' nor 'summary'" in only_error(path)


# -- dates, ids, files -----------------------------------------------------


@pytest.mark.parametrize(("text", "date"), [
    ("25 February 2022", dt.date(2022, 2, 25)), ("2022-02-25", dt.date(2022, 2, 25)),
    ("5 Feb 2022", dt.date(2022, 2, 5)), ("February 25, 2022", dt.date(2022, 2, 25)),
    ("  1 sept 2020 ", dt.date(2020, 9, 1)),
])
def test_parse_date(text: str, date: dt.date) -> None:
    assert parse_date(text) == date


@pytest.mark.parametrize("text", ["2022-02-30", "2022-1a-05", "2022-00-10", "0000-01-01"])
def test_dates_of_the_iso_shape_that_are_no_date_say_so(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_date(text)
    assert str(err.value) == (f"unreadable date {text!r} (expected e.g. 25 February 2022 or "
                              "2022-02-25)")


def test_lists_of_values_are_each_records_own(tmp_path: Path) -> None:
    """Offices and themes read alike are alike; a number is its own text
    (5 and 5.0 are not one value), and so are lists past the thousands a
    reader remembers."""
    lines = [{"title": "A", "office": 5}, {"title": "B", "office": 5.0},
             {"title": "C", "office": ["X", " X ", "Y"]}, {"title": "D", "office": "X, Y"},
             *({"title": f"T{i}", "office": [f"O{i}"]} for i in range(5000)),
             {"title": "E", "office": ["X", "Y"]}, {"title": "F", "office": 7}]
    path = write(tmp_path, "a.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    offices = {r.title: r.offices for r in read_file(path).records}
    assert [offices[t] for t in "ABCDEF"] == [
        ("5",), ("5.0",), ("X", "Y"), ("X", "Y"), ("X", "Y"), ("7",)]
    assert [offices[f"T{i}"] for i in (0, 4095, 4999)] == [("O0",), ("O4095",), ("O4999",)]


def test_a_long_line_of_numbers_and_text_is_one_record(tmp_path: Path) -> None:
    """A line of more than a quarter of the record limit has its record's
    size counted (values written out), and is read when within it."""
    line = {"title": "A", "summary": "s" * 400_000, "url": 1e300, "type": 12}
    path = write(tmp_path, "a.jsonl", json.dumps(line) + "\n")
    (record,) = read_file(path).records
    assert (len(record.summary), record.url, record.type) == (400_000, "1e+300", "12")


def test_derived_ids_are_short_and_ignore_punctuation_and_case() -> None:
    a = derive_id("National Referral Mechanisms- Joining Efforts", dt.date(2022, 1, 24))
    b = derive_id("national referral mechanisms – joining efforts", dt.date(2022, 1, 24))
    assert a == b and len(a) == 10 and a.isalnum()
    assert a != derive_id("National Referral Mechanisms- Joining Efforts", dt.date(2021, 1, 24))


def test_find_files(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", SMALL_LISTING)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "b.jsonl", '{"title": "x"}\n')
    write(tmp_path, "notes.md", "x")
    write(tmp_path, ".hidden.txt", "x")
    files, warnings = find_files([tmp_path])
    assert [f.name for f in files] == ["a.txt", "b.jsonl"]
    assert warnings == [f"{tmp_path / 'notes.md'} is not a catalogue file (.txt, .jsonl or "
                        ".csv) and was not read"]
    with pytest.raises(CorpusNotFoundError, match="no such file or folder"):
        find_files([tmp_path / "missing"])
    with pytest.raises(CorpusNotFoundError, match="unsupported file type '.md'"):
        find_files([tmp_path / "notes.md"])


def test_a_records_hash_is_that_of_its_core_as_json() -> None:
    # What an index remembers of each record: a new version reading the same
    # catalogue must find every record unchanged.
    records = list(read_records([BUNDLED]))
    assert [(r.id, r.core_hash()) for r in records[:2]] == [
        ("tqftbdr2gv", "ddf83f6f10d90e6ca83ff3204e42df29ccb5117b"),
        (records[1].id, hashlib.sha1(json.dumps(records[1].core(), sort_keys=True,
                                                ensure_ascii=False).encode()).hexdigest())]


def test_a_record_made_by_a_reader_is_the_dataclass_record() -> None:
    assert list(inspect.signature(Record.of).parameters) == [
        f.name for f in dataclasses.fields(Record)]
    values = {"id": "x", "title": "T", "date": dt.date(2020, 1, 2), "type": "Report",
              "offices": ("A",), "themes": ("B",), "publisher": "P", "summary": "S",
              "url": "u", "collections": ("C",), "file": "", "locations": ("L",),
              "source": "f.jsonl", "line": 3}
    made, plain = Record.of(**values), Record(**values)
    assert (made == plain, hash(made) == hash(plain), vars(made)) == (True, True, vars(plain))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.title = "other"  # type: ignore[misc]


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_TEXTS = st.lists(_TEXT, max_size=3).map(tuple)
#: Every content field of a record (all but where it was read).
_CONTENT = {
    "id": _TEXT, "title": _TEXT, "date": st.none() | st.dates(dt.date(1, 1, 1),
                                                              dt.date(9999, 12, 31)),
    "type": _TEXT, "offices": _TEXTS, "themes": _TEXTS, "publisher": _TEXT,
    "summary": _TEXT, "url": _TEXT, "collections": _TEXTS, "file": _TEXT,
    "locations": _TEXTS,
}


def test_the_generated_records_vary_every_content_field() -> None:
    # A field added to Record must be added here, and so to the comparison below.
    assert set(_CONTENT) == {f.name for f in dataclasses.fields(Record)} - {"source", "line"}


@given(st.builds(Record, **_CONTENT))
def test_a_records_core_is_written_as_the_json_encoder_writes_it(record: Record) -> None:
    # Quotes, backslashes, control characters, U+2028, characters outside
    # the BMP; empty and absent optional fields.
    assert record.core_json() == json.dumps(record.core(), sort_keys=True, ensure_ascii=False)


def test_a_records_core_of_other_types_is_left_to_the_encoder() -> None:
    record = Record(id="x", title="t", collections=(1, "b"))  # type: ignore[arg-type]
    assert record.core_json() == ('{"collections": [1, "b"], "date": null, "id": "x", '
                                  '"publisher": "", "summary": "", "title": "t", "type": "", '
                                  '"url": ""}')


# -- duplicates ------------------------------------------------------------


def copy(order: int, core: str, offices: tuple[str, ...], themes: tuple[str, ...] = ()) -> Copy:
    return Copy("id1", f"/f{order}", 1, order, core, offices, themes,
                fingerprint(core, offices, themes))


def test_duplicates_differing_in_offices_or_themes_merge() -> None:
    r = resolve([copy(1, "c", ("A",), ("T1",)), copy(2, "c", ("B",), ("T1", "T2"))])
    assert (r.offices, r.themes, r.merged, r.superseded) == (("B", "A"), ("T1", "T2"), 1, 0)
    assert r.winner.path == "/f2"


def test_newest_copy_wins_when_content_differs() -> None:
    r = resolve([copy(2, "new", ("B",)), copy(1, "old", ("A",))])
    assert (r.winner.core_hash, r.offices, r.merged, r.superseded) == ("new", ("B",), 0, 1)


# -- reading only the records wanted -----------------------------------------


def test_reading_only_some_lines_gives_those_records_and_parses_no_other_json_line(
        tmp_path: Path) -> None:
    """The indexer writing a few records of a file it read before reads only
    theirs: in JSON Lines no other line is parsed (a broken line elsewhere is
    not met), and reading stops after the last line wanted."""
    from thb_search.corpus import iter_file

    lines = [json.dumps({"id": f"r{i}", "title": f"Title {i}", "date": "2020-01-01"})
             for i in range(1, 9)]
    lines[1] = "{not json"  # line 2
    lines[7] = "[]"  # line 8, after the last line wanted
    path = write(tmp_path, "a.jsonl", "\n".join(lines) + "\n")
    got = list(iter_file(path, only={3, 6}))
    assert [(r.id, r.line) for r in got] == [("r3", 3), ("r6", 6)]  # no errors
    assert [str(e) for e in read_file(path).errors] == [
        f"{path}:2: invalid JSON (Expecting property name enclosed in double quotes at "
        "column 2): each line must be one JSON object",
        f"{path}:8: expected a JSON object, got list: each line must be one object such "
        'as {"title": ..., "date": ...}']


@given(st.binary(max_size=40).map(lambda b: bytes(b"a\r\n"[x % 3] for x in b)),
       st.sampled_from([1, 2, 3, 7, 1 << 20]))
def test_the_offset_of_a_line_is_where_the_line_reader_starts_it(data: bytes,
                                                                  chunk: int) -> None:
    """Going straight to a line (a megabyte of line ends counted at a time)
    lands where the line reader's line begins, whatever the line ends
    (``\\n``, ``\\r\\n``, a lone ``\\r``) and wherever a chunk ends."""
    import io

    from thb_search.corpus import _line_offset, _raw_lines

    lines = list(_raw_lines(io.BytesIO(data)))
    starts = [sum(len(x) for x in lines[:k]) for k in range(len(lines))]  # type: ignore[arg-type]
    ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    for number in range(1, len(lines) + 3):
        got = _line_offset(io.BytesIO(data), number, chunk)
        if number <= len(lines):
            assert got == starts[number - 1], (data, number)
        else:  # past the last line: after a final line end the next starts at the end
            assert got == (len(data) if number == ends + 1 else None), (data, number)


@given(st.lists(st.tuples(st.sampled_from(["record", "blank", "broken"]),
                          st.sampled_from(["\n", "\r\n", "\r"])), min_size=1, max_size=25),
       st.booleans(), st.data())
def test_reading_only_some_lines_gives_what_reading_all_gives_there(
        rows: list[tuple[str, str]], final_end: bool, data: st.DataObject) -> None:
    import tempfile

    from thb_search.corpus import iter_file
    from thb_search.records import Record

    text = "".join(
        (json.dumps({"id": f"r{i}", "title": f"Title {i}", "date": "2020-01-01"})
         if kind == "record" else "" if kind == "blank" else "{not json") + end
        for i, (kind, end) in enumerate(rows))
    if not final_end:
        text = text.rstrip("\r\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        path.write_bytes(text.encode("utf-8"))
        everything = list(iter_file(path))
        lines = data.draw(st.sets(st.integers(1, len(rows) + 2), min_size=1))
        got = list(iter_file(path, only=lines))
    # The records, and the errors, of those lines (no other line parsed).
    assert [str(x) for x in got] == [str(x) for x in everything
                                     if getattr(x, "line", None) in lines]
    assert [x for x in got if isinstance(x, Record)] == [
        x for x in everything if isinstance(x, Record) and x.line in lines]


@pytest.mark.parametrize("name", ["listing.txt", "a.csv"])
def test_reading_only_some_lines_of_a_listing_or_csv_stops_after_the_last(
        tmp_path: Path, name: str) -> None:
    from thb_search.corpus import iter_file
    from thb_search.records import Record

    if name.endswith(".txt"):
        path = write(tmp_path, name, (BUNDLED / "osce-thb-publications.txt").read_text(
            encoding="utf-8"))
    else:
        path = write(tmp_path, name, "id,title,date,summary\n" + "".join(
            f'r{i},Title {i},2020-01-0{i},"summary\nof {i}"\n' for i in range(1, 7)))
    everything = read_file(path).records
    wanted = everything[1], everything[-2]
    got = [r for r in iter_file(path, only={r.line for r in wanted})
           if isinstance(r, Record)]
    assert got == everything[:len(everything) - 1]  # up to the last wanted, whole
    assert [r for r in got if r.line in {w.line for w in wanted}] == list(wanted)


def test_clean_text_is_the_regular_expressions_for_every_character() -> None:
    """The fast path (text returned as it is) agrees with the expressions it
    skips, for every code point alone and between a space and a letter."""
    from thb_search.records import _CONTROL, _SPACES, _SURROGATE, clean_text

    def by_expressions(value: str) -> str:
        if not value.isascii():
            value = _SURROGATE.sub("\ufffd", value)
        return _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()

    differing = [hex(cp) for cp in range(0x110000)
                 for value in (chr(cp), f"a {chr(cp)}b")
                 if clean_text(value) != by_expressions(value)]
    assert differing == []
    assert clean_text(" Forced\u00a0labour\tsupply\u2028chains  ") == "Forced labour supply chains"
    assert clean_text("two  spaces") == "two spaces"
    assert clean_text("bad \ud800 half") == "bad \ufffd half"
