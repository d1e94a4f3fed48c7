"""Running a query plan with numpy: matches, BM25 scores, explain.

The index stores, for each term of the ranking field, its postings: document
numbers, weights (the BM25F pseudo-frequency, see :mod:`thb_search.ranking`)
and positions.  :class:`Engine` reads a term's postings once into arrays
(document numbers, weights, and one 64-bit key ``document << POS_BITS |
position`` per occurrence) and keeps them in a per-reader cache, so that

* a plan's matches are boolean masks over document numbers, combined with
  ``&``, ``|`` and ``~``;
* a phrase is a vectorised intersection of shifted position keys;
* a ``title:`` or ``summary:`` scope compares positions with the summary mark
  (title words lie before it, summary words after);
* BM25 is computed for all matching documents at once.

One walk of the plan (:meth:`Engine._walk`) does all of it: it matches and
scores (:meth:`Engine.run`), or only matches, optionally within one field
(:meth:`Engine.mask`), which is how explain tells where a part of the query
matched.  A document scores what the parts of the plan it matches score, as
in Lucene; ``tests/test_engine.py`` checks matches and scores against the
index library's own searcher.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .analysis import SUMMARY_MARK
from .plan import And, Facet, Node, Not, Or, Phrase, Scope, Terms
from .ranking import bm25, idf
from .schema import POS_BITS, POS_MASK, RANK_FIELD, TITLE_BOOST

#: Bytes of postings arrays a reader keeps cached.
CACHE_BYTES = 128 * 1024 * 1024
#: Bytes of phrase (and word pair) occurrences a reader keeps cached.
PHRASE_CACHE_BYTES = 32 * 1024 * 1024

#: ``read(field, term, positions)``: a term's (documents, weights, position keys).
ReadPostings = Callable[[str, str, bool], tuple[np.ndarray, np.ndarray, np.ndarray | None]]

_EMPTY = np.zeros(0, dtype=np.int64)


class DocumentArrays(Protocol):
    """What the engine needs of the per-document arrays (:class:`~thb_search.facets.FacetIndex`)."""

    live: np.ndarray  # bool: not deleted
    lengths: np.ndarray  # the ranking field's length, as the index stores it

    def mask(self, name: str, values: list[str]) -> np.ndarray: ...


@dataclass
class TermData:
    """A term's live postings: documents, weights and position keys."""

    docs: np.ndarray  # int64, ascending
    weights: np.ndarray  # float32
    keys: np.ndarray  # int64 doc << POS_BITS | pos, ascending

    @property
    def nbytes(self) -> int:
        return self.docs.nbytes + self.weights.nbytes + self.keys.nbytes


