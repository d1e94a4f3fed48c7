"""Filters: typed values resolved to the index's exact values, and what they
do to a search (masks, and disjunctive facet counts).

A filter value may be the exact value (any case), an acronym of the synonym
list (``ODIHR``), or any unambiguous part of one value (``bosnia``); years
are a year or a range; ``since`` / ``until`` take a year, a month or a day.
Filters combine with OR within one facet and AND across facets.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import numpy as np

from .analysis import fold
from .errors import InvalidFilterError, UnknownFilterValueError
from .facets import FacetIndex
from .query import acronym_expansions
from .results import FACETS, FacetCount, Filters


def parse_years(values: Iterable[str | int]) -> tuple[int, ...]:
    """``['2021', '2018-2019']`` -> ``(2018, 2019, 2021)``."""
    years: set[int] = set()
    for raw in values:
        text = str(raw).strip().replace("\u2013", "-").replace("..", "-")
        m = re.fullmatch(r"(\d{4})(?:\s*-\s*(\d{4}))?", text)
        if not m:
            raise InvalidFilterError(
                f"invalid year {str(raw)!r}: give a year such as 2021 or a range such as "
                "2019-2021")
        start, end = int(m.group(1)), int(m.group(2) or m.group(1))
        if end < start:
            raise InvalidFilterError(
                f"invalid year range {str(raw)!r}: the first year must not be after the "
                f"second (write {end}-{start})")
        years.update(range(start, end + 1))
    return tuple(sorted(years))


def parse_bound(text: str | dt.date | None, *, end: bool) -> dt.date | None:
    """A ``--since``/``--until`` date: YYYY, YYYY-MM, YYYY-MM-DD or 25 February 2022."""
    if text is None or isinstance(text, dt.date):
        return text
    value = text.strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?", value)
    try:
        if m:
            year, month = int(m.group(1)), m.group(2)
            if month is None:
                return dt.date(year, 12, 31) if end else dt.date(year, 1, 1)
            first = dt.date(year, int(month), 1)
            if not end:
                return first
            nxt = dt.date(year + (first.month == 12), first.month % 12 + 1, 1)
            return nxt - dt.timedelta(days=1)
        from .corpus import parse_date  # the catalogue readers: only for a full date

        return parse_date(value)
    except ValueError:
        raise InvalidFilterError(
            f"invalid date {text!r}: give e.g. 2021, 2021-06, 2021-06-30 or 30 June 2021"
        ) from None


def resolve_value(values: Sequence[str], facet: str, value: str) -> list[str]:
    """The value(s) of ``values`` (a facet's values in the index) that a
    typed filter value stands for.

    Raises :class:`UnknownFilterValueError` listing the closest values when
    there is no such value, or several.
    """
    if facet == "year":
        return [str(y) for y in parse_years([value])]
    wanted = _norm(value)
    if not wanted:
        raise InvalidFilterError(f"empty --{facet} value: name a {facet}")
    exact = [v for v in values if _norm(v) == wanted]
    if exact:
        return exact[:1]
    for expansion in acronym_expansions(value):
        found = [v for v in values if _norm(expansion) in _norm(v)]
        if len(found) == 1:
            return found
    found = [v for v in values if wanted in _norm(v)]
    if len(found) == 1:
        return found
    if found:
        raise UnknownFilterValueError(
            facet, value,
            f"--{facet} {value!r} is ambiguous: it matches {listing(found)}; give more "
            "of the name", found)
    import difflib  # only for this message: a search with known values does not load it

    closest = difflib.get_close_matches(wanted, [_norm(v) for v in values], n=3, cutoff=0.0)
    by_norm = {_norm(v): v for v in values}
    names = [by_norm[c] for c in closest]
    hint = f"closest: {listing(names)}" if names else f"the index has no {facet} values"
    raise UnknownFilterValueError(
        facet, value,
        f"no {facet} matches {value!r}; {hint} (all values: thb-search facets)", names)


def resolve_filters(
    resolve: Callable[[str, str], list[str]],
    office: Iterable[str] = (),
    theme: Iterable[str] = (),
    type: Iterable[str] = (),
    year: Iterable[str | int] = (),
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
) -> Filters:
    """Typed filter values as :class:`Filters` of exact values
    (``resolve(facet, value)`` resolves one value)."""
    def resolve_all(facet: str, items: Iterable[str]) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for item in items:
            out.update(dict.fromkeys(resolve(facet, item)))
        return tuple(out)

    f = Filters(
        office=resolve_all("office", office), theme=resolve_all("theme", theme),
        type=resolve_all("type", type), year=parse_years(year),
        since=parse_bound(since, end=False), until=parse_bound(until, end=True),
    )
    if f.since and f.until and f.since > f.until:
        raise InvalidFilterError(
            f"--since {f.since.isoformat()} is after --until {f.until.isoformat()}")
    return f


def filter_masks(filters: Filters, fx: FacetIndex) -> dict[str, np.ndarray]:
    """One mask per facet filtered (and ``date`` for since/until)."""
    masks: dict[str, np.ndarray] = {}
    for facet in FACETS:
        selected = filters.selected(facet)
        if selected:
            masks[facet] = fx.mask(facet, selected)
    if filters.since or filters.until:
        dn = fx.datenum
        lo = int(filters.since.strftime("%Y%m%d")) if filters.since else 1
        hi = int(filters.until.strftime("%Y%m%d")) if filters.until else 99991231
        masks["date"] = (dn >= lo) & (dn <= hi) & fx.live
    return masks


def apply(mask: np.ndarray, masks: dict[str, np.ndarray], *, but: str | None = None) -> np.ndarray:
    """``mask`` and every filter mask (except the facet ``but``'s own)."""
    out = mask.copy()
    for name, m in masks.items():
        if name != but:
            out &= m
    return out


def facet_counts(base: np.ndarray, masks: dict[str, np.ndarray], filters: Filters,
                 fx: FacetIndex) -> dict[str, tuple[FacetCount, ...]]:
    """Disjunctive counts: a facet's counts honour every filter but its own,
    so that its other values stay visible to add to the selection.  Facets
    not filtered count the same documents (every filter applied), found once."""
    every = apply(base, masks)
    every_docs = None
    out = {}
    for facet in FACETS:
        if facet in masks:
            mask, docs = apply(base, masks, but=facet), None
        else:
            if every_docs is None:
                every_docs = np.flatnonzero(every)
            mask, docs = every, every_docs
        out[facet] = tuple(fx.counts(facet, mask, filters.selected(facet), docs))
    return out


def listing(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values)


@lru_cache(maxsize=8192)
def _norm(value: str) -> str:
    """A value as compared: folded, spaces collapsed (remembered: a filter
    compares its value with every value of the facet, each search)."""
    return " ".join(fold(value).split())
