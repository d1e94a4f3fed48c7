"""A segment's postings held as columns while documents are added.

Adding a document's postings a Python step at a time (a dictionary look-up,
four appends) was most of an indexer's time.  Here a document adds a few
arrays at once (C-level calls over its tokens or terms) and the postings are
sorted into terms with numpy now and then (``settle``), into the entries a
:class:`thb_search.writer.MemoryPool` writes.  A document's words are
numbers of a :class:`TokenTable` that knows each word's terms, offsets and
positions taken (:func:`thb_search.analysis.gather_terms`'s rules, applied
to arrays):

* :class:`TextColumns` (the ``text`` field): a record's title, summary and
  locations;
* :class:`BodyColumns` (the ``body`` field): a document's pages.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from typing import NamedTuple
from weakref import WeakMethod

import numpy as np

from .analysis import COLLECTORS, Terms, _word_terms
from .fields import FIELD_GAP, SUMMARY_MARK

#: Bytes, or a memoryview of bytes: what ``array.frombytes`` takes.
Buffer = bytes | memoryview
#: A term's postings in a pool: documents, weights, the bytes of each value,
#: the values one after another.
Entry = tuple[array, array, array, bytearray]


def new_entry() -> Entry:
    return array("I"), array("f"), array("I"), bytearray()


def append(terms: dict[bytes, Entry], tbytes: bytes, docs: Buffer, weights: Buffer,
           lengths: Buffer, values: Buffer) -> None:
    """Append postings to a term's entry (made if new): documents (uint32),
    weights (float32), the bytes of each posting's value (uint32), the
    values."""
    entry = terms.get(tbytes)
    if entry is None:
        entry = terms[tbytes] = new_entry()
    held_docs, held_weights, held_lengths, held_values = entry
    held_docs.frombytes(docs)
    held_weights.frombytes(weights)
    held_lengths.frombytes(lengths)
    held_values += values


class Settled(NamedTuple):
    """A field's postings sorted into terms as columns: term ``k`` is
    ``names[k]`` and has postings ``bounds[k]`` to ``bounds[k + 1]`` of
    ``docs``, ``weights`` and ``counts``, in document order; each posting's
    ``counts`` positions are the next ones of ``positions``.  The terms are
    in increasing order when :meth:`_TokenColumns.settle_apart` gave them
    (as a segment writes them)."""

    names: list[bytes]
    bounds: np.ndarray  # int64, one more than the terms
    docs: np.ndarray  # uint32
    weights: np.ndarray  # float32
    counts: np.ndarray  # int64
    positions: np.ndarray  # uint32

    def append_to(self, terms: dict[bytes, Entry]) -> int:
        """Append the postings to ``terms`` (term -> entry, as a pool holds
        them); returns the terms new to it."""
        size = len(terms)
        bounds = self.bounds.tolist()
        value_bounds = (np.concatenate(([0], np.cumsum(self.counts)))[self.bounds] * 4).tolist()
        docs = memoryview(self.docs.astype(np.uint32).tobytes())
        weights = memoryview(self.weights.astype(np.float32).tobytes())
        lengths = memoryview((self.counts * 4).astype(np.uint32).tobytes())
        values = memoryview(self.positions.astype(np.uint32).tobytes())
        for k, tbytes in enumerate(self.names):
            a, b = bounds[k] * 4, bounds[k + 1] * 4
            append(terms, tbytes, docs[a:b], weights[a:b], lengths[a:b],
                   values[value_bounds[k]:value_bounds[k + 1]])
        return len(terms) - size


def joined(parts: Sequence[Settled]) -> Settled:
    """One :class:`Settled` of ``parts`` (each in increasing term order, of
    documents after the one before's), in increasing term order."""
    if len(parts) == 1:
        return parts[0]
    names = sorted(set().union(*(part.names for part in parts)))
    place = {name: k for k, name in enumerate(names)}
    key = np.concatenate([np.repeat(np.array([place[name] for name in part.names], np.int64),
                                    np.diff(part.bounds)) for part in parts])
    order = np.argsort(key, kind="stable")  # (a term's postings stay in document order)
    counts = np.concatenate([part.counts for part in parts])
    first = np.cumsum(counts) - counts
    moved = counts[order]
    # each posting's positions, the moved postings' one after another
    at = np.repeat(first[order] - (np.cumsum(moved) - moved), moved) + np.arange(moved.sum())
    return Settled(names, np.searchsorted(key[order], np.arange(len(names) + 1)).astype(np.int64),
                   np.concatenate([part.docs for part in parts])[order],
                   np.concatenate([part.weights for part in parts])[order], moved,
                   np.concatenate([part.positions for part in parts])[at])


def _settle_items(names: Sequence[str], item_term: np.ndarray, item_pos: np.ndarray,
                  item_weight: np.ndarray, item_doc: np.ndarray, docnums: np.ndarray,
                  in_order: bool) -> Settled:
    """Group items (a term at a position, with a weight, in a document: in
    document order, then analysis order) into postings, by term: a
    posting's weight is its items' sum, its positions theirs in order.
    ``names``: the terms' names by number; ``docnums``: the documents'
    numbers.  The terms come in increasing order if ``in_order``, else by
    number (a sort of their names saved: a pool's dictionary takes them)."""
    present = np.flatnonzero(np.bincount(item_term, minlength=len(names)))
    encoded = [names[number].encode("utf-8") for number in present.tolist()]
    key = item_term.astype(np.int64)  # what the items are sorted by
    if in_order:
        order = sorted(range(len(encoded)), key=encoded.__getitem__)
        encoded = [encoded[i] for i in order]
        rank = np.zeros(len(names), dtype=np.int64)  # each present term's place among them
        rank[present[order]] = np.arange(len(order))
        key = rank[key]
        firsts = np.arange(len(encoded) + 1)  # each term's key (and one past the last)
    else:
        firsts = np.append(present, len(names))
    by_term = np.argsort(key, kind="stable")
    key, item_doc = key[by_term], item_doc[by_term]
    item_pos, item_weight = item_pos[by_term], item_weight[by_term]
    starts = np.flatnonzero(np.concatenate((
        [True], (key[1:] != key[:-1]) | (item_doc[1:] != item_doc[:-1]))))
    counts = np.diff(np.append(starts, len(key)))
    bounds = np.searchsorted(key[starts], firsts)
    return Settled(encoded, bounds.astype(np.int64),
                   docnums[item_doc[starts]].astype(np.uint32),
                   np.add.reduceat(item_weight, starts).astype(np.float32),
                   counts.astype(np.int64), item_pos.astype(np.uint32))


class _Numbering(dict):  # type: ignore[type-arg]
    """Tokens' numbers; a token not met before is numbered (``enter``) when
    first looked up: a document's tokens are numbered by one ``map`` over
    the dictionary's lookup, without a step in Python for those already met
    (most of them).  ``enter`` is held weakly: its table holds this
    dictionary, and a cycle between them would keep a writer's tables until
    the cycle collector ran, not until the writer lets them go."""

    def __init__(self, enter: Callable[[str], int]) -> None:
        super().__init__()
        self._enter = WeakMethod(enter)

    def __missing__(self, token: str) -> int:
        enter = self._enter()
        assert enter is not None  # the table is alive while it numbers tokens
        return enter(token)


#: Words another process analysed, token -> (terms, positions taken): a
#: parallel build's workers each send the others the words they analyse
#: (:mod:`thb_search.writer`), and a table enters those as they are, neither
#: analysed again nor collected (the process that analysed them collected
#: them).  Two workers met the same words: each stemmed some 40,000 of them.
SHARED: dict[str, tuple[Terms, int]] = {}
#: Words shared at most (as many as :func:`~thb_search.analysis._word_terms`
#: remembers; past it, a worker analyses the others' new words itself).
MAX_SHARED = 262_144
#: While a list is here, what this process analyses goes into it (to be
#: sent to the others): (token, terms, positions taken).
ANALYSED: list[list[tuple[str, Terms, int]]] = []


class TokenTable:
    """The tokens a writer met, numbered, with their terms (numbered too):
    for token ``t``, items ``start[t]`` to ``start[t] + count[t]`` of
    ``item_term`` / ``item_offset`` are its terms and their offsets from its
    first position, and it takes ``taken[t]`` positions
    (:func:`thb_search.analysis._word_terms`).  A token is given to the
    open :data:`~thb_search.analysis.COLLECTORS` when the table first meets
    it (a writer's tables live within the block that collects its words):
    giving each document's tokens took a worker 10 µs a record."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = _Numbering(self._enter)
        self.start = array("I")
        self.count = array("I")
        self.taken = array("I")
        self.item_term = array("I")
        self.item_offset = array("I")
        self.term_ids: dict[str, int] = {}
        self.terms: list[str] = []

    def term_id(self, term: str) -> int:
        number = self.term_ids.get(term)
        if number is None:
            number = self.term_ids[term] = len(self.terms)
            self.terms.append(term)
        return number

    def numbers(self, tokens: list[str]) -> list[int]:
        """The numbers of ``tokens`` (new ones entered)."""
        return list(map(self.ids.__getitem__, tokens))

    def items(self, tokens: np.ndarray, token_pos: np.ndarray, token_weight: np.ndarray,
              token_doc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The terms of ``tokens`` (numbers) in analysis order, as items:
        each one's term number, position (its token's plus its offset),
        weight and document (its token's)."""
        count = np.frombuffer(self.count, dtype=np.uint32).astype(np.int64)[tokens]
        first_item = np.frombuffer(self.start, dtype=np.uint32).astype(np.int64)[tokens]
        nitems = int(count.sum())
        item = np.repeat(first_item - (np.cumsum(count) - count), count) + np.arange(nitems)
        return (np.frombuffer(self.item_term, dtype=np.uint32)[item],
                np.repeat(token_pos, count) + np.frombuffer(self.item_offset,
                                                            dtype=np.uint32)[item],
                np.repeat(token_weight, count), np.repeat(token_doc, count))

    def _enter(self, token: str) -> int:
        shared = SHARED.get(token)
        if shared is not None:
            terms, taken = shared
        else:
            terms, taken, _ = _word_terms(token)
            for collector in COLLECTORS:  # (each token once: not each document's)
                collector.add(token)
            for analysed in ANALYSED:
                analysed.append((token, terms, taken))
        number = self.ids[token] = len(self.start)
        self.start.append(len(self.item_term))
        self.count.append(len(terms))
        self.taken.append(taken)
        for term, offset in terms:
            self.item_term.append(self.term_id(term))
            self.item_offset.append(offset)
        return number


#: Items: each one's term number, position, weight and document (index).
Items = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class _TokenColumns:
    """Documents' words as numbers of a :class:`TokenTable`, one document's
    after another, with each document's number."""

    def __init__(self) -> None:
        self.table = TokenTable()
        self.tokens = array("I")
        self.docs = array("I")

    def __len__(self) -> int:
        return len(self.tokens)

    def settle_by_number(self) -> Settled | None:
        """The postings held, sorted into terms by number (for a pool's
        dictionary; None: no words), and let go."""
        return self._settled(in_order=False)

    def settle_apart(self) -> Settled | None:
        """The postings held, sorted into terms in increasing order, as a
        segment writes them (None: no words), and let go."""
        return self._settled(in_order=True)

    def _settled(self, in_order: bool) -> Settled | None:
        """The postings held, sorted into terms (None: no words); let go."""
        if not self.docs:
            return None
        tokens = np.frombuffer(self.tokens, dtype=np.uint32)
        taken = np.frombuffer(self.table.taken, dtype=np.uint32).astype(np.int64)[tokens]
        items = self._items(tokens, taken)
        settled = (_settle_items(self.table.terms, *items,
                                 np.frombuffer(self.docs, dtype=np.uint32), in_order)
                   if len(items[0]) else None)  # (documents without a word: scans)
        self._clear()
        return settled

    def _items(self, tokens: np.ndarray, taken: np.ndarray) -> Items:
        """The documents' items (see :meth:`TokenTable.items`) from their
        words' numbers and the positions each takes."""
        raise NotImplementedError

    def _clear(self) -> None:
        self.tokens, self.docs = array("I"), array("I")


class TextColumns(_TokenColumns):
    """The ``text`` field's postings, a document's tokens at a time: title,
    summary and location tokens as :class:`TokenTable` numbers, each
    document's number and its parts' numbers of tokens.  :meth:`settle`
    makes of them what :func:`thb_search.fields.text_postings` makes a
    document at a time: title terms from position 0 weighing ``title_boost``,
    the summary mark ``FIELD_GAP`` after the last, summary terms after it,
    location terms ``FIELD_GAP`` after the last summary one (a test
    compares)."""

    def __init__(self, title_boost: float, field_boost: float) -> None:
        super().__init__()
        self.title_boost = title_boost
        self.field_boost = field_boost
        self.mark = self.table.term_id(SUMMARY_MARK)
        self.parts = array("I")  # tokens of the title, summary, locations of each document
        # Documents' lengths (their terms: the field's length in each), worked
        # out for all held documents at once: summed a document at a time
        # from its tokens' numbers of terms, they took a worker 15 µs a record
        # (see lengths()).
        self._length_docs: list[int] = []
        self._lengths: list[int] = []
        self._measured = 0  # held documents whose lengths are worked out

    def add(self, title: list[str], summary: list[str], locations: list[str],
            docnum: int) -> None:
        """Add a document's tokens (its length: :meth:`lengths`)."""
        # (numbered into the array: no list a part, 4.6 -> 3.3 µs a record)
        extend, number = self.tokens.extend, self.table.ids.__getitem__
        extend(map(number, title))
        extend(map(number, summary))
        if locations:
            extend(map(number, locations))
        self.docs.append(docnum)
        self.parts.extend((len(title), len(summary), len(locations)))

    def lengths(self) -> tuple[list[int], list[int]]:
        """(document numbers, lengths) of the documents added since the last
        call, in the order they were added: a document's length is its
        terms, the summary mark's included (what
        :func:`thb_search.fields.text_postings` gives as its length)."""
        self._measure()
        taken = self._length_docs, self._lengths
        self._length_docs, self._lengths = [], []
        return taken

    def _measure(self) -> None:
        """Work out the lengths of the held documents not yet measured."""
        ndocs = len(self.docs)
        if self._measured == ndocs:
            return
        tokens = np.frombuffer(self.tokens, dtype=np.uint32)
        count = np.frombuffer(self.table.count, dtype=np.uint32)[tokens]
        per_doc = np.frombuffer(self.parts, dtype=np.uint32).reshape(ndocs, 3).sum(
            axis=1, dtype=np.int64)
        doc_of = np.repeat(np.arange(ndocs), per_doc)
        terms = np.bincount(doc_of, weights=count, minlength=ndocs).astype(np.int64) + 1
        self._length_docs.extend(self.docs[self._measured:])
        self._lengths.extend(terms[self._measured:].tolist())
        self._measured = ndocs

    def _settled(self, in_order: bool) -> Settled | None:
        self._measure()  # (before the documents' tokens are let go)
        return super()._settled(in_order)

    def _items(self, tokens: np.ndarray, taken: np.ndarray) -> Items:
        ndocs = len(self.docs)
        parts = np.frombuffer(self.parts, dtype=np.uint32).astype(np.int64)
        part_of = np.repeat(np.arange(3 * ndocs), parts)  # each token's part
        ends = np.cumsum(taken)
        totals = np.bincount(part_of, weights=taken, minlength=3 * ndocs).astype(
            np.int64).reshape(ndocs, 3)
        # Each part's first position (title 0; summary after the mark; locations
        # FIELD_GAP after the last summary term), each token's.
        title_end, summary_taken = totals[:, 0], totals[:, 1]
        mark = np.where(title_end > 0, title_end - 1 + FIELD_GAP, FIELD_GAP)
        last = np.where(summary_taken > 0, mark + summary_taken, mark)
        bases = np.stack([np.zeros(ndocs, dtype=np.int64), mark + 1, last + FIELD_GAP],
                         axis=1).ravel()
        # Positions taken before each token (from the first document's), and
        # before each part's first token (a part may be empty: the next one's).
        before = np.concatenate(([0], ends))
        part_starts = np.cumsum(parts) - parts
        token_pos = bases[part_of] + before[:-1] - before[part_starts][part_of]
        part_weight = np.tile([self.title_boost, 1.0, 1.0], ndocs)
        doc_index = np.repeat(np.arange(ndocs), parts.reshape(ndocs, 3).sum(axis=1))
        item_term, item_pos, item_weight, item_doc = self.table.items(
            tokens, token_pos, part_weight[part_of], doc_index)
        # Each document's summary mark.
        return (np.concatenate((item_term, np.full(ndocs, self.mark, dtype=np.uint32))),
                np.concatenate((item_pos, mark)),
                np.concatenate((item_weight, np.ones(ndocs))) * self.field_boost,
                np.concatenate((item_doc, np.arange(ndocs))))

    def _clear(self) -> None:
        super()._clear()
        self.parts = array("I")
        self._measured = 0


class BodyColumns(_TokenColumns):
    """A document's ``body`` postings, its words at a time (all its pages',
    one after another: :class:`thb_search.fields.BodyTokens`), as
    :class:`TokenTable` numbers; :meth:`settle` makes of them what
    :func:`thb_search.fields.body_postings` gives (positions running on
    from page to page, a term's weight its number of positions; a test
    compares)."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes = array("I")  # each document's tokens

    def add(self, tokens: list[str], page_sizes: Sequence[int], docnum: int
            ) -> tuple[int, tuple[int, ...]]:
        """Add a document's words (``page_sizes``: each page's number of
        them); returns its length (terms in all) and where each page starts
        (what :func:`thb_search.fields.body_postings` gives as ``page_starts``)."""
        ids = self.table.numbers(tokens)
        self.tokens.extend(ids)
        self.docs.append(docnum)
        self.sizes.append(len(tokens))
        words = np.array(ids, dtype=np.int64)
        taken = np.frombuffer(self.table.taken, dtype=np.uint32)[words].astype(np.int64)
        length = int(np.frombuffer(self.table.count, dtype=np.uint32)[words].sum())
        before = np.concatenate(([0], np.cumsum(taken)))
        sizes = np.asarray(page_sizes, dtype=np.int64)
        return length, tuple(before[np.cumsum(sizes) - sizes].tolist())

    def _items(self, tokens: np.ndarray, taken: np.ndarray) -> Items:
        sizes = np.frombuffer(self.sizes, dtype=np.uint32).astype(np.int64)
        doc_of = np.repeat(np.arange(len(sizes)), sizes)
        before = np.concatenate(([0], np.cumsum(taken)))
        token_pos = before[:-1] - before[np.cumsum(sizes) - sizes][doc_of]
        return self.table.items(tokens, token_pos, np.ones(len(tokens)), doc_of)

    def _clear(self) -> None:
        super()._clear()
        self.sizes = array("I")
