"""Catalogue files: the three input formats, record ids and duplicates.

Every format yields the same :class:`Record`.  Formats are chosen by file
extension:

``.txt``   the OSCE publications listing (a title line, labelled lines, an
           optional one-line summary);
``.jsonl`` one JSON object a line;
``.csv``   a header row of the record's keys.

Nothing here touches the index.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
from base64 import b32encode
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .analysis import fold, normalize_chars
from .errors import CorpusFormatError, CorpusNotFoundError

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
        "collections")
_ALIASES = {"offices": "office", "theme": "themes", "collection": "collections",
            "content_type": "type", "publishing_date": "date"}
_LIST_KEYS = ("office", "themes", "collections")

_MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")],
        start=1,
    )
    for name in names
}
_DMY = re.compile(r"^(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})$")
_MDY = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"\s+")
DATE_HINT = "expected e.g. 25 February 2022 or 2022-02-25"


@dataclass(frozen=True)
class Record:
    """One publication.

    ``source`` and ``line`` say where it was read (not part of its identity or
    content); every other field is content.  ``date`` is None when unknown.
    """

    id: str
    title: str
    date: dt.date | None = None
    type: str = ""
    offices: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    publisher: str = ""
    summary: str = ""
    url: str = ""
    collections: tuple[str, ...] = ()
    source: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    @property
    def year(self) -> int | None:
        return self.date.year if self.date else None

    def core(self) -> dict[str, object]:
        """Content other than offices and themes (what duplicates must share to merge)."""
        return {
            "id": self.id, "title": self.title,
            "date": self.date.isoformat() if self.date else None,
            "type": self.type, "publisher": self.publisher, "summary": self.summary,
            "url": self.url, "collections": list(self.collections),
        }

    def core_hash(self) -> str:
        return _digest(json.dumps(self.core(), sort_keys=True, ensure_ascii=False))

    def fingerprint(self) -> str:
        """A hash of the whole content: equal fingerprints, equal records."""
        return fingerprint(self.core_hash(), self.offices, self.themes)

    def to_dict(self) -> dict[str, object]:
        d = self.core()
        d["offices"] = list(self.offices)
        d["themes"] = list(self.themes)
        return d


def fingerprint(core_hash: str, offices: Sequence[str], themes: Sequence[str]) -> str:
    return _digest(core_hash + "\x1f" + "\x1d".join(offices) + "\x1f" + "\x1d".join(themes))


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Field values


def clean_text(value: str) -> str:
    """Whitespace (and control characters) collapsed to single spaces, trimmed."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()


def split_values(value: str) -> tuple[str, ...]:
    """``'A, B'`` -> ``('A', 'B')``; empty parts dropped, duplicates kept once."""
    return _unique(clean_text(v) for v in value.split(","))


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for v in values:
        if v and v not in seen:
            seen[v] = None
    return tuple(seen)


def parse_date(text: str) -> dt.date:
    """``25 February 2022``, ``2022-02-25`` (also ``Feb 25, 2022``).

    Raises ValueError with a message that says what was expected.
    """
    value = clean_text(text)
    m = _ISO.match(value)
    try:
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _DMY.match(value)
        if m:
            day, month, year = m.group(1), m.group(2), m.group(3)
        else:
            m = _MDY.match(value)
            if not m:
                raise ValueError
            month, day, year = m.group(1), m.group(2), m.group(3)
        number = _MONTHS.get(month.lower())
        if number is None:
            raise ValueError
        return dt.date(int(year), number, int(day))
    except ValueError:
        raise ValueError(f"unreadable date {value!r} ({DATE_HINT})") from None


def normalized_title(text: str) -> str:
    """Title key for ids: folded, punctuation and spacing ignored."""
    return " ".join(re.findall(r"[^\W_]+", fold(normalize_chars(text))))


def derive_id(title: str, date: dt.date | None, summary: str = "") -> str:
    """A stable id from the normalised title and date (or the summary when untitled).

    Ten characters of base32: short enough to type, 50 bits against collisions.
    """
    key = normalized_title(title) if title else "summary:" + normalized_title(summary)
    key += "|" + (date.isoformat() if date else "")
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return b32encode(digest).decode("ascii")[:10].lower()


# ---------------------------------------------------------------------------
# Reading files


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


