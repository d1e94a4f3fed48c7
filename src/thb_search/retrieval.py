"""A search, step by step, on one snapshot of the index.

    SearchRequest
      -> plan: the query parsed and built into index terms (query.py, plan.py)
      -> matches and BM25 scores: one walk of the plan (engine.py)
      -> filters: masks, AND across facets, OR within one (filters.py)
      -> no match for every word? the same words, any of them (partial matches)
      -> order: score (or date, or title), ties newest first, then by id (facets.py)
      -> the page of hits: publication, snippet, explain (snippets.py)
      -> facet counts (disjunctive), spelling suggestions, related results
      -> SearchResult (results.py)

:class:`_Search` carries one request through these steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import field, replace

import numpy as np

from .analysis import analyze
from .dataclass import dataclass
from .engine import ALL_FIELDS, Memo
from .errors import InvalidFilterError, RecordNotFoundError
from .filters import apply, facet_counts, filter_masks, resolve_value
from .plan import Plan, TermLexicon, build, terms_plan
from .query import parse
from .results import (
    FACETS,
    SORTS,
    FacetCount,
    Filters,
    Hit,
    PageText,
    Publication,
    SearchResult,
)
from .schema import TITLE_BOOST
from .snapshot import Snapshot
from .snippets import best_pages, explain, highlight, marked, snippet
from .suggestions import suggestions

#: Related results listed at most (see :class:`~thb_search.results.SearchResult`).
RELATED = 5
#: Plans a snapshot keeps (see :func:`build_plan`).
PLANS = 512
#: Hits' snippets a snapshot keeps (see :meth:`_Search.hits`; some 1 KB each).
SNIPPETS = 4096


@dataclass(frozen=True)
class SearchRequest:
    """What one search asks for (filters already resolved to index values)."""

    query: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: str | None = None  # None: relevance with a query, date without
    limit: int = 10
    page: int = 1
    match: str = "all"  # all | any
    explain: bool = False
    facets: bool = True
    fields: frozenset[str] = ALL_FIELDS  # where words without a field of their own are looked for

    def __post_init__(self) -> None:
        if self.sort is not None and self.sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}")
        if self.limit < 1 or self.page < 1:
            raise ValueError("limit and page must be at least 1")
        if self.match not in ("all", "any"):
            raise ValueError(f"match must be 'all' or 'any', not {self.match!r}")
        if not self.fields or not self.fields <= ALL_FIELDS:
            raise ValueError(f"fields must be some of {sorted(ALL_FIELDS)}")


@dataclass
class _Matches:
    """A plan's matching documents and scores, before and after the filters."""

    plan: Plan
    base: np.ndarray
    scores: np.ndarray | None  # None: no words to score
    final: np.ndarray


def search_fields(fields: Iterable[str] | None) -> frozenset[str]:
    """The fields of ``--in`` (all when None), checked."""
    if fields is None:
        return ALL_FIELDS
    chosen = frozenset(f.strip().lower() for f in fields if f.strip())
    unknown = sorted(chosen - ALL_FIELDS)
    if unknown or not chosen:
        raise InvalidFilterError(
            f"unknown field {unknown[0]!r} for --in: choose among title, summary and body"
            if unknown else "--in needs a field: choose among title, summary and body")
    return chosen


def build_plan(snap: Snapshot, query: str, match: str, literal: bool = False) -> Plan:
    """The plan of a query string against this snapshot's terms and values.

    A plan depends on nothing else, and a snapshot never changes, so each
    snapshot keeps its last ``PLANS`` plans: a query asked again (the next
    page, another filter, its partial and related matches) is not parsed and
    built again (some 0.15 ms a plan).  A query that raises is not kept.  A
    plan whose building never asked the index (no wildcard, fuzzy word or
    facet value to resolve: the analysis of words is the same for every
    index) holds after a commit too, so the next snapshot starts with it."""
    return snap.kept("plans", PLANS, (query, match, literal),
                     lambda: _built(snap, query, match, literal),
                     lambda _, built: built[1])[0]


