"""Facet counts from per-reader arrays (no ``groupedby``).

For each facet field the reader's postings are read once into two parallel
numpy arrays, document numbers and value ordinals (one pair per value a
document holds, so multi-valued offices and themes count under every value).
Counting the values of any set of documents (a boolean mask over document
numbers) is then one ``bincount``; sorting by date or title uses per-document
arrays built the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .schema import FACET_FIELDS


@dataclass(frozen=True)
class FacetCount:
    """One facet value and the number of publications under it."""

    value: str | int
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "count": self.count}


class _Facet:
    def __init__(self, reader: Any, fieldname: str, size: int) -> None:
        self.values: list[str] = [v.decode("utf-8") if isinstance(v, bytes) else v
                                  for v in reader.lexicon(fieldname)]
        self.ordinal = {v: i for i, v in enumerate(self.values)}
        docs, ords = [], []
        for i, value in enumerate(self.values):
            ids = np.fromiter(reader.postings(fieldname, value).all_ids(), dtype=np.int64)
            docs.append(ids)
            ords.append(np.full(len(ids), i, dtype=np.int32))
        self.docs = np.concatenate(docs) if docs else np.zeros(0, np.int64)
        self.ords = np.concatenate(ords) if ords else np.zeros(0, np.int32)
        self.size = size

    def mask(self, values: list[str]) -> np.ndarray:
        """Documents holding any of ``values``."""
        wanted = np.zeros(len(self.values) + 1, dtype=bool)
        for v in values:
            if v in self.ordinal:
                wanted[self.ordinal[v]] = True
        out = np.zeros(self.size, dtype=bool)
        out[self.docs[wanted[self.ords]]] = True
        return out

    def counts(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.ords[mask[self.docs]], minlength=len(self.values))


class FacetIndex:
    """Facet and sort arrays of one index reader (build once per searcher)."""

    def __init__(self, reader: Any) -> None:
        self.size = reader.doc_count_all()
        self.live = np.zeros(self.size, dtype=bool)
        self.live[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
        self._reader = reader
        self._facets: dict[str, _Facet] = {}
        self._datenum: np.ndarray | None = None
        self._title_rank: np.ndarray | None = None

    def facet(self, name: str) -> _Facet:
        if name not in self._facets:
            self._facets[name] = _Facet(self._reader, FACET_FIELDS[name], self.size)
        return self._facets[name]

    def values(self, name: str) -> list[str]:
        return self.facet(name).values

    def mask(self, name: str, values: list[str]) -> np.ndarray:
        return self.facet(name).mask(values) & self.live

    def counts(self, name: str, mask: np.ndarray, selected: list[str] = ()) -> list[FacetCount]:
        """Counts of ``name``'s values over ``mask``, by count then value.

        Values with no document are left out, except ``selected`` ones.
        """
        facet = self.facet(name)
        counts = facet.counts(mask)
        keep = set(selected)
        pairs = [(v, int(c)) for v, c in zip(facet.values, counts) if c or v in keep]
        pairs += [(v, 0) for v in selected if v not in facet.ordinal]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        if name == "year":
            return [FacetCount(int(v), c) for v, c in pairs]
        return [FacetCount(v, c) for v, c in pairs]

    def mask_of(self, docnums: Any) -> np.ndarray:
        out = np.zeros(self.size, dtype=bool)
        ids = np.fromiter(docnums, dtype=np.int64)
        if len(ids):
            out[ids] = True
        return out & self.live

    @property
    def datenum(self) -> np.ndarray:
        if self._datenum is None:
            col = self._reader.column_reader("datenum")
            self._datenum = np.fromiter((col[i] for i in range(self.size)), dtype=np.int64,
                                        count=self.size)
        return self._datenum

    @property
    def title_rank(self) -> np.ndarray:
        if self._title_rank is None:
            col = self._reader.column_reader("title_sort")
            keys = [col[i] for i in range(self.size)]
            order = sorted(range(self.size), key=keys.__getitem__)
            rank = np.empty(self.size, dtype=np.int64)
            rank[np.array(order, dtype=np.int64)] = np.arange(self.size)
            self._title_rank = rank
        return self._title_rank

    def order(self, mask: np.ndarray, by: str) -> np.ndarray:
        """Document numbers of ``mask`` sorted by date (newest first, then title)
        or by title."""
        docs = np.flatnonzero(mask)
        if by == "date":
            keys = (self.title_rank[docs], -self.datenum[docs])
        else:
            keys = (-self.datenum[docs], self.title_rank[docs])
        return docs[np.lexsort(keys)]
