"""The OSCE publications listing layout, read a line at a time into records.

A record is a title line, labelled lines (``Publishing date:``, ``Content
type:``, ``Where we are:``, ...) and an optional one-line summary.  A page
copied from a browser may bring its heading before the first record and its
pager after the last: both are skipped with a warning that quotes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .errors import CorpusFormatError
from .formats import FileResult, add_record, short
from .records import (
    DATE_HINT,
    LongLine,
)

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
    texts = [repr(short(str(lines.text(i)), 50)) for i in range(first, min(end, first + shown))]
    return (f"skipped {f'line {a}' if a == b else f'lines {a}-{b}'} {where}: "
            + " / ".join(texts) + (" / …" if end - first > shown else ""))


def read_listing(source: Iterable[str | LongLine], shown: str,
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
            shown, number, f"record {short(title)!r} has no 'Publishing date:' line: add "
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
                         f"{short(title_line)!r}: is a title line missing before it?")
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
                    error(k, f"record {short(str(lines.text(k)))!r} is cut off: a title "
                             "must be followed by its 'Publishing date:' line")
                elif not bad:
                    error(k, "a record has at most one summary line: join the summary into "
                             "one line (or, if this is a title, give it a 'Publishing date:' "
                             "line)")
                bad = True
                i = _skip_record(lines, k)
        if not bad:
            add_record(result, shown, title_no, values, None, date_line)


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
