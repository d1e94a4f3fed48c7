"""The three catalogue formats, read a line at a time into records.

``.txt``   the OSCE publications listing (a title line, labelled lines, an
           optional one-line summary);
``.jsonl`` one JSON object a line;
``.csv``   a header row of the record's keys.

Each reader appends records, errors (:class:`CorpusFormatError` with file and
line) and warnings to a :class:`FileResult`, yielding after each record so
that :func:`thb_search.corpus.iter_file` can stream them.  Every reader holds
a few lines at a time, never a whole file; a line longer than
:data:`MAX_RECORD_BYTES` reaches it as a :class:`LongLine` (its size, not its
text), and a record longer than that is refused.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusFormatError
from .records import (
    DATE_HINT,
    KEYS,
    LIST_KEYS,
    MAX_RECORD_BYTES,
    LongLine,
    Record,
    as_values,
    clean_text,
    derive_id,
    human_size,
    parse_date,
    record_keys,
    record_size,
    too_long,
)

#: File extensions read as catalogue files.
FORMATS = {".txt": "listing", ".jsonl": "jsonl", ".csv": "csv"}

#: The labels of the listing layout, in their order, and the record key of each
#: (press statements name their countries as ``Location:`` or ``Locations:``).
LABELS: dict[str, str] = {
    "Publishing date": "date",
    "Collections": "collections",
    "Content type": "type",
    "Where we are": "office",
    "What we do": "themes",
    "Location": "locations",
    "Locations": "locations",
    "Publisher": "publisher",
}
_LABELS_FOLDED = {k.lower(): k for k in LABELS}

#: Lines before a listing's first record that may be skipped as the heading of
#: a copied page, and lines after its last that may be skipped as its pager.
MAX_HEADING_LINES = 40
MAX_PAGER_LINES = 40

# A copied page's pager: page numbers, arrows and the words around them
# ("1 2 3 … 25 Next ›", "« First ‹ Previous", "Load more", "Page 2 of 25").
_PAGER_LINE = re.compile(  # atomic and possessive: no backtracking
    r"(?:\s*+(?>\d++|…|\.{2,3}+|[«‹›»<>←→|·•\-–—/]++|(?:first|previous|prev|next|last|page|"
    r"of|load|show|more|showing|results|result|publications|publication|items|item)\b))++"
    r"\s*+", re.IGNORECASE)
_PAGER_LINE_CHARS = 200
_PAGER_MOVES = re.compile(r"first|prev|next|last|more|[«‹›»←→]", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")


@dataclass
class FileResult:
    """What one file yielded: its records, the errors of unreadable ones, warnings.

    Readers only ``append`` to the three lists, so a caller may pass any
    object with list-like ``records``, ``errors`` and ``warnings`` to stream
    a large file instead of keeping it (see :func:`scan_file`).
    """

    path: Path
    records: list[Record] = field(default_factory=list)
    errors: list[CorpusFormatError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _add(result: FileResult, shown: str, line: int, values: dict[str, object],
         explicit_id: str | None, date_line: int | None = None) -> None:
    """Validate one record's values and append it (or its error) to ``result``."""
    size = record_size(values)
    if size > MAX_RECORD_BYTES:
        result.errors.append(CorpusFormatError(shown, line, too_long("the record", size)))
        return
    title = clean_text(str(values.get("title") or ""))
    summary = clean_text(str(values.get("summary") or ""))
    date_value = values.get("date")
    date = None
    if date_value not in (None, ""):
        try:
            date = parse_date(str(date_value))
        except ValueError as exc:
            result.errors.append(CorpusFormatError(shown, date_line or line, str(exc)))
            return
    if explicit_id is not None:
        rid = clean_text(explicit_id)
        if not rid or " " in rid:
            result.errors.append(CorpusFormatError(
                shown, line, f"invalid id {explicit_id!r}: an id is one word, "
                "e.g. 'nrm-handbook-2022'; leave it out to have one derived"))
            return
    else:
        if not title and not summary:
            result.errors.append(CorpusFormatError(
                shown, line, "record has no text: give it a title or a summary"))
            return
        rid = derive_id(title, date, summary)
    document = _document(result, shown, line, values.get("file"))
    if document is None:
        return
    if not title and not summary and not document:
        result.warnings.append(
            f"{shown}:{line}: record {rid!r} has no title or summary: it is indexed "
            "but no text search can find it")
    result.records.append(Record(
        id=rid,
        title=title,
        date=date,
        type=clean_text(str(values.get("type") or "")),
        offices=as_values(values.get("office")),
        themes=as_values(values.get("themes")),
        publisher=clean_text(str(values.get("publisher") or "")),
        summary=summary,
        url=clean_text(str(values.get("url") or "")),
        collections=as_values(values.get("collections")),
        file=document,
        locations=as_values(values.get("locations")),
        source=shown,
        line=line,
    ))


