"""The text of a publication's PDF, one page at a time, cleaned for indexing.

    >>> with open_pdf("corpus/documents/handbook.pdf") as pdf:
    ...     pdf.page_count, pdf.title, pdf.created
    ...     for number, text in enumerate(pdf.pages(), start=1):
    ...         ...                          # index (number, text)
    ...     pdf.pages_without_text           # scans: warn, metadata only

Extraction is PDFium's (pypdfium2): ``benchmarks/pdf_extract.py`` measured it
against pypdf on the same generated files (see its report for the figures):
PDFium is several times faster, needs less memory, and gives the same or
better text (it marks the hyphens that end a line, expands ligatures and
puts spaces where words are drawn apart without one).

**Memory.**  PDFium reads the file as it needs it (a 10,000-page or 200 MB PDF
is never loaded whole) and each page and its text page are closed as soon as
the text is read; but PDFium keeps every object it has parsed until the
document is closed, so the document is closed and reopened every
:data:`REOPEN_EVERY` pages.  With the running-line window below, memory is
bounded by one page's PDF objects, ``REOPEN_EVERY`` pages' parsed objects
(about 12 MB) and ``window`` pages' lines, whatever the document's size.

**Cleaning** each page's lines is :mod:`thb_search.pdfclean`'s (ligatures,
soft hyphens, words hyphenated at a line end, spacing).

**Running headers and footers** are removed: a line among the first three or
the last three lines of a page whose *key* (case-folded, white space
collapsed, every run of digits replaced by ``#``, a line that is only a Roman
numeral taken as ``#``: so ``Page 3 of 40`` and ``Page 4 of 40``, or ``iii``
and ``iv``, are the same line) is found in the same place (top or bottom) on
at least 3 pages of the page's *window* and on more than half of the
window's pages that have text, or on more than half of those of the same
parity (books alternate their running heads between left and right pages).
The window is the ``window`` pages (21 by default) centred on the page, and
shifted at the start and end of the document to keep its size; a document
shorter than the window is its own window.  Pages are read ahead to fill the
window, so memory holds at most ``window`` pages' lines at once; and a
running head that changes with each chapter is still recognised, since only
the surrounding pages are compared.  The zones are taken in PDFium's text
order (the order the page draws its text), not by position on the page.  A
line that repeats at the top of most pages only by its digits (``Table 3:
victims identified``) is taken for a running line too: the price of
recognising page numbers.

A page with no text layer (a scan) gives ``""`` and is counted in
:attr:`PdfText.pages_without_text`; a page whose only text was a running
header or footer also gives ``""`` but is not counted (it has a text layer).

A file that cannot be read raises :class:`~thb_search.errors.DocumentError`
(encrypted, not a PDF, truncated, damaged, unreadable): when opened, or, for
a page that cannot be loaded, while the pages are read, after the pages
before the window of the failing one were yielded (a caller that indexes
pages as they come should drop the document's pages on that error).

Output is deterministic: the same file gives the same texts.  PDFium is not
thread-safe: every call into it here holds one lock of this module.
"""

from __future__ import annotations

import ctypes
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import pypdfium2
import pypdfium2.raw as pdfium_raw

from .errors import DocumentError
from .pdfclean import COMPOUND_FIRST_PARTS, clean_lines, join_lines, line_key

__all__ = [
    "COMPOUND_FIRST_PARTS",
    "DocumentError",
    "PdfText",
    "clean_lines",
    "join_lines",
    "line_key",
    "open_pdf",
    "parse_pdf_date",
    "read_pages",
]

#: Pages compared to find a page's running headers and footers (see above).
WINDOW = 21
#: How many lines at the top and at the bottom of a page may be running ones.
ZONE = 3
#: PDFium keeps every object it has parsed until the document is closed (about
#: 23 kB a page of the benchmark's big file: 230 MB over 10,000 pages), so the
#: document is closed and opened again after this many pages (about 10 ms each).
REOPEN_EVERY = 500

# PDFium's error codes when a document does not load (fpdfview.h).
_ERR_PASSWORD, _ERR_SECURITY = 4, 5
_PDFIUM_ERRORS = {1: "unknown error", 2: "file cannot be opened", 3: "data format error",
                  6: "page not found or content error"}

_REPAIR = "open it in a PDF reader and save a repaired copy"
_REDOWNLOAD = "download or copy it again"

# One lock for every call into PDFium, which is not thread-safe.
_PDFIUM = threading.RLock()


# ---------------------------------------------------------------------------
# Metadata

_PDF_DATE = re.compile(
    r"(?:D:)?(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?"
    r"(?:(Z)|([+-])(\d\d)'?(?:(\d\d)'?)?)?"
)