def new_plan(snap: Snapshot, query: str, match: str, literal: bool = False) -> Plan:
    """The plan of a query string, built (see :func:`build_plan`)."""
    return _built(snap, query, match, literal)[0]


def _built(snap: Snapshot, query: str, match: str, literal: bool) -> tuple[Plan, bool]:
    """A plan, and whether its building asked nothing of the index."""
    asked: list[str] = []

    def resolve(facet: str, value: str) -> list[str]:
        asked.append(facet)
        return resolve_value(snap.arrays.values(facet), facet, value)

    terms = _Asked(snap.terms, asked)
    plan = build(parse(query, match, literal=literal), resolve, terms)
    return plan, not asked


class _Asked:
    """A term lexicon that notes each time it is asked (see :func:`build_plan`)."""

    def __init__(self, terms: TermLexicon, asked: list[str]) -> None:
        self._terms, self._asked = terms, asked

    def prefixed(self, prefix: str) -> list[str]:
        self._asked.append(prefix)
        return self._terms.prefixed(prefix)

    def matching(self, pattern: str) -> list[str]:
        self._asked.append(pattern)
        return self._terms.matching(pattern)

    def within(self, term: str, distance: int) -> list[str]:
        self._asked.append(term)
        return self._terms.within(term, distance)


def search(snap: Snapshot, request: SearchRequest) -> SearchResult:
    """Run ``request``: ranked hits, facet counts, suggestions, related results."""
    return _Search(snap, request).run()


