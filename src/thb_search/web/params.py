"""Request parameters of the web pages and the API: read, checked, and turned
back into links (the same names as the command line's options).

Nothing here imports the web framework: a request's query string arrives as
a list of ``(name, value)`` pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from ..errors import ParameterError
from ..results import SORTS, Filters

#: At most this many hits a page over HTTP (the command line allows more).
MAX_LIMIT = 100
#: At most this many characters in a query.
MAX_QUERY = 1000
FILTERS = ("office", "theme", "type", "year")
SEARCH = ("q", *FILTERS, "since", "until", "sort", "page", "limit", "match")
PAGING = ("page", "limit")


@dataclass(frozen=True)
class SearchParams:
    """A search as its parameters: what the page shows, what its links change."""

    q: str = ""
    office: tuple[str, ...] = ()
    theme: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    year: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    sort: str | None = None
    page: int = 1
    limit: int = 10
    match: str = "all"
    defaults: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def search_kwargs(self) -> dict[str, Any]:
        """The arguments of :meth:`thb_search.Catalogue.search`."""
        return {"query": self.q, "office": self.office, "theme": self.theme,
                "type": self.type, "year": self.year, "since": self.since,
                "until": self.until, "sort": self.sort, "page": self.page,
                "limit": self.limit, "match": self.match}

    @property
    def filtered(self) -> bool:
        return bool(self.office or self.theme or self.type or self.year or self.since
                    or self.until)

    def pairs(self) -> list[tuple[str, str]]:
        """The parameters that differ from the defaults, in a fixed order."""
        out: list[tuple[str, str]] = []
        if self.q:
            out.append(("q", self.q))
        for name in FILTERS:
            out += [(name, v) for v in getattr(self, name)]
        for name in ("since", "until", "sort"):
            if getattr(self, name):
                out.append((name, getattr(self, name)))
        if self.match != "all":
            out.append(("match", self.match))
        if self.limit != self.defaults.get("limit", 10):
            out.append(("limit", str(self.limit)))
        if self.page != 1:
            out.append(("page", str(self.page)))
        return out

    def query_string(self) -> str:
        return urlencode(self.pairs())

    def url(self, path: str = "/search") -> str:
        qs = self.query_string()
        return f"{path}?{qs}" if qs else path

    # -- links that change one thing (always back to page 1) -----------------

    def toggled(self, facet: str, value: str) -> SearchParams:
        values = getattr(self, facet)
        changed = (tuple(v for v in values if v != value) if value in values
                   else (*values, value))
        return replace(self, page=1, **{facet: changed})

    def without(self, name: str, value: str | None = None) -> SearchParams:
        if name in FILTERS:
            return replace(self, page=1, **{name: tuple(v for v in getattr(self, name)
                                                         if v != value)})
        return replace(self, page=1, **{name: None if name in ("since", "until") else ""})

    def at_page(self, page: int) -> SearchParams:
        return replace(self, page=page)

    def with_query(self, q: str) -> SearchParams:
        return replace(self, q=q, page=1)

    def resolved(self, filters: Filters) -> SearchParams:
        """The same search with offices, themes and types as the index names them
        (``ODIHR`` -> the office's full name), as the result's filters say."""
        return replace(self, office=filters.office, theme=filters.theme, type=filters.type)

    def cleared(self) -> SearchParams:
        """The same words, no filters."""
        return SearchParams(q=self.q, sort=self.sort, match=self.match, limit=self.limit,
                            defaults=self.defaults)


def parse_search(pairs: Iterable[tuple[str, str]], allowed: Sequence[str] = SEARCH,
                 limit: int = 10) -> SearchParams:
    """Read search parameters, checking every one (``limit`` is the default page
    size).  Raises :class:`ParameterError` naming the parameter and saying what
    it takes."""
    values = _collect(pairs, allowed)
    q = _single(values, "q") or ""
    if len(q) > MAX_QUERY:
        raise ParameterError("q", f"parameter 'q' is {len(q):,} characters long: a query may "
                                  f"have at most {MAX_QUERY:,}")
    sort = _single(values, "sort") or None
    if sort is not None and sort not in SORTS:
        raise ParameterError("sort", f"parameter 'sort' must be one of {', '.join(SORTS)} "
                                     f"(got {sort!r})")
    match = _single(values, "match") or "all"
    if match not in ("all", "any"):
        raise ParameterError("match", f"parameter 'match' must be all or any (got {match!r})")
    return SearchParams(
        q=q, office=_many(values, "office"), theme=_many(values, "theme"),
        type=_many(values, "type"), year=_many(values, "year"),
        since=_single(values, "since") or None, until=_single(values, "until") or None,
        sort=sort, page=_number(values, "page", 1, None, 1),
        limit=_number(values, "limit", 1, MAX_LIMIT, limit), match=match,
        defaults={"limit": limit})


def parse_paging(pairs: Iterable[tuple[str, str]], limit: int = 10) -> tuple[int, int]:
    """``(page, limit)`` of a request that takes only those."""
    values = _collect(pairs, PAGING)
    return (_number(values, "page", 1, None, 1),
            _number(values, "limit", 1, MAX_LIMIT, limit))


def check_none(pairs: Iterable[tuple[str, str]]) -> None:
    """A request that takes no parameter."""
    _collect(pairs, ())


def _collect(pairs: Iterable[tuple[str, str]], allowed: Sequence[str]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in allowed:
            known = f"the parameters are {', '.join(allowed)}" if allowed else (
                "it takes no parameters")
            raise ParameterError(name, f"unknown parameter {name!r}: {known}")
        values.setdefault(name, []).append(value)
    return values


def _single(values: dict[str, list[str]], name: str) -> str | None:
    given = values.get(name, [])
    if len(given) > 1:
        raise ParameterError(name, f"parameter {name!r} is given {len(given)} times: give it "
                                   "once")
    return given[0].strip() if given else None


def _many(values: dict[str, list[str]], name: str) -> tuple[str, ...]:
    """A repeatable parameter's values, empty ones (an empty form field) left out."""
    return tuple(dict.fromkeys(v.strip() for v in values.get(name, []) if v.strip()))


def _number(values: dict[str, list[str]], name: str, low: int, high: int | None,
            default: int) -> int:
    text = _single(values, name)
    if not text:
        return default
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        raise ParameterError(name, f"parameter {name!r} must be a whole number {bounds} (got "
                                   f"{text[:40]!r})")
    return number
