"""What a hit shows of why it was found: the snippet (the best window of the
text, matched words marked) and, with explain, where each part of the query
matched."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence, Set

import numpy as np

from .analysis import marked_words
from .engine import ALL_FIELDS, Engine
from .plan import Plan
from .results import Match

Parts = list[tuple[str, bool]]
#: Fields a word names itself (title:, summary:, body:), whatever the search's fields.
_OWN_SCOPES = ("title", "summary", "body")

SNIPPET_CHARS = 220
#: Explain names at most this many of the terms a wildcard or fuzzy word matched through.
VIA_TERMS = 3


def snippet(text: str, terms: Set[str], width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """The best window of ``text`` (most matched words) with the matches marked."""
    words = marked_words(text, terms) if terms else []
    spans = [(s, e) for s, e, _ in words]
    found = [t for _, _, t in words]  # the term of each span
    if len(text) <= width:
        start, end = 0, len(text)
    else:
        # The window with the most distinct matched terms, then the most matches.
        best: tuple[int, int] = (-1, -1)
        start = 0
        ends = [e for _, e in spans]  # increasing: words do not overlap
        for i, (s, _) in enumerate(spans):
            # The spans from the i-th ending within the window.
            inside = found[i:bisect_right(ends, s + width - 30, lo=i)]
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


def highlight(text: str, terms: set[str]) -> Parts:
    """All of ``text``, every word of ``terms`` marked."""
    parts: Parts = []
    pos = 0
    for start, end, _ in marked_words(text, terms) if terms else ():
        if start > pos:
            parts.append((text[pos:start], False))
        parts.append((text[start:end], True))
        pos = end
    if pos < len(text):
        parts.append((text[pos:], False))
    return parts


def best_pages(engine: Engine, docnum: int, page_starts: Sequence[int],
               terms: frozenset[str]) -> tuple[int, ...]:
    """The pages of a publication's document where ``terms`` occur, best first:
    most distinct terms, then most occurrences, then the earlier page."""
    found = engine.body_positions(terms, docnum)
    if not found or not page_starts:
        return ()
    starts = np.asarray(page_starts)
    distinct: dict[int, int] = {}
    occurrences: dict[int, int] = {}
    for positions in found.values():
        pages, counts = np.unique(np.searchsorted(starts, positions, side="right"),
                                  return_counts=True)
        for page, count in zip(pages.tolist(), counts.tolist(), strict=True):
            distinct[page] = distinct.get(page, 0) + 1
            occurrences[page] = occurrences.get(page, 0) + count
    return tuple(sorted(distinct, key=lambda p: (-distinct[p], -occurrences[p], p)))


def marked(parts: Parts) -> int:
    """How many different words a snippet marks."""
    return len({text.lower() for text, mark in parts if mark})


def explain(plan: Plan, engine: Engine, docs: Sequence[int],
            fields: frozenset[str] = ALL_FIELDS) -> list[tuple[Match, ...]]:
    """For each document of ``docs``: each positive part of the query with the
    fields where it matched, and the expression or index terms it matched
    through when not its own words.  The engine evaluates each part within
    the title and within the summary."""
    shown = [f for f in ("title", "summary", "body") if f in fields or f in _OWN_SCOPES]
    parts = []
    for part in plan.parts:
        direct = {f: engine.mask(part.node, f, fields) for f in shown}
        via = [(name, {f: engine.mask(node, f, fields) for f in shown})
               for name, node in part.via]
        parts.append((part, direct, via))
    out = []
    for doc in docs:
        matches = []
        for part, direct, via in parts:
            found = tuple(f for f in shown if direct[f][doc])
            if found:
                held = engine.held(part.expanded, doc)[:VIA_TERMS] if part.expanded else []
                matches.append(Match(part.text, found, ", ".join(held) or None))
                continue
            for name, masks in via:
                found = tuple(f for f in shown if masks[f][doc])
                if found:
                    matches.append(Match(part.text, found, via=name))
                    break
        out.append(tuple(matches))
    return out