class _Undecodable(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _decoded_lines(handle: Any) -> Iterator[str]:
    """The lines of a binary file as text, line ends kept; BOM dropped."""
    for number, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Undecodable(number) from None
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        yield line


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when inside it, else absolute;
    folders end in ``/``."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        rel = str(path)
    shown = str(path) if rel.startswith("..") else rel
    return shown + "/" if Path(path).is_dir() and not shown.endswith("/") else shown


def read_file(path: str | os.PathLike[str]) -> FileResult:
    """Read one catalogue file of any supported format."""
    result = FileResult(Path(path))
    for item in iter_file(path):
        if isinstance(item, Record):
            result.records.append(item)
        elif isinstance(item, CorpusFormatError):
            result.errors.append(item)
        else:
            result.warnings.append(item)
    return result


def iter_file(path: str | os.PathLike[str]) -> Iterator[Record | CorpusFormatError | str]:
    """The records, errors and warnings (str) of one catalogue file, in file
    order, a line at a time: JSON Lines and CSV files are never held in memory
    whole (listing pages are small and read at once)."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    shown = display_path(path)
    if kind is None:
        yield CorpusFormatError(
            shown, None,
            f"unsupported file type {path.suffix or '(none)'!r}: "
            "catalogue files end in .txt (OSCE listing), .jsonl or .csv")
        return
    reader = {"listing": _read_listing, "jsonl": _read_jsonl, "csv": _read_csv}[kind]
    buffer = FileResult(path)
    try:
        with open(path, "rb") as handle:
            for _ in reader(_decoded_lines(handle), shown, buffer):
                yield from _drain(buffer)
    except _Undecodable as exc:
        buffer.errors.append(CorpusFormatError(
            shown, exc.line, "not valid UTF-8 text: save the file as UTF-8"))
    except OSError as exc:
        buffer.errors.append(CorpusFormatError(shown, None, f"cannot read file: {exc.strerror}"))
    yield from _drain(buffer)


def _drain(buffer: FileResult) -> Iterator[Record | CorpusFormatError | str]:
    yield from buffer.warnings
    yield from buffer.errors
    yield from buffer.records
    buffer.warnings.clear()
    buffer.errors.clear()
    buffer.records.clear()


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
    if not title and not summary:
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
        source=shown,
        line=line,
    ))


def _as_values(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return _unique(clean_text(str(v)) for v in value if v is not None)
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


def find_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """The catalogue files under ``paths`` (files or folders, searched recursively).

    Returns the files (sorted, absolute) and warnings for files in folders that
    are not catalogue files.  A path that does not exist, a file of another
    type named explicitly, or nothing found at all raises CorpusNotFoundError.
    """
    files: dict[Path, None] = {}
    warnings: list[str] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for sub in sorted(path.rglob("*")):
                rel = sub.relative_to(path)
                if any(part.startswith(".") for part in rel.parts) or not sub.is_file():
                    continue
                if sub.suffix.lower() in FORMATS:
                    files[sub.resolve()] = None
                elif sub.name.lower() not in ("readme", "readme.md", "readme.txt"):
                    warnings.append(f"{display_path(sub)} is not a catalogue file (.txt, "
                                    ".jsonl or .csv) and was not read")
        elif path.is_file():
            if path.suffix.lower() not in FORMATS:
                raise CorpusNotFoundError(
                    f"{display_path(path)}: unsupported file type {path.suffix or '(none)'!r}:"
                    " catalogue files end in .txt (OSCE listing), .jsonl or .csv")
            files[path.resolve()] = None
        else:
            raise CorpusNotFoundError(f"{raw}: no such file or folder")
    return list(files), warnings


def read_records(paths: Sequence[str | os.PathLike[str]]) -> Iterator[Record]:
    """Every record of the given files/folders, in file order (no duplicate merging).

    Raises the first CorpusFormatError met.
    """
    files, _ = find_files(paths)
    for path in files:
        result = read_file(path)
        if result.errors:
            raise result.errors[0]
        yield from result.records


# ---------------------------------------------------------------------------
# Duplicates


@dataclass(frozen=True, slots=True)
class Copy:
    """One copy of a record met in a file: enough to resolve duplicates.

    Slotted and small: an indexer holds one for every record of the catalogue.
    """

    id: str
    path: str  # absolute path of the file
    line: int
    mtime_ns: int  # of the file: the copy of the newest file wins
    core_hash: str
    offices: tuple[str, ...]
    themes: tuple[str, ...]
    fingerprint: str

    @property
    def order(self) -> tuple[int, str, int]:
        """Later wins: (file mtime, path, line)."""
        return (self.mtime_ns, self.path, self.line)

    # A copy with no duplicate is its own resolution (see Resolved).
    @property
    def winner(self) -> Copy:
        return self

    merged = property(lambda self: 0)
    superseded = property(lambda self: 0)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The one record an id stands for after its copies are merged."""

    winner: Copy
    offices: tuple[str, ...]
    themes: tuple[str, ...]
    fingerprint: str
    merged: int = 0  # copies folded in (same content but offices/themes)
    superseded: int = 0  # copies that lost to a newer, different copy

    @property
    def id(self) -> str:
        return self.winner.id


def resolve(copies: Sequence[Copy]) -> Resolved | Copy:
    """Merge the copies of one id (a single copy stands for itself).

    The copy from the most recently modified file (then the later line) wins;
    copies that differ from it only in offices or themes are merged into it
    (union, winner's values first); copies that differ otherwise are superseded.
    """
    if len(copies) == 1:
        return copies[0]
    ordered = sorted(copies, key=lambda c: c.order)
    winner = ordered[-1]
    offices: dict[str, None] = dict.fromkeys(winner.offices)
    themes: dict[str, None] = dict.fromkeys(winner.themes)
    merged = superseded = 0
    for c in reversed(ordered[:-1]):
        if c.core_hash == winner.core_hash:
            offices.update(dict.fromkeys(c.offices))
            themes.update(dict.fromkeys(c.themes))
            merged += 1
        else:
            superseded += 1
    offs, ths = tuple(offices), tuple(themes)
    return Resolved(winner, offs, ths, fingerprint(winner.core_hash, offs, ths), merged,
                    superseded)


def merged_record(record: Record, resolved: Resolved | Copy) -> Record:
    """The winning copy's record with the merged offices and themes."""
    return replace(record, offices=resolved.offices, themes=resolved.themes)
