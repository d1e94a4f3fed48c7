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

from .analysis import fold, normalize_chars

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
    file: str = ""  # the publication's document (absolute path), when it has one
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
            **({"file": self.file} if self.file else {}),
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
    return unique(clean_text(v) for v in value.split(","))


def unique(values: Iterable[str]) -> tuple[str, ...]:
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
