"""thb_search.pdftext: page texts of generated PDFs, exactly; the cleaning
rules; running headers and footers; metadata; every kind of unreadable file;
bounded memory on a long document."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pdfs
from thb_search import pdftext
from thb_search.errors import DocumentError, ThbSearchError
from thb_search.pdftext import (
    clean_lines,
    join_lines,
    line_key,
    open_pdf,
    parse_pdf_date,
    read_pages,
)

SAMPLE_TEXTS = [
    "Combating trafficking in human beings requires anti-trafficking co-operation "
    "across borders.",
    "Financial investigations find the flow of money: effective, efficient, baffling. "
    "Evidence matters in court (2010-2015).",
    "Противодействие торговле людьми в регионе ОБСЕ.",
    "",
    "Victims of trafficking have rights: protection, assistance and access to justice.",
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pdfs.sample_pdf(tmp_path_factory.mktemp("pdf") / "sample.pdf")


# ---------------------------------------------------------------------------
# A whole document


def test_sample_pages_exactly(sample: Path) -> None:
    with open_pdf(sample) as pdf:
        assert pdf.page_count == 5
        assert list(pdf.pages()) == SAMPLE_TEXTS
        assert pdf.pages_without_text == 1


def test_metadata(sample: Path, tmp_path: Path) -> None:
    with open_pdf(sample) as pdf:
        assert pdf.title == "Handbook on Combating Trafficking"
        assert pdf.created == datetime(2023, 5, 17, 9, 30, tzinfo=UTC)
        assert pdf.path == str(sample)
    untitled = pdfs.sample_pdf(tmp_path / "untitled.pdf", title=None)
    with open_pdf(untitled) as pdf:
        assert pdf.title is None


def test_header_and_footer_are_in_the_raw_text_and_removed(sample: Path) -> None:
    with open_pdf(sample) as pdf:
        assert pdf.raw_page(0) == (
            "OSCE Handbook on Trafficking\r\nCombating traf\x02ficking in human beings "
            "requires anti\x02trafficking co-operation across borders.\r\nPage 1 of 5")
        assert pdf.raw_page(3) == ""
        texts = list(pdf.pages())
    assert not any("OSCE Handbook" in t or "Page" in t for t in texts)


def test_read_pages_and_determinism(sample: Path) -> None:
    assert list(read_pages(sample)) == SAMPLE_TEXTS
    assert list(read_pages(str(sample))) == SAMPLE_TEXTS


def test_reopening_the_document_on_the_way_changes_nothing(
        sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdftext, "REOPEN_EVERY", 2)
    assert list(read_pages(sample)) == SAMPLE_TEXTS


def test_image_only_page_is_empty_and_counted(tmp_path: Path) -> None:
    path = pdfs.pages_pdf(tmp_path / "scan.pdf", [["Some text."], [], ["More text."]])
    with open_pdf(path) as pdf:
        assert pdf.pages_without_text == 0
        assert list(pdf.pages()) == ["Some text.", "", "More text."]
        assert pdf.pages_without_text == 1


# ---------------------------------------------------------------------------
# Cleaning


@pytest.mark.parametrize(("lines", "text"), [
    (["Combating traf-", "ficking"], "Combating trafficking"),
    (["the anti-", "trafficking unit"], "the anti-trafficking unit"),
    (["Anti-", "trafficking"], "Anti-trafficking"),
    (["co-", "operation"], "co-operation"),
    (["non-", "governmental"], "non-governmental"),
    (["self-", "identified"], "self-identified"),
    (["cross-", "border"], "cross-border"),
    (["counter-", "trafficking"], "counter-trafficking"),
    (["well-", "being"], "well-being"),
    (["gender-", "sensitive"], "gender-sensitive"),
    # Common hyphenation breaks after prefix-like syllables are joined.
    (["pre-", "vention"], "prevention"),
    (["pro-", "tection"], "protection"),
    (["ex-", "ploitation"], "exploitation"),
    (["inter-", "national"], "international"),
    # The part after starts with a capital or a digit; an acronym; a number.
    (["anti-", "Semitism"], "anti-Semitism"),
    (["Bosnia and Herzegovina-", "Montenegro"], "Bosnia and Herzegovina-Montenegro"),
    (["COVID-", "19"], "COVID-19"),
    (["OSCE-", "wide"], "OSCE-wide"),
    (["(2010-", "2015)"], "(2010-2015)"),
    (["state-of-", "the-art"], "state-of-the-art"),
    # A hyphen after a space is a dash, not a hyphenation.
    (["a dash -", "then more"], "a dash - then more"),
    (["U+2010 hy\u2010", "phen"], "U+2010 hyphen"),
    (["soft\u00ad", "hyphen"], "softhyphen"),
    (["anti\u00ad", "trafficking"], "antitrafficking"),
    (["mat\u00adters here"], "matters here"),
    (["тор-", "говля"], "торговля"),
    (["one", "two  three", "four"], "one two three four"),
])
def test_join_lines(lines: list[str], text: str) -> None:
    assert join_lines(lines) == text


#: Characters of PDFium's texts and of the cleaning rules, for texts made of them.
_PAGE_CHARS = st.sampled_from(list(
    "ab Z9-\n\r\t \u00ad\u2010\ufffe\x02\x07\x1f\x7f\x85\x9f\u200b\u2060\ufeff"
    "\ufb01\u00a0\u2003\uff21\u0442'"))


@settings(max_examples=500, deadline=None)
@given(st.lists(_PAGE_CHARS, max_size=60).map("".join))
def test_cleaning_is_what_its_rules_say(raw: str) -> None:
    """clean_lines and join_lines (which skip the steps a page needs not)
    give what the module's rules give, written as expressions: PDFium's
    hyphen markers become a hyphen and a line end; NFKC; zero-width
    characters dropped, other control characters spaces; lines' white space
    collapsed, empty lines dropped; then soft hyphens inside a line removed,
    line-end hyphens joined (pdfclean._join_hyphens), the rest of the soft
    hyphens removed and the lines joined by single spaces."""
    import re
    import unicodedata

    from thb_search import pdfclean

    text = re.sub("[\ufffe\x02]", "-\n", raw)
    text = unicodedata.normalize("NFKC", text)
    text = re.sub("[\u200b\u2060\ufeff]", "", text)
    text = re.sub(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]", " ", text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    assert clean_lines(raw) == lines
    joined = re.sub("\u00ad(?!\n)", "", "\n".join(lines))
    joined = pdfclean._join_hyphens(joined)
    assert join_lines(lines) == " ".join(joined.replace("\u00ad", "").split())


def test_clean_lines() -> None:
    raw = ("  OSCE\u00a0Report \r\n\r\nCombating traf\ufffeficking \ufb01nancial \ufb02ows"
           "\x02e\ufb00ective\r\nzero\u200bwidth\ufeff\x07bell\tend\u2003space\r\n"
           "\uff21\uff22\uff23 full width\n \n")
    assert clean_lines(raw) == [
        "OSCE Report",
        "Combating traf-",
        "ficking financial flows-",
        "effective",
        "zerowidth bell end space",
        "ABC full width",
    ]
    assert join_lines(clean_lines(raw)) == (
        "OSCE Report Combating trafficking financial flowseffective zerowidth bell end "
        "space ABC full width")


@pytest.mark.parametrize(("line", "key"), [
    ("Page 3 of 40", "page # of #"),
    ("PAGE  12 of 40", "page # of #"),
    ("17", "#"),
    ("iv", "#"),
    ("XII", "#"),
    ("Chapter 2. Victims", "chapter #. victims"),
    ("Civil society", "civil society"),
])
def test_line_key(line: str, key: str) -> None:
    assert line_key(line) == key


@pytest.mark.parametrize(("value", "expected"), [
    ("D:20230517093000Z", datetime(2023, 5, 17, 9, 30, tzinfo=UTC)),
    ("D:20230517093000+02'00'", datetime(2023, 5, 17, 9, 30,
                                         tzinfo=timezone(timedelta(hours=2)))),
    ("D:20230517093000-05'30", datetime(2023, 5, 17, 9, 30,
                                        tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
    ("D:20230517", datetime(2023, 5, 17)),
    ("D:2023", datetime(2023, 1, 1)),
    ("20230517093000", datetime(2023, 5, 17, 9, 30)),
    ("D:20231317", None),
    ("yesterday", None),
    ("", None),
])
def test_parse_pdf_date(value: str, expected: datetime | None) -> None:
    assert parse_pdf_date(value) == expected


# ---------------------------------------------------------------------------
# Running headers and footers


ORDINALS = "first second third fourth fifth sixth seventh eighth".split()


def test_page_numbers_and_alternating_heads_are_removed(tmp_path: Path) -> None:
    pages = []
    for n, word in enumerate(ORDINALS, start=1):
        head = "Handbook on referral" if n % 2 == 0 else f"Chapter {1 + n // 5}: Identification"
        pages.append([head, f"The {word} page begins.", f"Its {word} line.",
                      f"The {word} page ends.", f"- {n} -"])
    path = pdfs.pages_pdf(tmp_path / "book.pdf", pages)
    assert list(read_pages(path)) == [
        f"The {word} page begins. Its {word} line. The {word} page ends." for word in ORDINALS]


def test_lines_on_two_pages_or_a_minority_are_kept(tmp_path: Path) -> None:
    two = pdfs.pages_pdf(tmp_path / "two.pdf", [["Letter", "Dear colleagues,"],
                                                 ["Letter", "Kind regards."]])
    assert list(read_pages(two)) == ["Letter Dear colleagues,", "Letter Kind regards."]
    # "Summary" opens 3 of 8 pages, 2 of the 4 odd ones: not a running head.
    heads = ["Summary" if n in (1, 3, 6) else f"The {word} section" for n, word
             in enumerate(ORDINALS, start=1)]
    path = pdfs.pages_pdf(tmp_path / "minority.pdf",
                          [[head, f"Text of the {word} page."] for head, word
                           in zip(heads, ORDINALS, strict=True)])
    assert list(read_pages(path)) == [
        f"{head} Text of the {word} page." for head, word in zip(heads, ORDINALS, strict=True)]


def test_running_heads_that_change_by_part_are_found_in_the_window(tmp_path: Path) -> None:
    words = [f"{a} {b}" for a in ORDINALS[:6] for b in ORDINALS[:5]] * 2
    pages = [[f"Part {'One' if n <= 30 else 'Two'}: the law", f"Paragraph {w}."]
             for n, w in enumerate(words, start=1)]
    path = pdfs.pages_pdf(tmp_path / "parts.pdf", pages)
    assert list(read_pages(path)) == [f"Paragraph {w}." for w in words]
    # With the whole document as the window, neither head is on most pages.
    with open_pdf(path, window=60) as pdf:
        assert list(pdf.pages())[0] == "Part One: the law Paragraph first first."


# ---------------------------------------------------------------------------
# Files that cannot be read


def _error(path: Path | str) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        with open_pdf(path) as pdf:
            list(pdf.pages())
    return caught.value


def test_encrypted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("documents").mkdir()
    pdfs.encrypted_pdf(tmp_path / "documents" / "x.pdf")
    err = _error("documents/x.pdf")
    assert str(err) == ("documents/x.pdf: encrypted PDF (it needs a password): "
                        "save an unprotected copy")
    assert (err.path, err.page, err.kind) == ("documents/x.pdf", None, "encrypted")
    assert isinstance(err, ThbSearchError)


def test_encrypted_with_an_owner_password_only_is_read(tmp_path: Path) -> None:
    path = pdfs.encrypted_pdf(tmp_path / "owner.pdf", user_password=None)
    assert list(read_pages(path)) == ["Confidential report on trafficking."]


def test_truncated(sample: Path, tmp_path: Path) -> None:
    path = pdfs.truncated_pdf(tmp_path / "cut.pdf", sample)
    err = _error(path)
    assert str(err) == (f"{path}: truncated PDF (it ends before its end-of-file marker): "
                        "download or copy it again")
    assert (err.page, err.kind) == (None, "truncated")


def test_truncated_at_a_page(tmp_path: Path) -> None:
    path = pdfs.truncated_at_page_pdf(tmp_path / "cut.pdf", pages=5, at_page=3)
    with open_pdf(path) as pdf:
        assert pdf.page_count == 5
        assert pdf.raw_page(1) == "Text of page 2."
        pages = pdf.pages()
        with pytest.raises(DocumentError) as caught:
            next(pages)  # page 3 is read ahead, to find running lines
    assert str(caught.value) == (f"{path}: truncated at page 3 (the file ends before its "
                                 "last pages): download or copy it again")
    assert (caught.value.page, caught.value.kind) == (3, "truncated")


def test_damaged_at_a_page(tmp_path: Path) -> None:
    path = pdfs.truncated_at_page_pdf(tmp_path / "hole.pdf", pages=5, at_page=4)
    path.write_bytes(path.read_bytes() + b"%%EOF\n")
    err = _error(path)
    assert str(err) == (f"{path}: damaged at page 4 (PDFium cannot load it): open it in a "
                        "PDF reader and save a repaired copy")
    assert (err.page, err.kind) == (4, "damaged")


@pytest.mark.parametrize(("content", "problem"), [
    (b"Title,Year\nHandbook,2020\n",
     "not a PDF (it does not start with %PDF-): replace it with the publication's PDF"),
    (b"\n<!DOCTYPE html><html><body>Not found</body></html>",
     "not a PDF (it is an HTML page, perhaps a failed download): download the PDF again"),
    (b"", "empty file (0 bytes): download or copy it again"),
    (b"%PDF-1.7\nnothing that PDFium can read\n%%EOF\n",
     "not a PDF or damaged (PDFium: data format error): open it in a PDF reader and save a "
     "repaired copy"),
    (b"%PDF-1.7\nnothing, and cut short",
     "truncated PDF (it ends before its end-of-file marker): download or copy it again"),
])
def test_not_a_pdf(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(content)
    assert str(_error(path)) == f"{path}: {problem}"


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert str(_error(tmp_path / "none.pdf")) == (
        f"{tmp_path / 'none.pdf'}: does not exist: give the path of a PDF file")
    assert str(_error(tmp_path)) == f"{tmp_path}: is a folder: give the path of a PDF file"


# ---------------------------------------------------------------------------
# A long document


def test_a_long_document_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = pdfs.big_pdf(tmp_path / "long.pdf", pages=3000)
    count = total = 0
    tracemalloc.start()
    try:
        with open_pdf(path) as pdf:
            assert pdf.page_count == 3000
            for text in pdf.pages():
                count += 1
                total += len(text)
                assert not text.startswith("Annual report")
                assert not text.endswith(str(count))
            assert pdf.pages_without_text == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 3000
    assert total > 2_000_000  # characters: kept as str objects, more than 2 MB
    assert peak < 300_000  # the window's pages only (about 100 kB)
