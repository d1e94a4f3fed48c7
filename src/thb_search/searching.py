"""The query layer: :class:`Catalogue` and the plain result objects it returns."""

from __future__ import annotations

import datetime as dt
import difflib
import html
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq

from .analysis import (
    add_term_source,
    analyze,
    analyze_pieces,
    fold,
    remove_term_source,
    split_word,
    term_for,
)
from .corpus import parse_date
from .engine import Engine
from .errors import InvalidFilterError, RecordNotFoundError, UnknownFilterValueError
from .facets import FacetCount, FacetIndex, open_for
from .indexing import DEFAULT_WAIT, IndexDir, Notify, ensure_index
from .lexicon import Lexicon
from .query import (
    RANK_FIELD,
    Node,
    Not,
    Phrase,
    Synonym,
    Translation,
    Word,
    acronym_expansions,
    leaves,
    parse,
    top_items,
    translate,
)
from .schema import TITLE_BOOST

FACETS = ("office", "theme", "type", "year")
SORTS = ("relevance", "date", "title")
SNIPPET_CHARS = 220


# ---------------------------------------------------------------------------
# Result objects


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
class Match:
    """One part of the query and the fields of a hit where it matched."""

    query: str
    fields: tuple[str, ...]
    via: str | None = None  # the synonym/acronym expression that matched, if not the words

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "fields": list(self.fields), "via": self.via}


@dataclass(frozen=True)
class Hit:
    """One publication in a result list."""

    id: str
    rank: int
    score: float | None
    title: str
    date: str | None
    type: str
    offices: tuple[str, ...]
    themes: tuple[str, ...]
    publisher: str
    summary: str
    url: str
    snippet_parts: tuple[tuple[str, bool], ...] = ()
    matches: tuple[Match, ...] | None = None  # with explain=True

    @property
    def snippet(self) -> str:
        """The snippet as HTML: text escaped, matched words in ``<mark>``."""
        return "".join(f"<mark>{html.escape(t)}</mark>" if m else html.escape(t)
                       for t, m in self.snippet_parts)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id, "rank": self.rank,
            "score": None if self.score is None else round(self.score, 6),
            "title": self.title, "date": self.date, "type": self.type,
            "offices": list(self.offices), "themes": list(self.themes),
            "publisher": self.publisher, "summary": self.summary, "snippet": self.snippet,
            "url": self.url,
        }
        if self.matches is not None:
            d["explain"] = {"score": d["score"], "matches": [m.to_dict() for m in self.matches]}
        return d


@dataclass(frozen=True)
class SearchResult:
    """A page of hits, the facet counts over all matches, and what to tell the user."""

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

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "query": self.query, "total": self.total, "page": self.page,
            "limit": self.limit, "sort": self.sort, "filters": self.filters.to_dict(),
            "hits": [h.to_dict() for h in self.hits],
            "facets": {k: [c.to_dict() for c in v] for k, v in self.facets.items()},
            "suggestions": list(self.suggestions), "notice": self.notice,
        }
        if self.explain:
            d["explain"] = {"match": self.match, "expansions": list(self.expansions),
                            "pairs": list(self.pairs), "ignored": list(self.ignored)}
        return d


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "date": self.date, "type": self.type,
            "offices": list(self.offices), "themes": list(self.themes),
            "publisher": self.publisher, "summary": self.summary, "url": self.url,
            "collections": list(self.collections),
        }


# ---------------------------------------------------------------------------
# Helpers


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
        return parse_date(value)
    except ValueError:
        raise InvalidFilterError(
            f"invalid date {text!r}: give e.g. 2021, 2021-06, 2021-06-30 or 30 June 2021"
        ) from None


def _norm(value: str) -> str:
    return " ".join(fold(value).split())


# ---------------------------------------------------------------------------
# The catalogue


