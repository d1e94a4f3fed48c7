"""Cleaning the text PDFium gives for one page, for indexing.

**Cleaning** (:func:`clean_lines`, :func:`join_lines`), the same for every page:

* Unicode NFKC: ligatures (``ﬁ ﬂ ﬀ ﬃ ﬄ``) become letters, no-break and other
  wide spaces become spaces, full-width forms plain ones;
* soft hyphens (U+00AD) and zero-width spaces are removed; other control
  characters become spaces;
* a word hyphenated at the end of a line is joined (``traf-`` / ``ficking`` ->
  ``trafficking``), **except** that the hyphen is kept (``anti-`` /
  ``trafficking`` -> ``anti-trafficking``) when

  - the part before it is one of :data:`COMPOUND_FIRST_PARTS` (``anti``,
    ``co``, ``counter``, ``cross``, ``non``, ``self``, ``well``, ``gender``:
    first parts that OSCE texts hyphenate, and that are seldom a hyphenation
    point inside an ordinary word; ``pre``, ``pro``, ``ex`` or ``inter`` are
    left out on purpose: ``pre-vention``, ``pro-tection``, ``ex-ploitation``
    and ``inter-national`` are common hyphenation breaks), or
  - the part before it is an acronym (``OSCE-`` / ``wide``), ends in a digit
    (``2010-`` / ``2015``), or already holds a hyphen (``state-of-`` /
    ``the-art``), or
  - the part after it does not start with a lower-case letter (``anti-`` /
    ``Semitism``, ``COVID-`` / ``19``);

  a soft hyphen at the end of a line is always joined;
* the remaining line breaks become spaces and runs of white space one space:
  a page's text is one line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["COMPOUND_FIRST_PARTS", "clean_lines", "join_lines", "line_key"]

#: First parts of compounds whose hyphen is kept when a line breaks at it.
COMPOUND_FIRST_PARTS = frozenset(
    {"anti", "co", "counter", "cross", "non", "self", "well", "gender"}
)

# ---------------------------------------------------------------------------
# Cleaning one page's text

# Removed outright: soft hyphens not ending a line (see join_lines), zero-width
# space, word joiner, byte order mark; PDFium's own markers are dealt with first.
_DROP = dict.fromkeys(map(ord, "\u200b\u2060\ufeff"), None)
# Other control characters become spaces (in one translate with _DROP: the
# expression [\x00-\x08\x0e-\x1f\x7f-\x9f] took three times as long).
_DROP_AND_CONTROL = {**_DROP, **dict.fromkeys(
    [*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0xA0)], " ")}
# PDFium reports a hyphen that ends a line as U+FFFE (U+0002 in its bounded
# text) and drops the line break after it: put both back.
_PDFIUM_HYPHENS = ("\ufffe", "\x02")
_SOFT_HYPHEN_INSIDE = re.compile("\u00ad(?!\n)")
_LINE_END_HYPHEN = re.compile(r"[-\u2010\u00ad]\n(?=\S)")
_LETTERS_AT_END = re.compile(r"[^\W\d_]+$")
_DIGITS = re.compile(r"\d+")
_ROMAN = re.compile(r"m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")


def clean_lines(raw: str) -> list[str]:
    """The non-empty lines of a page's extracted text, NFKC-normalised, each
    with its white space collapsed (see the module's docstring).  A line that
    ends with a hyphen keeps it, for :func:`join_lines` to decide.

    >>> clean_lines("OSCE\\r\\nCombating traf\\ufffeficking \\ufb01nancial\\r\\n\\r\\n")
    ['OSCE', 'Combating traf-', 'ficking financial']
    """
    text = raw
    for marker in _PDFIUM_HYPHENS:  # (str.replace: a tenth of the expression's time)
        if marker in text:
            text = text.replace(marker, "-\n")
    text = unicodedata.normalize("NFKC", text).translate(_DROP_AND_CONTROL)
    lines = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            lines.append(line)
    return lines


def _keeps_hyphen(before: str, after: str) -> bool:
    """Whether ``before-`` at the end of a line and ``after`` on the next are
    one hyphenated compound rather than one word broken in two."""
    if not after[0].islower():
        return True
    part = _LETTERS_AT_END.search(before)
    if part is None:
        return True  # 2010- / 2015: ends in a digit or a symbol
    word = part.group()
    if "-" in before or "\u2010" in before:
        return True  # state-of- / the-art
    if len(word) >= 2 and word.isupper():
        return True  # OSCE- / wide
    return word.casefold() in COMPOUND_FIRST_PARTS


def _join_hyphens(text: str) -> str:
    """``text`` (lines joined by newlines, white space collapsed) with each
    line-end hyphen after a word either kept or dropped, and its newline removed."""
    parts = []
    last = 0
    for match in _LINE_END_HYPHEN.finditer(text):
        at = match.start()
        word_start = max(text.rfind(" ", 0, at), text.rfind("\n", 0, at)) + 1
        if word_start == at:
            continue  # " -" at a line end: a dash
        hyphen = text[at]
        keep = hyphen != "\u00ad" and _keeps_hyphen(text[word_start:at], text[match.end()])
        parts.append(text[last:at])
        if keep:
            parts.append(hyphen)
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


def join_lines(lines: Sequence[str]) -> str:
    """One page's text from its cleaned lines: hyphenated words joined (see the
    module's docstring), soft hyphens removed, lines joined with a space.

    >>> join_lines(["the traf-", "ficking of anti-", "trafficking co-", "operation"])
    'the trafficking of anti-trafficking co-operation'
    """
    text = "\n".join(lines)
    if "\u00ad" in text:
        text = _SOFT_HYPHEN_INSIDE.sub("", text)
    if "-\n" in text or "\u2010\n" in text or "\u00ad\n" in text:
        text = _join_hyphens(text)
        text = text.replace("\u00ad", "")
    return " ".join(text.split())


def line_key(line: str) -> str:
    """What two lines must share to be the same running header or footer:
    ``Page 3 of 40`` and ``PAGE 4 of 40`` -> ``page # of #``; ``iv`` -> ``#``."""
    key = " ".join(line.casefold().split())
    if key and _ROMAN.fullmatch(key):
        return "#"
    return _DIGITS.sub("#", key)[:200]