def _document(result: FileResult, shown: str, line: int, value: object) -> str | None:
    """The absolute path of a record's ``file`` ("" for none), or None (and an
    error) when it names no PDF."""
    text = clean_text(str(value or ""))
    if not text:
        return ""
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = result.path.absolute().parent / path
    if path.suffix.lower() != ".pdf":
        result.errors.append(CorpusFormatError(
            shown, line, f"file {text!r} is not a PDF: a record's document is a .pdf file"))
        return None
    if not path.is_file():
        result.errors.append(CorpusFormatError(
            shown, line, f"file {text!r} does not exist (a path relative to the folder of "
            f"{Path(shown).name}, or an absolute one)"))
        return None
    return str(path.resolve())


class _Lines:
    """The non-blank lines of a listing, stripped, read as far as they are
    asked for and forgotten once passed: ``(number, text)`` by index, where
    text is a :class:`LongLine` for a line too long to hold."""

    def __init__(self, source: Iterable[str | LongLine]) -> None:
        self._source = enumerate(source, start=1)
        self._held: list[tuple[int, str | LongLine]] = []
        self._first = 0  # the index of _held[0]

    def has(self, i: int) -> bool:
        while i - self._first >= len(self._held):
            for number, line in self._source:
                if isinstance(line, LongLine):
                    self._held.append((number, line))
                    break
                text = line.strip()
                if text:
                    self._held.append((number, text))
                    break
            else:
                return False
        return True

    def __getitem__(self, i: int) -> tuple[int, str | LongLine]:
        self.has(i)
        return self._held[i - self._first]

    def number(self, i: int) -> int:
        return self[i][0]

    def text(self, i: int) -> str | LongLine:
        return self[i][1]

    def forget(self, i: int) -> None:
        """Lines before ``i`` are not asked for again."""
        if i > self._first:
            del self._held[: i - self._first]
            self._first = i


def _label_of(line: str | LongLine) -> tuple[str, str] | None:
    """``('Publishing date', '3 March 2020')`` for a label line, else None."""
    if isinstance(line, LongLine):
        return None
    head, sep, rest = line.partition(":")
    if not sep:
        return None
    label = _LABELS_FOLDED.get(head.strip().lower())
    if label is None:
        return None
    return label, rest.strip()


def _starts_record(lines: _Lines, j: int) -> bool:
    """Whether line ``j`` is a title: a label line (normally its date) follows it."""
    return lines.has(j + 1) and _label_of(lines.text(j + 1)) is not None


def _pager_at(lines: _Lines, j: int) -> int:
    """How many lines from ``j`` form a copied page's pager that ends the file
    (0: none): every line from ``j`` on is page numbers, arrows and their words,
    with a move (Next, Previous, Load more, an arrow) or several numbers."""
    words = 0
    moves = numbers = 0
    while lines.has(j + words):
        text = lines.text(j + words)
        if (words == MAX_PAGER_LINES or isinstance(text, LongLine)
                or len(text) > _PAGER_LINE_CHARS or not _PAGER_LINE.fullmatch(text)):
            return 0
        moves += len(_PAGER_MOVES.findall(text))
        numbers += len(_NUMBER.findall(text))
        words += 1
    return words if moves or numbers > 1 else 0


def _heading_end(lines: _Lines) -> int:
    """Where a listing's first record starts when lines that are no record
    come before it (the title and blurb of a copied page): 0 otherwise."""
    i = 0
    while i <= MAX_HEADING_LINES and lines.has(i):
        text = lines.text(i)
        if isinstance(text, LongLine) or _label_of(text) is not None:
            return 0
        if _starts_record(lines, i):
            return i
        i += 1
    return 0


def _skipped(lines: _Lines, first: int, end: int, where: str, shown: int = 5) -> str:
    """``skipped lines 1-4 before …: 'Publications' / 'Filter by…' / …``."""
    a, b = lines.number(first), lines.number(end - 1)
    texts = [repr(_short(str(lines.text(i)), 50)) for i in range(first, min(end, first + shown))]
    return (f"skipped {f'line {a}' if a == b else f'lines {a}-{b}'} {where}: "
            + " / ".join(texts) + (" / …" if end - first > shown else ""))


