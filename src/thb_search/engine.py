"""Query evaluation over Whoosh's postings with numpy.

Whoosh stores the index; this module matches and ranks.  Whoosh's own
matchers walk postings one Python call at a time, which at 100,000
publications costs tens of milliseconds per common word and seconds per
phrase; here a term's postings are read a block at a time into arrays
(document numbers, weights and, when positions are needed, one 64-bit key
``document << 20 | position`` per occurrence) and kept in a per-reader cache,
so that

* a query's matches are boolean masks combined with ``&``, ``|`` and ``~``;
* a phrase is a vectorised intersection of shifted position keys;
* ranking is BM25 computed for all matching documents at once.

The query language's translation (:mod:`thb_search.query`) produces Whoosh
query objects; :class:`Engine` evaluates the ones it produces: ``Term``,
``Phrase``, ``Prefix``, ``Wildcard``, ``FuzzyTerm``, ``And``, ``Or``, ``Not``,
``AndNot``, ``AndMaybe``, ``NullQuery``, ``Every`` and the title/summary
scopes of :mod:`thb_search.query`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh import query as wq

from .analysis import SUMMARY_MARK
from .postings import EMPTY_I, POS_BITS, POS_MASK, read_postings
from .query import RANK_FIELD, Scoped
from .ranking import bm25, idf
from .schema import TITLE_BOOST

#: Bytes of postings arrays a reader keeps cached.
CACHE_BYTES = 128 * 1024 * 1024


@dataclass
class TermData:
    """A term's postings: documents, weights and (lazily) position keys."""

    docs: np.ndarray  # int64, ascending
    weights: np.ndarray  # float32
    keys: np.ndarray | None = None  # int64 doc << POS_BITS | pos, ascending

    @property
    def nbytes(self) -> int:
        return self.docs.nbytes + self.weights.nbytes + (
            self.keys.nbytes if self.keys is not None else 0)




class UnsupportedQuery(Exception):
    """A query node this engine does not evaluate."""