class _Search:
    """One request on one snapshot: the steps of a search."""

    def __init__(self, snap: Snapshot, request: SearchRequest) -> None:
        self.snap = snap
        self.req = request
        self.fields = request.fields
        self.masks = filter_masks(request.filters, snap.arrays)
        # What words and phrases matched and scored: the partial and related
        # matches and the coverage walk the same ones again.
        self.memo: Memo = {}

    def run(self) -> SearchResult:
        req = self.req
        found = self.matches(build_plan(self.snap, req.query, req.match))
        mode, notice = req.match, None
        if not found.final.any() and req.match == "all" and found.plan.items:
            partial = self.matches(build_plan(self.snap, req.query, "any"))
            if partial.final.any():
                words = ", ".join(item.text for item in found.plan.items)
                notice = f"no publication contains all of {words}; showing partial matches"
                partial.plan = _with_items(partial.plan, found.plan)
                mode, found = "partial", partial
        if found.scores is None and req.query.strip():
            notice = ("the query has no searchable words (stopwords such as 'the' and "
                      "punctuation are ignored); showing every publication")
        sort = req.sort or ("relevance" if found.scores is not None else "date")
        if found.scores is None:
            sort = "date" if sort == "relevance" else sort
        total = int(found.final.sum())
        ranked = self.ranked(found, sort, req.page * req.limit, partial=mode == "partial")
        offset = (req.page - 1) * req.limit
        plan = found.plan
        return SearchResult(
            query=req.query, total=total, page=req.page, limit=req.limit, sort=sort,
            match=mode, filters=req.filters, hits=self.hits(ranked[offset:], offset, plan),
            facets=(facet_counts(found.base, self.masks, req.filters, self.snap.arrays)
                    if req.facets else {}),
            suggestions=tuple(suggestions(req.query, plan.words, self.snap.terms,
                                          self.snap.engine.df, self.snap.lexicon.words)),
            notice=notice, expansions=plan.expansions, ignored=plan.ignored,
            pairs=plan.pairs, explain=req.explain,
            related=self.related(found, total) if mode == "all" else (),
        )

    def matches(self, plan: Plan) -> _Matches:
        if plan.root is None:
            base, scores = self.snap.arrays.live.copy(), None
        else:
            base, scores = self.snap.engine.run(plan.root, self.fields, self.memo)
        return _Matches(plan, base, scores, apply(base, self.masks))

    def ranked(self, found: _Matches, sort: str, depth: int,
               partial: bool = False) -> list[tuple[int, float | None]]:
        """The first ``depth`` documents in order, with their scores."""
        arrays = self.snap.arrays
        if sort != "relevance" or found.scores is None:
            return [(int(d), None) for d in arrays.order(found.final, sort, depth)]
        coverage = self.coverage(found.plan) if partial else None
        return list(arrays.top(found.final, found.scores, depth, coverage))

    def coverage(self, plan: Plan) -> np.ndarray:
        """How many of the query's parts each document matches."""
        out = np.zeros(self.snap.arrays.size, dtype=np.int32)
        for item in plan.items:
            out += self.snap.engine.mask(item.node, fields=self.fields, memo=self.memo)
        return out

    def hits(self, window: list[tuple[int, float | None]], offset: int,
             plan: Plan) -> tuple[Hit, ...]:
        docs = [d for d, _ in window]
        matches = (explain(plan, self.snap.engine, docs, self.fields) if self.req.explain
                   else None)
        terms = frozenset(plan.highlight)
        body = "body" in self.fields
        out = []
        for i, (docnum, score) in enumerate(window):
            pub = self.snap.publication(docnum)
            # Kept: a query asked again with other filters (a facet's drill-down)
            # or sorted otherwise shows hits it showed before; working out a
            # snippet is some 30 µs, a third of a repeated search at 100k records.
            # A commit leaves those of the documents before its changes.
            parts, pages, page = self.snap.kept(
                "snippets", SNIPPETS, (docnum, terms, body),
                lambda: self.snippet(docnum, pub, terms, body),  # noqa: B023 (called at once)
                lambda key, _: key[0] < self.snap.unchanged_docs)  # type: ignore[index]
            out.append(Hit(pub, offset + i + 1, score, parts,
                           matches[i] if matches is not None else None, pages, page))
        return tuple(out)

    def snippet(self, docnum: int, pub: Publication, terms: frozenset[str], body: bool,
                ) -> tuple[tuple[tuple[str, bool], ...], tuple[int, ...], int | None]:
        """(snippet, the document's pages that match, the snippet's page): the
        best passage of the document's best page (``body``: when the search
        looks in documents) when it shows more of the query's words
        (``terms``) than the record's own text does."""
        parts = snippet(pub.summary or pub.title, terms)
        document = self.snap.document(docnum) if pub.document else None
        if document is None or not terms or not body:
            return tuple(parts), (), None
        pages = best_pages(self.snap.engine, docnum, document.page_starts, terms)
        if not pages:
            return tuple(parts), (), None
        text = self.snap.page_text(document.sha256, pages[0]) or ""
        passage = snippet(text, terms)
        if marked(passage) > marked(parts):
            return tuple(passage), pages, pages[0]
        return tuple(parts), pages, None

    def related(self, found: _Matches, total: int) -> tuple[Hit, ...]:
        """Up to ``RELATED`` publications containing some of the words, when
        fewer than a page contain them all: most words first, then score."""
        req = self.req
        if not found.plan.items or total >= req.limit or req.page != 1:
            return ()
        some = self.matches(_with_items(build_plan(self.snap, req.query, "any"), found.plan))
        candidates = some.final & ~found.final
        if some.scores is None or not candidates.any():
            return ()
        coverage = self.coverage(some.plan)
        ranked = self.snap.arrays.top(most_covered(candidates, coverage, RELATED),
                                      some.scores, RELATED, coverage)
        return self.hits(list(ranked), 0, some.plan)


