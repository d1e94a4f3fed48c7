"""A catalogue record and the values it is made of: ids, dates, clean text.

Every catalogue format (:mod:`thb_search.formats`) yields the same
:class:`Record`; an id is either given or derived from the title and date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from base64 import b32encode
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .analysis import normalized_title

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
# Halves of a surrogate pair standing alone (a JSON "\\ud800"): not text,
# and not writable as UTF-8.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r"\s+")
DATE_HINT = "expected e.g. 25 February 2022 or 2022-02-25"

#: The longest line, and the longest record, a catalogue file may hold (bytes
#: of UTF-8; 1 MB is some 150,000 words, a thousand times the longest summary
#: of the bundled listing).  A longer line is never read whole into memory; the
#: limit also keeps a record's word positions within the index's 20 bits.
MAX_RECORD_BYTES = 1_000_000

#: Keys of a record in a JSON Lines object or CSV header, with accepted aliases.
KEYS = ("id", "title", "date", "type", "office", "themes", "publisher", "summary", "url",
        "collections", "file", "locations")
_ALIASES = {"offices": "office", "theme": "themes", "collection": "collections",
            "content_type": "type", "publishing_date": "date", "location": "locations"}
#: Keys whose value is a list (or a comma-separated string).
LIST_KEYS = ("office", "themes", "collections", "locations")


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
    file: str = ""  # the publication's document (absolute path), when it has one
    locations: tuple[str, ...] = ()  # countries a press statement is about
    source: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    @classmethod
    def of(cls, id: str, title: str, date: dt.date | None, type: str,
           offices: tuple[str, ...], themes: tuple[str, ...], publisher: str, summary: str,
           url: str, collections: tuple[str, ...], file: str, locations: tuple[str, ...],
           source: str, line: int) -> Record:
        """``Record(...)`` with every field given, as a reader makes one:
        without the frozen dataclass's ``__init__``, which sets each field
        through ``object.__setattr__`` (2.4 µs a record, against 0.4 µs; a
        test checks that the fields here are the class's)."""
        record = object.__new__(cls)
        record.__dict__.update(
            id=id, title=title, date=date, type=type, offices=offices, themes=themes,
            publisher=publisher, summary=summary, url=url, collections=collections, file=file,
            locations=locations, source=source, line=line)
        return record

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
            **({"file": self.file} if self.file else {}),
            # Only when given: the hashes (and ids' fingerprints) of records
            # without locations stay what they were before the field existed.
            **({"locations": list(self.locations)} if self.locations else {}),
        }

    def core_hash(self) -> str:
        return _digest(self.core_json())

    def core_json(self) -> str:
        """``json.dumps(self.core(), sort_keys=True, ensure_ascii=False)``,
        what :meth:`core_hash` hashes, written out field by field with the
        JSON encoder's own string quoting: without the dictionary and the
        encoder's walk over it: reading 20,000 records runs 7% fewer
        instructions.  A value not of the types a reader makes is left to the
        encoder."""
        try:
            return "".join((
                '{"collections": [', ", ".join(map(_QUOTED, self.collections)),
                '], "date": ', _QUOTED(self.date.isoformat()) if self.date else "null",
                *((', "file": ', _QUOTED(self.file)) if self.file else ()),
                ', "id": ', _QUOTED(self.id),
                *((', "locations": [', ", ".join(map(_QUOTED, self.locations)), "]")
                  if self.locations else ()),
                ', "publisher": ', _QUOTED(self.publisher),
                ', "summary": ', _QUOTED(self.summary),
                ', "title": ', _QUOTED(self.title),
                ', "type": ', _QUOTED(self.type),
                ', "url": ', _QUOTED(self.url), "}"))
        except (TypeError, AttributeError):
            return _CORE_JSON(self.core())

    def fingerprint(self) -> str:
        """A hash of the whole content: equal fingerprints, equal records."""
        return fingerprint(self.core_hash(), self.offices, self.themes)

    def to_dict(self) -> dict[str, object]:
        d = self.core()
        d["offices"] = list(self.offices)
        d["themes"] = list(self.themes)
        return d


@dataclass(frozen=True)
class LongLine:
    """Stands for a line of a catalogue file longer than
    :data:`MAX_RECORD_BYTES`: its size in bytes (the line is never held)."""

    size: int

    def problem(self) -> str:
        return too_long("the line", self.size)


#: ``json.dumps(value, sort_keys=True, ensure_ascii=False)`` without making an
#: encoder a call (2.5 of its 7 µs: a catalogue's every record is hashed).
_CORE_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
#: A string as that encoder writes it (quoted, escaped; only str accepted).
_QUOTED = json.encoder.encode_basestring


def fingerprint(core_hash: str, offices: Sequence[str], themes: Sequence[str]) -> str:
    return _digest(core_hash + "\x1f" + "\x1d".join(offices) + "\x1f" + "\x1d".join(themes))


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Field values