def parse_pdf_date(value: str) -> datetime | None:
    """A PDF date string (``D:20210304050607+02'00'``, ``D:2021``) as a
    :class:`~datetime.datetime`, aware when the string gives a zone
    (``Z`` -> UTC), naive otherwise; ``None`` for anything else."""
    m = _PDF_DATE.match(value.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else None for g in m.groups()[:6])
    tz: timezone | None = None
    if m.group(7):
        tz = UTC
    elif m.group(8):
        offset = timedelta(hours=int(m.group(9)), minutes=int(m.group(10) or 0))
        tz = timezone(-offset if m.group(8) == "-" else offset)
    try:
        return datetime(year or 1, month or 1, day or 1, hour or 0, minute or 0,
                        second or 0, tzinfo=tz)
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# Opening a file


def _problem_opening(path: Path, shown: str, err: pypdfium2.PdfiumError) -> DocumentError:
    """The DocumentError for a file PDFium does not open: sniff the file to say why."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(1024)
            handle.seek(max(0, size - 1024))
            tail = handle.read()
    except OSError as exc:
        return DocumentError(shown, f"cannot be read ({exc.strerror}): check the file",
                             kind="unreadable")
    code = getattr(err, "err_code", None)
    if code == _ERR_PASSWORD:
        return DocumentError(shown, "encrypted PDF (it needs a password): save an unprotected "
                             "copy", kind="encrypted")
    if code == _ERR_SECURITY:
        return DocumentError(shown, "encrypted PDF (with a security handler PDFium does not "
                             "support): save an unprotected copy", kind="encrypted")
    if size == 0:
        return DocumentError(shown, f"empty file (0 bytes): {_REDOWNLOAD}", kind="not-pdf")
    if b"%PDF-" not in head:
        start = head.lstrip()[:15].lower()
        if start.startswith((b"<!doctype html", b"<html")):
            return DocumentError(shown, "not a PDF (it is an HTML page, perhaps a failed "
                                 "download): download the PDF again", kind="not-pdf")
        return DocumentError(shown, "not a PDF (it does not start with %PDF-): replace it "
                             "with the publication's PDF", kind="not-pdf")
    if b"%%EOF" not in tail:
        return DocumentError(shown, "truncated PDF (it ends before its end-of-file marker): "
                             f"{_REDOWNLOAD}", kind="truncated")
    if code == 0:
        return DocumentError(shown, "PDF without pages: replace it with the publication's "
                             "PDF", kind="damaged")
    reason = _PDFIUM_ERRORS.get(code or 0, "unknown error")
    return DocumentError(shown, f"not a PDF or damaged (PDFium: {reason}): {_REPAIR}",
                         kind="damaged")


def _ends_properly(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 1024))
            return b"%%EOF" in handle.read()
    except OSError:
        return False


@dataclass(frozen=True)
class _Page:
    """A page read ahead: its cleaned lines and the keys of its zones."""

    number: int  # 1-based
    lines: list[str]
    top: frozenset[str]
    bottom: frozenset[str]
    has_text: bool


class PdfText:
    """An open PDF file (use :func:`open_pdf`, preferably as a context manager).

    ``path`` is kept as given, for messages; ``page_count``, ``title`` (``None``
    when the document names none) and ``created`` (the document's creation
    date, see :func:`parse_pdf_date`) are read when it opens.
    """

    def __init__(self, path: str | os.PathLike[str], *, window: int = WINDOW) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.path = os.fspath(path)
        self.window = window
        self.pages_without_text = 0
        self._doc: Any = None
        file = Path(self.path)
        try:
            if not file.is_file():
                what = "is a folder" if file.is_dir() else "does not exist"
                raise DocumentError(self.path, f"{what}: give the path of a PDF file",
                                    kind="unreadable")
            with _PDFIUM:
                self._doc = pypdfium2.PdfDocument(file)
                self.page_count: int = len(self._doc)
                title = self._doc.get_metadata_value("Title")
                created = self._doc.get_metadata_value("CreationDate")
        except pypdfium2.PdfiumError as exc:
            raise _problem_opening(file, self.path, exc) from None
        except OSError as exc:
            raise DocumentError(self.path, f"cannot be read ({exc.strerror}): check the file",
                                kind="unreadable") from None
        self.title: str | None = " ".join(title.split()) or None
        self.created: datetime | None = parse_pdf_date(created) if created else None
        self._truncated: bool | None = None
        self._buffer: Any = None
        self._pages_read = 0

    @property
    def created_day(self) -> str | None:
        """The creation date as ``YYYY-MM-DD`` (what the text store keeps), or None."""
        return self.created.date().isoformat() if self.created else None

    # -- reading ----------------------------------------------------------

    def raw_page(self, index: int) -> str:
        """The text PDFium extracts from page ``index`` (0-based), uncleaned."""
        if self._doc is None:
            raise ValueError(f"{self.path}: the PDF is closed")
        with _PDFIUM:
            self._pages_read += 1
            if self._pages_read > REOPEN_EVERY:
                self._doc.close()
                self._doc = None
                try:
                    self._doc = pypdfium2.PdfDocument(Path(self.path))
                except (pypdfium2.PdfiumError, OSError):
                    raise DocumentError(self.path, f"changed while it was read: {_REDOWNLOAD}",
                                        kind="unreadable") from None
                self._pages_read = 1
            try:
                page = self._doc[index]
            except pypdfium2.PdfiumError:
                raise self._page_error(index + 1) from None
            try:
                textpage = page.get_textpage()
                try:
                    return self._text(page, textpage)
                finally:
                    textpage.close()
            except pypdfium2.PdfiumError:
                raise self._page_error(index + 1) from None
            finally:
                page.close()

    def _text(self, page: Any, textpage: Any) -> str:
        """The text of the page's box.  As pypdfium2's ``get_text_bounded``, but
        into one reused buffer: a ctypes array type of each new length (which
        pypdfium2 makes per call) is cached by ctypes for good, so memory would
        grow with every distinct page length met."""
        left, bottom, right, top = page.get_bbox()
        args = (textpage.raw, left, top, right, bottom)
        needed = pdfium_raw.FPDFText_GetBoundedText(*args, None, 0)
        if needed <= 0:
            return ""
        if self._buffer is None or len(self._buffer) < needed:
            size = 1 << max(12, (needed - 1).bit_length())  # few distinct types
            self._buffer = (ctypes.c_ushort * size)()
        got = pdfium_raw.FPDFText_GetBoundedText(*args, self._buffer, needed)
        return ctypes.string_at(self._buffer, 2 * got).decode("utf-16-le", "ignore")

    def _page_error(self, number: int) -> DocumentError:
        if self._truncated is None:
            self._truncated = not _ends_properly(Path(self.path))
        if self._truncated:
            return DocumentError(self.path, f"truncated at page {number} (the file ends "
                                 f"before its last pages): {_REDOWNLOAD}",
                                 page=number, kind="truncated")
        return DocumentError(self.path, f"damaged at page {number} (PDFium cannot load "
                             f"it): {_REPAIR}", page=number, kind="damaged")

    def _read(self, index: int) -> _Page:
        raw = self.raw_page(index)
        lines = clean_lines(raw)
        return _Page(index + 1, lines,
                     frozenset(line_key(line) for line in lines[:ZONE]),
                     frozenset(line_key(line) for line in lines[-ZONE:]),
                     bool(lines))

    def pages(self) -> Iterator[str]:
        """Each page's cleaned text, in order, one page at a time (``""`` for a
        page without text).  Counts :attr:`pages_without_text` as it goes: the
        count is complete once the iterator is exhausted.  Raises
        :class:`~thb_search.errors.DocumentError` for a page that cannot be read."""
        self.pages_without_text = 0
        n = self.page_count
        size = min(self.window, n)
        half = size // 2
        ahead: dict[int, _Page] = {}
        read = 0
        for i in range(n):
            start = min(max(i - half, 0), n - size)
            while read < start + size:
                ahead[read] = self._read(read)
                read += 1
            for old in [j for j in ahead if j < start]:
                del ahead[old]
            page = ahead[i]
            if not page.has_text:
                self.pages_without_text += 1
                yield ""
                continue
            window = [ahead[j] for j in range(start, start + size)]
            yield join_lines(_without_running_lines(page, window))

    def close(self) -> None:
        """Release the file (pages are released as they are read)."""
        if self._doc is not None:
            with _PDFIUM:
                self._doc.close()
            self._doc = None

    def __enter__(self) -> PdfText:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PdfText {self.path!r}, {self.page_count} pages>"


def _running(key: str, zone: str, page: _Page, window: list[_Page]) -> bool:
    """Whether ``key`` is a running line in ``zone`` ('top' or 'bottom') of the
    window's pages (see the module's docstring)."""
    with_text = [p for p in window if p.has_text]
    holding = [p for p in with_text if key in getattr(p, zone)]
    if len(holding) < 3:
        return False
    if 2 * len(holding) > len(with_text):
        return True
    parity = page.number % 2
    same = sum(1 for p in with_text if p.number % 2 == parity)
    same_holding = sum(1 for p in holding if p.number % 2 == parity)
    return 2 * same_holding > same


def _without_running_lines(page: _Page, window: list[_Page]) -> list[str]:
    lines = page.lines
    drop = set()
    for i in range(min(ZONE, len(lines))):
        if _running(line_key(lines[i]), "top", page, window):
            drop.add(i)
    for i in range(max(0, len(lines) - ZONE), len(lines)):
        if i not in drop and _running(line_key(lines[i]), "bottom", page, window):
            drop.add(i)
    return [line for i, line in enumerate(lines) if i not in drop]


def open_pdf(path: str | os.PathLike[str], *, window: int = WINDOW) -> PdfText:
    """Open a PDF to read its pages' text; raises
    :class:`~thb_search.errors.DocumentError` if it cannot be opened."""
    return PdfText(path, window=window)


def read_pages(path: str | os.PathLike[str], *, window: int = WINDOW) -> Iterator[str]:
    """Each page's cleaned text, one at a time; the file is closed when the
    iterator is exhausted or closed.  As with any generator, nothing happens,
    and no :class:`~thb_search.errors.DocumentError` is raised, before the
    first page is asked for.  (Use :func:`open_pdf` for the page count,
    metadata and the number of pages without text.)"""
    with open_pdf(path, window=window) as pdf:
        yield from pdf.pages()
