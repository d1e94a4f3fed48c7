"""Publications as citations for a reference manager: RIS, BibTeX, CSL-JSON.

Zotero, Mendeley, EndNote, JabRef and pandoc read at least one of these, so a
search result can go straight into a bibliography.  The three agree on every
choice below, and each is deterministic (the same publications give the same
bytes: fields in a fixed order, nothing taken from the clock or a hash seed),
so an export can be diffed and tested exactly.

* **Authors are the issuing offices**, each one *corporate* name: RIS puts
  each in an ``AU`` line of its own (readers split an ``AU`` value at a comma
  into family and given name; a value without a comma stays one name, and no
  office of the catalogue has a comma, as the listing format separates offices
  with ``, ``); BibTeX wraps each in braces (``{{OSCE Office for Democratic
  Institutions and Human Rights} and {...}}``), else BibTeX would split the
  name at its " and " and invert "Human Rights, OSCE Office ..."; CSL-JSON
  uses ``{"literal": office}``.  A publication without offices is cited under
  its publisher; one without either has no author.
* **Types** (:data:`CITATION_TYPES`): studies and reports, and guides, manuals
  and handbooks, are reports (``RPRT``, ``@techreport``, ``report``): grey
  literature issued by an institution, with no edition or ISBN in the
  catalogue (APA 7 files an organisation's guidelines and handbooks under
  reports too); brochures and factsheets are pamphlets (``PAMP``, ``@misc``,
  ``pamphlet``); posters and any other type are generic (``GEN``, ``@misc``,
  ``document``).  The catalogue's own type is kept beside it (RIS ``M3``,
  BibTeX ``type`` or ``howpublished``, CSL ``genre``), so "Factsheet" is not
  lost in "pamphlet".
* **Dates**: RIS ``PY`` 2021 and ``DA`` 2021/10/27; BibTeX ``year`` and the
  ``month`` macro (``oct``, which styles print in their language); CSL
  ``issued`` ``[[2021, 10, 27]]``.  No date, no date field.
* **Text**: CSL-JSON keeps every string exactly.  RIS and BibTeX are line- and
  brace-structured, so their values are put on one line (runs of whitespace
  and control characters become one space: a line break in an RIS value
  would start a line that is not a tag; a blank line in a BibTeX value is a
  paragraph break).  BibTeX values are LaTeX-escaped by :func:`latex_escape`;
  non-ASCII text (Cyrillic, č, curly quotes) stays UTF-8.

BibTeX is written with bibtexparser's entry model and writer, but escaped here:
its ``LatexEncodingMiddleware`` turns every non-ASCII letter into a macro
(``č`` into ``\\v{c}``, Cyrillic into ``{\\CYRP}...``) and a brace into ``\\{``,
which BibTeX still counts as a brace, so a lone ``}`` would end the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import rispy
from bibtexparser import write_string
from bibtexparser.library import Library
from bibtexparser.model import Entry, Field
from bibtexparser.writer import BibtexFormat

from .results import Publication


@dataclass(frozen=True)
class CitationType:
    """What a content type is called in RIS, BibTeX and CSL-JSON."""

    ris: str
    bibtex: str
    csl: str


REPORT = CitationType("RPRT", "techreport", "report")
PAMPHLET = CitationType("PAMP", "misc", "pamphlet")
GENERIC = CitationType("GEN", "misc", "document")

#: The catalogue's content types (compared case-insensitively) and their
#: citation types; any other type is :data:`GENERIC`.
CITATION_TYPES: dict[str, CitationType] = {
    "study / report": REPORT,
    "guide / manual / handbook": REPORT,
    "brochure": PAMPHLET,
    "factsheet": PAMPHLET,
    "poster": GENERIC,
}

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_SPACES = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_LATEX = {
    "\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}",
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_LATEX_SPECIAL = re.compile(r"[\\{}&%$#_~^]")
# Characters RFC 3986 does not allow in a URL; in a BibTeX url field a brace
# or backslash would break the file, so they are percent-encoded there.
_URL_UNSAFE = re.compile(r"[\s\"<>\\^`{|}]")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_:./+-]")


def citation_type(content_type: str) -> CitationType:
    """The citation type of a catalogue content type (``GENERIC`` if unknown)."""
    return CITATION_TYPES.get(content_type.strip().casefold(), GENERIC)


def authors(pub: Publication) -> tuple[str, ...]:
    """The corporate authors: the issuing offices, else the publisher, else none."""
    if pub.offices:
        return pub.offices
    return (pub.publisher,) if pub.publisher else ()


def _date(pub: Publication) -> dt.date | None:
    return dt.date.fromisoformat(pub.date) if pub.date else None


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


# ---------------------------------------------------------------------------
# RIS


class _RisWriter(rispy.RisWriter):
    """rispy's writer without its ``1.``, ``2.`` line before each reference,
    which is no RIS tag (readers skip it at best)."""

    def set_header(self, count: int) -> str | None:
        # None, not "": rispy before 0.10 writes an empty line for "".
        return None


def ris_record(pub: Publication) -> dict[str, Any]:
    """One publication as the dict rispy writes (its names for RIS tags)."""
    ref: dict[str, Any] = {"type_of_reference": citation_type(pub.type).ris, "id": pub.id}
    if pub.title:
        ref["title"] = _one_line(pub.title)
    names = [_one_line(a) for a in authors(pub)]
    if names:
        ref["authors"] = names
    date = _date(pub)
    if date:
        ref["year"] = f"{date.year:04d}"
        ref["date"] = f"{date.year:04d}/{date.month:02d}/{date.day:02d}"
    if pub.publisher:
        ref["publisher"] = _one_line(pub.publisher)
    if pub.type:
        ref["type_of_work"] = _one_line(pub.type)
    if pub.themes:
        ref["keywords"] = [_one_line(t) for t in pub.themes]
    if pub.summary:
        ref["abstract"] = _one_line(pub.summary)
    if pub.url:
        ref["urls"] = [_one_line(pub.url)]
    return ref


def to_ris(publications: Iterable[Publication]) -> str:
    """The publications as an RIS file (UTF-8 text, ``\\n`` line ends, a blank
    line between references); empty for no publications."""
    return rispy.dumps([ris_record(p) for p in publications], implementation=_RisWriter)


# ---------------------------------------------------------------------------
# BibTeX


def latex_escape(text: str) -> str:
    """``text`` safe in a braced BibTeX value and for LaTeX: ``& % $ # _`` get a
    backslash; ``\\ { } ~ ^`` become ``\\textbackslash{}``, ``\\textbraceleft{}``,
    ``\\textbraceright{}``, ``\\textasciitilde{}``, ``\\textasciicircum{}`` (so
    the braces of the value stay balanced whatever the text holds; ``\\{``
    would not: BibTeX counts escaped braces too).  Everything else, non-ASCII
    included, is kept."""
    return _LATEX_SPECIAL.sub(lambda m: _LATEX[m.group()], text)


def bibtex_key(pub_id: str) -> str:
    """The citation key: the publication id, with any character BibTeX does
    not allow in a key (space, comma, braces, quotes, ``#``, ``%``, ...;
    non-ASCII too, which classic BibTeX mishandles) replaced by ``_``."""
    return _KEY_UNSAFE.sub("_", pub_id) or "_"


def _braced(text: str) -> str:
    return "{" + latex_escape(_one_line(text)) + "}"


def _url(url: str) -> str:
    # A url field is read verbatim (biblatex; \url in BibTeX styles): no LaTeX
    # escapes, but characters a URL cannot hold are percent-encoded.
    return "{" + _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()),
                                 url.strip()) + "}"


def bibtex_entry(pub: Publication, key: str | None = None) -> Entry:
    """One publication as a bibtexparser entry (key ``key``, else
    :func:`bibtex_key`), its values escaped and enclosed."""
    kind = citation_type(pub.type).bibtex
    fields: list[tuple[str, str]] = []
    names = authors(pub)
    if names:
        fields.append(("author", "{" + " and ".join(_braced(a) for a in names) + "}"))
    if pub.title:
        # Double braces: BibTeX styles would lower-case the title otherwise
        # (OSCE, NRM, Bosnia and Herzegovina).
        fields.append(("title", "{" + _braced(pub.title) + "}"))
    if pub.publisher:
        fields.append(("institution" if kind == "techreport" else "organization",
                       _braced(pub.publisher)))
    if pub.type:
        fields.append(("type" if kind == "techreport" else "howpublished", _braced(pub.type)))
    date = _date(pub)
    if date:
        fields.append(("year", f"{{{date.year}}}"))
        fields.append(("month", _MONTHS[date.month - 1]))  # the macro, not braced
    if pub.url:
        fields.append(("url", _url(pub.url)))
    if pub.summary:
        fields.append(("abstract", _braced(pub.summary)))
    if pub.themes:
        fields.append(("keywords", _braced(", ".join(pub.themes))))
    return Entry(kind, key or bibtex_key(pub.id), [Field(k, v) for k, v in fields])


def to_bibtex(publications: Iterable[Publication]) -> str:
    """The publications as a BibTeX file (UTF-8; a blank line between entries);
    empty for no publications.  A key met before (two ids that differ only in
    characters a key cannot hold, or one publication given twice) gets
    ``-2``, ``-3``, ... in the order given: a file with one key twice is
    refused by bibtexparser and rejected or misread by BibTeX and biber."""
    entries: list[Entry] = []
    keys: set[str] = set()
    for pub in publications:
        base = key = bibtex_key(pub.id)
        n = 1
        while key in keys:
            n += 1
            key = f"{base}-{n}"
        keys.add(key)
        entries.append(bibtex_entry(pub, key))
    library = Library(entries)
    style = BibtexFormat()
    style.indent = "  "
    style.block_separator = "\n"
    # The values are enclosed already: no unparse middleware (its enclosing
    # would brace the month macro, its encoding is the one avoided above).
    return write_string(library, unparse_stack=[], bibtex_format=style)


# ---------------------------------------------------------------------------
# CSL-JSON


def csl_item(pub: Publication) -> dict[str, Any]:
    """One publication as a CSL-JSON item (the strings exactly as stored)."""
    item: dict[str, Any] = {"id": pub.id, "type": citation_type(pub.type).csl}
    if pub.title:
        item["title"] = pub.title
    names = authors(pub)
    if names:
        item["author"] = [{"literal": a} for a in names]
    date = _date(pub)
    if date:
        item["issued"] = {"date-parts": [[date.year, date.month, date.day]]}
    if pub.publisher:
        item["publisher"] = pub.publisher
    if pub.type:
        item["genre"] = pub.type
    if pub.url:
        item["URL"] = pub.url
    if pub.summary:
        item["abstract"] = pub.summary
    if pub.themes:
        item["keyword"] = ", ".join(pub.themes)
    return item


def to_csl_json(publications: Iterable[Publication]) -> list[dict[str, Any]]:
    """The publications as a CSL-JSON array (what citeproc, pandoc and Zotero
    read); dump it with ``json.dumps``."""
    return [csl_item(p) for p in publications]
