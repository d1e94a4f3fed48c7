"""What the HTML pages show, worked out from a result: facet lists with
their links, the year chart, filter chips, pages, export links.

Templates only lay this out; they never compute a URL or a count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import jinja2

from ..feeds import atom_feed
from ..output import human_date
from ..results import FacetCount, PageText, Publication, SearchResult
from .params import SearchParams

FACET_NAMES = {"office": "Office", "theme": "Theme", "type": "Type", "year": "Year"}
SORT_NAMES = {"relevance": "Relevance", "date": "Newest first", "title": "Title"}
#: Facet values listed before "more".
SHOWN_VALUES = 8
#: The year chart's size (SVG user units).
CHART_WIDTH, CHART_HEIGHT = 240, 60


def environment() -> jinja2.Environment:
    """The templates, autoescaped (only the library's snippet HTML is marked safe)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("thb_search.web", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["human_date"] = human_date
    env.filters["basename"] = lambda path: os.path.basename(path or "")
    env.globals["page_url"] = page_url
    return env


def page_url(rid: str, number: int, query: str = "") -> str:
    """The page view of a document's page, the query's words marked."""
    path = f"/publications/{quote(rid, safe='')}/pages/{number}"
    return f"{path}?{urlencode({'q': query})}" if query.strip() else path


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int
    selected: bool
    url: str  # the same search with this value toggled
    field_id: str


@dataclass(frozen=True)
class Facet:
    name: str
    label: str
    values: tuple[FacetValue, ...]

    @property
    def first(self) -> tuple[FacetValue, ...]:
        """Shown at once: the selected values and the most frequent others."""
        chosen = [v for v in self.values if v.selected]
        others = [v for v in self.values if not v.selected]
        return (*chosen, *others[:max(SHOWN_VALUES - len(chosen), 0)])

    @property
    def more(self) -> tuple[FacetValue, ...]:
        shown = set(id(v) for v in self.first)
        return tuple(v for v in self.values if id(v) not in shown)


@dataclass(frozen=True)
class Bar:
    year: int
    count: int
    selected: bool
    url: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chip:
    label: str
    url: str


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: a gap (…)
    url: str
    current: bool


def search_context(params: SearchParams, result: SearchResult | None,
                   error: str | None = None) -> dict[str, Any]:
    """Everything ``search.html`` shows."""
    words = params.q.strip()
    title = f"{words} – thb-search" if words else "Publications – thb-search"
    context: dict[str, Any] = {
        "title": title, "params": params, "result": result, "error": error,
        "chips": chips(params), "clear_url": params.cleared().url(),
        "sorts": SORT_NAMES, "facets": [], "bars": [], "pages": [],
        "exports": {}, "suggestions": [], "years": (None, None),
        "chart": (CHART_WIDTH, CHART_HEIGHT),
    }
    if result is None:
        return context
    context.update(
        facets=[facet(params, name, result.facets.get(name, ())) for name in
                ("office", "theme", "type")],
        bars=year_bars(params, result.facets.get("year", ())),
        years=_year_range(result.facets.get("year", ())),
        pages=page_links(params, result.total),
        suggestions=[(s, params.with_query(s).url()) for s in result.suggestions],
        exports={"Atom feed": params.url("/search.atom"), "RIS": params.url("/search.ris"),
                 "BibTeX": params.url("/search.bib"),
                 "CSL-JSON": params.url("/search.csl.json")},
        sort=result.sort,
    )
    return context


def page_context(page: PageText, query: str) -> dict[str, Any]:
    """Everything ``page.html`` shows."""
    pub = page.publication
    return {"title": f"{pub.title or pub.id}, page {page.page} – thb-search", "pub": pub,
            "page": page, "query": query}


def publication_context(pub: Publication, similar: SearchResult) -> dict[str, Any]:
    """Everything ``publication.html`` shows."""
    fields = [("Date", human_date(pub.date)), ("Type", pub.type),
              ("Offices", "; ".join(pub.offices)), ("Themes", "; ".join(pub.themes)),
              ("Publisher", pub.publisher), ("Collections", "; ".join(pub.collections)),
              ("Id", pub.id)]
    return {
        "title": f"{pub.title or pub.id} – thb-search", "pub": pub,
        "source": pub.url if web_address(pub.url) else None,
        "fields": [(k, v) for k, v in fields if v], "similar": similar,
        "exports": {"RIS": f"/publications/{pub.id}.ris",
                    "BibTeX": f"/publications/{pub.id}.bib",
                    "CSL-JSON": f"/publications/{pub.id}.csl.json"},
    }


def facet(params: SearchParams, name: str, counts: tuple[FacetCount, ...]) -> Facet:
    selected = set(getattr(params, name))
    values = tuple(
        FacetValue(str(c.value), c.count, str(c.value) in selected,
                   params.toggled(name, str(c.value)).url(), f"{name}-{i}")
        for i, c in enumerate(counts))
    return Facet(name, FACET_NAMES[name], values)


def year_bars(params: SearchParams, counts: tuple[FacetCount, ...]) -> list[Bar]:
    """One bar per year from the first to the last year with publications."""
    by_year = {int(c.value): c.count for c in counts}
    if not by_year:
        return []
    first, last = min(by_year), max(by_year)
    years = range(first, last + 1)
    top = max(by_year.values()) or 1
    width = CHART_WIDTH / len(years)
    selected = set(params.year)
    bars = []
    for i, year in enumerate(years):
        count = by_year.get(year, 0)
        height = round((CHART_HEIGHT - 2) * count / top, 2) if count else 0.0
        bars.append(Bar(year, count, str(year) in selected,
                        params.toggled("year", str(year)).url(), round(i * width, 2),
                        round(CHART_HEIGHT - height, 2), round(max(width - 1, 1), 2),
                        height))
    return bars


def chips(params: SearchParams) -> list[Chip]:
    """The active filters, each with the link that removes it."""
    out = [Chip(f"{FACET_NAMES[name]}: {value}", params.without(name, value).url())
           for name in ("office", "theme", "type", "year") for value in getattr(params, name)]
    if params.since:
        out.append(Chip(f"From: {params.since}", params.without("since").url()))
    if params.until:
        out.append(Chip(f"Until: {params.until}", params.without("until").url()))
    return out


def page_links(params: SearchParams, total: int) -> list[PageLink]:
    """First, last, and the pages around the current one, with gaps."""
    pages = max(1, -(-total // params.limit))
    if pages == 1:
        return []
    wanted = sorted({1, pages, *range(max(1, params.page - 2), min(pages, params.page + 2) + 1)})
    out: list[PageLink] = []
    for n in wanted:
        if out and out[-1].number is not None and n > out[-1].number + 1:
            out.append(PageLink(None, "", False))
        out.append(PageLink(n, params.at_page(n).url(), n == params.page))
    return out


def atom(result: SearchResult, params: SearchParams, base: str, url: str) -> bytes:
    """The Atom feed of a search (newest first); ``url`` is the feed's own."""
    words = params.q.strip() or "all publications"
    filters = "; ".join(c.label for c in chips(params))
    title = f"thb-search: {words}" + (f" ({filters})" if filters else "")
    return atom_feed(result, title=title, feed_url=url,
                     page_url=base + params.url("/search"),
                     entry_url=lambda rid: f"{base}/publications/{rid}",
                     feed_key=params.query_string())


def web_address(url: str) -> bool:
    """Whether ``url`` may be a link (http or https only: never ``javascript:``)."""
    return url.lower().startswith(("http://", "https://"))


def _year_range(counts: tuple[FacetCount, ...]) -> tuple[int | None, int | None]:
    years = [int(c.value) for c in counts]
    return (min(years), max(years)) if years else (None, None)
