"""The three catalogue formats, read a line at a time into records.

``.txt``   the OSCE publications listing (a title line, labelled lines, an
           optional one-line summary);
``.jsonl`` one JSON object a line;
``.csv``   a header row of the record's keys.

Each reader appends records, errors (:class:`CorpusFormatError` with file and
line) and warnings to a :class:`FileResult`, yielding after each record so
that :func:`thb_search.corpus.iter_file` can stream them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusFormatError
from .records import (
    DATE_HINT,
    Record,
    clean_text,
    derive_id,
    parse_date,
    split_values,
    unique,
)

#: File extensions read as catalogue files.
FORMATS = {".txt": "listing", ".jsonl": "jsonl", ".csv": "csv"}

#: The labels of the listing layout, in their order, and the record key of each.
LABELS: dict[str, str] = {
    "Publishing date": "date",
    "Collections": "collections",
    "Content type": "type",
    "Where we are": "office",
    "What we do": "themes",
    "Publisher": "publisher",
}
_LABELS_FOLDED = {k.lower(): k for k in LABELS}

#: Keys of a JSON Lines object or CSV header, with accepted aliases.
KEYS = ("id", "title", "date", "type", "office", "themes", "publisher", "summary", "url",
        "collections", "file")
_ALIASES = {"offices": "office", "theme": "themes", "collection": "collections",
            "content_type": "type", "publishing_date": "date"}
_LIST_KEYS = ("office", "themes", "collections")


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
        offices=_as_values(values.get("office")),
        themes=_as_values(values.get("themes")),
        publisher=clean_text(str(values.get("publisher") or "")),
        summary=summary,
        url=clean_text(str(values.get("url") or "")),
        collections=_as_values(values.get("collections")),
        file=document,
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


def _as_values(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return unique(clean_text(str(v)) for v in value if v is not None)
    return split_values(str(value))


def _read_listing(source: Iterable[str], shown: str, result: FileResult) -> Iterator[None]:
    lines = [line.rstrip("\r\n") for line in source]
    n = len(lines)

    def label_of(s: str) -> tuple[str, str] | None:
        head, sep, rest = s.partition(":")
        if not sep:
            return None
        label = _LABELS_FOLDED.get(head.strip().lower())
        if label is None:
            return None
        return label, rest.strip()

    def next_nonblank(i: int) -> int:
        while i < n and not lines[i].strip():
            i += 1
        return i

    i = next_nonblank(0)
    while i < n:
        yield  # hand over what the previous record gave
        title_line = lines[i].strip()
        title_no = i + 1
        if label_of(title_line):
            label = label_of(title_line)[0]  # type: ignore[index]
            result.errors.append(CorpusFormatError(
                shown, title_no, f"'{label}:' line where a title was expected: "
                "each record starts with its title line"))
            i = _skip_record(lines, i + 1, label_of)
            continue
        values: dict[str, object] = {"title": title_line}
        date_line = None
        i += 1
        bad = False
        seen: set[str] = set()
        while True:
            j = next_nonblank(i)
            labelled = label_of(lines[j].strip()) if j < n else None
            if labelled is None:
                break
            label, value = labelled
            if label in seen:
                result.errors.append(CorpusFormatError(
                    shown, j + 1, f"second '{label}:' line in the record titled "
                    f"{_short(title_line)!r}: is a title line missing before it?"))
                bad = True
            elif not seen and label != "Publishing date":
                result.errors.append(CorpusFormatError(
                    shown, title_no, f"record {_short(title_line)!r} has no "
                    "'Publishing date:' line: add one right after the title "
                    f"({DATE_HINT})"))
                bad = True
            elif not value:
                result.errors.append(CorpusFormatError(
                    shown, j + 1, f"'{label}:' line has no value (cut off?): complete it "
                    "or remove the line"))
                bad = True
            seen.add(label)
            values[LABELS[label]] = value
            if label == "Publishing date":
                date_line = j + 1
            i = j + 1
        if "Publishing date" not in seen and not bad:
            result.errors.append(CorpusFormatError(
                shown, title_no, f"record {_short(title_line)!r} has no 'Publishing "
                f"date:' line: add one right after the title ({DATE_HINT})"))
            bad = True
        # At most one summary line: a non-label line that is not itself the
        # title of the next record (a title is followed by 'Publishing date:').
        j = next_nonblank(i)
        if j < n and not _starts_record(lines, j, label_of, next_nonblank):
            values["summary"] = lines[j].strip()
            i = j + 1
            k = next_nonblank(i)
            if k < n and not _starts_record(lines, k, label_of, next_nonblank):
                if next_nonblank(k + 1) >= n:
                    result.errors.append(CorpusFormatError(
                        shown, k + 1, f"record {_short(lines[k].strip())!r} is cut off: a "
                        "title must be followed by its 'Publishing date:' line"))
                elif not bad:
                    result.errors.append(CorpusFormatError(
                        shown, k + 1, "a record has at most one summary line: join the "
                        "summary into one line (or, if this is a title, give it a "
                        "'Publishing date:' line)"))
                bad = True
                i = _skip_record(lines, k, label_of)
        if not bad:
            _add(result, shown, title_no, values, None, date_line)
        i = next_nonblank(i)


def _starts_record(lines: list[str], j: int, label_of, next_nonblank) -> bool:
    """Whether line ``j`` is a title: a label line (normally its date) follows it."""
    k = next_nonblank(j + 1)
    return k < len(lines) and label_of(lines[k].strip()) is not None


def _skip_record(lines: list[str], i: int, label_of) -> int:
    """After an error, resume at the next line that starts a record."""
    n = len(lines)
    while i < n:
        k = i + 1
        while k < n and not lines[k].strip():
            k += 1
        if lines[i].strip() and not label_of(lines[i].strip()) and k < n and label_of(
                lines[k].strip()):
            return i
        i += 1
    return n


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _check_keys(keys: Iterable[str], shown: str, line: int,
                result: FileResult) -> dict[str, str] | None:
    """Map given keys to record keys; an unknown key is an error (no silent drop)."""
    mapping: dict[str, str] = {}
    for key in keys:
        k = str(key).strip().lower()
        k = _ALIASES.get(k, k)
        if k not in KEYS:
            result.errors.append(CorpusFormatError(
                shown, line, f"unknown field {str(key)!r}: the fields are "
                f"{', '.join(KEYS)}"))
            return None
        if k in mapping.values():
            result.errors.append(CorpusFormatError(
                shown, line, f"field {k!r} given twice"))
            return None
        mapping[str(key)] = k
    return mapping


def _read_jsonl(lines: Iterable[str], shown: str, result: FileResult) -> Iterator[None]:
    for number, line in enumerate(lines, start=1):
        yield  # hand over what the previous line gave
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
                isinstance(v, list) and (k not in _LIST_KEYS
                                         or not all(isinstance(x, str) for x in v))):
                problem = (f"field {key!r} must be "
                           + ("a string or a list of strings" if k in _LIST_KEYS
                              else "a string"))
                break
            values[k] = v
        if problem:
            result.errors.append(CorpusFormatError(shown, number, problem))
            continue
        rid = values.pop("id", None)
        _add(result, shown, number, values, None if rid in (None, "") else str(rid))


def _read_csv(lines: Iterable[str], shown: str, result: FileResult) -> Iterator[None]:
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        result.errors.append(CorpusFormatError(shown, 1, f"unreadable CSV header: {exc}"))
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
            result.errors.append(CorpusFormatError(shown, start, f"unreadable CSV row: {exc}"))
            break
        number = start
        start = reader.line_num + 1
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


#: The reader of each format.
READERS = {"listing": _read_listing, "jsonl": _read_jsonl, "csv": _read_csv}
