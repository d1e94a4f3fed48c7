"""One committed state of the index, open for searching.

A :class:`Snapshot` holds what a search reads: the Whoosh reader (stored
fields, the term lexicon), the per-document arrays (:mod:`thb_search.facets`),
the engine with its postings cache, and the words the index has met.  It
never changes; :meth:`Snapshot.fresh` returns a new one when a writer has
committed since, so a long-lived :class:`~thb_search.searching.Catalogue`
(the web server's) answers every request from the latest commit.  The new
one keeps what the old one had read of the segments the commit left alone
(the engine's caches, see :mod:`thb_search.engine`).
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from whoosh.index import EmptyIndexError

from .analysis import add_term_source, remove_term_source
from .dataclass import dataclass
from .engine import Engine, Segment
from .errors import IndexCorruptError, IndexOutdatedError, RecordNotFoundError
from .facets import FacetIndex, facets_file, open_for
from .fields import SUMMARY_MARK
from .filters import listing
from .indexdir import IndexDir
from .lexicon import Lexicon
from .locations import display_path
from .results import Publication
from .schema import RANK_FIELD, live_docnum
from .texts import TextStore
from .trust import verify
from .whoosh_internals import not_taken_over, open_columns, read_postings, reopened


@dataclass(frozen=True)
class StoredDocument:
    """A publication's document as the index holds it."""

    file: str
    sha256: str
    pages: int
    page_starts: tuple[int, ...]  # the first body position of each page


