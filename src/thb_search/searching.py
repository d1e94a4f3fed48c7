"""The catalogue: an index folder opened for searching."""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import retrieval
from .errors import RecordNotFoundError
from .filters import resolve_filters, resolve_value
from .indexdir import DEFAULT_WAIT, IndexDir
from .results import FacetCount, Filters, PageText, Publication, SearchResult
from .snapshot import Snapshot, start_letting_go

if TYPE_CHECKING:
    from .indexing import Notify
    from .refresher import Refresher

F = TypeVar("F", bound=Callable[..., Any])


def _one_at_a_time(method: F) -> F:
    """``method`` run holding the catalogue's lock: a snapshot's caches are
    not made for threads, and the refresher replaces the snapshot."""

    @functools.wraps(method)
    def locked(self: Catalogue, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


#: Catalogues whose refresher runs: a forked child has not that thread, and
#: its copy of a catalogue's lock may be held by it.
_refreshed: weakref.WeakSet[Catalogue] = weakref.WeakSet()


def _forked() -> None:
    for catalogue in list(_refreshed):
        catalogue._lock = threading.RLock()
        catalogue._refresher = None  # (each search sees commits itself, as before)


os.register_at_fork(after_in_child=_forked)


class Catalogue:
    """A searchable index folder.

    ``Catalogue(index_dir)`` opens an existing index; with ``corpus`` it is
    first built from those catalogue files when missing (or rebuilt when
    outdated), telling ``notify`` so.  Every call answers from the index as
    last committed: a catalogue kept open sees what another process adds.
    Calls from several threads run one at a time.  A catalogue asked more
    than once opens each new commit in a thread of its own as soon as it is
    signed (:mod:`thb_search.refresher`); :meth:`close` ends that thread.
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
        if corpus is not None and (not self.dir.exists() or self.dir.is_outdated()):
            # The writer side (indexing, PDF reading, worker processes) is
            # imported only when there is an index to build: a search of a
            # usable index does not pay for it (some 15-20 ms of a new process).
            from .indexing import ensure_index

            ensure_index(self.dir.root, corpus, wait=wait, notify=notify)
        self._lock = threading.RLock()
        self._snapshot: Snapshot | None = Snapshot.open(self.dir)
        # Searches asked of this catalogue: one that asks again lives on, and
        # starts the threads that let go of what a commit replaces and that
        # open each new commit.
        self._asked = 0
        self._refresher: Refresher | None = None

    def _latest(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = Snapshot.open(self.dir)
        else:
            self._snapshot = self._snapshot.fresh()
            self._asked += 1
            if self._asked == 2:  # (a `thb-search QUERY` process asks once)
                start_letting_go()
                from .refresher import Refresher

                self._refresher = Refresher.start(self, Catalogue._refresh, self.dir.root,
                                                  self._snapshot.gen)
                if self._refresher is not None:
                    _refreshed.add(self)
        return self._snapshot

    def _refresh(self) -> Path | None:
        """Bring the snapshot to the latest commit (for the refresher); the
        live generation's folder.  A problem is left for the next search to
        meet and report."""
        with self._lock:
            if self._snapshot is None:
                return None
            try:
                self._snapshot = self._snapshot.fresh()
            except Exception:  # noqa: BLE001 - the next search raises it, and says how to fix it
                return None
            return self._snapshot.gen

    def close(self) -> None:
        if self._refresher is not None:  # (not holding the lock: the thread may wait for it)
            self._refresher.stop()
            self._refresher = None
        with self._lock:
            if self._snapshot is not None:
                self._snapshot.close()
                self._snapshot = None

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @_one_at_a_time
    def __len__(self) -> int:
        return len(self._latest())

    # -- filters ------------------------------------------------------------

    @_one_at_a_time
    def facet_values(self, facet: str) -> list[str]:
        """Every value of ``facet`` in the index."""
        return list(self._latest().arrays.values(facet))

    @_one_at_a_time
    def resolve_value(self, facet: str, value: str) -> list[str]:
        """The index value(s) a filter value stands for: the exact value (any
        case), a known acronym (``ODIHR``), or any unambiguous part of one value
        (``bosnia``); for ``year``, a year or a range.  Raises
        :class:`~thb_search.errors.UnknownFilterValueError` listing the closest
        values when there is no such value or several."""
        return resolve_value(self.facet_values(facet) if facet != "year" else [], facet, value)

    @_one_at_a_time
    def resolve_filters(
        self,
        office: Iterable[str] = (),
        theme: Iterable[str] = (),
        type: Iterable[str] = (),
        year: Iterable[str | int] = (),
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
    ) -> Filters:
        """Typed filter values resolved to the index's values."""
        return resolve_filters(self.resolve_value, office, theme, type, year, since, until)

    # -- searching ----------------------------------------------------------

    @_one_at_a_time
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
        fields: Iterable[str] | None = None,
    ) -> SearchResult:
        """Ranked keyword search with disjunctive facet counts.

        Every word must match (``match="all"``); when that finds nothing,
        publications matching part of the query are shown, those matching more
        words first, and when it finds fewer than a page, up to five of those
        follow as ``related``.  ``match="any"`` ranks every publication
        containing any word.  Filters: OR within one facet, AND across facets.
        With ``facets=False`` the facet counts are left out.  ``fields`` (some
        of title, summary, body; all by default) are where words that name no
        field of their own are looked for.
        """
        snapshot = self._latest()  # one state for the filters' values and the search

        def resolve(facet: str, value: str) -> list[str]:
            values = list(snapshot.arrays.values(facet)) if facet != "year" else []
            return resolve_value(values, facet, value)

        request = retrieval.SearchRequest(
            query, resolve_filters(resolve, office, theme, type, year, since, until), sort,
            limit, page, match, explain, facets,
            retrieval.search_fields(fields))
        return retrieval.search(snapshot, request)

    @_one_at_a_time
    def ranked_ids(self, query: str, *, match: str = "any", depth: int = 1000,
                   literal: bool = True) -> list[tuple[str, float]]:
        """The top ``depth`` ids with their scores, ranked exactly as ``search``
        ranks them (no filters, facets or snippets): for evaluation runs."""
        return retrieval.ranked_ids(self._latest(), query, match=match, depth=depth,
                                    literal=literal)

    # -- records ------------------------------------------------------------

    @_one_at_a_time
    def get(self, rid: str) -> Publication:
        """The publication with id ``rid`` (or the one id starting with ``rid``)."""
        snapshot = self._latest()
        return snapshot.publication(snapshot.docnum(rid))

    @_one_at_a_time
    def similar(self, rid: str, *, limit: int = 10, page: int = 1,
                terms: int = 20) -> SearchResult:
        """The publications most like ``rid`` (its most distinctive words, as
        one OR query)."""
        return retrieval.similar(self._latest(), rid, limit=limit, page=page, terms=terms)

    @_one_at_a_time
    def page(self, rid: str, number: int, query: str = "") -> PageText:
        """Page ``number`` of the document of publication ``rid``, the words of
        ``query`` marked."""
        return retrieval.page(self._latest(), rid, number, query)

    @_one_at_a_time
    def document_path(self, rid: str) -> Path:
        """The PDF file of publication ``rid``'s document."""
        snapshot = self._latest()
        docnum = snapshot.docnum(rid)
        document = snapshot.document(docnum)
        if document is None or not Path(document.file).is_file():
            raise RecordNotFoundError(
                f"publication {snapshot.publication(docnum).id!r} has no document")
        return Path(document.file)

    @_one_at_a_time
    def facets(self) -> dict[str, tuple[FacetCount, ...]]:
        """Every facet value of the catalogue with its count."""
        return retrieval.all_facets(self._latest())