def _read_listing(source: Iterable[str | LongLine], shown: str,
                  result: FileResult) -> Iterator[None]:
    lines = _Lines(source)

    def error(j: int, problem: str = "") -> None:
        """An error at line ``j``: ``problem``, or the line's length if it is too
        long to read (all that can be said of it)."""
        number, text = lines[j]
        if isinstance(text, LongLine):
            problem = text.problem()
        result.errors.append(CorpusFormatError(shown, number, problem))

    def no_date(number: int, title: str) -> None:
        result.errors.append(CorpusFormatError(
            shown, number, f"record {_short(title)!r} has no 'Publishing date:' line: add "
            f"one right after the title ({DATE_HINT})"))

    i = _heading_end(lines)
    if i:
        result.warnings.append(f"{shown}: " + _skipped(
            lines, 0, i, "before the first record, taken for the heading of a copied page"))
    while lines.has(i):
        yield  # hand over what the previous record gave
        lines.forget(i)
        pager = _pager_at(lines, i)
        if pager:
            result.warnings.append(f"{shown}: " + _skipped(
                lines, i, i + pager, "after the last record, taken for the pager of a copied "
                "page"))
            break
        title_no, title_line = lines[i]
        if isinstance(title_line, LongLine) or _label_of(title_line):
            if isinstance(title_line, LongLine):
                error(i)
            else:
                label = _label_of(title_line)[0]  # type: ignore[index]
                error(i, f"'{label}:' line where a title was expected: each record starts "
                         "with its title line")
            i = _skip_record(lines, i + 1)
            continue
        values: dict[str, object] = {"title": title_line}
        date_line = None
        i += 1
        bad = False
        seen: set[str] = set()
        while lines.has(i):
            labelled = _label_of(lines.text(i))
            if labelled is None:
                break
            label, value = labelled
            key = LABELS[label]
            if key in seen:
                error(i, f"second '{label}:' line in the record titled "
                         f"{_short(title_line)!r}: is a title line missing before it?")
                bad = True
            elif not seen and label != "Publishing date":
                no_date(title_no, title_line)
                bad = True
            elif not value:
                error(i, f"'{label}:' line has no value (cut off?): complete it or remove "
                         "the line")
                bad = True
            seen.add(key)
            values[key] = value
            if label == "Publishing date":
                date_line = lines.number(i)
            i += 1
        if "date" not in seen and not bad:
            no_date(title_no, title_line)
            bad = True
        # At most one summary line: a non-label line that is not itself the
        # title of the next record (a title is followed by 'Publishing date:')
        # nor the pager of a copied page.
        if lines.has(i) and not _starts_record(lines, i) and not _pager_at(lines, i):
            summary = lines.text(i)
            if isinstance(summary, LongLine):
                error(i)
                bad = True
            else:
                values["summary"] = summary
            i += 1
            k = i
            if lines.has(k) and not _starts_record(lines, k) and not _pager_at(lines, k):
                if not lines.has(k + 1) or _pager_at(lines, k + 1):
                    error(k, f"record {_short(str(lines.text(k)))!r} is cut off: a title "
                             "must be followed by its 'Publishing date:' line")
                elif not bad:
                    error(k, "a record has at most one summary line: join the summary into "
                             "one line (or, if this is a title, give it a 'Publishing date:' "
                             "line)")
                bad = True
                i = _skip_record(lines, k)
        if not bad:
            _add(result, shown, title_no, values, None, date_line)


def _skip_record(lines: _Lines, i: int) -> int:
    """After an error, resume at the next line that starts a record (or a
    copied page's pager)."""
    while lines.has(i):
        lines.forget(i)
        text = lines.text(i)
        if (not isinstance(text, LongLine) and not _label_of(text)
                and _starts_record(lines, i)) or _pager_at(lines, i):
            return i
        i += 1
    return i


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _check_keys(keys: Iterable[str], shown: str, line: int,
                result: FileResult) -> dict[str, str] | None:
    """Map given keys to record keys; an unknown key is an error (no silent drop)."""
    mapping = record_keys(keys)
    if isinstance(mapping, str):
        result.errors.append(CorpusFormatError(shown, line, mapping))
        return None
    return mapping


