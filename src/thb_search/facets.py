"""Facet counts, sort orders and field lengths from per-document arrays
(no ``groupedby``).

Every order is total, so that the same catalogue lists its publications in
the same order whatever its indexing history (document numbers are not
part of any order): relevance ranks by score, then newest first, then by
id; ``date`` newest first, then by title, then by id; ``title`` by title,
then newest first, then by id.

For each facet field two parallel numpy arrays hold one pair per value a
document has (so multi-valued offices and themes count under every value):
document numbers and value ordinals.  Counting the values of any set of
documents (a boolean mask over document numbers) is then one ``bincount``;
sorting by date or title uses per-document arrays.

The writer saves these arrays beside the index after every commit
(``facets-<generation>.arrays``: a JSON header, then the arrays' bytes, mapped
by a reader rather than read), so a new process opens them in a millisecond
instead of reading every facet posting list.  A commit that only adds (or
removes) documents writes only what changed: each per-document array's new
documents' part, with the arrays that change throughout (deletions, sort
orders); the header names the whole file it takes each array's first part
from, which leaves room after each (an eighth more, as a hole), so that a
reader maps that file copy-on-write and writes the new part after the old
in its own memory.  Once the new parts outgrow an eighth of the whole file,
or a merge moves documents, the commit writes a whole file again.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import threading
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np

from .fields import SUMMARY_MARK
from .results import FacetCount
from .schema import FACET_FIELDS, POS_BITS, POS_MASK, RANK_FIELD
from .whoosh_internals import (
    ColumnBytes,
    read_keys,
    read_lengths,
    read_numbers,
    read_postings,
    reopened,
)

__all__ = ["FacetCount", "FacetIndex", "facets_file", "open_for", "save_for", "update_for"]


def _ordinal_type(n: int) -> np.dtype:
    """The narrowest type that holds the ordinals of ``n`` values: a facet's
    pairs then take 5 bytes each, not 8 (office, theme, type and year have
    tens of values), which every commit writes and syncs to disk."""
    return np.dtype(np.uint8 if n <= 1 << 8 else np.uint16 if n <= 1 << 16 else np.int32)


class _Facet:
    def __init__(self, values: list[str], docs: np.ndarray | None, ords: np.ndarray,
                 size: int, *, single: bool | None = None) -> None:
        """``single``: whether every document has one value, when known (saved
        arrays say; their pairs were saved in document order).  ``docs`` None:
        one value each, the ``d``-th pair document ``d``'s (saved arrays leave
        such a facet's documents out, as every commit would write them)."""
        self.values = values
        self.ordinal = {v: i for i, v in enumerate(values)}
        if docs is None:
            single = True
        elif single is None and len(docs) > 1 and bool(np.any(docs[1:] < docs[:-1])):
            order = np.lexsort((ords, docs))
            docs, ords = docs[order], ords[order]
        self._docs = docs  # in document order: a document's values are one run
        self.ords = ords
        self.size = size
        self._starts: np.ndarray | None = None
        self._split: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._counted: _Counted | None = None  # what counts and masks read (see below)
        # Countings over the pairs at once before the split is built (see counts).
        self._direct_left = 1
        if single is not None:
            self._counts_state().single = single

    def inherit(self, old: _Facet) -> None:
        """Take over what ``old`` (this facet as it was before a commit) has
        worked out of its pairs: where each document's run starts, and the
        split of first values and later pairs, extended by the pairs of the
        documents the commit added.  Only when the commit added documents
        and nothing else (no new value, no merge): else they are worked out
        again when needed.  The two searches after an add paid for them
        again: 3-5 ms each at 100,000 records."""
        n = len(old.ords)
        if ((old._split is None and old._starts is None) or self.single or old.single
                or self.values != old.values or self.size < old.size or len(self.ords) < n):
            return
        docs, ords = self.docs, self.ords
        if not (np.array_equal(docs[:n], old.docs) and np.array_equal(ords[:n], old.ords)):
            return
        new_docs, new_ords = docs[n:], ords[n:]
        if len(new_docs) and int(new_docs[0]) < old.size:  # (a value of an old document)
            return
        if old._starts is not None:
            starts = np.empty(self.size + 1, dtype=np.int64)
            starts[:old.size + 1] = old._starts
            counts = np.bincount(new_docs - old.size, minlength=self.size - old.size)
            np.cumsum(counts, out=starts[old.size + 1:])
            starts[old.size + 1:] += old._starts[-1]
            self._starts = starts
        if old._split is not None:
            old_first, later_docs, later_ords = old._split
            opens = np.ones(len(new_docs), dtype=bool)
            np.not_equal(new_docs[1:], new_docs[:-1], out=opens[1:])
            first = np.full(self.size, len(self.values), dtype=np.int32)
            first[:old.size] = old_first
            first[new_docs[opens]] = new_ords[opens]
            self._split = (first, np.concatenate((later_docs, new_docs[~opens])),
                           np.concatenate((later_ords, new_ords[~opens])))

    @property
    def docs(self) -> np.ndarray:
        """Each pair's document, in document order."""
        if self._docs is None:
            self._docs = np.arange(self.size, dtype=np.int32)
        return self._docs

    @classmethod
    def from_reader(cls, reader: Any, fieldname: str, size: int) -> _Facet:
        values = [v.decode("utf-8") if isinstance(v, bytes) else v
                  for v in reader.lexicon(fieldname)]
        docs, ords = [], []
        kind = _ordinal_type(len(values))
        for i, value in enumerate(values):
            ids = read_postings(reader, fieldname, value)[0].astype(np.int32)
            docs.append(ids)
            ords.append(np.full(len(ids), i, dtype=kind))
        return cls(values,
                   np.concatenate(docs) if docs else np.zeros(0, np.int32),
                   np.concatenate(ords) if ords else np.zeros(0, kind), size)

    def patched(self, moved: _Moves, fresh: list[tuple[Any, int, int]], fieldname: str,
                size: int, known: Sequence[Mapping[str, Any]] | None = None) -> _Facet:
        """This facet after a commit (see :meth:`FacetIndex.patched`): pairs of
        documents carried over moved, those of ``fresh`` segments read (or,
        ``known``, taken from the documents of the one fresh segment)."""
        values = list(self.values)
        ordinal = dict(self.ordinal)
        docs, ords = [], []
        if known is not None:
            (_, offset, _), = fresh
            pairs = [(offset + i, value) for i, doc in enumerate(known)
                     for value in dict.fromkeys(doc.get(fieldname, ()))]  # (as FacetField)
            # New values take ordinals in the order the segment's terms have.
            for value in sorted({v for _, v in pairs if v not in ordinal},
                                key=lambda v: v.encode("utf-8")):
                ordinal[value] = len(values)
                values.append(value)
            docs.append(np.array([d for d, _ in pairs], dtype=np.int64))
            ords.append(np.array([ordinal[v] for _, v in pairs], dtype=np.int32))
            fresh = []
        for segment, offset, _ in fresh:
            for raw in segment.lexicon(fieldname):
                value = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                i = ordinal.get(value)
                if i is None:
                    i = ordinal[value] = len(values)
                    values.append(value)
                ids = read_postings(segment, fieldname, value)[0] + offset
                docs.append(ids)
                ords.append(np.full(len(ids), i, dtype=np.int32))
        kind = _ordinal_type(len(values))
        new_docs = np.concatenate(docs).astype(np.int32) if docs else np.zeros(0, np.int32)
        new_ords = np.concatenate(ords).astype(kind) if ords else np.zeros(0, kind)
        order = np.lexsort((new_ords, new_docs))  # the new documents' runs, after the others
        new_docs, new_ords = new_docs[order], new_ords[order]
        old_ords = self.ords
        if old_ords.dtype.itemsize < kind.itemsize:  # new values past what the type holds
            old_ords = _plain(old_ords).astype(kind)
        if moved.moved is None:  # the new documents come after the old ones (see _Joined)
            ords = _Joined([old_ords, new_ords])
            if self.single and _one_each(new_docs, size - self.size):
                return _Facet(values, None, ords, size)
            return _Facet(values, _Joined([self.docs, new_docs]), ords, size, single=False)
        old_docs, keep = moved.docs(_plain(self.docs))
        old_ords = _plain(old_ords)
        if keep is not None:
            old_ords = old_ords[keep]
        return _Facet(values, moved.arena.concatenate([old_docs, new_docs]),
                      moved.arena.concatenate([old_ords, new_ords]), size)

    def mask(self, values: list[str]) -> np.ndarray:
        """Documents holding any of ``values`` (each value's documents are
        found once per reader: a filter then costs its documents, not a pass
        over every pair, some 0.4 ms at 100k records)."""
        out = np.zeros(self.size, dtype=bool)
        for v in values:
            i = self.ordinal.get(v)
            if i is not None:
                out[self.docs_of(i)] = True
        return out

    def docs_of(self, i: int) -> np.ndarray:
        """The documents holding the ``i``-th value (kept: all of them
        together are at most the pairs' documents again)."""
        by_value = self._counts_state().by_value
        found = by_value.get(i)
        if found is None:
            found = by_value[i] = self.docs[self.ords == i]
        return found

    def _counts_state(self) -> _Counted:
        if self._counted is None:
            self._counted = _Counted()
        return self._counted

    @property
    def starts(self) -> np.ndarray:
        """Where each document's run of values starts (and the end)."""
        if self._starts is None:
            starts = np.zeros(self.size + 1, dtype=np.int64)
            np.cumsum(np.bincount(self.docs, minlength=self.size), out=starts[1:])
            self._starts = starts
        return self._starts

    @property
    def split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each document's first value (``len(values)``: none), and the pairs
        of the values after the first (few: most documents have one)."""
        if self._split is None:
            if self.single:
                # One value each (type, year): the values are the first ones.
                none = np.zeros(0, dtype=np.int32)
                self._split = (self.ords, none, np.zeros(0, dtype=self.ords.dtype))
            else:
                docs = self.docs
                opens = np.ones(len(docs), dtype=bool)  # a pair opening its document's run
                np.not_equal(docs[1:], docs[:-1], out=opens[1:])
                first = np.full(self.size, len(self.values), dtype=np.int32)
                first[docs[opens]] = self.ords[opens]
                later = ~opens
                self._split = (first, docs[later], self.ords[later])
        return self._split

    @property
    def single(self) -> bool:
        """Whether every document has exactly one value (type, year): the
        ``d``-th pair is then document ``d``'s."""
        state = self._counts_state()
        if state.single is None:
            # In document order, as many pairs as documents: one each unless
            # some document has two (and another none).
            state.single = _one_each(self.docs, self.size)
        return state.single

    @property
    def totals(self) -> np.ndarray:
        """How many documents (deleted ones too) hold each value."""
        state = self._counts_state()
        if state.totals is None:
            state.totals = np.bincount(self.ords, minlength=len(self.values))
        return state.totals

    def counts(self, mask: np.ndarray, docs: np.ndarray | None = None) -> np.ndarray:
        """How many documents of ``mask`` hold each value (``docs``: the
        documents of ``mask``, when the caller has them).  A reader's first
        count of more than a few documents goes over the pairs at once (see
        :meth:`_counts_directly`); after that, more than half the documents
        are counted as all of them less those outside the mask;
        otherwise each document's value is read (one value each), or the runs
        of the documents (few), or every document's first value and the
        pairs of the later ones (many)."""
        if self._counts_directly(mask, docs):
            return np.bincount(self.ords[mask[self.docs]], minlength=len(self.values))
        if docs is None:
            docs = np.flatnonzero(mask)
        if 2 * len(docs) > self.size:
            return self.totals - self._counts_of(~mask, np.flatnonzero(~mask))
        return self._counts_of(mask, docs)

    def _counts_directly(self, mask: np.ndarray, docs: np.ndarray | None) -> bool:
        """Whether counting the documents of ``mask`` should go over the pairs at once:
        the first time a reader counts more than a few documents of a facet
        of several values a document.  Building the split (see
        :meth:`_counts_of`) costs three passes over the pairs, which only
        later counts repay: a ``thb-search QUERY`` process counts once (at
        100k records, office and theme: 2.5-4 ms of its first search)."""
        if self._direct_left <= 0 or self._split is not None or self.single:
            return False  # (a warm count: no pass over the mask)
        n = int(np.count_nonzero(mask)) if docs is None else len(docs)
        if self._starts is None and n * 32 <= self.size:  # few: by bisection
            return False
        self._direct_left -= 1
        return True

    def _counts_of(self, mask: np.ndarray, docs: np.ndarray) -> np.ndarray:
        m = len(self.values)
        if self.single:
            return np.bincount(self.ords[docs], minlength=m)
        if self._starts is None and len(docs) * 32 <= self.size:
            # A few documents of a reader that has not needed the runs' starts
            # yet (one just opened after a commit): find their runs by bisection
            # rather than compute every document's start first.
            wanted = docs.astype(self.docs.dtype, copy=False)
            first = np.searchsorted(self.docs, wanted)
            lengths = np.searchsorted(self.docs, wanted, side="right") - first
        else:
            first_value, more_docs, more_ords = self.split
            if 3 * len(docs) > len(more_docs):
                # Many documents: their first values, and the later pairs of those in the mask.
                counts = np.bincount(first_value[docs], minlength=m + 1)[:m]
                if len(more_docs):
                    counts += np.bincount(more_ords[mask[more_docs]], minlength=m)
                return counts
            starts = self.starts
            first = starts[docs]
            lengths = starts[docs + 1] - first
        total = int(lengths.sum())
        if total == len(docs) and bool(np.all(lengths == 1)):
            at = first  # one value each
        else:
            ends = np.cumsum(lengths)
            at = np.arange(total) + np.repeat(first - (ends - lengths), lengths)
        return np.bincount(self.ords[at], minlength=m)


