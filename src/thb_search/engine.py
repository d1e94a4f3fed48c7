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

The index is a list of segments (Whoosh's): a commit appends one, marks
documents of others deleted, or merges small ones into a new one, and never
changes a segment's postings.  The cache is kept from one commit to the next
(:class:`PostingsCache`, handed on by :class:`~thb_search.snapshot.Snapshot`):
each entry remembers the segments it was read from (:class:`Layout`), and the
first use after a commit carries it over, slicing and shifting what it holds
of the segments that are still there and reading only the segments that are
new.  At 100,000 records the first pass of the benchmark's 200 queries after
an add of 10 records took 2.9 s instead of 1.1 s warm when every commit
emptied the cache.

One walk of the plan (:meth:`Engine._walk`) does all of it: it matches and
scores (:meth:`Engine.run`), or only matches, optionally within one field
(:meth:`Engine.mask`), which is how explain tells where a part of the query
matched.  A document scores what the parts of the plan it matches score, as
in Lucene; ``tests/test_engine.py`` checks matches and scores against the
index library's own searcher.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

import numpy as np

from .dataclass import dataclass
from .fields import SUMMARY_MARK
from .plan import And, Facet, Node, Not, Or, Phrase, Scope, Terms
from .ranking import bm25, idf, length_norm, saturate
from .schema import (
    BODY_FIELD,
    BODY_POS_BITS,
    BODY_POS_MASK,
    BODY_WEIGHT,
    POS_BITS,
    POS_MASK,
    RANK_FIELD,
    TITLE_BOOST,
)

#: Bytes of postings arrays a reader keeps cached: at least this, or
#: ``CACHE_BYTES_PER_DOCUMENT`` a document in a larger catalogue (the common
#: words of the benchmark's 200 queries hold some 330 MB of postings at a
#: million records: a cache of 128 MB read them again for every query).
CACHE_BYTES = 128 * 1024 * 1024
CACHE_BYTES_PER_DOCUMENT = 384
#: Bytes of phrase (and word pair) occurrences a reader keeps cached, likewise.
PHRASE_CACHE_BYTES = 32 * 1024 * 1024
PHRASE_CACHE_BYTES_PER_DOCUMENT = 64
#: Bytes of words' and phrases' BM25 scores an engine keeps (see
#: :meth:`Engine._scored`), likewise.
SCORES_CACHE_BYTES = 32 * 1024 * 1024
SCORES_CACHE_BYTES_PER_DOCUMENT = 64
#: What an entry of the postings cache costs at least (its key and arrays).
ENTRY_BYTES = 1024

#: ``read(segment, field, term, positions, pos_bits)``: a term's (documents,
#: weights, position keys) in the ``segment``-th segment, its documents numbered from 0.
ReadPostings = Callable[[int, str, str, bool, int],
                        tuple[np.ndarray, np.ndarray, np.ndarray | None]]
#: The fields a word is looked for in unless told otherwise.
ALL_FIELDS = frozenset({"title", "summary", "body"})
_TEXT = frozenset({"title", "summary"})

_EMPTY = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0, dtype=np.float32)
_EMPTY_D = np.zeros(0, dtype=np.float64)