class Catalogue:
    """A searchable index folder.

    ``Catalogue(index_dir)`` opens an existing index; with ``corpus`` it is
    first built from those catalogue files when missing (or rebuilt when
    outdated), telling ``notify`` so.  Searches reuse one searcher and its
    facet arrays until the index changes.
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str],
        *,
        corpus: Sequence[str | os.PathLike[str]] | None = None,
        notify: Notify | None = None,
        wait: float = DEFAULT_WAIT,
    ) -> None:
        self.dir = IndexDir(index_dir)
        if corpus is not None:
            ensure_index(self.dir.root, corpus, wait=wait, notify=notify)
        self._gen: Path | None = None
        self._ix: Any = None
        self._searcher: Any = None
        self._fx: FacetIndex | None = None
        self._lexicon: Lexicon | None = None
        self._engine: Engine | None = None
        self._ready()

    # -- plumbing -----------------------------------------------------------

    def _ready(self) -> tuple[Any, FacetIndex]:
        gen = self.dir.current()
        if self._ix is None or gen != self._gen:
            self.close()
            self._ix = self.dir.open()
            self._gen = gen
            self._lexicon = Lexicon(gen)
            add_term_source(self._lexicon.term)
        if self._searcher is None:
            self._searcher = self._ix.searcher()
            self._fx = None
        elif not self._searcher.up_to_date():
            self._searcher = self._searcher.refresh()
            self._fx = None
        if self._fx is None:
            reader = self._searcher.reader()
            self._fx = open_for(reader, self._gen, reader.generation())
            self._engine = Engine(reader, self._fx.live, self._fx.lengths)
        return self._searcher, self._fx

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        if self._lexicon is not None:
            remove_term_source(self._lexicon.term)
            self._lexicon.close()
        self._searcher = self._ix = self._fx = self._lexicon = self._engine = None

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._ready()[0].doc_count()

    # -- filters ------------------------------------------------------------

    def facet_values(self, facet: str) -> list[str]:
        """Every value of ``facet`` in the index."""
        return list(self._ready()[1].values(facet))

    def resolve_value(self, facet: str, value: str) -> list[str]:
        """The index value(s) a filter value stands for.

        The exact value (any case), a known acronym (``ODIHR``), or any
        unambiguous part of one value (``bosnia``).  For ``year``, a year or a
        range.  Raises :class:`UnknownFilterValueError` listing the closest
        values when there is no such value or several.
        """
        if facet == "year":
            return [str(y) for y in parse_years([value])]
        values = self.facet_values(facet)
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
                f"--{facet} {value!r} is ambiguous: it matches {_listing(found)}; give more "
                "of the name", found)
        closest = difflib.get_close_matches(wanted, [_norm(v) for v in values], n=3,
                                            cutoff=0.0)
        by_norm = {_norm(v): v for v in values}
        names = [by_norm[c] for c in closest]
        hint = f"closest: {_listing(names)}" if names else f"the index has no {facet} values"
        raise UnknownFilterValueError(
            facet, value,
            f"no {facet} matches {value!r}; {hint} (all values: thb-search facets)", names)

    def resolve_filters(
        self,
        office: Iterable[str] = (),
        theme: Iterable[str] = (),
        type: Iterable[str] = (),
        year: Iterable[str | int] = (),
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
    ) -> Filters:
        def resolve_all(facet: str, items: Iterable[str]) -> tuple[str, ...]:
            out: dict[str, None] = {}
            for item in items:
                out.update(dict.fromkeys(self.resolve_value(facet, item)))
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

    # -- searching ----------------------------------------------------------

    def search(
        self,
        query: str = "",
        *,
        office: Iterable[str] = (),
        theme: Iterable[str] = (),
        type: Iterable[str] = (),
        year: Iterable[str | int] = (),
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        sort: str | None = None,
        limit: int = 10,
        page: int = 1,
        match: str = "all",
        explain: bool = False,
        facets: bool = True,
    ) -> SearchResult:
        """Ranked keyword search with disjunctive facet counts.

        Every word must match (``match="all"``); when that finds nothing,
        publications matching part of the query are shown, those matching more
        words first.  ``match="any"`` ranks every publication containing any
        word.  Filters: OR within one facet, AND across facets.  With
        ``facets=False`` the facet counts are left out (``result.facets`` is
        empty).
        """
        if sort is not None and sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}")
        if limit < 1 or page < 1:
            raise ValueError("limit and page must be at least 1")
        searcher, fx = self._ready()
        filters = self.resolve_filters(office, theme, type, year, since, until)
        node = parse(query, match)
        tr = translate(node, self.resolve_value)
        mode = match
        notice = None
        base = self._matches(tr, fx)
        fmasks = self._filter_masks(filters, fx)
        final = base.copy()
        for m in fmasks.values():
            final &= m
        if not final.any() and tr.query is not None and match == "all" and len(
                top_items(node)) > 1:
            tr_any = translate(parse(query, "any"), self.resolve_value)
            base_any = self._matches(tr_any, fx)
            final_any = base_any.copy()
            for m in fmasks.values():
                final_any &= m
            if final_any.any():
                words = ", ".join(_describe(i) for i in top_items(node))
                notice = f"no publication contains all of {words}; showing partial matches"
                mode, tr, base, final = "partial", tr_any, base_any, final_any
        if tr.query is None and node is not None and not notice:
            notice = ("the query has no searchable words (stopwords such as 'the' and "
                      "punctuation are ignored); showing every publication")
        sort = sort or ("relevance" if tr.query is not None else "date")
        if sort == "relevance" and tr.query is None:
            sort = "date"
        total = int(final.sum())
        ranked = self._rank(tr, node, mode, sort, final, page * limit, fx)
        window = ranked[(page - 1) * limit: page * limit]
        hits = self._hits(window, (page - 1) * limit, tr, node, explain, searcher)
        counts = self._facet_counts(base, fmasks, filters, fx) if facets else {}
        return SearchResult(
            query=query, total=total, page=page, limit=limit, sort=sort, match=mode,
            filters=filters, hits=tuple(hits), facets=counts,
            suggestions=tuple(self._suggestions(query, tr, searcher)), notice=notice,
            expansions=tuple(tr.expansions), ignored=tuple(tr.ignored), pairs=tuple(tr.pairs),
            explain=explain,
        )

    def _matches(self, tr: Translation, fx: FacetIndex) -> np.ndarray:
        if tr.query is None:
            return fx.live.copy()
        return self._engine.mask(tr.query)

    def _filter_masks(self, filters: Filters, fx: FacetIndex) -> dict[str, np.ndarray]:
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

    def _facet_counts(self, base: np.ndarray, fmasks: dict[str, np.ndarray],
                      filters: Filters, fx: FacetIndex) -> dict[str, tuple[FacetCount, ...]]:
        # Disjunctive: a facet's counts ignore that facet's own filter.
        out = {}
        for facet in FACETS:
            mask = base.copy()
            for name, m in fmasks.items():
                if name != facet:
                    mask &= m
            out[facet] = tuple(fx.counts(facet, mask, filters.selected(facet)))
        return out

    def _rank(self, tr: Translation, node: Node | None, mode: str, sort: str,
              final: np.ndarray, depth: int, fx: FacetIndex) -> list[tuple[int, float | None]]:
        if sort != "relevance" or tr.query is None:
            return [(int(d), None) for d in fx.order(final, sort)[:depth]]
        scores = self._engine.scores(tr.query)
        if mode != "partial":
            return self._engine.top(scores, final, depth)
        # Partial matches: more of the query's parts first, then score.
        coverage = np.zeros(fx.size, dtype=np.int32)
        for item in top_items(node):
            sub = translate(item, self.resolve_value)
            if sub.query is not None:
                coverage += self._matches(sub, fx)
        docs = np.flatnonzero(final)
        order = np.lexsort((docs, -scores[docs], -coverage[docs]))[:depth]
        return [(int(d), float(scores[d])) for d in docs[order]]

    # -- hits ---------------------------------------------------------------

    def _hits(self, window: list[tuple[int, float | None]], offset: int, tr: Translation,
              node: Node | None, explain: bool, searcher: Any) -> list[Hit]:
        terms = _positive_terms(tr.query, searcher.reader()) if tr.query is not None else set()
        hits = []
        for i, (docnum, score) in enumerate(window, start=offset + 1):
            stored = searcher.stored_fields(docnum)
            pub = _publication(stored)
            text = pub.summary or pub.title
            hits.append(Hit(
                id=pub.id, rank=i, score=score, title=pub.title, date=pub.date,
                type=pub.type, offices=pub.offices, themes=pub.themes,
                publisher=pub.publisher, summary=pub.summary, url=pub.url,
                snippet_parts=tuple(snippet(text, terms)),
                matches=tuple(_explain(node, pub)) if explain else None,
            ))
        return hits

    def _suggestions(self, query: str, tr: Translation, searcher: Any) -> list[str]:
        """For each query word the index does not know, the closest words it
        does: index terms (stems) within 2 edits of the word's stem, turned
        back into the words met while indexing, closest to what was typed."""
        reader = searcher.reader()
        replacements: list[tuple[str, list[str]]] = []
        for w in tr.words:
            parts = split_word(w.text)
            if not parts:
                continue
            terms = [t for t in (term_for(p) for p in parts) if t]
            joined = term_for("".join(parts))
            known = (joined and reader.doc_frequency(RANK_FIELD, joined)) or (
                terms and all(reader.doc_frequency(RANK_FIELD, t) for t in terms))
            if known or not joined:
                continue
            word = "".join(parts)
            maxdist = 1 if len(word) <= 3 else 2
            candidates: dict[str, tuple[int, int]] = {}
            for stem in reader.terms_within(RANK_FIELD, joined, maxdist, prefix=1):
                df = reader.doc_frequency(RANK_FIELD, stem)
                words = self._lexicon.words(stem) if self._lexicon else []
                for cand in words:
                    dist = _edit_distance(word, cand)
                    if cand != word and dist <= maxdist + 1:
                        candidates[cand] = min(candidates.get(cand, (99, 0)), (dist, -df))
            ranked = sorted(candidates, key=lambda c: (*candidates[c], c))
            if ranked:
                replacements.append((w.text, ranked[:3]))
        out: list[str] = []
        for i in range(3):
            q = query
            for original, cands in replacements:
                cand = cands[min(i, len(cands) - 1)]
                q = re.sub(r"(?<![\w-])" + re.escape(original) + r"(?![\w-])",
                           lambda _m, c=cand: c, q, count=1)
            if replacements and q != query and q not in out:
                out.append(q)
        return out

    def ranked_ids(self, query: str, *, match: str = "any", depth: int = 1000,
                   literal: bool = True) -> list[tuple[str, float]]:
        """The top ``depth`` ids with their scores, ranked exactly as ``search``
        ranks them (no filters, facets or snippets): for evaluation runs."""
        searcher, fx = self._ready()
        tr = translate(parse(query, match, literal=literal), self.resolve_value)
        if tr.query is None:
            return []
        ranked = self._engine.top(self._engine.scores(tr.query), self._matches(tr, fx),
                                  depth)
        return [(searcher.stored_fields(d)["id"], score) for d, score in ranked]

    # -- records ------------------------------------------------------------

    def get(self, rid: str) -> Publication:
        """The publication with id ``rid`` (or the one id starting with ``rid``)."""
        searcher, _ = self._ready()
        return _publication(searcher.stored_fields(self._docnum(rid, searcher)))

    def _docnum(self, rid: str, searcher: Any) -> int:
        docnum = searcher.document_number(id=rid)
        if docnum is not None:
            return docnum
        reader = searcher.reader()
        ids = [t for t in reader.expand_prefix("id", rid)] if rid else []
        ids = [t.decode() if isinstance(t, bytes) else t for t in ids]
        if len(ids) == 1:
            return searcher.document_number(id=ids[0])
        if len(ids) > 1:
            raise RecordNotFoundError(
                f"id {rid!r} is ambiguous: it starts {_listing(ids[:5])}; give more of it")
        raise RecordNotFoundError(
            f"no publication has id {rid!r}: ids are shown in search results "
            "(e.g. thb-search QUERY --format jsonl)")

    def similar(self, rid: str, *, limit: int = 10, page: int = 1,
                terms: int = 20) -> SearchResult:
        """The publications most like ``rid``: its most distinctive words (tf-idf),
        title words weighted as in ranking, searched as one OR query."""
        searcher, fx = self._ready()
        docnum = self._docnum(rid, searcher)
        pub = _publication(searcher.stored_fields(docnum))
        weights: dict[str, float] = {}
        for text, boost in ((pub.title, TITLE_BOOST), (pub.summary, 1.0)):
            for t in analyze(text):
                weights[t] = weights.get(t, 0.0) + boost
        n = searcher.doc_count()
        scored = []
        for t, tf in weights.items():
            df = searcher.doc_frequency(RANK_FIELD, t)
            if df <= 1:
                continue  # only this publication has it
            scored.append((tf * math.log(1 + n / df), t))
        scored.sort(key=lambda p: (-p[0], p[1]))
        chosen = scored[:terms]
        result_query = wq.Or([wq.Term(RANK_FIELD, t, boost=w) for w, t in chosen]) if chosen \
            else None
        tr = Translation(result_query)
        final = (self._matches(tr, fx) if result_query is not None
                 else np.zeros(fx.size, dtype=bool))
        final[docnum] = False
        ranked = (self._rank(tr, None, "any", "relevance", final, page * limit, fx)
                  if final.any() else [])
        window = ranked[(page - 1) * limit: page * limit]
        hits = self._hits(window, (page - 1) * limit, tr, None, False, searcher)
        return SearchResult(
            query=f"similar:{pub.id}", total=int(final.sum()), page=page, limit=limit,
            sort="relevance", match="any", filters=Filters(), hits=tuple(hits),
            facets=self._facet_counts(final, {}, Filters(), fx),
            notice=f"publications most like {pub.title!r}",
        )

    def facets(self) -> dict[str, tuple[FacetCount, ...]]:
        """Every facet value of the catalogue with its count."""
        _, fx = self._ready()
        return {f: tuple(fx.counts(f, fx.live)) for f in FACETS}


# ---------------------------------------------------------------------------
# Snippets and explanations


def _publication(stored: dict[str, Any]) -> Publication:
    types = stored.get("type") or []
    return Publication(
        id=stored["id"], title=stored.get("title", ""), date=stored.get("date") or None,
        type=types[0] if types else "", offices=tuple(stored.get("office") or ()),
        themes=tuple(stored.get("themes") or ()), publisher=stored.get("publisher", ""),
        summary=stored.get("summary", ""), url=stored.get("url", ""),
        collections=tuple(stored.get("collections") or ()),
    )


def _positive_terms(q: wq.Query, reader: Any) -> set[str]:
    """Index terms the query looks for (not under NOT), wildcards expanded."""
    out: set[str] = set()

    def walk(node: wq.Query) -> None:
        if isinstance(node, (wq.Not, type(wq.NullQuery))):
            return
        if isinstance(node, wq.AndNot):
            walk(node.a)
            return
        if isinstance(node, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)):
            for _, text in node.expanded_terms(reader):
                out.add(text.decode() if isinstance(text, bytes) else text)
            return
        if isinstance(node, wq.Term):
            out.add(node.text)
            return
        if isinstance(node, wq.Phrase):
            out.update(node.words)
            return
        for child in node.children():
            walk(child)

    walk(q)
    return out


def snippet(text: str, terms: set[str], width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """The best window of ``text`` (most matched words) with the matches marked."""
    spans: list[tuple[int, int]] = []
    found: list[str] = []  # the term of each span
    if terms:
        for piece in analyze_pieces(text):
            if piece.term in terms:
                if spans and piece.start < spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], piece.end))
                else:
                    spans.append((piece.start, piece.end))
                    found.append(piece.term)
    if len(text) <= width:
        start, end = 0, len(text)
    else:
        # The window with the most distinct matched terms, then the most matches.
        best: tuple[int, int] = (-1, -1)
        start = 0
        for i, (s, _) in enumerate(spans):
            inside = [t for (_, e2), t in zip(spans[i:], found[i:], strict=True)
                      if e2 <= s + width - 30]
            score = (len(set(inside)), len(inside))
            if score > best:
                best, start = score, s
        start = max(0, start - 30) if spans else 0
        if start:
            space = text.rfind(" ", 0, start)
            start = space + 1 if space >= 0 else 0
        end = min(len(text), start + width)
        if end < len(text):
            space = text.rfind(" ", start, end)
            end = space if space > start else end
    parts: list[tuple[str, bool]] = []
    if start > 0:
        parts.append(("\u2026", False))
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if s > pos:
            parts.append((text[pos:s], False))
        parts.append((text[s:e], True))
        pos = e
    if pos < end:
        parts.append((text[pos:end], False))
    if end < len(text):
        parts.append(("\u2026", False))
    return parts


def _explain(node: Node | None, pub: Publication) -> list[Match]:
    fields = {"title": set(analyze(pub.title)), "summary": set(analyze(pub.summary))}
    out = []

    def where(terms: Sequence[str]) -> tuple[str, ...]:
        return tuple(f for f, ts in fields.items() if terms and all(t in ts for t in terms))

    for leaf in _positive_leaves(node):
        if isinstance(leaf, Word) and not leaf.wildcard and leaf.fuzzy is None:
            found = where(analyze(leaf.text))
            if found:
                out.append(Match(leaf.text, found))
        elif isinstance(leaf, Phrase):
            found = where(analyze(leaf.text))
            if found:
                out.append(Match(f'"{leaf.text}"', found))
        elif isinstance(leaf, Synonym):
            words = " ".join(w.text for w in leaf.words)
            found = where(analyze(words))
            if found:
                out.append(Match(words, found))
                continue
            for expr in leaf.group.expressions:
                found = where(analyze(expr))
                if found:
                    out.append(Match(words, found, via=expr))
                    break
        elif isinstance(leaf, Word):
            pattern = fold(leaf.text)
            out.append(Match(leaf.text, tuple(fields), via=f"{pattern} (wildcard/fuzzy)"))
    return out


def _positive_leaves(node: Node | None) -> list[Node]:
    if node is None:
        return []
    if isinstance(node, Not):
        return []
    if hasattr(node, "items"):
        return [leaf for item in node.items for leaf in _positive_leaves(item)]
    return [node]


def _describe(node: Node) -> str:
    if isinstance(node, Word):
        return node.text
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, Synonym):
        return " ".join(w.text for w in node.words)
    return "(" + " ".join(_describe(leaf) for leaf in leaves(node)) + ")"


def _listing(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values)


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
