"""Building the index and keeping it in line with the catalogue: ``sync``
(incremental, or a rebuild into a new generation), ``ensure_index`` (build on
first use).  Adding files to the catalogue folder is :mod:`thb_search.adding`'s.

The index folder and its generations are :mod:`thb_search.indexdir`'s; what
is remembered of the catalogue between runs is :mod:`thb_search.scan`'s.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from .analysis import (
    add_term_source,
    collecting_words,
    lexicon_entries,
    remove_term_source,
    synonym_lines,
    unknown_words,
)
from .changes import IndexedIds, plan
from .corpus import display_path
from .errors import (
    CorpusErrors,
    DiskFullError,
    IndexingError,
    ThbSearchError,
)
from .facets import Written, base_of, facets_file, save_for, update_for
from .indexdir import DEFAULT_WAIT, VERSION_FILE, IndexDir
from .journal import recover
from .lexicon import Lexicon
from .scan import documents
from .schema import RANK_FIELD, SCHEMA_VERSION, analysed, build_schema, to_document
from .state import STATE_FILE, CatalogueState
from .texts import TextStore
from .trust import files_to_sign, sign, synced_digests, verify
from .whoosh_internals import doc_count, fast_writer, not_taken_over, superseded
from .workers import no_cycle_collection
from .writer import Workers, cancel, merge_small_by_size, start_workers, write_new_index

__all__ = ["DEFAULT_WAIT", "STATE_FILE", "VERSION_FILE", "IndexDir", "IndexReport",
           "ensure_index", "sync", "to_document"]

Notify = Callable[[str], None]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IndexReport:
    """What an indexing run did."""

    index: str
    total: int
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    merged: int = 0
    superseded: int = 0
    files: int = 0
    rebuilt: bool = False
    skipped: tuple[ThbSearchError, ...] = ()
    warnings: tuple[str, ...] = ()
    documents: int = 0  # publications with a document
    documents_read: int = 0  # documents whose text was read during this run

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "total": self.total, "added": self.added,
            "updated": self.updated, "removed": self.removed, "unchanged": self.unchanged,
            "duplicates_merged": self.merged, "duplicates_superseded": self.superseded,
            "files": self.files, "rebuilt": self.rebuilt,
            "skipped": [str(e) for e in self.skipped], "warnings": list(self.warnings),
            "documents": self.documents, "documents_read": self.documents_read,
        }


# ---------------------------------------------------------------------------
# Indexing


def sync(
    index_dir: str | os.PathLike[str],
    paths: Sequence[str | os.PathLike[str]],
    *,
    rebuild: bool = False,
    skip_invalid: bool = False,
    wait: float = DEFAULT_WAIT,
    notify: Notify | None = None,
    progress: Progress | None = None,
    reading: Progress | None = None,
) -> IndexReport:
    """Bring the index in line with the catalogue files/folders ``paths``.

    Adds new records, rewrites changed ones, removes those whose source is
    gone and leaves unchanged ones alone.  With ``rebuild`` (or when there is
    no usable index) everything is written into a new generation that replaces
    the old one only once complete.  Any unreadable record stops the run
    before the index is touched (``CorpusErrors``) unless ``skip_invalid``.
    ``progress(done, total)`` follows the writing of documents, ``reading``
    the reading of PDFs' text.
    """
    ixdir = IndexDir(index_dir)
    with full_disk_reported(ixdir.root), ixdir.lock(wait):
        _prepare(ixdir, paths, notify)
        try:
            return _sync_locked(ixdir, paths, rebuild, skip_invalid, notify, progress, reading)
        except BaseException:
            with contextlib.suppress(Exception):  # else: at the next run
                _prepare(ixdir, [], None)
            raise


def _prepare(ixdir: IndexDir, paths: Sequence[str | os.PathLike[str]],
             notify: Notify | None) -> None:
    """Before writing (lock held): finish or undo adds that were interrupted,
    and remove what a killed writer left behind."""
    for path in paths:
        for message in recover(Path(path).expanduser()):
            if notify:
                notify(message)
    ixdir.clean_leftovers()
    gen = ixdir.current()
    if (gen is not None and ixdir.schema_problem() is None and verify(gen) is not None
            and verify(gen, derived=False) is None):
        # A commit cut off before its signature: Whoosh's files are back at the
        # last signed commit; make what derives from them again.
        sign(gen, written=save_for(whoosh_index.open_dir(str(gen)), gen))
        if notify:
            notify(f"an update of the index at {ixdir.shown} did not finish: it was taken "
                   "back to its last complete state, and is brought up to date now")


#: What a write that found no space (or passed the file size limit) fails with.
_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says a disk is full (OSError, SQLite, a worker's report)."""
    if isinstance(exc, OSError):
        return exc.errno in _FULL
    text = str(exc)
    return ("disk is full" in text or "disk I/O error" in text  # SQLite's words for them
            or any(os.strerror(code) in text for code in _FULL))