def _one_each(docs: np.ndarray, n: int) -> bool:
    """Whether pairs' documents ``docs`` (in document order) are ``n``
    documents of one value each: as many pairs as documents, none twice."""
    return len(docs) == n and (len(docs) < 2 or bool(np.all(docs[1:] > docs[:-1])))


def _all_zero(array: np.ndarray | _Joined) -> bool:
    return not any(np.any(part) for part in (
        array.parts if isinstance(array, _Joined) else [array]))


def _ascending(places: list[int]) -> bool:
    """Whether insertion ``places`` never go down (see :meth:`_Arena.insert`)."""
    return all(a <= b for a, b in zip(places, places[1:], strict=False))


class _Counted:
    """What a facet's counts and masks computed once per reader: whether
    every document has one value, each value's count over all documents,
    and the documents of the values filtered by."""

    def __init__(self) -> None:
        self.single: bool | None = None
        self.totals: np.ndarray | None = None
        self.by_value: dict[int, np.ndarray] = {}


class _Arena:
    """The new arrays of a commit, carved out of one allocation.  Each new
    array of its own would be a fresh mapping whose pages fault one by one
    on first write: at 100k records the 9 MB of a commit's arrays (then) cost some
    6-9 ms of page faults, against 2-4 ms in one allocation (which numpy
    backs with huge pages).  An array that does not fit is allocated as usual."""

    def __init__(self, nbytes: int) -> None:
        self._buffer = np.empty(nbytes, dtype=np.uint8)
        self._used = 0

    def empty(self, n: int, dtype: Any) -> np.ndarray:
        dtype = np.dtype(dtype)
        start = -(-self._used // _ALIGN) * _ALIGN
        end = start + n * dtype.itemsize
        if end > len(self._buffer):
            return np.empty(n, dtype=dtype)
        self._used = end
        return self._buffer[start:end].view(dtype)

    def concatenate(self, parts: list[np.ndarray]) -> np.ndarray:
        """``np.concatenate(parts)`` (of the first part's type)."""
        out = self.empty(sum(len(p) for p in parts), parts[0].dtype)
        return np.concatenate(parts, out=out)

    def insert(self, array: np.ndarray, places: list[int], values: list[int]) -> np.ndarray:
        """``np.insert(array, places, values)``: ``places`` ascending (values
        at the same place keep their order)."""
        if not _ascending(places):
            return np.insert(array, places, values)
        out = self.empty(len(array) + len(values), array.dtype)
        at = done = 0
        for place, value in zip(places, values, strict=True):
            out[at + done:place + done] = array[at:place]
            out[place + done] = value
            at = place
            done += 1
        out[at + done:] = array[at:]
        return out


class _Joined:
    """An array as parts one after another, never joined in memory: what a
    commit that only adds documents makes of an array of the commit before
    (its parts are views of the old file's mapping, written to the new file
    as they are).  Copying them into new memory would fault every page of
    it in: in a new process, 9 MB at 100k records cost 5-15 ms here."""

    def __init__(self, parts: list[Any]) -> None:
        parts = [q for p in parts for q in (p.parts if isinstance(p, _Joined) else [p])]
        self.dtype = parts[0].dtype
        self.parts = [p.astype(self.dtype, copy=False) for p in parts if len(p)] or parts[:1]
        self._ends = list(accumulate(len(p) for p in self.parts))

    def __len__(self) -> int:
        return self._ends[-1]

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.parts)

    def __getitem__(self, i: int) -> Any:
        """One element (``i`` in range)."""
        k = bisect_right(self._ends, i)
        return self.parts[k][i - (self._ends[k - 1] if k else 0)]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.concatenate(self.parts).astype(dtype or self.dtype, copy=False)