class DocumentArrays(Protocol):
    """What the engine needs of the per-document arrays (:class:`~thb_search.facets.FacetIndex`)."""

    live: np.ndarray  # bool: not deleted
    lengths: np.ndarray  # the ranking field's length, as the index stores it
    body_lengths: np.ndarray  # the body's length (0: no document)

    def mask(self, name: str, values: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Segment:
    """A segment of the index: its name (Whoosh never reuses one), the number of
    its first document, how many documents it holds (deleted ones included)
    and how many of those are deleted (a commit only ever adds deletions, so
    the same count is the same documents)."""

    name: str
    start: int
    count: int
    deleted: int = 0


@dataclass
class _Move:
    """Documents ``lo`` to ``hi`` of an earlier commit are documents ``lo +
    shift`` to ``hi + shift`` now; ``deleted``: some were deleted since."""

    lo: int
    hi: int
    shift: int
    deleted: bool

    def within(self, values: np.ndarray, bits: int) -> tuple[int, int]:
        """The slice of sorted ``values`` (``document << bits | ...``) in the range."""
        lo, hi = np.searchsorted(values, [self.lo << bits, self.hi << bits])
        return int(lo), int(hi)


class Layout:
    """The segments of one committed state, in document order.  Compared by
    identity: two commits of the same segments may differ in their deletions."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = tuple(segments)
        self.by_name = {s.name: s for s in self.segments}

    def moves(self, old: Layout) -> list[_Move | int]:
        """How to make what was read on ``old`` what this layout reads: for
        each run of segments, where its documents were (a :class:`_Move`), or
        the number of a segment that is new (to be read)."""
        out: list[_Move | int] = []
        for i, segment in enumerate(self.segments):
            before = old.by_name.get(segment.name)
            if before is None:
                out.append(i)
                continue
            shift, deleted = segment.start - before.start, segment.deleted != before.deleted
            last = out[-1] if out else None
            if (isinstance(last, _Move) and last.hi == before.start and last.shift == shift
                    and not (deleted or last.deleted)):
                last.hi += before.count  # the next segment, moved alike: one run
            else:
                out.append(_Move(before.start, before.start + before.count, shift, deleted))
        return out


V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    """A cached value, the layout it was computed on and its size."""

    layout: Layout  # what ``value`` was computed on
    value: V
    nbytes: int


class PostingsCache(Generic[V]):
    """A bounded LRU map whose entries remember the layout they were read on;
    engines of successive commits share one and carry entries over."""

    def __init__(self, limit: Callable[[], int]) -> None:
        self._limit = limit  # read at each insertion (tests lower the module's bound)
        self._entries: OrderedDict[object, _Entry[V]] = OrderedDict()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: object) -> _Entry[V] | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: object, layout: Layout, value: V, nbytes: int) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        self._entries[key] = _Entry(layout, value, nbytes)
        self.nbytes += nbytes
        limit = self._limit()
        while self.nbytes > limit and len(self._entries) > 1:
            _, gone = self._entries.popitem(last=False)
            self.nbytes -= gone.nbytes


@dataclass
class TermData:
    """A term's live postings: documents, weights and position keys."""

    docs: np.ndarray  # int64, ascending
    weights: np.ndarray  # float32
    keys: np.ndarray  # int64 doc << POS_BITS | pos (BODY_POS_BITS in the body), ascending

    @property
    def nbytes(self) -> int:
        # An absent term (a word no publication has) still takes room: counted,
        # so that a stream of unknown words cannot grow the cache without end.
        return max(ENTRY_BYTES, self.docs.nbytes + self.weights.nbytes + self.keys.nbytes)


#: An engine's caches: of terms' postings, and of phrases' occurrences.
Caches = tuple[PostingsCache[TermData], PostingsCache[np.ndarray]]


def new_caches(documents: int = 0) -> Caches:
    """Empty postings and phrase caches, for an engine (of an index of
    ``documents`` documents) that has no predecessor."""
    return (PostingsCache(lambda: max(CACHE_BYTES, CACHE_BYTES_PER_DOCUMENT * documents)),
            PostingsCache(lambda: max(PHRASE_CACHE_BYTES,
                                      PHRASE_CACHE_BYTES_PER_DOCUMENT * documents)))


class Engine:
    """Matches and ranks plans on one index reader.

    ``segments`` are the reader's segments, ``read`` reads a term's postings
    in one of them; ``before``, the engine of an earlier commit of the same
    index, hands on its caches (what was read; else :func:`new_caches`) and
    its segments' sums.
    """

    def __init__(self, read: ReadPostings, segments: Sequence[Segment],
                 arrays: DocumentArrays, before: Engine | None = None) -> None:
        self._read = read
        self.layout = Layout(segments)
        self.caches = before.caches if before is not None else new_caches(len(arrays.live))
        self._cache, self._phrases = self.caches
        self.arrays = arrays
        self.live = arrays.live
        self.size = len(self.live)
        self.lengths = np.asarray(arrays.lengths, dtype=np.float32)
        # Each segment's live documents and their lengths' sum, counted over
        # the saved arrays as they are (no copy of a million lengths), or
        # taken from ``before`` (the engine of an earlier commit of the same
        # index) for a segment it had with the same deletions: a commit of a
        # few records counts its own segment only (a million lengths summed:
        # some 1 ms).  Summed exactly (the lengths are whole numbers), so the
        # average does not depend on the order of the documents or how they
        # are split: an index built in another order scores the same.
        known = before.segment_sums if before is not None else {}
        self.segment_sums: dict[Segment, tuple[int, float]] = {}
        n_live, total = 0, 0.0
        for segment in self.layout.segments:
            sums = known.get(segment)
            if sums is None:
                part = slice(segment.start, segment.start + segment.count)
                live = self.live[part]
                sums = (int(np.count_nonzero(live)),
                        float(self.lengths[part].sum(where=live, dtype=np.float64)))
            self.segment_sums[segment] = sums
            n_live += sums[0]
            total += sums[1]
        self.n_live = max(n_live, 1)
        self.avg_length = total / n_live if n_live else 1.0
        self._bodies: tuple[np.ndarray, float] | None = None  # see body_lengths
        self._mark: np.ndarray | None = None
        # Scores depend on the live documents' count and lengths: this
        # commit's own, not handed on.
        size = self.size  # (not self: the engine would hold itself in a cycle)
        self._scores: PostingsCache[_Sparse] = PostingsCache(
            lambda: max(SCORES_CACHE_BYTES, SCORES_CACHE_BYTES_PER_DOCUMENT * size))
        self._moves: dict[Layout, list[_Move | int]] = {}

    # -- postings ------------------------------------------------------------

    def term(self, text: str, field: str = RANK_FIELD) -> TermData:
        """The live postings of a term of the ranking field (or of the body),
        cached."""
        key = (field, text)
        entry = self._cache.get(key)
        if entry is not None and entry.layout is self.layout:
            return entry.value
        bits = BODY_POS_BITS if field == BODY_FIELD else POS_BITS
        if entry is None:
            moves: list[_Move | int] = list(range(len(self.layout.segments)))
            old = None
        else:  # read on an earlier commit: carried over
            moves, old = self._moves_from(entry.layout), entry.value
        docs, weights, keys = [], [], []
        for move in moves:
            if isinstance(move, int):  # a segment not read yet
                d, w, k = self._read(move, field, text, True, bits)
                if len(d):
                    start = self.layout.segments[move].start
                    d, k = d + start, (k + (start << bits) if k is not None else _EMPTY)
                    alive, k_alive = self.live[d], self.live[k >> bits]
                    docs.append(d[alive])
                    weights.append(w[alive])
                    keys.append(k[k_alive])
                continue
            assert old is not None
            lo, hi = move.within(old.docs, 0)
            k_lo, k_hi = move.within(old.keys, bits)
            d, w, k = old.docs[lo:hi], old.weights[lo:hi], old.keys[k_lo:k_hi]
            if move.shift:
                d, k = d + move.shift, k + (move.shift << bits)
            if move.deleted:
                alive = self.live[d]
                d, w, k = d[alive], w[alive], k[self.live[k >> bits]]
            docs.append(d)
            weights.append(w)
            keys.append(k)
        data = TermData(_join(docs, old.docs if old is not None else None),
                        _join(weights, old.weights if old is not None else _EMPTY_F),
                        _join(keys, old.keys if old is not None else None))
        self._cache.put(key, self.layout, data, data.nbytes)
        return data

    def df(self, text: str) -> int:
        """How many live documents hold a term (in their record or their document)."""
        body = self.term(text, BODY_FIELD).docs
        docs = self.term(text).docs
        return len(_union_sorted(docs, body)) if len(body) else len(docs)

    @property
    def body_lengths(self) -> np.ndarray:
        """The body's length of each document (0: no document), as floats
        (made when a body is first scored: a catalogue without PDFs never is)."""
        return self._body_stats()[0]

    @property
    def avg_body(self) -> float:
        """The mean body length of the live documents that have one."""
        return self._body_stats()[1]

    def _body_stats(self) -> tuple[np.ndarray, float]:
        if self._bodies is None:
            lengths = self.arrays.body_lengths.astype(np.float64)
            has = self.live & (lengths > 0)
            n = int(np.count_nonzero(has))
            self._bodies = (lengths, float(lengths.sum(where=has)) / n if n else 1.0)
        return self._bodies

    @property
    def mark(self) -> np.ndarray:
        """Each document's position of the summary mark (title before, summary after)."""
        if self._mark is None:
            saved = getattr(self.arrays, "marks", None)  # None: arrays of an older version
            if saved is not None:
                self._mark = saved
            else:
                mark = np.zeros(self.size, dtype=np.int64)
                keys = self.term(SUMMARY_MARK).keys
                mark[keys >> POS_BITS] = keys & POS_MASK
                self._mark = mark
        return self._mark

    # -- the walk --------------------------------------------------------------

    def run(self, node: Node, fields: frozenset[str] = ALL_FIELDS,
            memo: Memo | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The documents matching ``node`` and their BM25 scores (0 elsewhere);
        words with no field of their own are looked for in ``fields``.
        ``memo`` (a dict kept by the caller for one search) holds what words
        and phrases matched and scored, for the other walks of that search
        (its partial or related matches, its coverage): the arrays it hands
        out must not be changed."""
        mask, scores = self._walk(node, _Walk(fields, None, True, memo))
        return mask, self._dense(scores)

    def mask(self, node: Node, scope: Scope = None, fields: frozenset[str] = ALL_FIELDS,
             memo: Memo | None = None) -> np.ndarray:
        """The documents matching ``node``; with ``scope``, its words and
        phrases are looked for in that field only (``memo``: see :meth:`run`)."""
        return self._walk(node, _Walk(fields, scope, False, memo))[0]

    def scores(self, node: Node) -> np.ndarray:
        """Every document's BM25 score for ``node`` (0 where it does not match)."""
        return self.run(node)[1]

    def _walk(self, node: Node, walk: _Walk) -> tuple[np.ndarray, Scores]:
        """The documents matching ``node`` and, when asked, their scores: what
        the matching parts of ``node`` score, as in Lucene (a word under NOT,
        or in an alternative that did not match, adds nothing).  A word or
        phrase scores its few documents (:class:`_Sparse`); ``And`` and ``Or``
        add their items' scores up over every document, in the items' order."""
        if isinstance(node, (Terms, Phrase)):
            fields = walk.fields_of(node.scope)
            memo = walk.memo
            if memo is not None:
                found = memo.get((node, fields))
                # (mask, scores of its documents, or None: not scored)
                if found is not None and (found[1] is not None or not walk.score):
                    return found[0], found[1] if walk.score else None
            if isinstance(node, Terms):
                result = self._terms(node, fields, walk.score)
            else:
                result = self._phrase(node, fields, walk.score)
            if memo is not None:  # scores over every document are added to: not kept
                memo[(node, fields)] = (result[0], result[1] if isinstance(result[1], _Sparse)
                                        else None)
            return result
        if isinstance(node, Facet):
            return self.arrays.mask(node.name, list(node.values)), None
        if isinstance(node, Not):
            return self.live & ~self._walk(node.item, walk.no_score())[0], None
        if isinstance(node, And):
            mask, total = self.live.copy(), None
            for item in node.items:
                m, s = self._walk(item, walk)
                mask &= m
                total = self._add(total, s)
            for item in node.bonus if walk.score else ():
                total = self._add(total, self._walk(item, walk)[1])
            if total is not None:
                total *= mask  # what the items of a document not matching scored
            return mask, total
        if isinstance(node, Or):
            mask, total = np.zeros(self.size, dtype=bool), None
            for item in node.items:
                m, s = self._walk(item, walk)
                mask |= m
                total = self._add(total, s)
            return mask, total
        raise TypeError(f"not a plan node: {node!r}")

    def _terms(self, node: Terms, fields: frozenset[str],
               score: bool) -> tuple[np.ndarray, Scores]:
        """Any of the terms, in ``fields``; each scores in the fields it is
        looked for in (BM25F over the record's text and its document)."""
        mask = np.zeros(self.size, dtype=bool)
        scores: Scores = None
        if score:  # one term: its documents' scores; several: added up over all documents
            scores = (np.zeros(self.size, dtype=np.float64) if len(node.terms) != 1
                      else _Sparse(_EMPTY, _EMPTY_D))
        text_fields, in_body = fields & _TEXT, "body" in fields
        for term in node.terms:
            text = self.term(term) if text_fields else None
            body = self.term(term, BODY_FIELD) if in_body else None
            if text is not None:
                keys = self._in_text(text.keys, text.keys, text_fields)
                mask[text.docs if keys is None else keys >> POS_BITS] = True
            if body is not None:
                mask[body.docs] = True
            if scores is not None:
                found = self._scored(("term", term, text is not None, body is not None,
                                      node.boost), self._bm25f, text, body, node.boost)
                if isinstance(scores, np.ndarray):
                    scores[found.docs] += found.values
                else:
                    scores = found
        if scores is not None and len(text_fields) == 1:
            scores = _only(scores, mask)  # found only in the other text field: not a match
        return mask, scores

    def _phrase(self, node: Phrase, fields: frozenset[str],
                score: bool) -> tuple[np.ndarray, Scores]:
        n = len(node.terms)
        mask = np.zeros(self.size, dtype=bool)
        text_fields, in_body = fields & _TEXT, "body" in fields
        text = self.phrase_keys(node.terms) if text_fields else _EMPTY
        body = self.phrase_keys(node.terms, BODY_FIELD) if in_body else _EMPTY
        if text_fields:
            keys = self._in_text(text, text - (n - 1), text_fields)
            mask[(text if keys is None else keys) >> POS_BITS] = True
        mask[body >> BODY_POS_BITS] = True
        if not score:
            return mask, None
        scores: Scores = self._scored(("phrase", node.terms, bool(text_fields), in_body,
                                       node.boost), self._phrase_score, text, body, n,
                                      node.boost)
        if len(text_fields) == 1:
            scores = _only(scores, mask)
        return mask, scores

    def phrase_keys(self, terms: tuple[str, ...], field: str = RANK_FIELD) -> np.ndarray:
        """Keys of the phrase's last term at each occurrence of the phrase in
        ``field`` (cached: word pairs recur in the plans of one search)."""
        key = (field, terms)
        entry = self._phrases.get(key)
        if entry is not None and entry.layout is self.layout:
            return entry.value
        bits = BODY_POS_BITS if field == BODY_FIELD else POS_BITS
        if entry is None:
            keys = self._phrase_within(terms, field, None)
        else:  # found on an earlier commit: carried over, new segments looked at
            parts = []
            for move in self._moves_from(entry.layout):
                if isinstance(move, int):
                    parts.append(self._phrase_within(terms, field, self.layout.segments[move]))
                    continue
                lo, hi = move.within(entry.value, bits)
                part = entry.value[lo:hi]
                if move.shift:
                    part = part + (move.shift << bits)
                parts.append(part[self.live[part >> bits]] if move.deleted else part)
            keys = _join(parts, entry.value)
        self._phrases.put(key, self.layout, keys, keys.nbytes)
        return keys

    def _moves_from(self, old: Layout) -> list[_Move | int]:
        moves = self._moves.get(old)
        if moves is None:
            moves = self._moves[old] = self.layout.moves(old)
        return moves

    def _phrase_within(self, terms: tuple[str, ...], field: str,
                       segment: Segment | None) -> np.ndarray:
        """The phrase's keys (see :meth:`phrase_keys`), in one segment or all."""
        bits = BODY_POS_BITS if field == BODY_FIELD else POS_BITS

        def keys_of(text: str) -> np.ndarray:
            keys = self.term(text, field).keys
            if segment is None:
                return keys
            lo, hi = np.searchsorted(keys, [segment.start << bits,
                                            (segment.start + segment.count) << bits])
            return keys[lo:hi]

        keys = keys_of(terms[0])
        for text in terms[1:]:
            if not len(keys):
                break
            keys = _intersect_sorted(keys + 1, keys_of(text))
        return keys

    def _in_text(self, keys: np.ndarray, start: np.ndarray,
                 fields: frozenset[str]) -> np.ndarray | None:
        """The keys of ``keys`` (occurrences starting at ``start``) that lie in
        the one text field of ``fields``; None when both are wanted."""
        if len(fields) != 1:
            return None
        mark = self.mark[keys >> POS_BITS]
        position = start & POS_MASK
        inside = position < mark if "title" in fields else position > mark
        return keys[inside]

    # -- scoring ---------------------------------------------------------------

    def _scored(self, key: tuple[object, ...],
                score: Callable[..., tuple[np.ndarray, np.ndarray]], *args: object) -> _Sparse:
        """A word's or phrase's scores (``score(*args)``: its documents and
        their scores), kept by key: the same word recurs from one search to
        the next, and scoring its documents again (BM25 over its postings, a
        phrase's occurrences counted) is most of what a search of it costs
        once its postings are cached."""
        entry = self._scores.get(key)
        if entry is not None:
            return entry.value
        found = _Sparse.of(*score(*args))
        found.values.flags.writeable = False  # handed to every search of the word
        self._scores.put(key, self.layout, found,
                         max(ENTRY_BYTES, found.docs.nbytes + found.values.nbytes))
        return found

    def _bm25f(self, text: TermData | None, body: TermData | None,
               boost: float) -> tuple[np.ndarray, np.ndarray]:
        """A term's BM25F scores (its documents, their scores): its weight in
        the record's text (title words weighted) and, ``BODY_WEIGHT`` each,
        its occurrences in the document's body, each normalised by its
        field's length, then saturated once."""
        docs = text.docs if text is not None else _EMPTY
        body_docs = body.docs if body is not None else _EMPTY
        return self._combine(docs, text.weights if text is not None else None, body_docs,
                             body.weights if body is not None else None, boost)

    def _combine(self, docs: np.ndarray, tf: np.ndarray | None, body_docs: np.ndarray,
                 body_tf: np.ndarray | None, boost: float) -> tuple[np.ndarray, np.ndarray]:
        if not len(body_docs):
            if not len(docs):
                return _EMPTY, _EMPTY_D
            # no document holds it: BM25 on the record's text
            return docs, boost * bm25(tf, self.lengths[docs], self.avg_length,
                                      idf(len(docs), self.n_live))
        union = _union_sorted(docs, body_docs)
        pseudo = np.zeros(len(union), dtype=np.float64)
        if len(docs):
            pseudo[np.searchsorted(union, docs)] += tf / length_norm(self.lengths[docs],
                                                                     self.avg_length)
        pseudo[np.searchsorted(union, body_docs)] += BODY_WEIGHT * body_tf / length_norm(
            self.body_lengths[body_docs], self.avg_body)
        return union, boost * saturate(pseudo, idf(len(union), self.n_live))

    def _phrase_score(self, text: np.ndarray, body: np.ndarray, n: int,
                      boost: float) -> tuple[np.ndarray, np.ndarray]:
        """A phrase scores as one term: its frequency, title occurrences
        weighted like title words."""
        docs = tf = _EMPTY
        if len(text):
            all_docs = text >> POS_BITS
            start = (text & POS_MASK) - (n - 1)
            weight = np.where(start < self.mark[all_docs], TITLE_BOOST, 1.0)
            docs, inverse = _unique_sorted(all_docs)
            tf = np.bincount(inverse, weights=weight).astype(np.float32)
        body_docs, body_tf = _EMPTY, None
        if len(body):
            body_docs, inverse = _unique_sorted(body >> BODY_POS_BITS)
            body_tf = np.bincount(inverse).astype(np.float64)
        return self._combine(docs, tf, body_docs, body_tf, boost)

    def _add(self, total: np.ndarray | None, scores: Scores) -> np.ndarray | None:
        """``total + scores`` over every document, in place when possible
        (None: nothing scored)."""
        if scores is None:
            return total
        if isinstance(scores, _Sparse):
            if total is None:
                return self._dense(scores)
            total[scores.docs] += scores.values
            return total
        if total is None:
            return scores
        total += scores
        return total

    def _dense(self, scores: Scores) -> np.ndarray:
        """Scores over every document (0 where none)."""
        if isinstance(scores, np.ndarray):
            return scores
        out = np.zeros(self.size, dtype=np.float64)
        if scores is not None:
            out[scores.docs] = scores.values
        return out

    # -- explain ---------------------------------------------------------------

    def held(self, terms: tuple[str, ...], docnum: int) -> list[str]:
        """Which of ``terms`` publication ``docnum`` holds (in its record or
        its document)."""
        return [text for text in terms
                if any(_holds(self.term(text, field).docs, docnum)
                       for field in (RANK_FIELD, BODY_FIELD))]

    def body_positions(self, terms: frozenset[str], docnum: int) -> dict[str, np.ndarray]:
        """Each of ``terms`` found in the body of ``docnum``: its positions."""
        low, high = docnum << BODY_POS_BITS, (docnum + 1) << BODY_POS_BITS
        found = {}
        for text in sorted(terms):
            keys = self.term(text, BODY_FIELD).keys
            part = keys[np.searchsorted(keys, low):np.searchsorted(keys, high)]
            if len(part):
                found[text] = part & BODY_POS_MASK
        return found


@dataclass(frozen=True)
class _Sparse:
    """The scores of a few documents (ascending, distinct), 0 elsewhere: what
    a word or phrase scores, added to its parent's total without a pass over
    every document (adding 0 elsewhere changes nothing, so the sums are the
    same to the last bit)."""

    docs: np.ndarray
    values: np.ndarray  # float64

    @classmethod
    def of(cls, docs: np.ndarray, values: np.ndarray) -> _Sparse:
        """Scores computed for ``docs`` (as float64, as adding them to zeros makes them)."""
        return cls(docs, values.astype(np.float64, copy=False))


#: What a walk scores: over every document, a few documents' (:class:`_Sparse`), or nothing.
Scores = np.ndarray | _Sparse | None
#: What the words and phrases of one search matched and scored (see :meth:`Engine.run`).
Memo = dict[tuple[Node, frozenset[str]], tuple[np.ndarray, _Sparse | None]]


def _only(scores: Scores, mask: np.ndarray) -> Scores:
    """``scores`` where ``mask`` holds, 0 elsewhere."""
    if isinstance(scores, _Sparse):
        return _Sparse(scores.docs, scores.values * mask[scores.docs])
    if scores is not None:
        scores *= mask
    return scores


def _union_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.union1d(a, b)`` of two ascending arrays of distinct documents.
    (``np.union1d`` goes through ``np.unique``, which imports ``numpy.ma`` on
    its first call: 15-20 ms of a new process's first full-text search.)"""
    both = np.concatenate((a, b))
    both.sort(kind="stable")
    return both[np.concatenate(([True], both[1:] != both[:-1]))] if len(both) else both


def _unique_sorted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of ascending ``values``, in one pass."""
    if not len(values):
        return values[:0], np.zeros(0, dtype=np.intp)
    steps = np.diff(values)
    if bool((steps < 0).any()):  # not ascending after all
        unique, inverse = np.unique(values, return_inverse=True)
        return unique, inverse.reshape(-1)
    opens = np.empty(len(values), dtype=bool)
    opens[0] = True
    np.not_equal(steps, 0, out=opens[1:])
    return values[opens], np.cumsum(opens) - 1


@dataclass(frozen=True)
class _Walk:
    """How a walk looks: the fields of words with none of their own, the one
    field explain asks about (or None), whether it scores."""

    fields: frozenset[str]
    asked: Scope
    score: bool
    memo: Memo | None = None

    def fields_of(self, own: Scope) -> frozenset[str]:
        """The fields a word or phrase is looked for in."""
        fields = frozenset({own}) if own else self.fields
        return fields & {self.asked} if self.asked else fields

    def no_score(self) -> _Walk:
        return _Walk(self.fields, self.asked, False, self.memo)


def _holds(docs: np.ndarray, docnum: int) -> bool:
    i = int(np.searchsorted(docs, docnum))
    return i < len(docs) and int(docs[i]) == docnum


def _join(parts: list[np.ndarray], whole: np.ndarray | None = None) -> np.ndarray:
    """The parts as one array: ``whole`` itself when the one part is all of
    it (nothing moved, nothing new); a part of an array is copied, so that
    the cache never holds on to a bigger array than it counts."""
    if not parts:
        return _EMPTY if whole is None else whole[:0].copy()
    if len(parts) > 1:
        return np.concatenate(parts)
    part = parts[0]
    if whole is not None and part.base is whole and len(part) == len(whole):
        return whole
    return part.copy() if part.base is not None else part


def _intersect_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Values of sorted ``a`` also in sorted ``b`` (as often as ``a`` has them)."""
    if not len(a) or not len(b):
        return _EMPTY
    if len(a) > 4 * len(b):
        # Few values to find (a rare word after a common one): look each of
        # ``b``'s up in ``a`` rather than all of ``a``'s in ``b``.
        distinct = b[np.concatenate(([True], b[1:] != b[:-1]))]
        low = np.searchsorted(a, distinct)
        high = np.searchsorted(a, distinct, side="right")
        return np.repeat(distinct, high - low)
    idx = np.searchsorted(b, a)
    idx[idx == len(b)] = len(b) - 1
    return a[b[idx] == a]
