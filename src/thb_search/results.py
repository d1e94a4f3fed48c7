"""The plain, frozen objects a search returns; their ``to_dict()`` is the JSON
contract of ``thb-search --json`` (and of the web API).

This module imports nothing but the standard library, so that the command
line can name sorts and formats without loading the index machinery.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .dataclass import dataclass

_HTML_SPECIAL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                               "'": "&#x27;"})


def escape_html(text: str) -> str:
    """``html.escape(text)``, without importing the ``html`` package: it loads
    the table of HTML5's 2,231 named characters (some 2 ms of a new
    ``thb-search QUERY`` process) that only unescaping needs."""
    return text.translate(_HTML_SPECIAL)


#: The orders a search can be sorted in.
SORTS = ("relevance", "date", "title")
#: Facet names, in the order they are shown.
FACETS = ("office", "theme", "type", "year")


@dataclass(frozen=True)
class FacetCount:
    """One facet value and the number of publications under it."""

    value: str | int
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "count": self.count}


@dataclass(frozen=True)
class Filters:
    """Filters as resolved to the index's exact values."""

    office: tuple[str, ...] = ()
    theme: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    year: tuple[int, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None

    def selected(self, facet: str) -> list[str]:
        return [str(v) for v in getattr(self, facet)]

    def __bool__(self) -> bool:
        return any((self.office, self.theme, self.type, self.year, self.since, self.until))

    def to_dict(self) -> dict[str, Any]:
        return {
            "office": list(self.office), "theme": list(self.theme), "type": list(self.type),
            "year": list(self.year),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True)
class Publication:
    """A whole record as the index holds it."""

    id: str
    title: str
    date: str | None
    type: str
    offices: tuple[str, ...]
    themes: tuple[str, ...]
    publisher: str
    summary: str
    url: str
    collections: tuple[str, ...]
    document: str | None = None  # the path of its PDF, when it has one
    document_pages: int = 0
    locations: tuple[str, ...] = ()  # the countries a press statement is about

    def to_dict(self) -> dict[str, Any]:
        """The JSON object; ``locations`` and ``document`` appear when there
        are some."""
        d: dict[str, Any] = {
            "id": self.id, "title": self.title, "date": self.date, "type": self.type,
            "offices": list(self.offices), "themes": list(self.themes),
            "publisher": self.publisher, "summary": self.summary, "url": self.url,
            "collections": list(self.collections),
        }
        if self.locations:
            d["locations"] = list(self.locations)
        if self.document is not None:
            d["document"] = {"file": self.document, "pages": self.document_pages}
        return d


@dataclass(frozen=True)
class Match:
    """One part of the query and the fields of a hit where it matched."""

    query: str
    fields: tuple[str, ...]
    via: str | None = None  # the expression or index term that matched, if not the words

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "fields": list(self.fields), "via": self.via}


@dataclass(frozen=True)
class Hit:
    """One publication in a result list: the publication, where it ranks, and
    the snippet (and, with explain, the matches) of this search."""

    publication: Publication
    rank: int
    score: float | None
    snippet_parts: tuple[tuple[str, bool], ...] = ()
    matches: tuple[Match, ...] | None = None  # with explain=True
    pages: tuple[int, ...] = ()  # pages of its document that match, best first
    snippet_page: int | None = None  # the page the snippet is from (None: the record)

    def __getattr__(self, name: str) -> Any:
        """The publication's fields read through the hit: ``hit.id``, ``hit.title``."""
        if name.startswith("_") or name not in Publication.__dataclass_fields__:
            raise AttributeError(f"'Hit' object has no attribute {name!r}")
        return getattr(self.publication, name)

    @property
    def snippet(self) -> str:
        """The snippet as HTML: text escaped, matched words in ``<mark>``."""
        return "".join(f"<mark>{escape_html(t)}</mark>" if m else escape_html(t)
                       for t, m in self.snippet_parts)

    def to_dict(self) -> dict[str, Any]:
        p = self.publication
        d: dict[str, Any] = {
            "id": p.id, "rank": self.rank,
            "score": None if self.score is None else round(self.score, 6),
            "title": p.title, "date": p.date, "type": p.type,
            "offices": list(p.offices), "themes": list(p.themes),
            "publisher": p.publisher, "summary": p.summary, "snippet": self.snippet,
            "url": p.url,
        }
        if p.document is not None:
            d["pages"] = list(self.pages)
            d["snippet_page"] = self.snippet_page
        if self.matches is not None:
            d["explain"] = {"score": d["score"], "matches": [m.to_dict() for m in self.matches]}
        return d


@dataclass(frozen=True)
class PageText:
    """One page of a publication's document, the words of a query marked."""

    publication: Publication
    page: int
    parts: tuple[tuple[str, bool], ...]  # (text, matched)

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.publication.id, "document": self.publication.document,
                "page": self.page, "pages": self.publication.document_pages,
                "text": self.text,
                "html": "".join(f"<mark>{escape_html(t)}</mark>" if m else escape_html(t)
                                for t, m in self.parts)}


@dataclass(frozen=True)
class SearchResult:
    """A page of hits, the facet counts over all matches, and what to tell the user.

    ``related`` lists up to five publications that contain some but not all
    of the words, when fewer than a page contain them all (``match="all"``);
    ``total``, paging and facet counts are those of the hits.
    """

    query: str
    total: int
    page: int
    limit: int
    sort: str
    match: str  # all | any | partial
    filters: Filters
    hits: tuple[Hit, ...]
    facets: dict[str, tuple[FacetCount, ...]]
    suggestions: tuple[str, ...] = ()
    notice: str | None = None
    expansions: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    pairs: tuple[str, ...] = ()  # adjacent word pairs scored as bigrams
    explain: bool = False
    related: tuple[Hit, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON object; ``related`` and ``explain`` appear only when there
        is something to say."""
        d: dict[str, Any] = {
            "query": self.query, "total": self.total, "page": self.page,
            "limit": self.limit, "sort": self.sort, "filters": self.filters.to_dict(),
            "hits": [h.to_dict() for h in self.hits],
            "facets": {k: [c.to_dict() for c in v] for k, v in self.facets.items()},
            "suggestions": list(self.suggestions), "notice": self.notice,
        }
        if self.related:
            d["related"] = [h.to_dict() for h in self.related]
        if self.explain:
            d["explain"] = {"match": self.match, "expansions": list(self.expansions),
                            "pairs": list(self.pairs), "ignored": list(self.ignored)}
        return d
