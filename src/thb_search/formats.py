"""Catalogue files read a line at a time into records: JSON Lines and CSV,
and what every reader shares (the listing layout is :mod:`thb_search.listing`'s).

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusFormatError
from .records import (
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


def add_record(result: FileResult, shown: str, line: int, values: dict[str, object],
         explicit_id: str | None, date_line: int | None = None,
         chars: int | None = None) -> None:
    """Validate one record's values and append it (or its error) to
    ``result``.  ``chars``: at least the characters of all its values, when
    the caller knows it (then, if it is small enough, they are not counted)."""
    if chars is None or 4 * chars > MAX_RECORD_BYTES:  # (at most 4 bytes a character)
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
    result.records.append(Record.of(
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


def short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _check_keys(keys: Iterable[str], shown: str, line: int, result: FileResult,
                known: dict[tuple[str, ...], dict[str, str] | str] | None = None,
                ) -> dict[str, str] | None:
    """Map given keys to record keys; an unknown key is an error (no silent drop).
    ``known``: the mappings of the keys met before (a file's lines mostly
    give the same keys: working them out took a tenth of reading a line)."""
    if known is None:
        mapping = record_keys(keys)
    else:
        given = tuple(keys)
        found = known.get(given)
        if found is None:
            found = record_keys(given)
            if len(known) < 64:  # (a file whose every line has keys of its own)
                known[given] = found
        mapping = found
    if isinstance(mapping, str):
        result.errors.append(CorpusFormatError(shown, line, mapping))
        return None
    return mapping


def read_jsonl(lines: Iterable[str | LongLine], shown: str,
               result: FileResult, first: int = 1) -> Iterator[None]:
    """``first``: the number of the first of ``lines`` (a part of a file)."""
    known: dict[tuple[str, ...], dict[str, str] | str] = {}
    for number, line in enumerate(lines, start=first):
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
        except ValueError:  # (Python reads no integer of more than 4,300 digits)
            result.errors.append(CorpusFormatError(
                shown, number, "a number on this line has too many digits to be read: "
                "write it as a string (in quotes)"))
            continue
        if not isinstance(obj, dict):
            result.errors.append(CorpusFormatError(
                shown, number, f"expected a JSON object, got {type(obj).__name__}: each "
                "line must be one object such as {\"title\": ..., \"date\": ...}"))
            continue
        mapping = _check_keys(obj.keys(), shown, number, result, known)
        if mapping is None:
            continue
        values: dict[str, object] = {}
        problem = None
        text = True  # every value text (or none): none has more characters than the line
        for key, k in mapping.items():
            v = obj[key]
            if type(v) is not str:  # (most are)
                if isinstance(v, (dict, bool)) or (
                        isinstance(v, list) and (k not in LIST_KEYS
                                                 or not all(isinstance(x, str) for x in v))):
                    problem = (f"field {key!r} must be "
                               + ("a string or a list of strings" if k in LIST_KEYS
                                  else "a string"))
                    break
                if v is not None and not isinstance(v, list):
                    text = False  # a number, written out longer than it may be given
            values[k] = v
        if problem:
            result.errors.append(CorpusFormatError(shown, number, problem))
            continue
        rid = values.pop("id", None)
        add_record(result, shown, number, values, None if rid in (None, "") else str(rid),
                   chars=len(line) if text else None)


def read_csv(lines: Iterable[str | LongLine], shown: str,
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
        add_record(result, shown, number, values, rid if rid and rid.strip() else None)


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