def clean_text(value: str) -> str:
    """Whitespace (and control characters) collapsed to single spaces, trimmed;
    a lone surrogate becomes U+FFFD, as undecodable text does.

    Text that needs none of it comes back as it is, found without a regular
    expression: every character the expressions replace (control characters,
    line and paragraph separators, every space but the ASCII one, surrogates)
    is one ``str.isprintable`` refuses.  A catalogue's summaries mostly need
    nothing, and reading them was 16 µs each, a tenth of reading a record."""
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value
    if not value.isascii():
        value = _SURROGATE.sub("\ufffd", value)
    return _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()


def record_keys(keys: Iterable[object]) -> dict[str, str] | str:
    """Given keys mapped to record keys, or what is wrong with them (an unknown
    key is an error, never silently dropped)."""
    mapping: dict[str, str] = {}
    for key in keys:
        k = str(key).strip().lower()
        k = _ALIASES.get(k, k)
        if k not in KEYS:
            return f"unknown field {str(key)!r}: the fields are {', '.join(KEYS)}"
        if k in mapping.values():
            return f"field {k!r} given twice"
        mapping[str(key)] = k
    return mapping


#: Values made of a list (as a tuple) or text, remembered: a catalogue's
#: records mostly repeat a few lists of offices and themes.
_VALUES: dict[object, tuple[str, ...]] = {}
_VALUES_REMEMBERED = 4096


def as_values(value: object) -> tuple[str, ...]:
    """A list of values, or ``'A, B'``, as clean values (duplicates kept once)."""
    if value is None:
        return ()
    listed = isinstance(value, (list, tuple))
    key = tuple(value) if listed else value
    try:
        return _VALUES[key]
    except (KeyError, TypeError):  # (TypeError: a list holding a list)
        pass
    if listed:
        values = unique(clean_text(str(v)) for v in value if v is not None)
    else:
        values = split_values(str(value))
    # Only text is remembered: 5 and 5.0 are one key, and not one value.
    if type(value) is str or (listed and set(map(type, key)) <= {str}):
        if len(_VALUES) >= _VALUES_REMEMBERED:
            _VALUES.clear()
        _VALUES[key] = values
    return values


def split_values(value: str) -> tuple[str, ...]:
    """``'A, B'`` -> ``('A', 'B')``; empty parts dropped, duplicates kept once."""
    return unique(clean_text(v) for v in value.split(","))


def unique(values: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for v in values:
        if v and v not in seen:
            seen[v] = None
    return tuple(seen)


def record_size(values: dict[str, object]) -> int:
    """The bytes of a record's values as UTF-8 (counted exactly only when
    they may pass :data:`MAX_RECORD_BYTES`: else their characters, found
    without a list of the texts: 1.0 against 2.2 µs a record)."""
    chars = 0
    for value in values.values():
        if type(value) is str:
            chars += len(value)
        elif isinstance(value, (list, tuple)):
            chars += sum(len(v if isinstance(v, str) else str(v)) for v in value
                         if v is not None)
        elif value is not None:
            chars += len(str(value))
    if chars * 4 <= MAX_RECORD_BYTES:  # at most 4 bytes a character
        return chars
    texts = [v if isinstance(v, str) else str(v) for value in values.values()
             for v in (value if isinstance(value, (list, tuple)) else (value,))
             if v is not None]
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)


def too_long(what: str, size: int) -> str:
    """``the line is 1.3 MB long: a record may be at most 1 MB; split or shorten it``."""
    return (f"{what} is {human_size(size, MAX_RECORD_BYTES)} long: a record may be at most "
            f"{human_size(MAX_RECORD_BYTES)}; split or shorten it")


def human_size(size: int, limit: int | None = None) -> str:
    """``1.3 MB``, ``2 GB``; exact bytes where rounding would make ``size``
    look no larger than ``limit``."""
    unit, name = (1_000_000_000, "GB") if size >= 1_000_000_000 else (1_000_000, "MB")
    if limit is not None and round(size / unit, 1) * unit <= limit:
        return f"{size:,} bytes"
    return f"{size / unit:.1f}".removesuffix(".0") + f" {name}"


def parse_date(text: str) -> dt.date:
    """``25 February 2022``, ``2022-02-25`` (also ``Feb 25, 2022``).

    Raises ValueError with a message that says what was expected.
    """
    value = clean_text(text)
    if len(value) == 10 and value[4] == "-" and value[7] == "-" and value.isascii():
        try:  # (the usual form: the standard library's C reader)
            return dt.date.fromisoformat(value)
        except ValueError:
            pass  # (the steps below say what is wrong)
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


def derive_id(title: str, date: dt.date | None, summary: str = "") -> str:
    """A stable id from the normalised title and date (or the summary when untitled).

    Ten characters of base32: short enough to type, 50 bits against collisions.
    """
    key = normalized_title(title) if title else "summary:" + normalized_title(summary)
    key += "|" + (date.isoformat() if date else "")
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return b32encode(digest).decode("ascii")[:10].lower()