@contextlib.contextmanager
def full_disk_reported(where: Path) -> Iterator[None]:
    """Turn a write that failed for want of space (here, in SQLite or in a
    worker process) into a :class:`DiskFullError` naming ``where``."""
    try:
        yield
    except (OSError, sqlite3.OperationalError, IndexingError) as exc:
        if disk_full(exc):
            raise DiskFullError(disk_full_message(where)) from None
        raise


def disk_full_message(where: Path) -> str:
    """A one-line message for a full disk: where, what to do."""
    return (f"the disk holding {display_path(where)} is full, or a write to it failed (the "
            "file size limit, an I/O error): free some space there and run the command "
            "again; nothing was lost and the index is as it was before this command")


def _sync_locked(ixdir: IndexDir, paths: Sequence[str | os.PathLike[str]], rebuild: bool,
                 skip_invalid: bool, notify: Notify | None, progress: Progress | None,
                 reading: Progress | None = None) -> IndexReport:
    gen, ix, state = _open_for_sync(ixdir, rebuild, notify)
    if ix is None:
        # Everything is read and written: the cycle collector stays off (see
        # no_cycle_collection): 1.2 s of a 21 s rebuild of 100k records.
        with no_cycle_collection():
            return _sync_opened(ixdir, paths, skip_invalid, progress, reading, gen, ix, state)
    return _sync_opened(ixdir, paths, skip_invalid, progress, reading, gen, ix, state)


def _sync_opened(ixdir: IndexDir, paths: Sequence[str | os.PathLike[str]],
                 skip_invalid: bool, progress: Progress | None, reading: Progress | None,
                 gen: Path | None, ix: whoosh_index.Index | None,
                 state: CatalogueState | None) -> IndexReport:
    full = ix is None
    store = TextStore(ixdir.root)
    indexed = IndexedIds(ix)
    workers: Workers | None = None

    def read(records: int) -> None:
        # A rebuild's worker processes start loading what they need while
        # this one settles what to write (the reading's helper is done).
        nonlocal workers
        workers = start_workers(records, _synonym_texts())

    try:
        changes = plan(paths, state, indexed, CatalogueState(gen or ixdir.root), store, reading,
                       read if full else None)
        errors = [*changes.scan.errors, *changes.att.found.errors]
        if errors and not skip_invalid:
            raise CorpusErrors(errors)
        scan, resolved, att = changes.scan, changes.resolved, changes.att

        def docs(ids: list[str]) -> Iterator[dict[str, Any]]:
            yield from documents(scan, resolved, [i for i in ids if i in resolved], att.extra)
            yield from (to_document(att.own[i], *att.extra(att.own[i])) for i in ids
                        if i in att.own)

        def remember(target: Path, index: whoosh_index.Index) -> None:
            changes.write_states(target, index.latest_generation())

        if full:
            _rebuild(ixdir, docs(changes.to_add), len(changes.to_add), progress, remember,
                     workers, changes.write_file_states)
            total = len(changes.to_add)
        else:
            assert ix is not None and gen is not None
            # The commit's reader takes over this one's segments (see _update).
            before = indexed.detach()
            # Words the index has met need no stemming (nor NLTK's import): the
            # words of a document's pages as well as of the records.
            known = Lexicon(gen)
            add_term_source(known)
            try:
                # Every document is built before the writer opens: nothing can fail
                # half-way through a commit.
                # (Documents' pages are analysed here: their words go into the
                # lexicon with the records'.)
                with collecting_words() as pages_words:
                    changed = [analysed(d) for d in docs([*changes.to_add, *changes.to_update])]
                written: Written = {}
                if changed or changes.to_remove:
                    written = _update(ix, gen, known, changed,
                                      [*changes.to_update, *changes.to_remove], progress,
                                      before, pages_words)
            finally:
                remove_term_source(known)
                known.close()
                _close_leaves(before)
            if (state is None or changes.new_states or changes.superseded_states
                    or state.generation != ix.latest_generation()
                    or changes.state.to_json() != {**state.to_json(),
                                                   "generation": state.generation}):
                remember(gen, ix)
            else:
                changes.superseded_states.clear()
            _seal(ix, gen, changes.superseded_states, written)
            ixdir.remove_stale(keep=gen)  # leftovers of a crashed rebuild
            total = doc_count(ix)
        store.prune(att.kept())
    finally:
        if workers is not None:
            workers.close()
        indexed.close()
        store.close()
    merged, superseded_ = changes.state.merged_counts()
    return IndexReport(
        index=ixdir.shown, total=total, added=len(changes.to_add),
        updated=len(changes.to_update), removed=len(changes.to_remove),
        unchanged=total - len(changes.to_add) - len(changes.to_update),
        merged=merged, superseded=superseded_, files=changes.files,
        rebuilt=full, skipped=tuple(errors), warnings=(*scan.warnings, *att.found.warnings),
        documents=len(att.links), documents_read=att.found.read,
    )