def most_covered(mask: np.ndarray, coverage: np.ndarray, k: int) -> np.ndarray:
    """The documents of ``mask`` covering the most parts: those at the
    highest coverage level at or above which ``mask`` has ``k`` documents
    (all of ``mask`` when no level has).  The ``k`` first by coverage, then
    score, date and id are among them, so ranking only those lists the same
    ``k``: at 100k records the benchmark's related searches rank a few
    hundred documents instead of thousands (0.35 -> 0.12 ms with this)."""
    level = int(coverage.max()) if len(coverage) else 0
    while level > 0:
        kept = mask & (coverage >= level)
        if np.count_nonzero(kept) >= k:
            return kept
        level -= 1
    return mask


def _with_items(plan: Plan, source: Plan) -> Plan:
    """``plan`` with the parts of ``source`` (an any-words plan counts coverage
    over the parts of the every-word one)."""
    return replace(plan, items=source.items)


def ranked_ids(snap: Snapshot, query: str, *, match: str = "any", depth: int = 1000,
               literal: bool = True) -> list[tuple[str, float]]:
    """The top ``depth`` ids with their scores, ranked exactly as ``search``
    ranks them (no filters, facets or snippets): for evaluation runs."""
    plan = build_plan(snap, query, match, literal=literal)
    if plan.root is None:
        return []
    mask, scores = snap.engine.run(plan.root)
    return [(snap.publication(d).id, s) for d, s in snap.arrays.top(mask, scores, depth)]


def similar(snap: Snapshot, rid: str, *, limit: int = 10, page: int = 1,
            terms: int = 20) -> SearchResult:
    """The publications most like ``rid``: its most distinctive words (tf-idf),
    title words weighted as in ranking, searched as one OR query."""
    docnum = snap.docnum(rid)
    pub = snap.publication(docnum)
    weights: dict[str, float] = {}
    for text, boost in ((pub.title, TITLE_BOOST), (pub.summary, 1.0)):
        for t in analyze(text):
            weights[t] = weights.get(t, 0.0) + boost
    n = len(snap)
    scored = []
    for t, tf in weights.items():
        df = snap.engine.df(t)
        if df > 1:  # others have it too
            scored.append((tf * math.log(1 + n / df), t))
    scored.sort(key=lambda p: (-p[0], p[1]))
    plan = terms_plan([(t, w) for w, t in scored[:terms]])
    search = _Search(snap, SearchRequest(limit=limit, page=page, match="any"))
    found = search.matches(plan)
    found.final[docnum] = False
    if plan.root is None:
        found.final[:] = False
    ranked = search.ranked(found, "relevance", page * limit)
    offset = (page - 1) * limit
    return SearchResult(
        query=f"similar:{pub.id}", total=int(found.final.sum()), page=page, limit=limit,
        sort="relevance", match="any", filters=Filters(),
        hits=search.hits(ranked[offset:], offset, plan),
        facets=facet_counts(found.final, {}, Filters(), snap.arrays),
        notice=f"publications most like {pub.title!r}",
    )


def page(snap: Snapshot, rid: str, number: int, query: str = "") -> PageText:
    """Page ``number`` of publication ``rid``'s document, the words of ``query`` marked."""
    docnum = snap.docnum(rid)
    pub = snap.publication(docnum)
    document = snap.document(docnum)
    if document is None:
        raise RecordNotFoundError(
            f"publication {pub.id!r} has no document: attach one with thb-search add FILE.pdf "
            f"--to {pub.id}")
    text = snap.page_text(document.sha256, number) if number >= 1 else None
    if text is None:
        raise RecordNotFoundError(
            f"{pub.document} has {document.pages} page{'s' if document.pages != 1 else ''}: "
            f"there is no page {number}")
    terms = set(build_plan(snap, query, "all").highlight) if query.strip() else set()
    return PageText(pub, number, tuple(highlight(text, terms)))


def all_facets(snap: Snapshot) -> dict[str, tuple[FacetCount, ...]]:
    """Every facet value of the catalogue with its count."""
    return {f: tuple(snap.arrays.counts(f, snap.arrays.live)) for f in FACETS}
