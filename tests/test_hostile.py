"""Hostile and broken input: every reader, the query language and every filter
give results or one of their documented errors, never another exception; the
limits that keep a runaway file from exhausting memory; a listing as people
get it by copying an OSCE page from a browser.

The properties are plain functions (``check_*``) over strategies defined
here, run with a few examples each by the tests below and with 10,000 each by
``scripts/fuzz_soak.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BUNDLED, ODIHR, OSR, SMALL_LISTING
from thb_search import Catalogue, sync
from thb_search.cli import cli
from thb_search.corpus import (
    MAX_FILE_BYTES,
    MAX_RECORD_BYTES,
    Record,
    display_path,
    iter_file,
    read_file,
)
from thb_search.errors import (
    CorpusFormatError,
    InvalidFilterError,
    QuerySyntaxError,
    UnknownFilterValueError,
)
from thb_search.fields import FIELD_SEPARATOR, text_tokens, text_value
from thb_search.query import parse
from thb_search.schema import TITLE_BOOST, build_schema, to_document

DATA = Path(__file__).resolve().parent / "data"
COPIED = DATA / "copied-listing.txt"

#: Examples per property in the default run (the soak script runs 10,000).
EXAMPLES = 40

# -- what the readers are given ----------------------------------------------

LISTING = (BUNDLED / "osce-thb-publications.txt").read_bytes()
JSONL = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in [
    {"id": "nrm-2022", "title": "National Referral Mechanisms", "date": "2022-01-24",
     "type": "Guide / manual / handbook", "office": [ODIHR],
     "themes": "Combating trafficking in human beings, Human rights", "summary": "NRMs…"},
    {"title": "Dačić visits Belgrade", "date": "3 March 2020", "office": "OSCE Mission to "
     "Serbia", "locations": ["Serbia"], "summary": "A “press” release."},
    {"summary": "Only a summary", "collections": ["Reports"]},
    {"title": "Supply chains", "date": "27 October 2021", "office": [OSR],
     "url": "https://www.osce.org/cthb/502383"},
]).encode("utf-8")
CSV = (b"title,date,office,themes,type,summary,locations\n"
       b'Guide,2020-03-03,"A, B",T,Guide,"multi\nline summary",\n'
       b"\n"
       b'Press release,1 June 2019,OSCE Mission to Serbia,,Press release,Text,"Ukraine, Moldova"\n'
       b"Second,,,,,,\n")
SAMPLES = {".txt": LISTING + SMALL_LISTING.encode("utf-8"), ".jsonl": JSONL, ".csv": CSV}
EXTENSIONS = tuple(SAMPLES)

#: Problems that concern a whole file (their error has no line).
WHOLE_FILE = ("cannot read file", "unsupported file type", "the file is ",
              "the file holds more than ")


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@st.composite
def mutated(draw: st.DrawFn, sample: bytes) -> bytes:
    """A real file broken the ways files get broken: lines deleted, doubled,
    swapped, cut; bytes flipped; NULs, invalid UTF-8, huge lines, other line ends."""
    lines = _lines(sample)
    for _ in range(draw(st.integers(0, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "cut", "flip", "nul",
                                   "invalid", "huge", "blank", "line end"]))
        line = lines[i]
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, line)
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "cut":
            lines[i] = line[: draw(st.integers(0, len(line)))]
        elif op == "flip" and line:
            k = draw(st.integers(0, len(line) - 1))
            lines[i] = line[:k] + bytes([line[k] ^ draw(st.integers(1, 255))]) + line[k + 1:]
        elif op == "nul":
            k = draw(st.integers(0, len(line)))
            lines[i] = line[:k] + b"\x00" + line[k:]
        elif op == "invalid":
            k = draw(st.integers(0, len(line)))
            lines[i] = line[:k] + draw(st.sampled_from(
                [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x80", b"\xf4\x90\x80\x80"])) + line[k:]
        elif op == "huge":
            size = draw(st.sampled_from([MAX_RECORD_BYTES - 1, MAX_RECORD_BYTES,
                                         MAX_RECORD_BYTES + 1, 2 * MAX_RECORD_BYTES]))
            lines[i] = line.rstrip(b"\r\n") + b"x" * size + b"\n"
        elif op == "blank":
            lines.insert(i, draw(st.sampled_from([b"\n", b"  \t\n", b"\r\n", b"\x0c\n"])))
        else:
            lines[i] = line.rstrip(b"\r\n") + draw(st.sampled_from([b"\r\n", b"\r", b"\n", b""]))
    data = b"".join(lines)
    if draw(st.booleans()):  # a file truncated anywhere
        data = data[: draw(st.integers(0, len(data)))]
    return data


def mixed_line_ends(data: bytes, ends: list[bytes]) -> bytes:
    """``data`` with its line ends replaced, one after the other, by ``ends``."""
    lines = [line.rstrip(b"\r\n") for line in _lines(data)]
    return b"".join(line + ends[i % len(ends)] for i, line in enumerate(lines))


def file_bytes(ext: str) -> st.SearchStrategy[bytes]:
    """Every kind of content a catalogue file of type ``ext`` may be given."""
    sample = SAMPLES[ext]
    return st.one_of(
        st.binary(max_size=400),
        mutated(sample),
        st.lists(st.sampled_from([b"\r\n", b"\r", b"\n"]), min_size=1, max_size=5).map(
            lambda ends: mixed_line_ends(sample, ends)),
        st.lists(st.sampled_from(_lines(sample) + [b"\x00\n", b"\xef\xbb\xbf", b"\r",
                                                   b"1 2 3 \xe2\x80\xa6 62 Next \xe2\x80\xba\n",
                                                   b"Locations: Ukraine, Moldova\n"]),
                 max_size=30).map(b"".join),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


READER_INPUTS = st.sampled_from(EXTENSIONS).flatmap(lambda ext: st.tuples(st.just(ext),
                                                                         file_bytes(ext)))


def check_reader(folder: Path, ext: str, data: bytes) -> None:
    """The property of every reader: records, warnings and errors with a file
    and (but for whole-file problems) a line; never another exception; the
    same again on a second reading; every record indexable."""
    path = folder / f"catalogue{ext}"
    path.write_bytes(data)
    shown = display_path(path)
    lines = len(data.splitlines()) or 1
    items = list(iter_file(path))
    for item in items:
        if isinstance(item, CorpusFormatError):
            assert item.path == shown
            if item.line is None:
                assert item.problem.startswith(WHOLE_FILE), item
            else:
                assert 1 <= item.line <= lines, item
            assert str(item).startswith(f"{shown}:") and "\n" not in str(item)
        elif isinstance(item, Record):
            assert item.source == shown and 1 <= item.line <= lines
            assert item.id and " " not in item.id
            text = json.dumps(item.to_dict(), ensure_ascii=False)
            text.encode("utf-8")  # no lone surrogates
            document = to_document(item, item.fingerprint())
            SCHEMA["text"].index(document["text"])
        else:
            assert isinstance(item, str) and item.startswith(f"{shown}") and "\n" not in item
    again = list(iter_file(path))
    assert [_key(x) for x in again] == [_key(x) for x in items]
    result = read_file(path)
    assert (result.records, [str(e) for e in result.errors], result.warnings) == (
        [x for x in items if isinstance(x, Record)],
        [str(x) for x in items if isinstance(x, CorpusFormatError)],
        [x for x in items if isinstance(x, str)])


SCHEMA = build_schema()


def _key(item: Record | CorpusFormatError | str) -> object:
    if isinstance(item, Record):
        return ("record", item, item.line)
    if isinstance(item, CorpusFormatError):
        return ("error", str(item))
    return ("warning", item)


# -- what the query language and the filters are given -------------------------

QUERY_WORDS = ['"', "(", ")", "AND", "OR", "NOT", "-", "+", "title:", "summary:", "body:",
               "office:", "year:", "theme:", "*", "?", "~", "~2", "labour", "traffick*",
               "x~2", ":", "  ", "\x00", "\t", "\\", "'", "“", "”", "NRM", "ODIHR", "2021",
               "a" * 300, "moldova", "t?affic*", "(((", ")))", '"forced', 'labour"']
#: Text with lone surrogates, as Python makes of a command-line argument that is
#: not UTF-8 (``thb-search $'\xff'`` gives ``'\udcff'``).
SURROGATE_TEXT = st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
                         | st.characters(max_codepoint=0x7f), min_size=1, max_size=20).filter(
    lambda t: any("\ud800" <= c <= "\udfff" for c in t))
QUERIES = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
    st.lists(st.sampled_from(QUERY_WORDS), max_size=12).map(" ".join),
    st.lists(st.sampled_from(QUERY_WORDS), max_size=12).map("".join),
    st.integers(0, 3000).map(lambda n: "trafficking " * n),
)
SEARCH_OPTIONS = st.fixed_dictionaries({}, optional={
    "match": st.sampled_from(["all", "any"]),
    "sort": st.sampled_from([None, "relevance", "date", "title"]),
    "limit": st.integers(1, 100), "page": st.integers(1, 50),
    "explain": st.booleans(), "facets": st.booleans(),
    "fields": st.lists(st.sampled_from(["title", "summary", "body"]), min_size=1,
                       unique=True),
})


def check_parse(query: str, match: str) -> None:
    try:
        parse(query, match)
    except QuerySyntaxError as err:
        assert str(err) and "\n" not in str(err)


def check_search(catalogue: Catalogue, query: str, options: dict[str, object]) -> None:
    try:
        result = catalogue.search(query, **options)  # type: ignore[arg-type]
    except (QuerySyntaxError, InvalidFilterError) as err:
        assert str(err) and "\n" not in str(err)
    else:
        page, limit = result.page, result.limit
        assert len(result.hits) == max(0, min(limit, result.total - (page - 1) * limit))
        assert [h.rank for h in result.hits] == list(
            range((page - 1) * limit + 1, (page - 1) * limit + len(result.hits) + 1))
        json.dumps(result.to_dict(), ensure_ascii=False)


FILTER_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["ODIHR", "osce", "bosnia", "CTHB", "osr", "Nowhere", "", " ", "*",
                     "Study / report", "report", "RULE OF LAW", "human", "Human rights",
                     "Combating trafficking in human beings", OSR, ODIHR, "\x00", "é"]),
)
YEAR_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(-10**12, 10**12),
    st.integers(1900, 2100).map(str),
    st.tuples(st.integers(0, 99999), st.integers(0, 99999)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.sampled_from(["2019-2021", "2022-2019", "20x1", "0", "-1", "2021-", "-2021", "9999",
                     "2021–2022", "²⁰²¹", "٢٠٢١", "2021.0", "1e3"]),
)
DATE_VALUES = st.one_of(
    st.none(), st.text(max_size=20), st.dates().map(str), st.dates(),
    st.sampled_from(["2021", "2021-12", "2022-01-20", "soon", "2021-13", "2021-02-30",
                     "0000", "9999-12-31", "25 February 2022", "-1", "2021-1-1", "٢٠٢١"]),
)
FILTERS = st.fixed_dictionaries({}, optional={
    "office": st.lists(FILTER_VALUES, max_size=3),
    "theme": st.lists(FILTER_VALUES, max_size=3),
    "type": st.lists(FILTER_VALUES, max_size=3),
    "year": st.lists(YEAR_VALUES, max_size=3),
    "since": DATE_VALUES, "until": DATE_VALUES,
})


def check_filters(catalogue: Catalogue, query: str, filters: dict[str, object]) -> None:
    try:
        result = catalogue.search(query, **filters)  # type: ignore[arg-type]
    except UnknownFilterValueError as err:
        assert str(err) and "\n" not in str(err) and err.facet in filters
    except InvalidFilterError as err:
        assert str(err) and "\n" not in str(err)
    except QuerySyntaxError:
        assert query
    else:
        assert len(result.hits) == min(result.limit, result.total)


# -- the properties, a few examples each ---------------------------------------

FAST = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@FAST
@given(READER_INPUTS)
def test_readers_give_records_or_located_errors(folder: Path, case: tuple[str, bytes]) -> None:
    check_reader(folder, *case)


@FAST
@given(st.sampled_from(EXTENSIONS), st.binary(max_size=2000))
def test_readers_on_random_bytes(folder: Path, ext: str, data: bytes) -> None:
    check_reader(folder, ext, data)


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_readers_on_every_cut_of_a_sample(folder: Path, ext: str) -> None:
    """A file truncated after any of its bytes (a copy or download cut short)."""
    data = SAMPLES[ext][:3000]
    for end in range(0, len(data), 13):
        check_reader(folder, ext, data[:end])


@FAST
@given(QUERIES | SURROGATE_TEXT, st.sampled_from(["all", "any"]))
def test_any_query_parses_or_raises_a_syntax_error(query: str, match: str) -> None:
    check_parse(query, match)


@FAST
@given(QUERIES, SEARCH_OPTIONS)
def test_any_search_gives_results_or_a_clear_error(catalogue: Catalogue, query: str,
                                                  options: dict[str, object]) -> None:
    check_search(catalogue, query, options)


@settings(FAST, max_examples=EXAMPLES)
@given(SURROGATE_TEXT.map(lambda t: "traf" + t))
def test_a_query_with_a_lone_surrogate(catalogue: Catalogue, query: str) -> None:
    check_search(catalogue, query, {})


def test_a_query_that_is_not_utf8_is_a_usage_error(bundled_index: Path) -> None:
    import subprocess
    import sys

    command = Path(sys.executable).with_name("thb-search")
    result = subprocess.run([command, b"traf\xffficking", "--index", bundled_index],
                            capture_output=True)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "Error: the query is not UTF-8 text (character 5 is a byte that no character has): "
        "type it again, with the terminal set to UTF-8\n")


@FAST
@given(st.sampled_from(["", "trafficking", "labour OR victims"]), FILTERS)
def test_any_filter_value_gives_results_or_a_filter_error(catalogue: Catalogue, query: str,
                                                          filters: dict[str, object]) -> None:
    check_filters(catalogue, query, filters)


# -- limits ---------------------------------------------------------------------


def errors_of(path: Path) -> list[str]:
    return [str(e) for e in read_file(path).errors]


def test_a_line_past_1_mb_is_an_error_at_that_line(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    huge = json.dumps({"title": "x" * 1_300_000})
    path.write_text('{"title": "before"}\n' + huge + '\n{"title": "after"}\n')
    result = read_file(path)
    assert [str(e) for e in result.errors] == [
        f"{path}:2: the line is 1.3 MB long: a record may be at most 1 MB; split or "
        "shorten it"]
    assert [r.title for r in result.records] == ["before", "after"]
    assert [r.line for r in result.records] == [1, 3]


def test_a_line_just_past_the_limit_gives_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "edge.jsonl"
    path.write_bytes(b"x" * (MAX_RECORD_BYTES + 1) + b"\r\n" + b"y" * MAX_RECORD_BYTES)
    assert errors_of(path) == [
        f"{path}:1: the line is 1,000,001 bytes long: a record may be at most 1 MB; split or "
        "shorten it",
        f"{path}:2: invalid JSON (Expecting value at column 1): each line must be one JSON "
        "object"]


def test_an_over_long_listing_line_spoils_its_record_only(tmp_path: Path) -> None:
    path = tmp_path / "listing.txt"
    long_summary = "word " * 400_000  # 2 MB
    path.write_text(SMALL_LISTING.replace(
        "How public buyers can detect forced labour in their supply chains.", long_summary))
    result = read_file(path)
    assert [str(e) for e in result.errors] == [
        f"{path}:7: the line is 2 MB long: a record may be at most 1 MB; split or shorten it"]
    assert [r.title for r in result.records] == ["Factsheet: Organ Removal"]


def test_an_over_long_csv_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("title,summary\nA,short\nB," + "z" * 1_500_000 + "\nC,fine\n")
    result = read_file(path)
    assert [str(e) for e in result.errors] == [
        f"{path}:3: the line is 1.5 MB long: a record may be at most 1 MB; split or shorten it"]
    assert [(r.title, r.line) for r in result.records] == [("A", 2), ("C", 4)]


def test_csv_quoted_cell_never_closed_takes_no_row_in(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('title,summary\nA,"never closed\nB,swallowed\n')
    result = read_file(path)
    assert [str(e) for e in result.errors] == [
        f"{path}:2: unreadable CSV row: a quoted cell starts in it and is never closed: add "
        "the missing '\"'"]
    assert result.records == []


def test_csv_stray_quote_spoils_its_row_only(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('title,summary\nA,"said" no\nC,fine\n')
    result = read_file(path)
    assert [str(e) for e in result.errors] == [
        f"{path}:2: unreadable CSV row: ',' expected after '\"': a quote inside a cell is "
        "written twice ('He said \"\"no\"\"') and the cell quoted"]
    assert [(r.title, r.line) for r in result.records] == [("C", 3)]


def test_csv_cell_past_1_mb_over_several_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('title,summary\nA,"' + ("y" * 600_000 + "\n") * 2 + '"\nC,d\n')
    assert errors_of(path) == [
        f"{path}:2: unreadable CSV row: a cell is longer than 1 MB: a record may be at most "
        "1 MB; split or shorten it"]


def test_a_record_past_1_mb_of_shorter_lines(tmp_path: Path) -> None:
    path = tmp_path / "listing.txt"
    path.write_text("T" * 600_000 + "\nPublishing date: 1 June 2019\n" + "s" * 600_000 + "\n")
    assert errors_of(path) == [
        f"{path}:1: the record is 1.2 MB long: a record may be at most 1 MB; split or "
        "shorten it"]


def test_a_file_past_the_size_limit(tmp_path: Path) -> None:
    assert MAX_FILE_BYTES == 2_000_000_000
    path = tmp_path / "dump.jsonl"
    with path.open("wb") as f:  # sparse: nothing is written, nothing read
        f.truncate(2_500_000_000)
    assert errors_of(path) == [f"{path}: the file is 2.5 GB: a catalogue file may be at most "
                               "2 GB; split it into several files"]
    with path.open("r+b") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    assert errors_of(path) == [f"{path}: the file is 2,000,000,001 bytes: a catalogue file "
                               "may be at most 2 GB; split it into several files"]


def test_a_huge_line_is_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "one-line.txt"
    with path.open("wb") as f:
        for _ in range(40):
            f.write(b"no line end " * 83_000)  # 40 MB in all, on one line
    tracemalloc.start()
    try:
        errors = errors_of(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert errors == [f"{path}:1: the line is 39.8 MB long: a record may be at most 1 MB; "
                      "split or shorten it"]
    assert peak < 4 * MAX_RECORD_BYTES


def test_lone_carriage_returns_end_lines(tmp_path: Path) -> None:
    path = tmp_path / "mac.txt"
    path.write_bytes(SMALL_LISTING.replace("\n", "\r").encode("utf-8"))
    result = read_file(path)
    assert result.errors == []
    assert [(r.title, r.line) for r in result.records] == [
        ("Forced Labour in Supply Chains: A Guide", 1), ("Factsheet: Organ Removal", 9)]


def test_lone_surrogates_in_json_become_replacement_characters(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"title": "A \\ud800 B", "locations": ["\\udfff"]}\n')
    (record,) = read_file(path).records
    assert (record.title, record.locations) == ("A \ufffd B", ("\ufffd",))


# -- a listing copied from a browser ---------------------------------------------

PRESS = "a767wi5b3t"
GUIDE = "6edzy2t4zd"
BELGRADE = "yfu2jba4mp"
COUNCIL = "xjf5g4xyz6"


def test_copied_listing_page(tmp_path: Path) -> None:
    result = read_file(COPIED)
    shown = display_path(COPIED)
    assert result.errors == []
    assert result.warnings == [
        f"{shown}: skipped lines 1-4 before the first record, taken for the heading of a "
        "copied page: 'Publications' / \"The OSCE's handbooks, reports, factsheets and pre…\" / "
        "'Filter by…' / 'Showing 1 - 4 of 245 results'",
        f"{shown}: skipped lines 37-38 after the last record, taken for the pager of a copied "
        "page: '1 2 3 … 62 Next ›' / 'Load more'"]
    assert [(r.id, r.line, r.type, r.locations) for r in result.records] == [
        (PRESS, 6, "Press release", ("Ukraine", "Moldova")),
        (GUIDE, 14, "Guide / manual / handbook", ()),
        (BELGRADE, 22, "Press release", ("Serbia",)),
        (COUNCIL, 30, "Study / report", ()),
    ]
    press = result.records[0]
    assert press.date == dt.date(2022, 6, 14) and press.publisher == ""
    assert press.summary.startswith("At the end of a week of visits")
    assert result.records[3].summary == ""
    # Locations are content: records without them hash as they always did.
    assert "locations" in press.core() and "locations" not in result.records[1].core()


def test_a_record_cut_off_before_the_pager_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = COPIED.read_text(encoding="utf-8")
    cut = text[: text.index("Publishing date: 30 March 2022")] + "\n1 2 3 … 62 Next ›\n"
    path = tmp_path / "cut.txt"
    path.write_text(cut, encoding="utf-8")
    result = read_file(path)
    assert [str(e) for e in result.errors] == [
        f"{path}:30: record 'Survivor Advisory Council: Annual Report 2021' is cut off: a "
        "title must be followed by its 'Publishing date:' line"]
    # As for any listing: the line may as well be a second summary line of the
    # record before it, which is held back with it (listed with --skip-invalid).
    assert [r.id for r in result.records] == [PRESS, GUIDE]
    assert result.warnings[1] == (f"{path}: skipped line 32 after the last record, taken for "
                                  "the pager of a copied page: '1 2 3 … 62 Next ›'")


def test_a_pager_is_not_read_as_the_summary_of_the_last_record(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(SMALL_LISTING.rsplit("\n", 2)[0] + "\n\n« First ‹ Previous\n1\n2\n3\n"
                    "Next ›\nLast »\n", encoding="utf-8")
    result = read_file(path)
    assert result.errors == [] and result.records[1].summary == ""
    assert result.warnings == [f"{path}: skipped lines 16-21 after the last record, taken for "
                               "the pager of a copied page: '« First ‹ Previous' / '1' / '2' / "
                               "'3' / 'Next ›' / …"]


def test_copied_listing_locations_are_shown_and_found(tmp_path: Path,
                                                      runner: CliRunner) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "copied.txt").write_bytes(COPIED.read_bytes())
    index = tmp_path / "index"
    report = sync(index, [corpus])
    assert report.total == 4
    assert [w.split(": ", 1)[1][:40] for w in report.warnings] == [
        "skipped lines 1-4 before the first recor", "skipped lines 37-38 after the last recor"]
    with Catalogue(index) as catalogue:
        assert [h.id for h in catalogue.search("moldova").hits] == [PRESS]
        assert [h.id for h in catalogue.search("serbia").hits] == [BELGRADE]
        assert [h.id for h in catalogue.search("ukraine inspectors", match="any").hits] == [
            BELGRADE, PRESS]
        # Locations are searched beside the summary, never as part of a phrase with it.
        assert catalogue.search('"exploitation ukraine"').total == 0
        assert catalogue.search("summary:moldova").total == 1
        assert catalogue.search("title:moldova").total == 0
        press = catalogue.get(PRESS)
        assert press.locations == ("Ukraine", "Moldova")
        assert press.to_dict()["locations"] == ["Ukraine", "Moldova"]
        assert "locations" not in catalogue.get(GUIDE).to_dict()
    where = ["--index", str(index), "--corpus", str(corpus)]
    shown = runner.invoke(cli, ["show", PRESS, *where], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert ("  themes:      Combating trafficking in human beings\n"
            "  locations:   Ukraine; Moldova\n") in shown.stdout
    data = json.loads(runner.invoke(cli, ["show", PRESS, "--json", *where]).stdout)
    assert data["locations"] == ["Ukraine", "Moldova"]
    from starlette.testclient import TestClient

    from thb_search.web import create_app

    with TestClient(create_app(index)) as client:
        page = client.get(f"/publications/{PRESS}").text
        assert ("<dt>Locations</dt><dd>Ukraine; Moldova</dd>" in
                " ".join(page.split()).replace("> <", "><"))
        assert client.get(f"/api/publications/{PRESS}").json()["locations"] == [
            "Ukraine", "Moldova"]
        assert "Locations" not in client.get(f"/publications/{GUIDE}").text


def test_records_without_locations_keep_their_tokens() -> None:
    title, summary = "Forced labour in supply chains", "Public buyers detect forced labour."
    assert text_value(title, summary) == title + FIELD_SEPARATOR + summary
    before = list(text_tokens(title, summary, TITLE_BOOST))
    after = list(text_tokens(title, summary, TITLE_BOOST, "Ukraine, Moldova"))
    assert after[: len(before)] == before
    assert after[len(before):] == [("ukrain", before[-1][1] + 100, 1.0),
                                   ("moldova", before[-1][1] + 101, 1.0)]


def test_location_postings_equal_the_analyzer_tokens() -> None:
    field = SCHEMA["text"]
    value = text_value("Border visit", "Screening people fleeing the war.", ("Ukraine",
                                                                              "Moldova"))
    generic = sorted((t.decode() if isinstance(t, bytes) else t, f, w, v)
                     for t, f, w, v in field.format.word_values(value, field.analyzer,
                                                                mode="index"))
    assert sorted((t.decode(), f, w, v) for t, f, w, v in field.index(value)) == generic
    assert {t for t, *_ in generic} >= {"ukrain", "moldova"}


def test_jsonl_and_csv_locations(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(CSV)
    assert [r.locations for r in read_file(path).records] == [(), ("Ukraine", "Moldova"), ()]
    path = tmp_path / "a.jsonl"
    path.write_bytes(JSONL)
    assert [r.locations for r in read_file(path).records] == [(), ("Serbia",), (), ()]