def _read_jsonl(lines: Iterable[str | LongLine], shown: str,
                result: FileResult) -> Iterator[None]:
    for number, line in enumerate(lines, start=1):
        yield  # hand over what the previous line gave
        if isinstance(line, LongLine):
            result.errors.append(CorpusFormatError(shown, number, line.problem()))
            continue
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            result.errors.append(CorpusFormatError(
                shown, number, f"invalid JSON ({exc.msg} at column {exc.colno}): each "
                "line must be one JSON object"))
            continue
        if not isinstance(obj, dict):
            result.errors.append(CorpusFormatError(
                shown, number, f"expected a JSON object, got {type(obj).__name__}: each "
                "line must be one object such as {\"title\": ..., \"date\": ...}"))
            continue
        mapping = _check_keys(obj.keys(), shown, number, result)
        if mapping is None:
            continue
        values: dict[str, object] = {}
        problem = None
        for key, k in mapping.items():
            v = obj[key]
            if isinstance(v, (dict, bool)) or (
                isinstance(v, list) and (k not in LIST_KEYS
                                         or not all(isinstance(x, str) for x in v))):
                problem = (f"field {key!r} must be "
                           + ("a string or a list of strings" if k in LIST_KEYS
                              else "a string"))
                break
            values[k] = v
        if problem:
            result.errors.append(CorpusFormatError(shown, number, problem))
            continue
        rid = values.pop("id", None)
        _add(result, shown, number, values, None if rid in (None, "") else str(rid))


def _read_csv(lines: Iterable[str | LongLine], shown: str,
              result: FileResult) -> Iterator[None]:
    long_lines: list[tuple[int, LongLine]] = []  # met while reading the current row

    def texts() -> Iterator[str]:
        for number, line in enumerate(lines, start=1):
            if isinstance(line, LongLine):
                long_lines.append((number, line))
                line = "\n"  # an empty row, or a line end inside a quoted cell
            yield line

    def held_long_line() -> bool:
        """Whether the row just read held an over-long line (its error added)."""
        if not long_lines:
            return False
        number, line = long_lines[0]
        result.errors.append(CorpusFormatError(shown, number, line.problem()))
        long_lines.clear()
        return True

    # A cell may be as long as a record (the module's default is 128 KB).  The
    # limit is the csv module's, for the whole process: it is only raised.
    if csv.field_size_limit() < MAX_RECORD_BYTES:
        csv.field_size_limit(MAX_RECORD_BYTES)
    # strict: a quoted cell never closed is an error, not the rest of the file
    # silently taken into it.
    reader = csv.reader(texts(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        result.errors.append(CorpusFormatError(shown, 1, f"unreadable CSV header: {exc}"))
        return
    if held_long_line():
        return
    mapping = _check_keys([h for h in header], shown, 1, result)
    if mapping is None:
        return
    keys = [mapping[h] for h in header]
    if "title" not in keys and "summary" not in keys:
        result.errors.append(CorpusFormatError(
            shown, 1, "the header row has neither 'title' nor 'summary': the first row "
            f"names the columns, e.g. {','.join(KEYS)}"))
        return
    start = reader.line_num + 1
    while True:
        yield  # hand over what the previous row gave
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.errors.append(CorpusFormatError(shown, start, _csv_problem(exc)))
            if "expected after" in str(exc):  # a quote inside a cell: the next line
                long_lines.clear()           # starts a row of its own
                start = reader.line_num + 1
                continue
            break  # the rows that follow cannot be told apart from the broken cell
        number = start
        start = reader.line_num + 1
        if held_long_line():
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(keys):
            result.errors.append(CorpusFormatError(
                shown, number, f"row has {len(row)} cells, the header {len(keys)}: quote "
                "cells that contain commas (\"A, B\")"))
            continue
        values = dict(zip(keys, row, strict=True))
        rid = values.pop("id", None)
        _add(result, shown, number, values, rid if rid and rid.strip() else None)


def _csv_problem(exc: csv.Error) -> str:
    message = str(exc)
    if message == "unexpected end of data":
        return ('unreadable CSV row: a quoted cell starts in it and is never closed: add the '
                'missing \'"\'')
    if message.startswith("field larger than field limit"):
        return (f"unreadable CSV row: a cell is longer than {human_size(MAX_RECORD_BYTES)}: a "
                f"record may be at most {human_size(MAX_RECORD_BYTES)}; split or shorten it")
    if "expected after" in message:
        return (f"unreadable CSV row: {message}: a quote inside a cell is written twice "
                '(\'He said ""no""\') and the cell quoted')
    return f"unreadable CSV row: {message}"


#: The reader of each format.
READERS = {"listing": _read_listing, "jsonl": _read_jsonl, "csv": _read_csv}