class ReaderTerms:
    """The ranking field's terms, for expanding wildcards and fuzzy words
    (:class:`thb_search.plan.TermLexicon`)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def prefixed(self, prefix: str) -> list[str]:
        return _words(self.reader.expand_prefix(RANK_FIELD, prefix))

    def matching(self, pattern: str) -> list[str]:
        regex = re.compile(fnmatch.translate(pattern))
        prefix = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
        candidates = (self.reader.expand_prefix(RANK_FIELD, prefix) if prefix
                      else self.reader.lexicon(RANK_FIELD))
        return [t for t in _words(candidates) if regex.match(t)]

    def within(self, term: str, distance: int) -> list[str]:
        return sorted(_words(self.reader.terms_within(RANK_FIELD, term, distance, prefix=1)))


def _words(terms: Any) -> list[str]:
    """Index terms as text, without the summary mark (not a word)."""
    out = (t.decode("utf-8") if isinstance(t, bytes) else t for t in terms)
    return [t for t in out if t != SUMMARY_MARK]


#: Seconds after a commit is seen that the state it replaced is let go: by
#: then the search that saw the commit is done (freeing a removed file's pages
#: holds the process's memory map, which that search's page faults wait for).
LET_GO_AFTER = 0.5
_LET_GO: Any = None  # the queue of what to let go (made on first use)
_start_lock = threading.Lock()


def _let_go(closing: list[Callable[[], None]], held: list[Any]) -> None:
    """Call ``closing`` and drop ``held`` (the caller's last references) in
    a thread of their own: unmapping arrays and closing files releases the
    GIL, so a search goes on meanwhile."""
    start_letting_go().put((time.monotonic() + LET_GO_AFTER, closing, held))


def start_letting_go() -> Any:
    """The queue of what :func:`_let_go` is given, its thread started if it
    is not yet.  A process that lives on (a server, a notebook) starts it
    before it sees a commit (see :meth:`thb_search.Catalogue._latest`): the
    search that sees the first commit then does not start it, and does not
    share the GIL with a thread starting (that search at 100k records, 14
    runs each: 5.5-12.5 ms, median 6.7, with the thread started there,
    against 5.2-7.0, median 6.1).  It
    starts without waiting for the thread to run (as ``threading.Thread.start``
    waits, 1.4-3.3 ms with the import of ``queue``, against 0.05 ms), as a
    daemon thread: it does not hold the process at exit."""
    global _LET_GO
    with _start_lock:
        if _LET_GO is None:
            import _thread

            try:  # (the C queue that queue.SimpleQueue is, without queue's import)
                from _queue import SimpleQueue
            except ImportError:  # pragma: no cover - a Python without the C module
                from queue import SimpleQueue
            _LET_GO = SimpleQueue()
            _thread.start_new_thread(_letting_go, (_LET_GO,))
    return _LET_GO


def _forked() -> None:
    """A forked child has no letting-go thread: it starts its own if it needs one."""
    global _LET_GO, _start_lock
    _LET_GO, _start_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forked)


def let_go_done() -> None:
    """Wait until what replaced snapshots let go is closed and freed (for a
    caller counting its open files or memory)."""
    if _LET_GO is not None:
        done = threading.Event()
        _LET_GO.put((0.0, [done.set], []))
        done.wait()


def _letting_go(waiting: Any) -> None:
    while True:
        due, closing, held = waiting.get()
        time.sleep(max(0.0, due - time.monotonic()))
        for close in closing:
            try:
                close()
            except Exception:  # noqa: BLE001, S110 - a reader already closed: nothing to do
                pass
        closing.clear()
        held.clear()  # the last references: their memory is freed here


#: Nanoseconds after which a file's modification time is settled: a file
#: system stamps changes with a coarse clock (a few ms), so a change made
#: within that tick of an earlier one may leave the same time; one made after
#: a time this old cannot (the "racy timestamp" that git guards against too).
SETTLED_NS = 1_000_000_000


#: Publications a snapshot keeps read (see :meth:`Snapshot.publication`;
#: some 1.5 KB each).
PUBLICATIONS = 4096

T = TypeVar("T")


#: Tries to open a state that commits keep replacing under the reader.
_ATTEMPTS = 50


class Snapshot:
    """The index as last committed: reader, arrays, engine, lexicons."""

    def __init__(self, ixdir: IndexDir, gen: Path, ix: Any, reader: Any,
                 previous: Snapshot | None = None) -> None:
        self.dir = ixdir
        self.gen = gen
        self._ix = ix
        # A reader, not a searcher: a search is thb-search's own (engine.py),
        # and Whoosh's searcher would import its query and scoring modules.
        self._reader = reader
        open_columns(reader)  # before a later commit can remove merged-away files
        self.arrays: FacetIndex = open_for(reader, gen, reader.generation())
        if previous is not None:
            self.arrays.inherit(previous.arrays)
        leaves = reader.leaf_readers()
        segments = [Segment(leaf.segment().segment_id(), start, leaf.doc_count_all(),
                            leaf.doc_count_all() - leaf.doc_count())
                    for leaf, start in leaves]

        def read(i: int, field: str, text: str, positions: bool,
                 bits: int) -> tuple[Any, Any, Any]:
            return read_postings(leaves[i][0], field, text, positions, bits)

        self.engine = Engine(read, segments, self.arrays,
                             previous.engine if previous is not None else None)
        self.terms = ReaderTerms(reader)
        self.lexicon = Lexicon(gen)
        add_term_source(self.lexicon)  # the index's words need no stemming
        self.texts = TextStore(ixdir.root)
        # What searches made of this snapshot (see kept): plans, publications;
        # and what the snapshot this one replaces had made (not what that one
        # had taken over: one step back only).
        self._kept: dict[str, OrderedDict[Any, Any]] = {}
        self._kept_lock = threading.Lock()
        self._before: dict[str, OrderedDict[Any, Any]] = (
            previous._kept if previous is not None else {})
        # Documents numbered and stored as in ``previous``: those of the
        # leading segments the commit left in place (an add appends its own).
        self.unchanged_docs = 0
        if previous is not None:
            for old, new in zip(previous.engine.layout.segments, segments, strict=False):
                if (old.name, old.start, old.count) != (new.name, new.start, new.count):
                    break
                self.unchanged_docs = new.start + new.count
        # What IndexDir.stamp gave when this snapshot was last found the latest
        # (see fresh): the same stamp, and nothing was committed since.
        self._stamp: tuple[int, int, int, int] | None = None

    @classmethod
    def open(cls, ixdir: IndexDir, previous: Snapshot | None = None,
             trusted: Path | None = None) -> Snapshot:
        """The index as last committed; with ``previous`` (an earlier state of
        the same index), what that one had read of segments still there is
        kept; ``trusted``: the generation just verified (see :meth:`IndexDir.open`)."""
        outdated = (ixdir.schema_problem(trusted) if trusted is not None
                    else ixdir.current() is not None and ixdir.schema_problem())
        if outdated:
            raise IndexOutdatedError(
                f"{outdated}: rebuild it with 'thb-search index --rebuild' (with --index "
                f"{ixdir.shown.rstrip('/')})")
        for attempt in range(_ATTEMPTS):
            ix = ixdir.open(trusted if attempt == 0 else None)
            gen = Path(ix.storage.folder)
            kept = previous is not None and previous.gen == gen  # not a rebuild
            before = previous._reader if previous is not None and kept else None
            reader = None
            try:
                reader = reopened(ix, before, close_rest=False)  # ``previous`` reads on
                return cls(ixdir, gen, ix, reader, previous if kept else None)
            except (OSError, EmptyIndexError):
                # A commit removed files of the state being opened, or a rebuild
                # swapped generations, between reading its name and its files.
                if reader is not None:
                    for leaf in not_taken_over(reader, by=before):
                        leaf.close()
                if attempt == _ATTEMPTS - 1:
                    raise IndexCorruptError(
                        f"the index at {ixdir.shown} kept changing while it was opened: "
                        "try again (is a process writing it in a loop?)") from None
                time.sleep(0.02)
        raise AssertionError("unreachable")

    def fresh(self) -> Snapshot:
        """This snapshot if nothing was committed since, else the latest one
        (this one is then closed).

        Every search asks, so the usual answer is quick: when the index
        folder's ``CURRENT`` and the generation's folder (where each commit
        adds its table of contents) have the same stat as when this snapshot
        was last found the latest, and their times were settled then
        (:data:`SETTLED_NS`), nothing was committed since (two stats: some
        5 µs, against 0.1 ms for reading ``CURRENT`` and listing the folder).

        While a writer is still finishing a commit (it has written the table
        of contents but not yet the facet arrays and the lexicon that searches
        load), this snapshot stays: it is a whole committed state, and
        building those arrays here would hold up every search meanwhile.
        """
        stamp = self.dir.stamp(self.gen)
        if stamp is not None and stamp == self._stamp:
            return self
        gen = self.dir.current()
        problem = None
        if gen == self.gen:
            latest = self._ix.latest_generation()
            if latest == self._reader.generation():
                if stamp is not None and time.time_ns() - max(stamp[1], stamp[3]) > SETTLED_NS:
                    self._stamp = stamp
                return self
            if not facets_file(gen, latest).exists() and self.dir.writer_active():
                return self  # (without checking the signature, 0.6-0.9 ms at 100k records)
            problem = verify(gen)
            if problem and self.dir.writer_active():
                return self
            if problem and verify(gen):  # not signed meanwhile by a writer now done
                raise IndexCorruptError(f"the index at {self.dir.shown} is not opened: "
                                        f"{problem}: rebuild it with 'thb-search index "
                                        "--rebuild'")
        # A new searcher, not Whoosh's refresh(): refresh() reuses the old
        # reader's segments, even those a merge has since replaced.
        fresh = Snapshot.open(self.dir, self, trusted=gen if gen == self.gen and not problem
                              else None)
        self._close_lexicon()
        # The reader's files and the arrays' mapping are let go in a thread
        # of their own: the commit has removed the files they were read from,
        # and the kernel frees a removed file's cached pages when the last
        # mapping goes (some 3 ms at 100k records, more at 1M), which the
        # search that saw the commit would otherwise wait for.
        _let_go([leaf.close for leaf in not_taken_over(self._reader, by=fresh._reader)],
                [self._reader, self.arrays, self.engine, self.terms])
        del self._reader, self.arrays, self.engine, self.terms
        return fresh

    def close(self) -> None:
        self._reader.close()
        self._close_lexicon()

    def _close_lexicon(self) -> None:
        remove_term_source(self.lexicon)
        self.lexicon.close()
        self.texts.close()

    def __len__(self) -> int:
        return self._reader.doc_count()

    def kept(self, kind: str, bound: int, key: Hashable, make: Callable[[], T],
             holds: Callable[[Hashable, T], bool] | None = None) -> T:
        """What ``make`` returns, kept by this snapshot under ``kind`` and
        ``key`` (the last ``bound`` of that kind: it never changes, so what is
        made of it holds while it lives); what raises is not kept.

        ``holds(key, value)``: whether what the snapshot this one replaced
        kept under ``key`` holds in this one too (the first search after a
        commit then does not make again what the commit left as it was)."""
        with self._kept_lock:
            entries = self._kept.get(kind)
            if entries is None:
                entries = self._kept[kind] = OrderedDict()
            value = entries.get(key)
            if value is not None:
                entries.move_to_end(key)
                return value
        before = self._before.get(kind) if holds is not None else None
        value = before.get(key) if before is not None else None
        if value is None or not holds(key, value):  # type: ignore[misc]
            value = make()
        with self._kept_lock:
            entries[key] = value
            while len(entries) > bound:
                entries.popitem(last=False)
        return value

    def publication(self, docnum: int) -> Publication:
        """The publication stored as document ``docnum``: the last
        ``PUBLICATIONS`` read are kept (reading one, its stored fields
        decompressed and unpickled, costs some 50 µs at 100k records; the first
        hits of a query, the newest of a facet value recur from one search to
        the next)."""
        return self.kept("publications", PUBLICATIONS, docnum,
                         lambda: self.read_publication(docnum),
                         lambda d, _: d < self.unchanged_docs)  # type: ignore[operator]

    def read_publication(self, docnum: int) -> Publication:
        """The publication stored as document ``docnum``, read from the index."""
        stored = self._reader.stored_fields(docnum)
        types = stored.get("type") or []
        document = stored.get("document")
        return Publication(
            id=stored["id"], title=stored.get("title", ""), date=stored.get("date") or None,
            type=types[0] if types else "", offices=tuple(stored.get("office") or ()),
            themes=tuple(stored.get("themes") or ()), publisher=stored.get("publisher", ""),
            summary=stored.get("summary", ""), url=stored.get("url", ""),
            collections=tuple(stored.get("collections") or ()),
            document=display_path(Path(document["file"])) if document else None,
            document_pages=document["pages"] if document else 0,
            locations=tuple(stored.get("locations") or ()),
        )

    def document(self, docnum: int) -> StoredDocument | None:
        """What the index holds of a publication's document, if it has one."""
        stored = self._reader.stored_fields(docnum)
        document = stored.get("document")
        if not document:
            return None
        return StoredDocument(document["file"], document["sha256"], document["pages"],
                              tuple(stored.get("pages") or ()))

    def page_text(self, sha256: str, page: int) -> str | None:
        """A page of a document, as its text was read (None: no such page)."""
        return self.texts.page(sha256, page)

    def docnum(self, rid: str) -> int:
        """The document of publication ``rid`` (or of the one id starting with ``rid``)."""
        docnum = live_docnum(self._reader, rid)
        if docnum is not None:
            return docnum
        found = {}
        for term in (self._reader.expand_prefix("id", rid) if rid else ()):
            text = term.decode("utf-8") if isinstance(term, bytes) else term
            docnum = live_docnum(self._reader, text)
            if docnum is not None:  # not an id of a deleted publication
                found[text] = docnum
        if len(found) == 1:
            return next(iter(found.values()))
        if found:
            raise RecordNotFoundError(
                f"id {rid!r} is ambiguous: it starts {listing(list(found)[:5])}; give more of it")
        raise RecordNotFoundError(
            f"no publication has id {rid!r}: ids are shown in search results "
            "(e.g. thb-search QUERY --format jsonl)")