class _Inserted:
    """An order of documents (a permutation) as an order of fewer with
    documents inserted into it: ``at``, their places in the whole
    (ascending), and ``docs``, them.  What commits that only add documents
    make of an order of the whole file their arrays take parts from: their
    files hold the inserted documents (12 bytes each) rather than the order
    (4 bytes a document), and a reader builds the order when it first lists
    one (see :meth:`FacetIndex.everything`)."""

    def __init__(self, base: np.ndarray, at: np.ndarray, docs: np.ndarray) -> None:
        self.base = base
        self.at = np.asarray(at, dtype=np.int64)
        self.docs = np.asarray(docs, dtype=np.int32)
        self.dtype = np.dtype(np.int32)
        self._at: list[int] | None = None  # (``at`` bisected: made on first use)

    def __len__(self) -> int:
        return len(self.base) + len(self.at)

    @property
    def nbytes(self) -> int:
        return self.at.nbytes + self.docs.nbytes

    def __getitem__(self, i: int) -> int:
        """One document (``i`` in range; negative from the end)."""
        if i < 0:
            i += len(self)
        if self._at is None:
            self._at = self.at.tolist()
        k = bisect_right(self._at, i)
        if k and self._at[k - 1] == i:
            return int(self.docs[k - 1])
        return int(self.base[i - k])

    def inserted(self, places: list[int], docs: list[int]) -> _Inserted:
        """``np.insert(self, places, docs)`` (``places`` ascending: documents
        at the same place keep their order)."""
        q = np.asarray(places, dtype=np.int64)
        at = np.concatenate([self.at + np.searchsorted(q, self.at, side="right"),
                             q + np.arange(len(q))])
        order = np.argsort(at, kind="stable")
        return _Inserted(self.base, at[order],
                         np.concatenate([self.docs, np.asarray(docs, np.int32)])[order])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.empty(len(self), dtype=np.int32)
        rest = np.ones(len(self), dtype=bool)
        rest[self.at] = False
        out[self.at] = self.docs
        out[rest] = self.base
        return out.astype(dtype or out.dtype, copy=False)


def _plain(array: Any) -> Any:
    """``array`` as one numpy array (a :class:`_Joined` or :class:`_Inserted`
    made one in memory)."""
    return np.asarray(array) if isinstance(array, (_Joined, _Inserted)) else array


def _inserted(array: Any, places: list[int], values: list[int]) -> _Inserted | np.ndarray:
    """``np.insert(array, places, values)``, as an :class:`_Inserted` when
    ``places`` ascend (values at the same place keep their order)."""
    if not _ascending(places):
        return np.insert(_plain(array), places, values)
    if not isinstance(array, _Inserted):
        array = _Inserted(array, np.zeros(0, np.int64), np.zeros(0, np.int32))
    return array.inserted(places, values)


def _known(added: Sequence[Mapping[str, Any]], fresh: list[tuple[Any, int, int]]
           ) -> Sequence[Mapping[str, Any]] | None:
    """``added`` when they are the documents of the one fresh segment, in
    order, and hold their facet values as lists (as the commit's writer
    indexed them: see :class:`thb_search.schema.FacetField`); else None."""
    if not added or len(fresh) != 1 or fresh[0][2] != len(added):
        return None
    for doc in added:
        for field in FACET_FIELDS.values():
            if not isinstance(doc.get(field, ()), (list, tuple)):
                return None
    return added