class Engine:
    """Matches and ranks plans on one index reader (postings cache included)."""

    def __init__(self, read: ReadPostings, arrays: DocumentArrays) -> None:
        self._read = read
        self.arrays = arrays
        self.live = arrays.live
        self.size = len(self.live)
        self.n_live = max(int(self.live.sum()), 1)
        self.lengths = arrays.lengths.astype(np.float32)
        live_lengths = self.lengths[self.live]
        # Summed exactly (the lengths are whole numbers), so the average does
        # not depend on the order of the documents: an index built in another
        # order scores the same.
        self.avg_length = (float(live_lengths.sum(dtype=np.float64)) / len(live_lengths)
                           if len(live_lengths) else 1.0)
        self._cache: OrderedDict[str, TermData] = OrderedDict()
        self._cache_bytes = 0
        self._mark: np.ndarray | None = None
        self._phrases: dict[tuple[str, ...], np.ndarray] = {}
        self._phrase_bytes = 0

    # -- postings ------------------------------------------------------------

    def term(self, text: str) -> TermData:
        """The live postings of a term of the ranking field (cached)."""
        data = self._cache.get(text)
        if data is not None:
            self._cache.move_to_end(text)
            return data
        docs, weights, keys = self._read(RANK_FIELD, text, True)
        alive = self.live[docs]
        keys = keys[self.live[keys >> POS_BITS]] if keys is not None else _EMPTY
        data = TermData(docs[alive], weights[alive], keys)
        self._cache[text] = data
        self._cache_bytes += data.nbytes
        while self._cache_bytes > CACHE_BYTES and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= old.nbytes
        return data

    def df(self, text: str) -> int:
        """How many live documents hold a term."""
        return len(self.term(text).docs)

    @property
    def mark(self) -> np.ndarray:
        """Each document's position of the summary mark (title before, summary after)."""
        if self._mark is None:
            mark = np.zeros(self.size, dtype=np.int64)
            keys = self.term(SUMMARY_MARK).keys
            mark[keys >> POS_BITS] = keys & POS_MASK
            self._mark = mark
        return self._mark

    # -- the walk --------------------------------------------------------------

    def run(self, node: Node) -> tuple[np.ndarray, np.ndarray]:
        """The documents matching ``node`` and their BM25 scores (0 elsewhere)."""
        mask, scores = self._walk(node, None, True)
        return mask, scores if scores is not None else np.zeros(self.size)

    def mask(self, node: Node, scope: Scope = None) -> np.ndarray:
        """The documents matching ``node``, its words and phrases looked for in
        ``scope`` only when given."""
        return self._walk(node, scope, False)[0]

    def scores(self, node: Node) -> np.ndarray:
        """Every document's BM25 score for ``node`` (0 where it does not match)."""
        return self.run(node)[1]

    def _walk(self, node: Node, scope: Scope,
              score: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The documents matching ``node`` (within ``scope``) and, when asked,
        their scores: what the matching parts of ``node`` score, as in Lucene
        (a word under NOT, or in an alternative that did not match, adds
        nothing).  Scores ignore scopes: a ``title:`` word scores as the
        word."""
        if isinstance(node, Terms):
            return self._terms(node, _scope(node.scope, scope), score)
        if isinstance(node, Phrase):
            return self._phrase(node, _scope(node.scope, scope), score)
        if isinstance(node, Facet):
            return self.arrays.mask(node.name, list(node.values)), None
        if isinstance(node, Not):
            return self.live & ~self._walk(node.item, scope, False)[0], None
        if isinstance(node, And):
            mask, total = self.live.copy(), None
            for item in node.items:
                m, s = self._walk(item, scope, score)
                mask &= m
                total = _add(total, s)
            for item in node.bonus if score else ():
                total = _add(total, self._walk(item, scope, score)[1])
            if total is not None:
                total *= mask  # what the items of a document not matching scored
            return mask, total
        if isinstance(node, Or):
            mask, total = np.zeros(self.size, dtype=bool), None
            for item in node.items:
                m, s = self._walk(item, scope, score)
                mask |= m
                total = _add(total, s)
            return mask, total
        raise TypeError(f"not a plan node: {node!r}")

    def _terms(self, node: Terms, scope: Scope | bool,
               score: bool) -> tuple[np.ndarray, np.ndarray | None]:
        mask = np.zeros(self.size, dtype=bool)
        scores = np.zeros(self.size, dtype=np.float64) if score else None
        for text in node.terms:
            data = self.term(text)
            if scope is None:
                mask[data.docs] = True
            elif scope is not False:
                mask[self._within(data.keys, data.keys, scope) >> POS_BITS] = True
            if scores is not None:
                self._bm25(data.docs, data.weights, node.boost, scores)
        if scores is not None and scope is not None:
            scores *= mask
        return mask, scores

    def _phrase(self, node: Phrase, scope: Scope | bool,
                score: bool) -> tuple[np.ndarray, np.ndarray | None]:
        keys = self.phrase_keys(node.terms)
        mask = np.zeros(self.size, dtype=bool)
        if scope is None:
            mask[keys >> POS_BITS] = True
        elif scope is not False:
            mask[self._within(keys, keys - (len(node.terms) - 1), scope) >> POS_BITS] = True
        if not score:
            return mask, None
        scores = np.zeros(self.size, dtype=np.float64)
        self._phrase_score(keys, len(node.terms), node.boost, scores)
        if scope is not None:
            scores *= mask
        return mask, scores

    def phrase_keys(self, terms: tuple[str, ...]) -> np.ndarray:
        """Keys of the phrase's last term at each occurrence of the phrase
        (cached: word pairs recur in the plans of one search)."""
        keys = self._phrases.get(terms)
        if keys is None:
            keys = self.term(terms[0]).keys
            for text in terms[1:]:
                if not len(keys):
                    break
                keys = _intersect_sorted(keys + 1, self.term(text).keys)
            self._phrases[terms] = keys
            self._phrase_bytes += keys.nbytes
            while self._phrase_bytes > PHRASE_CACHE_BYTES and len(self._phrases) > 1:
                self._phrase_bytes -= self._phrases.pop(next(iter(self._phrases))).nbytes
        return keys

    def _within(self, keys: np.ndarray, start: np.ndarray, scope: str) -> np.ndarray:
        """The keys whose occurrence (starting at ``start``) lies in ``scope``."""
        mark = self.mark[keys >> POS_BITS]
        inside = (start & POS_MASK) < mark if scope == "title" else (start & POS_MASK) > mark
        return keys[inside]

    # -- scoring ---------------------------------------------------------------

    def _bm25(self, docs: np.ndarray, tf: np.ndarray, boost: float, out: np.ndarray) -> None:
        if len(docs):
            out[docs] += boost * bm25(tf, self.lengths[docs], self.avg_length,
                                      idf(len(docs), self.n_live))

    def _phrase_score(self, keys: np.ndarray, n: int, boost: float, out: np.ndarray) -> None:
        """A phrase scores as one term: its frequency, title occurrences
        weighted like title words."""
        if not len(keys):
            return
        docs = keys >> POS_BITS
        start = (keys & POS_MASK) - (n - 1)
        weight = np.where(start < self.mark[docs], TITLE_BOOST, 1.0)
        udocs, inverse = np.unique(docs, return_inverse=True)
        tf = np.bincount(inverse, weights=weight).astype(np.float32)
        self._bm25(udocs, tf, boost, out)

    # -- explain ---------------------------------------------------------------

    def held(self, terms: tuple[str, ...], docnum: int) -> list[str]:
        """Which of ``terms`` document ``docnum`` holds."""
        out = []
        for text in terms:
            docs = self.term(text).docs
            i = int(np.searchsorted(docs, docnum))
            if i < len(docs) and docs[i] == docnum:
                out.append(text)
        return out


def _add(total: np.ndarray | None, scores: np.ndarray | None) -> np.ndarray | None:
    """``total + scores``, in place when possible (None: nothing scored)."""
    if scores is None:
        return total
    if total is None:
        return scores
    total += scores
    return total


def _scope(own: Scope, asked: Scope) -> Scope | bool:
    """The field a leaf is looked for in: its own scope, the one asked for, or
    False when they differ (nothing can match)."""
    if own is None or asked is None or own == asked:
        return own or asked
    return False


def _intersect_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Values of sorted ``a`` also in sorted ``b``."""
    if not len(a) or not len(b):
        return _EMPTY
    idx = np.searchsorted(b, a)
    idx[idx == len(b)] = len(b) - 1
    return a[b[idx] == a]