def _open_for_sync(ixdir: IndexDir, rebuild: bool, notify: Notify | None
                   ) -> tuple[Path | None, whoosh_index.Index | None, CatalogueState | None]:
    """(live generation, its index, its state); no index (and no state) when
    the run must build a new generation; no state when the remembered one does
    not describe the index's latest commit (every file is then read again)."""
    gen = ixdir.current()
    outdated = ixdir.is_outdated() if gen else None
    if gen is not None and outdated and notify:
        notify(f"{outdated}; rebuilding it")
    if rebuild or gen is None or outdated is not None:
        return gen, None, None
    state = CatalogueState.read(gen)
    try:
        ix = ixdir.open(gen)  # (verified just now, and no other writer can commit)
    except Exception as exc:  # unpicklable schema, damaged files
        if notify:
            notify(f"the index at {ixdir.shown} cannot be read ({exc}); rebuilding it")
        return gen, None, None
    if state is not None and state.generation != ix.latest_generation():
        # A crash between a commit and the state write: trust the index itself.
        state = None
    return gen, ix, state


def _rebuild(ixdir: IndexDir, docs: Iterator[dict[str, Any]], total: int,
             progress: Progress | None,
             remember: Callable[[Path, whoosh_index.Index], None],
             workers: Workers | None = None,
             ahead: Callable[[Path], None] | None = None) -> None:
    """Write everything into a new generation, swapped in only once complete:
    any failure leaves the index as it was.  ``workers``: started already
    (see :func:`thb_search.writer.start_workers`); ``ahead(target)``: what
    can be written into the new generation's folder before its commit (the
    catalogue files' states), in a thread while the documents are indexed."""
    from concurrent.futures import ThreadPoolExecutor  # (a search does not import it)

    target = ixdir.new_generation()
    try:
        # (the thread ends before the folder is removed: it writes into it)
        with ThreadPoolExecutor(max_workers=1) as thread:
            (target / VERSION_FILE).write_text(SCHEMA_VERSION + "\n", encoding="utf-8")
            ix = whoosh_index.create_in(str(target), build_schema())
            # (the states' JSON, 0.4 s at 100,000 records, was the end of a
            # rebuild on one core; meanwhile it takes a little of the workers')
            states = thread.submit(ahead, target) if ahead is not None else None
            # Documents' pages are analysed in this process as ``docs`` are made:
            # their words go into the lexicon with the records'.
            with collecting_words() as pages_words:
                # The lexicon also holds the words of the synonyms, which every
                # query is checked against.
                lexicon = write_new_index(ix, docs, total, progress=progress,
                                          texts=_synonym_texts(), workers=workers)
            lexicon.update(lexicon_entries(pages_words))
            if states is not None:
                states.result()  # (before the files are listed to be signed)
            # Whoosh's files are complete: the thread hashes and syncs them (disk
            # and C, without the interpreter's lock) while this one makes the
            # facet arrays, the lexicon and the states, on a core the workers
            # left (the signature took 0.3 s more of a 100k rebuild).
            signed = thread.submit(synced_digests, files_to_sign(target))
            written = _after_commit(ix, target, lexicon)
            remember(target, ix)
            written = {**signed.result(), **written}
            _seal(ix, target, written=written)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    ixdir.swap(target)


def _synonym_texts() -> list[str]:
    return [e for g in synonym_lines() for e in g]