class Engine:
    """Matches and ranks queries on one index reader (cache included).

    ``live`` is the mask of documents not deleted, ``lengths`` each
    document's ``text`` field length (as Whoosh stores it).
    """

    def __init__(self, reader: Any, live: np.ndarray, lengths: np.ndarray) -> None:
        self.reader = reader
        self.live = live
        self.size = len(live)
        self.n_live = max(int(live.sum()), 1)
        self.lengths = lengths.astype(np.float32)
        live_lengths = self.lengths[live]
        self.avg_length = float(live_lengths.mean()) if len(live_lengths) else 1.0
        self._cache: OrderedDict[tuple[str, str, bool], TermData] = OrderedDict()
        self._cache_bytes = 0
        self._mark: np.ndarray | None = None

    # -- postings ------------------------------------------------------------

    def term(self, fieldname: str, text: str, positions: bool = False) -> TermData:
        """The postings of a term (cached), with position keys when asked.

        Terms of the ranking field are always read with their positions: the
        block data that holds document numbers holds them too, and word pairs
        will want them.
        """
        positions = positions or fieldname == RANK_FIELD
        key = (fieldname, text, positions)
        data = self._cache.get(key)
        if data is not None:
            self._cache.move_to_end(key)
            return data
        data = self._read(fieldname, text, positions)
        self._cache[key] = data
        self._cache_bytes += data.nbytes
        while self._cache_bytes > CACHE_BYTES and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= old.nbytes
        return data

    def _read(self, fieldname: str, text: str, positions: bool) -> TermData:
        docs, weights, keys = read_postings(self.reader, fieldname, text, positions)
        alive = self.live[docs]
        if keys is not None:
            keys = keys[self.live[keys >> POS_BITS]]
        return TermData(docs[alive], weights[alive], keys)

    @property
    def mark(self) -> np.ndarray:
        """Each document's position of the summary mark (title before, summary after)."""
        if self._mark is None:
            mark = np.zeros(self.size, dtype=np.int64)
            keys = self.term(RANK_FIELD, SUMMARY_MARK, positions=True).keys
            mark[keys >> POS_BITS] = keys & POS_MASK
            self._mark = mark
        return self._mark

    # -- matching --------------------------------------------------------------

    def mask(self, q: wq.Query) -> np.ndarray:
        """The documents matching ``q`` (a boolean array over document numbers)."""
        if isinstance(q, wq.Term):
            return self._docs_mask(self.term(q.fieldname, q.text).docs)
        if isinstance(q, wq.Phrase):
            return self._docs_mask(np.unique(self.phrase_keys(q.fieldname, q.words) >> POS_BITS))
        if isinstance(q, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)):
            out = np.zeros(self.size, dtype=bool)
            for _, btext in q.expanded_terms(self.reader):
                out[self.term(q.fieldname, _text(btext)).docs] = True
            return out
        if isinstance(q, wq.And):
            out = self.live.copy()
            for child in q.subqueries:
                if isinstance(child, wq.Not):
                    out &= ~self.mask(child.query)
                else:
                    out &= self.mask(child)
            return out
        if isinstance(q, wq.Or):
            out = np.zeros(self.size, dtype=bool)
            for child in q.subqueries:
                out |= self.mask(child)
            return out
        if isinstance(q, wq.Not):
            return self.live & ~self.mask(q.query)
        if isinstance(q, wq.AndNot):
            return self.mask(q.a) & ~self.mask(q.b)
        if isinstance(q, wq.AndMaybe):
            return self.mask(q.a)
        if isinstance(q, wq.Every):
            return self.live.copy()
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return np.zeros(self.size, dtype=bool)
        scoped = _scope_of(q)
        if scoped is not None:
            inner, scope = scoped
            return self._docs_mask(np.unique(self.scoped_keys(inner, scope) >> POS_BITS))
        raise UnsupportedQuery(repr(q))

    def _docs_mask(self, docs: np.ndarray) -> np.ndarray:
        out = np.zeros(self.size, dtype=bool)
        out[docs] = True
        return out

    def phrase_keys(self, fieldname: str, words: list[str]) -> np.ndarray:
        """Keys of the phrase's last word at each occurrence of the phrase."""
        keys = self.term(fieldname, words[0], positions=True).keys
        for word in words[1:]:
            if not len(keys):
                break
            nxt = self.term(fieldname, word, positions=True).keys
            keys = _intersect_sorted(keys + 1, nxt)
        return keys

    def scoped_keys(self, q: wq.Query, scope: str) -> np.ndarray:
        """Keys of the occurrences of a word or phrase in the title or summary."""
        if isinstance(q, wq.Term):
            keys = self.term(q.fieldname, q.text, positions=True).keys
            start = keys
        elif isinstance(q, wq.Phrase):
            keys = self.phrase_keys(q.fieldname, q.words)
            start = keys - (len(q.words) - 1)
        elif isinstance(q, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)):
            parts = [self.term(q.fieldname, _text(b), positions=True).keys
                     for _, b in q.expanded_terms(self.reader)]
            keys = np.unique(np.concatenate(parts)) if parts else EMPTY_I
            start = keys
        else:
            raise UnsupportedQuery(repr(q))
        mark = self.mark[keys >> POS_BITS]
        inside = (start & POS_MASK) < mark if scope == "title" else (start & POS_MASK) > mark
        return keys[inside]

    # -- ranking ---------------------------------------------------------------

    def scores(self, q: wq.Query) -> np.ndarray:
        """BM25 scores of every document for the positive words of ``q``."""
        out = np.zeros(self.size, dtype=np.float64)
        self._score(q, 1.0, out)
        return out

    def _score(self, q: wq.Query, boost: float, out: np.ndarray) -> None:
        boost *= getattr(q, "boost", 1.0)
        if isinstance(q, wq.Term):
            if q.fieldname == RANK_FIELD:
                data = self.term(q.fieldname, q.text)
                self._bm25(data.docs, data.weights, boost, out)
        elif isinstance(q, wq.Phrase):
            self._phrase_score(self.phrase_keys(q.fieldname, q.words), len(q.words), boost,
                               out)
        elif isinstance(q, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)):
            for _, btext in q.expanded_terms(self.reader):
                data = self.term(q.fieldname, _text(btext))
                self._bm25(data.docs, data.weights, boost, out)
        elif isinstance(q, (wq.And, wq.Or)):
            for child in q.subqueries:
                self._score(child, boost, out)
        elif isinstance(q, (wq.AndNot, wq.AndMaybe)):
            self._score(q.a, boost, out)
            if isinstance(q, wq.AndMaybe):
                self._score(q.b, boost, out)
        else:
            scoped = _scope_of(q)
            if scoped is not None:
                self._score(scoped[0], boost, out)
        # Not, Every, NullQuery and facet terms add nothing

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

    def top(self, scores: np.ndarray, mask: np.ndarray, k: int | None) -> list[tuple[int, float]]:
        """The ``k`` best documents of ``mask``: score descending, then document
        number (all of them with ``k=None``)."""
        docs = np.flatnonzero(mask)
        s = scores[docs]
        if k is not None and len(docs) > k:
            part = np.argpartition(-s, k - 1)[:k]
            docs, s = docs[part], s[part]
        order = np.lexsort((docs, -s))
        return [(int(d), float(v)) for d, v in zip(docs[order], s[order], strict=True)]


def _intersect_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Values of sorted ``a`` also in sorted ``b``."""
    if not len(a) or not len(b):
        return EMPTY_I
    idx = np.searchsorted(b, a)
    idx[idx == len(b)] = len(b) - 1
    return a[b[idx] == a]


def _text(btext: Any) -> str:
    return btext.decode("utf-8") if isinstance(btext, bytes) else btext


def _scope_of(q: wq.Query) -> tuple[wq.Query, str] | None:
    """(leaf, "title" | "summary") for a scoped leaf of :mod:`thb_search.query`."""
    return (q.q, q.scope) if isinstance(q, Scoped) else None
