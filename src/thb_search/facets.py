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
(``facets-<generation>.npz``), so a new process loads them in a millisecond
instead of reading every facet posting list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .results import FacetCount
from .schema import FACET_FIELDS, RANK_FIELD
from .whoosh_internals import read_lengths, read_postings

__all__ = ["FacetCount", "FacetIndex", "facets_file", "open_for", "save_for"]


class _Facet:
    def __init__(self, values: list[str], docs: np.ndarray, ords: np.ndarray,
                 size: int) -> None:
        self.values = values
        self.ordinal = {v: i for i, v in enumerate(values)}
        self.docs = docs
        self.ords = ords
        self.size = size

    @classmethod
    def from_reader(cls, reader: Any, fieldname: str, size: int) -> _Facet:
        values = [v.decode("utf-8") if isinstance(v, bytes) else v
                  for v in reader.lexicon(fieldname)]
        docs, ords = [], []
        for i, value in enumerate(values):
            ids = read_postings(reader, fieldname, value)[0].astype(np.int32)
            docs.append(ids)
            ords.append(np.full(len(ids), i, dtype=np.int32))
        return cls(values,
                   np.concatenate(docs) if docs else np.zeros(0, np.int32),
                   np.concatenate(ords) if ords else np.zeros(0, np.int32), size)

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
    """Facet and sort arrays of one index reader."""

    def __init__(self, live: np.ndarray, datenum: np.ndarray, title_rank: np.ndarray,
                 id_rank: np.ndarray, lengths: np.ndarray, facets: dict[str, _Facet],
                 body_lengths: np.ndarray | None = None) -> None:
        self.size = len(live)
        self.live = live
        self.datenum = datenum
        self.title_rank = title_rank  # each document's rank in title order (equal titles: equal)
        self.id_rank = id_rank  # each document's rank in id order
        self.lengths = lengths  # of the ranking field, for BM25
        # of the body field (0: no document)
        self.body_lengths = (body_lengths if body_lengths is not None
                             else np.zeros(len(live), dtype=np.int64))
        self._facets = facets
        self._orders: dict[str, np.ndarray] = {}

    @classmethod
    def from_reader(cls, reader: Any) -> FacetIndex:
        """Read the arrays from the index (a few hundred ms at 100k records)."""
        size = reader.doc_count_all()
        live = np.zeros(size, dtype=bool)
        live[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
        datenum = np.fromiter(reader.column_reader("datenum"), dtype=np.int32, count=size)
        title_rank = _dense_rank(reader.column_reader("title_sort"), size)
        id_rank = _dense_rank(reader.column_reader("id_sort"), size)
        lengths = read_lengths(reader, RANK_FIELD)
        body_lengths = np.fromiter(reader.column_reader("body_len"), dtype=np.int64,
                                   count=size)
        facets = {name: _Facet.from_reader(reader, field, size)
                  for name, field in FACET_FIELDS.items()}
        return cls(live, datenum, title_rank, id_rank, lengths, facets, body_lengths)

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {"live": self.live, "datenum": self.datenum,
                                         "title_rank": self.title_rank,
                                         "id_rank": self.id_rank, "lengths": self.lengths,
                                         "body_lengths": self.body_lengths}
        for name, facet in self._facets.items():
            arrays[f"{name}.values"] = np.array(facet.values, dtype=str)
            arrays[f"{name}.docs"] = facet.docs
            arrays[f"{name}.ords"] = facet.ords
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> FacetIndex:
        with np.load(path, allow_pickle=False) as data:
            live = data["live"]
            size = len(live)
            facets = {name: _Facet([str(v) for v in data[f"{name}.values"]],
                                   data[f"{name}.docs"], data[f"{name}.ords"], size)
                      for name in FACET_FIELDS}
            return cls(live, data["datenum"], data["title_rank"], data["id_rank"],
                       data["lengths"], facets, data["body_lengths"])

    def facet(self, name: str) -> _Facet:
        return self._facets[name]

    def values(self, name: str) -> list[str]:
        return self._facets[name].values

    def mask(self, name: str, values: list[str]) -> np.ndarray:
        return self._facets[name].mask(values) & self.live

    def counts(self, name: str, mask: np.ndarray, selected: list[str] = ()) -> list[FacetCount]:
        """Counts of ``name``'s values over ``mask``, by count then value.

        Values with no document are left out, except ``selected`` ones.
        """
        facet = self._facets[name]
        counts = facet.counts(mask)
        keep = set(selected)
        pairs = [(v, int(c)) for v, c in zip(facet.values, counts, strict=True)
                 if c or v in keep]
        pairs += [(v, 0) for v in selected if v not in facet.ordinal]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        if name == "year":
            return [FacetCount(int(v), c) for v, c in pairs]
        return [FacetCount(v, c) for v, c in pairs]

    def order(self, mask: np.ndarray, by: str) -> np.ndarray:
        """Document numbers of ``mask`` sorted by date (newest first, then
        title, then id) or by title (then newest first, then id)."""
        everything = self._orders.get(by)
        if everything is None:
            if by == "date":
                keys = (self.id_rank, self.title_rank, -self.datenum)
            else:
                keys = (self.id_rank, -self.datenum, self.title_rank)
            # Sorted once per reader; each browse then only filters it.
            everything = self._orders[by] = np.lexsort(keys)
        return everything[mask[everything]]

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


def _dense_rank(column: Any, size: int) -> np.ndarray:
    """Each document's rank among the column's sorted distinct values."""
    values = np.array(list(column), dtype=object)
    if not size:
        return np.zeros(0, dtype=np.int32)
    return np.unique(values, return_inverse=True)[1].astype(np.int32).reshape(size)


def facets_file(folder: Path, generation: int) -> Path:
    return folder / f"facets-{generation}.npz"


def save_for(ix: Any, folder: Path) -> None:
    """Compute and save the arrays of the index's latest generation (those of
    older generations are removed once the commit is signed)."""
    with ix.reader() as reader:
        FacetIndex.from_reader(reader).save(facets_file(folder, ix.latest_generation()))


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