class _Moves:
    """Where a commit put the documents of the arrays before it: each old
    document's new number (-1: its segment was merged away).  A commit that
    keeps every old segment where it was (an add, a removal: new segments
    come after the others) moves nothing, and its arrays are the old ones
    with the new documents after them, without a gather over every document."""

    def __init__(self, moved: np.ndarray | None, old_size: int, size: int,
                 kept: set[tuple[str, int]]) -> None:
        self.moved = moved  # None: every old document keeps its number
        self.old_size = old_size
        self.size = size
        self._kept = kept
        self.arena = _Arena(0)

    @classmethod
    def between(cls, old: list[tuple[str, int]], new: list[tuple[str, int]], old_size: int,
                size: int) -> _Moves:
        """From the (segment id, documents) of the old arrays and the new reader."""
        if new[:len(old)] == old:
            return cls(None, old_size, size, set(old))
        where, start = {}, 0
        for name, n in old:
            where[name] = (start, n)
            start += n
        moved = np.full(old_size, -1, dtype=np.int64)
        kept, offset = set(), 0
        for name, n in new:
            before = where.get(name)
            if before is not None and before[1] == n:
                moved[before[0]:before[0] + n] = np.arange(offset, offset + n)
                kept.add((name, n))
            offset += n
        return cls(moved, old_size, size, kept)

    def kept(self, name: str, n: int) -> bool:
        """Whether the new reader's segment ``name`` (``n`` documents) is an old one."""
        return (name, n) in self._kept

    def carry(self, values: np.ndarray) -> np.ndarray:
        """A per-document array of the new reader: old documents' values
        carried over, zeros for the others."""
        if self.moved is None:
            return self.arena.concatenate([values, np.zeros(self.size - self.old_size,
                                                            dtype=values.dtype)])
        out = np.zeros(self.size, dtype=values.dtype)
        kept = np.flatnonzero(self.moved >= 0)
        out[self.moved[kept]] = values[kept]
        return out

    def docs(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Old document numbers' new ones (int32), those merged away left out,
        and which were kept (None: all)."""
        if self.moved is None:
            return (docs if isinstance(docs, _Inserted)
                    else docs.astype(np.int32, copy=False)), None
        where = self.moved[_plain(docs)]
        keep = where >= 0
        return where[keep].astype(np.int32), keep

    def new_docs(self, carried: np.ndarray, size: int) -> np.ndarray:
        """The documents of the new reader not among ``carried`` (the new
        numbers of every old document kept)."""
        if self.moved is None and len(carried) == self.old_size:
            return np.arange(self.old_size, size)
        present = np.zeros(size, dtype=bool)
        present[carried] = True
        return np.flatnonzero(~present)


#: The orders a browse can list publications in (see :meth:`FacetIndex.order`).
ORDERS = ("date", "title")


class FacetIndex:
    """Facet and sort arrays of one index reader."""

    def __init__(self, live: np.ndarray, datenum: np.ndarray, title_rank: np.ndarray,
                 id_rank: np.ndarray, lengths: np.ndarray, facets: dict[str, _Facet],
                 body_lengths: np.ndarray | None = None,
                 segments: list[tuple[str, int]] | None = None,
                 sorted_docs: dict[str, np.ndarray] | None = None,
                 marks: np.ndarray | None = None) -> None:
        self.size = len(live)
        self.segments = segments  # (Whoosh segment id, documents) in document order
        # Documents in title and in id order (what a commit ranks new keys among).
        self.sorted_docs = sorted_docs
        self.live = live
        self.datenum = datenum
        # Each document's rank in title order and in id order: equal keys,
        # equal ranks; ranks are spaced (see RANK_SPACING).
        self.title_rank = title_rank
        self.id_rank = id_rank
        self.lengths = lengths  # of the ranking field, for BM25
        # of the body field (0: no document; saved only when some are not)
        self.body_lengths = (body_lengths if body_lengths is not None
                             else np.zeros(len(live), dtype=np.int32))
        # Each document's position of the summary mark (title words before
        # it, summary words after; None: arrays saved before they were kept).
        self.marks = marks
        self._facets = facets
        self._orders: dict[str, np.ndarray] = {}
        # The full file of arrays the arrays of this one's next commit may
        # take their first parts from (see save); None: they take nothing.
        self.base: _Base | None = None

    def inherit(self, old: FacetIndex) -> None:
        """Take over what the arrays before a commit worked out of each
        facet (see :meth:`_Facet.inherit`)."""
        for name, facet in self._facets.items():
            before = old._facets.get(name)
            if before is not None:
                facet.inherit(before)

    @classmethod
    def from_reader(cls, reader: Any) -> FacetIndex:
        """Read the arrays from the index (some 170 ms at 100k records)."""
        size = reader.doc_count_all()
        if reader.has_deletions():
            live = np.zeros(size, dtype=bool)
            live[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
        else:
            live = np.ones(size, dtype=bool)
        datenum = read_numbers(reader, "datenum").astype(np.int32)
        title_rank, title_docs = _spaced_rank(read_keys(reader, "title_sort"))
        id_rank, id_docs = _spaced_rank(read_keys(reader, "id_sort"))
        lengths = read_lengths(reader, RANK_FIELD)
        body_lengths = read_numbers(reader, "body_len").astype(np.int32)
        facets = {name: _Facet.from_reader(reader, field, size)
                  for name, field in FACET_FIELDS.items()}
        return cls(live, datenum, title_rank, id_rank, lengths, facets, body_lengths,
                   _segments(reader), {"title_sort": title_docs, "id_sort": id_docs},
                   _marks(reader, size))

    def patched(self, reader: Any, added: Sequence[Mapping[str, Any]] = ()
                ) -> FacetIndex | None:
        """The arrays of ``reader``, a later commit of the index these are of:
        those of the segments it still has are carried over (moved to their
        new place, deletions applied), only new segments are read.  A commit
        that kept every old segment where it was (an add, a removal) makes
        each array the old one followed by the new documents' part, as
        :class:`_Joined` parts (these arrays are then for :meth:`save`).
        ``added``: the documents the commit added, in order; when its one new
        segment holds just them, their facet values and sort keys are taken
        from them rather than read back from the segment (an add of ten at
        100k records: some 250 reads of its terms file).
        None when that would not pay (most documents are new) or these
        arrays cannot say."""
        if self.segments is None or self.sorted_docs is None:
            return None
        leaves = reader.leaf_readers()
        segments = _segments(reader)
        size = sum(n for _, n in segments)
        moved = _Moves.between(self.segments, segments, self.size, size)
        fresh: list[tuple[Any, int, int]] = [  # (segment reader, start, documents)
            (segment, offset, n) for (segment, offset), (name, n) in zip(leaves, segments,
                                                                         strict=True)
            if not moved.kept(name, n)]
        if sum(n for *_, n in fresh) > max(1_000, size // 5):
            return None
        # The new arrays take about as many bytes a document as the old ones.
        moved.arena = _Arena(self._nbytes() * size // max(self.size, 1)
                             + 64 * 64 + 1024 * (size - self.size + 1))
        appended = moved.moved is None  # the new documents are those after the old ones
        known = _known(added, fresh) if appended else None

        def extended(old: np.ndarray, parts: list[np.ndarray]) -> Any:
            """A per-document array: ``old``'s values carried over, then
            ``parts`` (one a fresh segment) for the new documents."""
            if appended:
                return _Joined([old, *parts])
            out = moved.carry(_plain(old))
            for (_, offset, n), part in zip(fresh, parts, strict=True):
                out[offset:offset + n] = part
            return out

        datenum = extended(self.datenum, [read_numbers(segment, "datenum").astype(np.int32)
                                          for segment, _, _ in fresh])
        lengths = extended(self.lengths, [read_lengths(segment, RANK_FIELD)
                                          for segment, _, _ in fresh])
        body_lengths = extended(self.body_lengths, [
            read_numbers(segment, "body_len").astype(np.int32) for segment, _, _ in fresh])
        marks = (extended(self.marks, [_marks(segment, n) for segment, _, n in fresh])
                 if self.marks is not None else _marks(reader, size))
        live = moved.arena.empty(size, bool)
        live[:] = True
        for segment, offset in leaves:
            if segment.has_deletions():
                gone = np.fromiter(segment.segment().deleted_docs(), dtype=np.int64)
                live[offset + gone] = False
        ranks, sorted_docs = {}, {}
        for column, old_rank in (("title_sort", self.title_rank), ("id_sort", self.id_rank)):
            in_order = moved.docs(self.sorted_docs[column])[0]
            new = ([(fresh[0][1] + i, doc.get(column, b"")) for i, doc in enumerate(known)]
                   if known is not None else
                   [(offset + i, key) for segment, offset, _ in fresh
                    for i, key in enumerate(segment.column_reader(column))])
            with ColumnBytes(reader, column) as keys:
                if appended:
                    found = _placed(keys, old_rank, in_order, new)
                else:
                    old_rank = moved.carry(_plain(old_rank))
                    found = _place(keys, old_rank, in_order, new, moved.arena)
            if found is None:
                return None
            if appended:
                assigned, places = found
                ranks[column] = _Joined([old_rank, np.array(
                    [assigned[doc] for doc in range(self.size, size)], dtype=old_rank.dtype)])
                sorted_docs[column] = _inserted(in_order, [p for p, _ in places],
                                                [d for _, d in places])
            else:
                ranks[column], sorted_docs[column] = found
        facets = {name: self._facets[name].patched(moved, fresh, field, size, known)
                  for name, field in FACET_FIELDS.items()}
        index = FacetIndex(live, datenum, ranks["title_sort"], ranks["id_sort"], lengths, facets,
                           body_lengths, segments, sorted_docs, marks)
        index._patched_orders(self, moved)
        index.base = self.base if appended else None
        return index

    def _nbytes(self) -> int:
        """Bytes of the arrays that :meth:`save` writes (about)."""
        arrays = [self.live, self.datenum, self.title_rank, self.id_rank, self.lengths,
                  self.body_lengths, *self._orders.values(),
                  *([self.marks] if self.marks is not None else []),
                  *(self.sorted_docs or {}).values()]
        arrays += [a for facet in self._facets.values() for a in (
            facet.ords, *([] if facet.single else [facet.docs]))]
        return sum(a.nbytes for a in arrays)

    def save(self, path: Path) -> str:
        """Write the arrays to ``path``; returns the file's SHA-256."""
        arrays: dict[str, np.ndarray] = {"live": self.live, "datenum": self.datenum,
                                         "title_rank": self.title_rank,
                                         "id_rank": self.id_rank, "lengths": self.lengths}
        if not _all_zero(self.body_lengths):  # (none without documents' pages)
            arrays["body_lengths"] = self.body_lengths
        meta: dict[str, Any] = {"values": {}, "single": {}}
        for name, facet in self._facets.items():
            meta["values"][name] = facet.values
            meta["single"][name] = facet.single
            if not facet.single:  # (else the d-th pair is document d's)
                arrays[f"{name}.docs"] = facet.docs
            arrays[f"{name}.ords"] = facet.ords
        for by in ORDERS:
            order = self._orders.get(by)
            arrays[f"order.{by}"] = order if order is not None else self.everything(by)
        if self.marks is not None:
            arrays["marks"] = self.marks
        if self.segments is not None and self.sorted_docs is not None:
            meta["segments"] = self.segments
            for column, docs in self.sorted_docs.items():
                if column != "title_sort":  # (documents in title order: order.title)
                    arrays[f"{column}.sorted"] = docs
        return _save_arrays(path, arrays, meta, self._taken(arrays))

    def _taken(self, arrays: dict[str, Any]) -> Taken | None:
        """What a file of ``arrays`` takes from :attr:`base` rather than
        writes (see :class:`Taken`); None when it takes nothing.  After a
        commit that only added documents, each per-document array is the
        base's then the new documents' part, and each order the base's with
        the new documents inserted: the file holds only those parts and
        insertions (at 100k records, an add of ten writes 0.1 MB instead of
        6.0, and syncs it to disk in about 1 ms instead of 10-12).  Once they
        are more than 1/BASE_SHARE of what is taken, the file is written
        whole and becomes the base."""
        if self.base is None:
            return None
        taken: dict[str, int] = {}
        inserted: list[str] = []
        nbytes = own = 0
        for name, array in arrays.items():
            part = self.base.views.get(name)
            if part is not None and isinstance(array, _Inserted) and array.base is part:
                inserted.append(name)
                nbytes += part.nbytes
                own += array.nbytes
            elif part is not None and isinstance(array, _Joined) and array.parts[0] is part:
                if len(array) > self.base.room.get(name, 0):
                    return None  # (past the room the base left after it)
                taken[name] = len(part)
                nbytes += part.nbytes
                own += array.nbytes - part.nbytes
        if not (taken or inserted) or own * BASE_SHARE > nbytes:
            return None
        return Taken(self.base.name, taken, inserted)

    @classmethod
    def load(cls, path: Path, *, sorted_docs: bool = False) -> FacetIndex:
        """The arrays saved at ``path`` (mapped, not read: a reader touches
        only what its searches need); with ``sorted_docs``, also the documents
        in title and id order a commit patches them with (and the arrays
        that take parts of a base file stay parts: see :func:`_load_arrays`)."""
        loaded = _load_arrays(path, joined=sorted_docs)
        data, meta = loaded.arrays, loaded.head["meta"]
        live = data["live"]
        size = len(live)
        single = meta.get("single", {})
        facets = {name: _Facet(meta["values"][name], data.get(f"{name}.docs"),
                               data[f"{name}.ords"], size, single=single.get(name))
                  for name in FACET_FIELDS}
        segments = in_order = None
        if "segments" in meta:
            segments = [(str(name), int(n)) for name, n in meta["segments"]]
            if sorted_docs:
                # (order.title is in title order: ties by date and id)
                in_order = {"title_sort": data.get("title_sort.sorted", data["order.title"]),
                            "id_sort": data["id_sort.sorted"]}
        index = cls(live, data["datenum"], data["title_rank"], data["id_rank"],
                    data["lengths"], facets, data.get("body_lengths"), segments, in_order,
                    data.get("marks"))
        for by in ORDERS:
            if f"order.{by}" in data:
                index._orders[by] = data[f"order.{by}"]
        index.base = loaded.base
        return index

    def facet(self, name: str) -> _Facet:
        return self._facets[name]

    def values(self, name: str) -> list[str]:
        return self._facets[name].values

    def mask(self, name: str, values: list[str]) -> np.ndarray:
        return self._facets[name].mask(values) & self.live

    def counts(self, name: str, mask: np.ndarray, selected: list[str] = (),
               docs: np.ndarray | None = None) -> list[FacetCount]:
        """Counts of ``name``'s values over ``mask``, by count then value
        (``docs``: the documents of ``mask``, when the caller has them).

        Values with no document are left out, except ``selected`` ones.
        """
        facet = self._facets[name]
        counts = facet.counts(mask, docs)
        values = facet.values
        pairs = [(values[i], c) for i, c in zip(np.flatnonzero(counts).tolist(),
                                                 counts[counts != 0].tolist(), strict=True)]
        for v in dict.fromkeys(selected):
            i = facet.ordinal.get(v)
            if i is not None and not counts[i]:
                pairs.append((v, 0))
        pairs += [(v, 0) for v in selected if v not in facet.ordinal]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        if name == "year":
            return [FacetCount(int(v), c) for v, c in pairs]
        return [FacetCount(v, c) for v, c in pairs]

    def _order_columns(self, by: str) -> tuple[tuple[np.ndarray, int], ...]:
        """The columns of an order with their signs (-1: descending), most
        significant first: newest first, then title, then id (``date``), or
        title, newest first, then id (``title``)."""
        if by == "date":
            return (self.datenum, -1), (self.title_rank, 1), (self.id_rank, 1)
        return (self.title_rank, 1), (self.datenum, -1), (self.id_rank, 1)

    def _order_key(self, by: str) -> Callable[[int], tuple[int, ...]]:
        """One document's key in the order ``by``, without computing the keys
        of every document (:meth:`_order_keys`)."""
        columns = self._order_columns(by)
        return lambda doc: tuple(sign * int(column[doc]) for column, sign in columns)

    def _order_keys(self, by: str) -> tuple[np.ndarray, ...]:
        """The sort keys of an order, most significant first."""
        return tuple(np.asarray(column) if sign > 0 else -np.asarray(column).astype(np.int64)
                     for column, sign in self._order_columns(by))

    def everything(self, by: str) -> np.ndarray:
        """Every document (deleted ones too) in the order ``by``; saved by the
        writer with the arrays, else sorted once per reader."""
        found = self._orders.get(by)
        if found is None:
            found = self._orders[by] = np.lexsort(self._order_keys(by)[::-1]).astype(np.int32)
        elif isinstance(found, _Inserted):  # (a commit's insertions: built once)
            found = self._orders[by] = np.asarray(found)
        return found

    def order(self, mask: np.ndarray, by: str, depth: int | None = None) -> np.ndarray:
        """Document numbers of ``mask`` sorted by date (newest first, then
        title, then id) or by title (then newest first, then id); with
        ``depth``, the first ``depth`` of them, found by reading the order
        from its start in growing steps rather than all of it (a page of a
        browse reads a few thousand documents of the order, not every one:
        0.3 ms at 100k)."""
        everything = self.everything(by)
        if depth is None:
            return everything[mask[everything]]
        parts, found, start, step = [], 0, 0, 4 * depth + 1024
        while start < len(everything) and found < depth:
            chunk = everything[start:start + step]
            part = chunk[mask[chunk]]
            parts.append(part)
            found += len(part)
            start += step
            step *= 4  # a mask of few documents costs about one pass over the order
        return np.concatenate(parts)[:depth] if parts else everything[:0]

    def _patched_orders(self, old: FacetIndex, moved: _Moves) -> None:
        """The orders of these arrays from those of ``old``: documents carried
        over keep their order (their ranks did not change), new ones are
        placed by bisection (or, when they are many, everything is sorted
        again on first use)."""
        for by in ORDERS:
            if by not in old._orders:
                continue
            carried = moved.docs(old._orders[by])[0]
            new = moved.new_docs(carried, self.size)
            if len(new) > 1_000:
                continue
            key = self._order_key(by)
            places = []
            for doc in sorted(new.tolist(), key=key):
                low, high, wanted = 0, len(carried), key(doc)
                while low < high:
                    mid = (low + high) // 2
                    if key(int(carried[mid])) < wanted:
                        low = mid + 1
                    else:
                        high = mid
                places.append((low, doc))
            insert = _inserted if moved.moved is None else moved.arena.insert
            self._orders[by] = insert(carried, [p for p, _ in places], [d for _, d in places])

    def top(self, mask: np.ndarray, scores: np.ndarray, k: int | None,
            coverage: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best documents of ``mask`` (all with ``k=None``) with their
        scores: by ``coverage`` (when given, most first), then score, then
        newest first, then id."""
        docs = np.flatnonzero(mask)
        s = scores[docs]
        if k is not None and len(docs) > k:
            # Keep every document at least as good as the k-th best (ties at
            # the boundary are decided below by date and id, not by document
            # number); coverage comes first, then the score.
            key = s if coverage is None else coverage[docs] * (2.0 * s.max() + 1.0) + s
            kth = np.partition(key, len(key) - k)[len(key) - k]
            keep = key >= kth
            docs, s = docs[keep], s[keep]
        keys = [self.id_rank[docs], -self.datenum[docs], -s]
        if coverage is not None:
            keys.append(-coverage[docs])
        order = np.lexsort(keys)[:k]
        return [(int(d), float(v)) for d, v in zip(docs[order], s[order], strict=True)]


#: Ranks of sort keys are this far apart when computed, so that a commit can
#: rank a new key between two others without renumbering the rest (about 20
#: new keys in one gap; then the arrays are computed again).
RANK_SPACING = 1 << 20


def _spaced_rank(keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Each document's rank among the sorted distinct ``keys`` (each
    document's, times RANK_SPACING), and the documents in that order (equal
    keys in document order).  Python's sort, which takes runs already in
    order as they are (ids often are), not numpy's of objects: 48 ms for
    100k titles instead of 98, 4 for ids instead of 60."""
    size = len(keys)
    if not size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    order = np.array(sorted(range(size), key=keys.__getitem__), dtype=np.int64)
    ordered = np.array(keys, dtype=object)[order]
    new = np.ones(size, dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    dense = np.empty(size, dtype=np.int64)
    dense[order] = np.cumsum(new) - 1
    return dense * RANK_SPACING, order.astype(np.int32)


def _place(column: Any, ranks: np.ndarray, in_order: np.ndarray,
           new: list[tuple[int, bytes]], arena: _Arena | None = None
           ) -> tuple[np.ndarray, np.ndarray] | None:
    """Rank new documents among the others: ``ranks`` holds those of the
    others (``in_order``, sorted by rank), ``new`` the new documents' keys;
    each key is found by bisecting the others' keys (read from ``column``,
    a few reads a key).  Returns the ranks and the documents in order, or
    None when two keys left no room between them."""
    found = _placed(column, ranks, in_order, new)
    if found is None:
        return None
    assigned, places = found
    for doc, rank in assigned.items():
        ranks[doc] = rank
    return ranks, (arena or _Arena(0)).insert(in_order, [p for p, _ in places],
                                              [d for _, d in places])


def _placed(column: Any, ranks: Any, in_order: np.ndarray, new: list[tuple[int, bytes]]
            ) -> tuple[dict[int, int], list[tuple[int, int]]] | None:
    """What :func:`_place` does, without writing it: each new document's rank
    and the (place among ``in_order``, document) of each, in key order
    (``ranks`` is only read, for the others)."""
    assigned: dict[int, int] = {}
    if not new:
        return assigned, []
    if not len(in_order):
        return None
    new.sort(key=lambda pair: pair[1])
    found: list[tuple[int, int, bytes]] = []  # (place among the others, doc, key)
    for doc, key in new:
        low, high = 0, len(in_order)
        while low < high:
            mid = (low + high) // 2
            if column[int(in_order[mid])] < key:
                low = mid + 1
            else:
                high = mid
        found.append((low, doc, key))
    # New keys between the same two neighbours share that gap evenly.
    i = 0
    while i < len(found):
        place = found[i][0]
        j = i
        while j < len(found) and found[j][0] == place:
            j += 1
        group = found[i:j]  # keys above the one before ``place``, at most the one at it
        low_rank = ranks[in_order[place - 1]] if place else ranks[in_order[0]] - RANK_SPACING
        high_rank = (ranks[in_order[place]] if place < len(in_order)
                     else ranks[in_order[-1]] + RANK_SPACING)
        if place < len(in_order):
            top = column[int(in_order[place])]
            for _, doc, key in group:
                if key == top:
                    assigned[doc] = high_rank
            group = [g for g in group if g[2] != top]
        distinct = list(dict.fromkeys(key for _, _, key in group))
        if distinct and high_rank - low_rank <= len(distinct):
            return None
        step = (high_rank - low_rank) // (len(distinct) + 1)
        rank_of = {key: low_rank + step * (n + 1) for n, key in enumerate(distinct)}
        for _, doc, key in group:
            assigned[doc] = rank_of[key]
        i = j
    return assigned, [(place, doc) for place, doc, _ in found]


def _marks(reader: Any, size: int) -> np.ndarray:
    """Each document's position of the summary mark, from the mark's postings
    (a reader's, or one segment's)."""
    keys = read_postings(reader, RANK_FIELD, SUMMARY_MARK, True)[2]
    marks = np.zeros(size, dtype=np.int32)
    if keys is not None and len(keys):
        marks[keys >> POS_BITS] = keys & POS_MASK
    return marks


def _segments(reader: Any) -> list[tuple[str, int]]:
    """(segment id, documents) of each of the reader's segments, in order."""
    return [(segment.segment().segment_id(), segment.doc_count_all())
            for segment, _ in reader.leaf_readers()]


def facets_file(folder: Path, generation: int) -> Path:
    return folder / f"facets-{generation}.arrays"


#: The first bytes of a file of arrays (then the length of its JSON header).
_MAGIC = b"THB-ARRAYS 1\n"
_ALIGN = 64


#: A file of arrays takes the first parts of its per-document arrays from
#: its base (see FacetIndex._taken) while what it writes of them itself is at
#: most 1/BASE_SHARE of what it takes; a whole file leaves as much room after
#: each of them (and 1,024 values at least).
BASE_SHARE = 8

#: Arrays a file of arrays never takes from its base: they change where
#: documents are not new (deletions, orders).
_NEVER_TAKEN = frozenset({"live", *(f"order.{by}" for by in ORDERS), "title_sort.sorted",
                          "id_sort.sorted"})

#: Zeros to hash for the room a whole file leaves after its arrays.
_ZEROS = bytes(1 << 20)


def _room(n: int) -> int:
    """The values a whole file has room for in an array of ``n``: ``n`` and
    those of later commits' documents (see :func:`_load_arrays`)."""
    return n + max(1024, n // BASE_SHARE)


class Taken:
    """What a file of arrays takes from its base (a whole file): the base's
    name, the per-document arrays of which it takes the first values (how
    many), the orders into which it inserts documents.  (Not a NamedTuple:
    making one costs a new process 0.3 ms.)"""

    __slots__ = ("base", "counts", "inserted")

    def __init__(self, base: str, counts: dict[str, int], inserted: list[str]) -> None:
        self.base = base
        self.counts = counts
        self.inserted = inserted


def _save_arrays(path: Path, arrays: dict[str, Any], meta: dict[str, Any],
                 taken: Taken | None = None) -> str:
    """Write arrays as one file: a JSON header (each array's type, length,
    place and room), then the arrays' bytes, each 64-byte aligned (zeros
    between them).  ``taken``: what the file takes from its base (the
    base's first values of per-document arrays are not written; an order
    is written as the documents inserted into the base's and their places),
    and the header names the base (see :func:`_load_arrays`).  A whole
    file (``taken`` None) leaves room after each array a later file may
    take (a hole: it takes no disk).
    Returns the file's SHA-256, which its signature needs: computed from
    the arrays in memory (by a thread while they are written when they are
    many: hashlib and the writes release the GIL), not by reading the file
    again (at 100k records, 6 MB: some 8 ms of SHA-256 here, besides the
    reading).  The file is not synced to disk here: the signature that
    vouches for it syncs it first (:func:`thb_search.trust.sign`), with the
    commit's other files (an add's own fsync took 0.7 ms)."""
    places: dict[str, list[Any]] = {}
    offset = 0
    parts: list[Any] = []  # bytes to write, or how many zero bytes to leave
    counts = taken.counts if taken is not None else {}
    inserted = taken.inserted if taken is not None else []
    own: dict[str, Any] = {}
    for name, array in arrays.items():
        if name in inserted:  # (the documents inserted and their places)
            own[f"{name}.at"], own[f"{name}.docs"] = array.at, array.docs
        else:
            own[name] = _plain(array) if isinstance(array, _Inserted) else array
    for name, array in own.items():
        pieces = [np.ascontiguousarray(p) for p in (
            array.parts if isinstance(array, _Joined) else [array])]
        if name in counts:
            pieces = pieces[1:]  # (the base's part)
        dtype = np.dtype(array.dtype)
        count = sum(int(p.size) for p in pieces)
        room = _room(count) if taken is None and name not in _NEVER_TAKEN else count
        places[name] = [dtype.str, count, offset, room]
        parts += [memoryview(p.reshape(-1)).cast("B") for p in pieces]  # no copy
        nbytes = count * dtype.itemsize
        size = -(-room * dtype.itemsize // _ALIGN) * _ALIGN
        if size > nbytes:
            parts.append(size - nbytes)
        offset += size
    head_data: dict[str, Any] = {"arrays": places, "meta": meta}
    if taken is not None:
        head_data["base"] = {"file": taken.base, "taken": counts, "inserted": inserted}
    header = json.dumps(head_data, ensure_ascii=False).encode("utf-8")
    head = _MAGIC + len(header).to_bytes(8, "little") + header
    start = -(-len(head) // _ALIGN) * _ALIGN
    parts.insert(0, head + bytes(start - len(head)))
    digest = hashlib.sha256()

    def hash_parts() -> None:
        for part in parts:
            if isinstance(part, int):
                for at in range(0, part, len(_ZEROS)):
                    digest.update(_ZEROS[:min(len(_ZEROS), part - at)])
            else:
                digest.update(part)

    hasher = None
    if offset > _HASHED_IN_TURN:
        hasher = threading.Thread(target=hash_parts, name="thb-hash-arrays")
        hasher.start()
    else:  # (a commit's few new documents: a thread takes longer to start)
        hash_parts()
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                if isinstance(part, int):
                    f.seek(part, os.SEEK_CUR)
                else:
                    f.write(part)
            f.truncate()  # (to its end: a room last is a hole too)
    finally:
        if hasher is not None:
            hasher.join()
    tmp.replace(path)
    return digest.hexdigest()


#: Arrays' bytes :func:`_save_arrays` hashes itself before writing them, rather
#: than by a thread while it writes them.
_HASHED_IN_TURN = 1 << 20


def _mapped(path: Path, *, private: bool = False) -> tuple[mmap.mmap, dict[str, Any], int]:
    """A file :func:`_save_arrays` wrote, mapped (``private``: copy on write:
    what is written stays in this process's memory), its header, and where
    its arrays start."""
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY if private
                           else mmap.ACCESS_READ)
    if mapped[:len(_MAGIC)] != _MAGIC:
        raise ValueError(f"{path.name} is not a file of arrays")
    size = int.from_bytes(mapped[len(_MAGIC):len(_MAGIC) + 8], "little")
    head = json.loads(mapped[len(_MAGIC) + 8:len(_MAGIC) + 8 + size].decode("utf-8"))
    return mapped, head, -(-(len(_MAGIC) + 8 + size) // _ALIGN) * _ALIGN


def _read_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays a file :func:`_save_arrays` wrote holds itself, as
    read-only views of its mapping (the pages are read when used), and its
    header."""
    mapped, head, start = _mapped(path)
    arrays = {name: np.frombuffer(mapped, dtype=np.dtype(place[0]), count=place[1],
                                  offset=start + place[2])
              for name, place in head["arrays"].items()}
    return arrays, head


def base_of(path: Path) -> str | None:
    """The name of the file a file of arrays takes parts from, or None (also
    when it is missing or cannot be read)."""
    try:
        base = _mapped(path)[1].get("base")
    except (OSError, ValueError):
        return None
    return None if base is None else str(base["file"])


def _rooms(head: dict[str, Any]) -> dict[str, int]:
    """How many values each array a later file may take has room for in the
    file of ``head`` (as many as it holds in a file saved without room)."""
    return {name: int(place[3]) if len(place) > 3 else int(place[1])
            for name, place in head["arrays"].items() if name not in _NEVER_TAKEN}


class _Base:
    """A whole file that a commit's file of arrays may take its first parts
    from: its name, those arrays (views of its mapping) and the room each
    has in the file (values)."""

    def __init__(self, name: str, views: dict[str, np.ndarray], room: dict[str, int]) -> None:
        self.name = name
        self.views = views
        self.room = room


class _Loaded:
    """What :func:`_load_arrays` gives."""

    def __init__(self, arrays: dict[str, Any], head: dict[str, Any], base: _Base | None
                 ) -> None:
        self.arrays = arrays
        self.head = head
        self.base = base  # (joined loads only)


def _load_arrays(path: Path, *, joined: bool = False) -> _Loaded:
    """The arrays of a file :func:`_save_arrays` wrote (read-only views of its
    mapping), and its header.  An array that takes its first part from the
    base file the header names is, ``joined``, a :class:`_Joined` of the
    two (a writer's: the parts are written as they are, or left to the
    base; an order into which it inserts documents, an :class:`_Inserted`);
    else one array, in the room the base file left after its part:
    the base is mapped copy-on-write and this file's part written after
    the base's, so that only the pages written are copied (an add of ten
    records at a million: a few pages, not 43 MB).  The base of ``joined``
    arrays: the file's own when it takes nothing, else the one it takes from."""
    arrays, head = _read_arrays(path)
    taken = head.get("base")
    if taken is None:
        base = None
        if joined:
            base = _Base(path.name, dict(arrays), _rooms(head))
        return _Loaded(arrays, head, base)
    name = str(taken["file"])
    if not name.startswith("facets-") or Path(name).name != name:
        raise ValueError(f"{path.name} names {name!r} as its base")
    mapped, base_head, start = _mapped(path.with_name(name), private=not joined)
    if "base" in base_head:
        raise ValueError(f"{path.name}'s base {name} has a base of its own")
    rooms = _rooms(base_head)
    views: dict[str, np.ndarray] = {}
    for array in taken.get("inserted", []):
        dtype, n, offset, *_ = base_head["arrays"][array]
        views[array] = part = np.frombuffer(mapped, dtype=np.dtype(dtype), count=n,
                                            offset=start + offset)
        at, docs = arrays.pop(f"{array}.at"), arrays.pop(f"{array}.docs")
        if len(at) and not (0 <= at[0] and at[-1] < n + len(at)):
            raise ValueError(f"{path.name} inserts into {array} past its end")
        arrays[array] = _Inserted(part, at, docs)
    for array, count in taken["taken"].items():
        dtype, n, offset, *_ = base_head["arrays"][array]
        own = arrays[array]
        if np.dtype(dtype) != own.dtype or n < count:
            raise ValueError(f"{path.name} takes more of {array} than {name} has")
        if joined:
            views[array] = part = np.frombuffer(mapped, dtype=own.dtype, count=count,
                                                offset=start + offset)
            arrays[array] = _Joined([part, own])
            continue
        if count + len(own) > rooms.get(array, n):
            raise ValueError(f"{path.name} takes {array} past the room {name} has")
        whole = np.frombuffer(mapped, dtype=own.dtype, count=count + len(own),
                              offset=start + offset)
        whole[count:] = own  # (copies the pages written, not the file's)
        whole.flags.writeable = False
        arrays[array] = whole
    return _Loaded(arrays, head, _Base(name, views, rooms) if joined else None)


#: What saving a generation's arrays wrote: {file name: (its SHA-256, its
#: stat once written)}, for :func:`thb_search.trust.sign`, which then need not
#: read the file again.
Written = dict[str, tuple[str, os.stat_result]]


def _written(path: Path, digest: str) -> Written:
    return {path.name: (digest, path.stat())}


def save_for(ix: Any, folder: Path) -> Written:
    """Compute and save the arrays of the index's latest generation (those of
    older generations are removed once the commit is signed)."""
    path = facets_file(folder, ix.latest_generation())
    with ix.reader() as reader:
        return _written(path, FacetIndex.from_reader(reader).save(path))


def update_for(ix: Any, folder: Path, previous: int, before: Any | None = None,
               added: Sequence[Mapping[str, Any]] = ()) -> Written:
    """Save the arrays of the index's latest generation, patched from those
    of generation ``previous`` when they are there (see
    :meth:`FacetIndex.patched`, which takes ``added``), else computed.
    ``before``: a reader of generation ``previous``, whose segment readers
    this call takes over (and closes)."""
    path = facets_file(folder, ix.latest_generation())
    with reopened(ix, before) as reader:
        index = None
        try:
            old = FacetIndex.load(facets_file(folder, previous), sorted_docs=True)
            index = old.patched(reader, added)
        except (OSError, KeyError, ValueError):
            pass
        if index is None:
            index = FacetIndex.from_reader(reader)
        return _written(path, index.save(path))


def open_for(reader: Any, folder: Path, generation: int) -> FacetIndex:
    """The arrays of a reader of ``generation``: loaded when saved, else read."""
    path = facets_file(folder, generation)
    try:
        index = FacetIndex.load(path)
        if index.size == reader.doc_count_all():
            return index
    except (OSError, KeyError, ValueError):
        pass
    return FacetIndex.from_reader(reader)