def _seal(ix: whoosh_index.Index, gen: Path, states: Sequence[str] = (),
          written: Written | None = None) -> None:
    """Sign ``gen`` as it is after a commit, then remove the files that commit
    superseded, ``states`` (per-file states) among them (until signed, they
    are what a cut-off commit goes back to).  ``written``: the hashes of the
    files the commit wrote (see :data:`thb_search.facets.Written`)."""
    latest = facets_file(gen, ix.latest_generation())
    keep = {latest.name, base_of(latest)}  # (the file the latest takes parts from)
    arrays = [p.name for p in gen.glob("facets-*.arrays") if p.name not in keep]
    old = [*superseded(ix), *arrays, *states]
    sign(gen, old, written)
    for name in old:
        if name not in arrays:
            (gen / name).unlink(missing_ok=True)
    if arrays:
        # The arrays of the commits before (a whole file: 6 MB at 100k records):
        # freeing their cached pages takes 2-3 ms, which the caller need not wait for (a
        # process waits for this thread before it exits; one cut off leaves a
        # superseded file, which the next run removes).
        threading.Thread(target=_remove, args=([gen / name for name in arrays],),
                         name="thb-remove-arrays").start()


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def _update(ix: whoosh_index.Index, gen: Path, known: Lexicon, docs: list[dict[str, Any]],
            delete_ids: list[str], progress: Progress | None, before: Any | None = None,
            pages_words: Iterable[str] = ()) -> Written:
    """Commit changes into the live generation; returns what
    :func:`_after_commit` wrote.  ``known``: the generation's lexicon, a term
    source meanwhile.  ``before``: a reader of the commit before, which this
    call closes (the facet arrays' reader takes over the segments the commit
    left as they were).  ``pages_words``: the words of the documents' pages
    (analysed before), for the lexicon."""
    # The words of the documents, looked up at once rather than one query each.
    known.look_up(unknown_words(doc[RANK_FIELD] for doc in docs if RANK_FIELD in doc))
    previous = ix.latest_generation()
    lexicon = _write(ix, docs, delete_ids, progress)
    lexicon.update(lexicon_entries(pages_words))
    # Words the lexicon holds already need not be written again.
    lexicon = {w: t for w, t in lexicon.items() if not known.holds(w, t)}
    return _after_commit(ix, gen, lexicon, previous, before, docs)


def _close_leaves(reader: Any | None) -> None:
    """Close the segment readers of ``reader`` that are still open (those a
    later reader took over are closed with it)."""
    if reader is not None:
        for leaf in not_taken_over(reader, None):
            leaf.close()


def _write(ix: whoosh_index.Index, docs: list[dict[str, Any]], delete_ids: list[str],
           progress: Progress | None) -> dict[str, str]:
    """Delete and add documents in one commit; returns the lexicon of the added."""
    writer = fast_writer(ix, few=True)
    try:
        for rid in delete_ids:
            writer.delete_by_term("id", rid)
        total = len(docs)
        with collecting_words() as words:
            for n, doc in enumerate(docs, start=1):
                writer.add_document(**doc)
                if progress and (n % 1000 == 0 or n == total):
                    progress(n, total)
    except BaseException:
        cancel(writer)
        raise
    writer.commit(mergetype=merge_small_by_size)
    return lexicon_entries(words)


def _after_commit(ix: whoosh_index.Index, folder: Path, words: dict[str, str],
                  previous: int | None = None, before: Any | None = None,
                  added: Sequence[dict[str, Any]] = ()) -> Written:
    """Save what searches load fast: facet arrays (patched from those of the
    ``previous`` commit when there is one) and the lexicon (``words``: those
    of the documents; a new index's also those of the synonyms, which its
    writer analysed).  ``added``: the documents the commit added (see
    :meth:`thb_search.facets.FacetIndex.patched`).  Returns the hashes of
    the arrays written."""
    if previous is None:
        written = save_for(ix, folder)
    else:
        written = update_for(ix, folder, previous, before, added)
    if words:
        lexicon = Lexicon(folder)
        try:
            lexicon.add(words)
        finally:
            lexicon.close()
    return written


def ensure_index(
    index_dir: str | os.PathLike[str],
    corpus: Sequence[str | os.PathLike[str]],
    *,
    wait: float = DEFAULT_WAIT,
    notify: Notify | None = None,
) -> IndexReport | None:
    """Make sure a usable index exists: build it from ``corpus`` when missing,
    rebuild it (from the sources it was built from) when its schema is outdated.

    Returns the report of the build, or None when the index was fine.
    """
    ixdir = IndexDir(index_dir)
    if ixdir.exists() and not ixdir.is_outdated():
        return None
    with full_disk_reported(ixdir.root), ixdir.lock(wait):
        sources = [s for s in ixdir.read_state().get("sources", [])
                   if Path(s).exists()] or corpus
        _prepare(ixdir, sources, notify)
        if ixdir.exists():
            reason = ixdir.is_outdated()
            if reason is None:
                return None  # another process built it meanwhile, or it was repaired
            if notify:
                notify(f"{reason}; rebuilding it")
        elif notify:
            shown = ", ".join(display_path(Path(p).absolute()) for p in sources)
            notify(f"no index at {ixdir.shown} yet: building it from {shown}")
        return _sync_locked(ixdir, sources, True, False, None, None)
