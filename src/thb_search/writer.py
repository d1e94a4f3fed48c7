"""Writing documents into Whoosh segments, fast.

Whoosh's own writer sorts every posting through a pool that pickles runs to
disk and merges them back; here postings stay in memory, grouped by term in
compact arrays (:class:`MemoryPool`), and a large build is spread over
worker processes, each writing its own segments of at most
about ``POOL_BYTES`` of postings (which bounds memory at any catalogue size).  The
segments are ordinary Whoosh segments; the block-level writing, which uses
Whoosh's internals, is in :mod:`thb_search.whoosh_internals`.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import queue
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh.reading import SegmentReader
from whoosh.util import fib

from .analysis import Terms, collecting_words, lexicon_entries, load_nltk, words_of
from .errors import IndexingError
from .fields import BodyPages, BodyTokens
from .indexdir import MAIN_GUARD
from .postcolumns import (
    ANALYSED,
    MAX_SHARED,
    SHARED,
    BodyColumns,
    Buffer,
    Entry,
    Settled,
    TextColumns,
    append,
    joined,
    new_entry,
)
from .schema import analysed
from .whoosh_internals import (
    commit_segments,
    fast_writer,
    finish_segment,
    release,
)
from .workers import die_with_parent, no_cycle_collection

#: Approximate bytes of postings a bulk-build writer holds before it writes
#: them out as a segment (bounds each process's memory at any catalogue size).
POOL_BYTES = 120 * 1024 * 1024
#: Postings (a text field's: tokens) of a positional field held as columns
#: before they are sorted into the pool's terms (bounds the arrays of
#: sorting them: some 20 MB; see :mod:`thb_search.postcolumns`).
SETTLE_POSTINGS = 500_000
#: An add's (or update's) segment holds its positional fields' postings as
#: columns until it is written, sorted apart each SETTLE_POSTINGS (so that
#: its terms are written at once: each one's postings then fit one block of
#: Whoosh's 128), for its first FEW_DOCS documents and up to APART_POSTINGS
#: of them; past those (and in a bulk build's segments) they are sorted into
#: the pool's terms.
FEW_DOCS = 128
APART_POSTINGS = 4 * SETTLE_POSTINGS
#: A bulk build of fewer documents stays in this process.
PARALLEL_MIN_DOCS = 5_000
#: Documents sent to a worker at a time, or fewer when their PDFs' pages
#: reach BATCH_PAGES.  A worker analyses the pages of the batch's PDFs
#: (:func:`thb_search.schema.analysed`; they are sent as where to read them),
#: a few seconds of work for a hundred pages: bounding batches by pages keeps
#: the workers' shares even (jobs go round-robin).  (Analysed pages, sent
#: before, made batches of up to a million words take 260 MB of the 823 MB
#: peak of a build of 200 such PDFs and 10,000 records.)
BATCH_DOCS = 500
BATCH_PAGES = 100
#: Bytes of a segment's files that count as one document when a commit
#: chooses the segments to merge (:func:`merge_small_by_size`).
MERGE_UNIT_BYTES = 16 * 1024

Progress = Callable[[int, int], None]


class MemoryPool:
    """Postings in memory, by term: documents, weights and encoded values.

    Replaces Whoosh's ``PostingPool`` (same ``add`` / ``iter_postings`` /
    ``cleanup`` interface).  Documents must arrive in increasing order per
    term, which is how a segment writer numbers them.  The postings of
    positional fields (:meth:`add_text`, :meth:`add_body`: most of an
    indexer's) are held as columns and sorted into terms now and then
    (:mod:`thb_search.postcolumns`), and counted in ``nbytes`` then.
    """

    #: Approximate bytes of one term's entry and of one posting.
    TERM_BYTES = 420
    POSTING_BYTES = 16

    def __init__(self, *, apart: bool = False) -> None:
        #: Whether postings are sorted apart (an add's segment: see FEW_DOCS).
        self.apart = apart
        self._apart_postings = 0
        # field -> term -> (documents, weights, value lengths, values)
        self._fields: dict[str, dict[bytes, Entry]] = {}
        self._columns: dict[str, TextColumns | BodyColumns] = {}
        # field -> term -> a merged segment's term, copied as it is when the
        # segment is written (whoosh_internals.CopiedTerm): never also in _fields
        self._copied: dict[str, dict[bytes, Any]] = {}
        # field -> its postings sorted apart, held as columns (a segment of
        # FEW_DOCS: add_text, add_body, sorted_fields), documents after documents
        self._settled: dict[str, list[Settled]] = {}
        self.nbytes = 0

    @property
    def fieldnames(self) -> set[str]:
        return {*self._fields, *self._columns, *self._copied, *self._settled}

    def terms_of(self, fieldname: str) -> dict[bytes, Entry]:
        """The field's terms and their postings (read, not to be changed)."""
        return self._terms(fieldname)

    def copied(self, fieldname: str) -> dict[bytes, Any]:
        """The field's terms held as a merged segment's bytes (for the merge
        to add to and take from)."""
        return self._copied.setdefault(fieldname, {})

    def _terms(self, fieldname: str) -> dict[bytes, Entry]:
        """The field's terms, with every posting held as columns in them."""
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
        for settled in self._settled.pop(fieldname, ()):
            self.nbytes -= self._bytes(settled, len(settled.names))
            self.nbytes += self._bytes(settled, settled.append_to(terms))
        columns = self._columns.get(fieldname)
        if columns is not None:  # (kept: its table of words serves the next documents)
            self._settle(columns, terms)
        return terms

    def _settle(self, columns: TextColumns | BodyColumns,
                terms: dict[bytes, Entry]) -> None:
        settled = columns.settle_by_number()
        if settled is not None:
            self.nbytes += self._bytes(settled, settled.append_to(terms))

    def _held(self, fieldname: str, columns: TextColumns | BodyColumns, docnum: int) -> None:
        """Sort what ``columns`` holds (SETTLE_POSTINGS of them) into terms:
        apart (see FEW_DOCS), or into the pool's."""
        if (self.apart and docnum < FEW_DOCS and self._apart_postings < APART_POSTINGS
                and not self._fields.get(fieldname)):
            self._apart(fieldname, columns)
        else:
            self._terms(fieldname)

    def _apart(self, fieldname: str, columns: TextColumns | BodyColumns) -> None:
        settled = columns.settle_apart()
        if settled is not None:
            self._settled.setdefault(fieldname, []).append(settled)
            self._apart_postings += len(settled.positions)
            self.nbytes += self._bytes(settled, len(settled.names))

    def _bytes(self, settled: Settled, terms: int) -> int:
        """What :attr:`nbytes` counts for ``settled``, ``terms`` of its terms new."""
        return (self.TERM_BYTES * terms + self.POSTING_BYTES * len(settled.docs)
                + 4 * len(settled.positions))

    def add_many(self, fieldname: str, items: Iterable[tuple[bytes, int, float, bytes]],
                 docnum: int) -> None:
        """Add one document's postings of one field."""
        terms = self._terms(fieldname)
        size = 0
        for tbytes, _, weight, vbytes in items:
            entry = terms.get(tbytes)
            if entry is None:
                entry = terms[tbytes] = new_entry()
                size += self.TERM_BYTES
            docs, weights, lengths, values = entry
            docs.append(docnum)
            weights.append(weight)
            lengths.append(len(vbytes))
            if vbytes:
                values += vbytes
                size += len(vbytes)
        self.nbytes += size + self.POSTING_BYTES * len(items)

    def add_text(self, fieldname: str, title: list[str], summary: list[str],
                 locations: list[str], title_boost: float, field_boost: float,
                 docnum: int) -> None:
        """Add one document's ``text`` field: the tokens of its title, summary
        and locations (:class:`thb_search.postcolumns.TextColumns`); its
        length (terms) comes with the others' (:meth:`text_lengths`)."""
        columns = self._columns.get(fieldname)
        if columns is None:
            columns = self._columns[fieldname] = TextColumns(title_boost, field_boost)
        assert isinstance(columns, TextColumns)
        columns.add(title, summary, locations, docnum)
        if len(columns) >= SETTLE_POSTINGS:
            self._held(fieldname, columns, docnum)

    def text_lengths(self) -> Iterator[tuple[str, list[int], list[int]]]:
        """(field, document numbers, lengths) of the documents whose text
        fields were added (:meth:`add_text`) since the last call, in the
        order they were."""
        for fieldname, columns in self._columns.items():
            if isinstance(columns, TextColumns):
                docs, lengths = columns.lengths()
                if docs:
                    yield fieldname, docs, lengths

    def add_body(self, fieldname: str, body: BodyTokens, docnum: int
                 ) -> tuple[int, tuple[int, ...]]:
        """Add one document's ``body`` field: its words, all its pages' one
        after another (:class:`thb_search.postcolumns.BodyColumns`).  Returns
        its length (terms in all) and where each page starts."""
        columns = self._columns.get(fieldname)
        if columns is None:
            columns = self._columns[fieldname] = BodyColumns()
        assert isinstance(columns, BodyColumns)
        counted = columns.add(body.tokens, body.page_sizes, docnum)
        if len(columns) >= SETTLE_POSTINGS:
            self._held(fieldname, columns, docnum)
        return counted

    def extend(self, fieldname: str, tbytes: bytes, docs: np.ndarray, weights: np.ndarray,
               lengths: np.ndarray, values: bytes) -> None:
        """Add a term's postings at once (a merged segment's, in document
        order): ``lengths`` the bytes of each posting's value, ``values``
        those bytes one after another."""
        self.extend_raw(fieldname, tbytes, docs.astype(np.uint32), weights.astype(np.float32),
                        lengths.astype(np.uint32), values)

    def extend_raw(self, fieldname: str, tbytes: bytes, docs: Buffer, weights: Buffer,
                   lengths: Buffer, values: bytes) -> None:
        """:meth:`extend` with each array's bytes as the pool holds them:
        documents and lengths uint32, weights float32 (numpy's or the
        standard library's arrays)."""
        raw_docs = memoryview(docs).cast("B")
        n = len(raw_docs) // 4
        if not n:
            return
        terms = self._terms(fieldname)
        size = 0 if tbytes in terms else self.TERM_BYTES
        append(terms, tbytes, raw_docs, memoryview(weights).cast("B"),
               memoryview(lengths).cast("B"), values)
        self.nbytes += size + len(values) + self.POSTING_BYTES * n

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        fieldname, tbytes, docnum, weight, vbytes = item
        self.add_many(fieldname, [(tbytes, 1, weight, vbytes or b"")], docnum)

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes]]:
        if any(self._copied.values()):
            raise TypeError("a pool holding a merged segment's terms is written by write_pool")
        for (fieldname, tbytes), (docs, weights, lengths, values) in self.sorted_terms():
            at = 0
            for i, docnum in enumerate(docs):
                yield fieldname, tbytes, docnum, weights[i], bytes(values[at:at + lengths[i]])
                at += lengths[i]

    def sorted_fields(self) -> Iterator[tuple[str, Settled | Iterator[tuple[bytes, Any]]]]:
        """Each field, in order, with its terms as a segment writes them: a
        field whose postings were all held as columns, sorted apart or of at
        most FEW_DOCS documents (an add's), as
        :class:`~thb_search.postcolumns.Settled`, its terms in increasing
        order; any other as (term, postings) in term order, as
        :meth:`sorted_terms` gives them."""
        for fieldname in sorted(self.fieldnames):
            columns = self._columns.get(fieldname)
            if (columns is not None and not self._fields.get(fieldname)
                    and not self._copied.get(fieldname)
                    and (fieldname in self._settled or len(columns.docs) <= FEW_DOCS)):
                self._apart(fieldname, columns)
                parts = self._settled.get(fieldname)
                if parts:
                    self._settled[fieldname] = [joined(parts)]
                    yield fieldname, self._settled[fieldname][0]
                continue
            yield fieldname, self._sorted_of(fieldname)

    def sorted_terms(self) -> Iterator[tuple[tuple[str, bytes], Any]]:
        """((field, term), (documents, weights, value lengths, values)) in
        field-then-term order, as a segment is written; a merged segment's
        term held as its bytes comes as they are (``copied``)."""
        for fieldname in sorted(self.fieldnames):
            for tbytes, lists in self._sorted_of(fieldname):
                yield (fieldname, tbytes), lists

    def _sorted_of(self, fieldname: str) -> Iterator[tuple[bytes, Any]]:
        """A field's (term, postings) in term order (see :meth:`sorted_terms`)."""
        terms = self._terms(fieldname)
        copied = self._copied.get(fieldname)
        if copied:
            assert copied.keys().isdisjoint(terms)
            terms = {**terms, **copied}
        for tbytes in sorted(terms):
            yield tbytes, terms[tbytes]

    def cleanup(self) -> None:
        self._fields.clear()
        self._columns.clear()
        self._copied.clear()
        self._settled.clear()
        self.nbytes = 0


def _build_segments(ix: whoosh_index.Index, docs: Iterable[dict[str, Any]],
                    on_doc: Callable[[], None] | None = None,
                    on_segment: Callable[[], Any] | None = None) -> list[Any]:
    """Write ``docs`` into new segments of ``ix`` (not yet in its table of
    contents) and return them; ``on_segment`` is called after each."""
    segments = []
    writer = None
    try:
        for doc in docs:
            if writer is None:
                writer = fast_writer(ix, lock=False)
            writer.add_document(**analysed(doc))
            if on_doc:
                on_doc()
            if writer.pool.nbytes >= POOL_BYTES:
                segments.append(finish_segment(writer))
                writer = None
                if on_segment:
                    on_segment()
        if writer is not None:
            segments.append(finish_segment(writer))
            writer = None
    finally:
        if writer is not None:
            cancel(writer)
    return segments


def merge_count(sizes: Sequence[int]) -> int:
    """How many of the segments of ``sizes`` (smallest first) Whoosh's
    ``MERGE_SMALL`` rule merges: from the fifth on, the first ``i + 1`` whose
    sizes add up to less than ``fib(i + 5)``; 0 for none."""
    total = 0
    for i, size in enumerate(sizes):
        total += size
        if i > 3 and total < fib(i + 5):
            return i + 1
    return 0


def merge_small_by_size(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh's ``MERGE_SMALL`` merge policy (an add's commit), with a
    segment's size the larger of its documents and its files' bytes over
    ``MERGE_UNIT_BYTES`` rather than its documents alone.

    A record takes 1-2 KB, so segments of records merge as under
    ``MERGE_SMALL``.  A publication with a 100-page PDF takes 300-600 KB: by
    documents alone, every fourth or fifth add of one merged the small
    segments again with the 20 PDFs of the segment they had made before (2.4-3.5 s
    an add, against 0.5-0.8 s).  Twenty such adds, each in a new process, on the
    full-text benchmark's index: 28.1 and 32.3 s, merging at four of them,
    against 20.1 s, merging at one, with 14 segments instead of 5 and
    searches as fast (mean 5.9 against 5.7 and 7.1 ms)."""
    storage = writer.storage
    names = storage.list()

    def size(segment: Any) -> int:
        prefix = segment.segment_id() + "."
        nbytes = sum(storage.file_length(name) for name in names if name.startswith(prefix))
        return max(segment.doc_count_all(), nbytes // MERGE_UNIT_BYTES)

    ordered = sorted(((size(s), s) for s in segments), key=lambda pair: pair[0])
    n = merge_count([s for s, _ in ordered])
    if n < 2:
        return segments
    for _, segment in ordered[:n]:
        reader = SegmentReader(storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return [segment for _, segment in ordered[n:]]


def cancel(writer: Any) -> None:
    """Drop what ``writer`` wrote, keeping the error that stopped it: a writer
    that failed half-way (a full disk) may fail again while cancelling."""
    with contextlib.suppress(Exception):
        writer.cancel()


class Workers:
    """Indexing worker processes, started before the documents are ready
    (:func:`start_workers`) or when they are (:func:`write_new_index`).
    Each starts by loading what it needs (NLTK among them: 0.45 CPU-s), then
    waits for the index to write into and batches of documents."""

    def __init__(self, procs: int, texts: Sequence[str] = ()) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.jobs = [ctx.Queue(maxsize=4) for _ in range(procs)]
        self.results = ctx.Queue()
        # Each worker's words analysed, from the others (see _share).
        self.inboxes = [ctx.Queue() for _ in range(procs)]
        self.processes = [ctx.Process(target=_worker, args=(
            self.jobs[k], self.results, k, list(texts) if k == 0 else [], self.inboxes),
            daemon=True) for k in range(procs)]
        self.reported: set[int] = set()  # the workers that sent their outcome
        for w in self.processes:
            w.start()

    def close(self) -> None:
        """End the processes: those that reported are left to exit; the others
        (still working after an error elsewhere, or not needed) are stopped."""
        for k, w in enumerate(self.processes):
            if k in self.reported:
                w.join(timeout=5)
            if w.is_alive():
                w.terminate()
                w.join(timeout=5)
        for q in [*self.jobs, self.results, *self.inboxes]:
            # Batches a dead worker never read must not hold this process at exit.
            q.cancel_join_thread()
            q.close()


def start_workers(total: int, texts: Sequence[str] = (), procs: int | None = None
                  ) -> Workers | None:
    """The worker processes :func:`write_new_index` will use for ``total``
    documents (None: it will write them in this process), started now: a
    rebuild starts them once the catalogue is read, while it settles what to
    write on one core (0.6 s at 100k records)."""
    procs = procs or min(os.cpu_count() or 1, 4)
    return Workers(procs, texts) if procs > 1 and total >= PARALLEL_MIN_DOCS else None


def write_new_index(ix: whoosh_index.Index, docs: Iterable[dict[str, Any]], total: int,
                    *, procs: int | None = None, progress: Progress | None = None,
                    texts: Sequence[str] = (), workers: Workers | None = None
                    ) -> dict[str, str]:
    """Write ``docs`` (``total`` of them) into the empty index ``ix`` and commit.

    With several processors and many documents, worker processes share the
    work (``workers`` if started already: this call ends them); segments are
    listed in a fixed order, so the document order (and with it the order of
    equal scores) does not depend on scheduling.  Returns the lexicon (word ->
    term) of the documents and of ``texts`` (analysed by a worker, which has
    NLTK loaded: this process need not; ``workers`` were given theirs).
    """
    main = fast_writer(ix)  # holds the index lock while the segments are written
    try:
        if workers is None:
            workers = start_workers(total, texts, procs)
        if workers is not None:
            segments, lexicon = _parallel(ix, docs, total, workers, progress)
        else:
            load_nltk()
            done = [0]

            def tick() -> None:
                done[0] += 1
                if progress and (done[0] % 1000 == 0 or done[0] == total):
                    progress(done[0], total)

            with collecting_words() as words:
                segments = _build_segments(ix, docs, tick)
            lexicon = lexicon_entries(words | words_of(texts))
        commit_segments(main, segments)
    except BaseException:
        cancel(main)
        raise
    finally:
        if workers is not None:
            workers.close()
    release(main)
    return lexicon


def _parallel(ix: whoosh_index.Index, docs: Iterable[dict[str, Any]], total: int,
              workers: Workers, progress: Progress | None
              ) -> tuple[list[Any], dict[str, str]]:
    jobs, results, processes = workers.jobs, workers.results, workers.processes
    procs = len(jobs)
    for q in jobs:
        _put(q, (ix.storage.folder, ix.indexname), processes)
    batch: list[dict[str, Any]] = []
    sent = nbatch = pages = 0
    for doc in docs:
        batch.append(doc)
        body = doc.get("body")
        pages += body.pages if isinstance(body, BodyPages) else len(doc.get("pages", ()))
        if len(batch) == BATCH_DOCS or pages >= BATCH_PAGES:
            _put(jobs[nbatch % procs], batch, processes)
            sent += len(batch)
            nbatch += 1
            batch, pages = [], 0
            if progress:
                progress(sent, total)
    if batch:
        _put(jobs[nbatch % procs], batch, processes)
        sent += len(batch)
    for q in jobs:
        _put(q, None, processes)
    outcome: dict[int, list[Any]] = {}
    lexicon: dict[str, str] = {}
    while len(outcome) < procs:
        try:
            k, status, payload, terms = results.get(timeout=1.0)
        except queue.Empty:
            _check_alive(processes)
            continue
        workers.reported.add(k)
        if status == "error":
            message, details = payload
            raise IndexingError(
                f"an indexing worker process failed ({message}); the index was left as "
                "it was: fix the cause and run the command again", details)
        outcome[k] = payload
        lexicon.update(terms)
    if progress:
        progress(total, total)
    return [segment for k in range(procs) for segment in outcome[k]], lexicon


def _put(q: Any, item: Any, workers: list[Any]) -> None:
    while True:
        try:
            q.put(item, timeout=1.0)
            return
        except queue.Full:
            _check_alive(workers)


def _worker(jobs: Any, results: Any, k: int, texts: list[str],
            inboxes: Sequence[Any] = ()) -> None:
    """A worker process: write the batches of its queue into segments of the
    index it names first; report them with the lexicon of their words and of
    ``texts``.  ``inboxes``: each worker's queue of the words the others
    analysed (this one's is ``inboxes[k]``; see :func:`_share`)."""
    die_with_parent()
    try:
        load_nltk()
        parent = multiprocessing.parent_process()
        inbox = inboxes[k] if inboxes else None
        others = [q for i, q in enumerate(inboxes) if i != k]
        for q in inboxes:
            q.cancel_join_thread()  # (words sent are a help: never waited for)
        analysed: list[tuple[str, Terms, int]] = []

        def take() -> Any:
            while True:
                try:
                    return jobs.get(timeout=1.0)
                except queue.Empty:
                    if parent is not None and not parent.is_alive():
                        os._exit(1)  # the indexing process was killed: nothing to do

        where = take()
        if where is None:  # (not needed after all)
            return
        ix = whoosh_index.open_dir(*where)
        # What was imported stays out of the collector's walks; it is off
        # while documents are added (see no_cycle_collection), and collects
        # what a finished segment's writer left between segments.
        gc.freeze()
        ANALYSED.append(analysed)
        with no_cycle_collection(), collecting_words() as words:
            segments = _build_segments(ix, _batches(take, inbox, analysed, others),
                                       on_segment=gc.collect)
        results.put((k, "ok", segments, lexicon_entries(words | words_of(texts))))
        results.close()
        results.join_thread()  # (the outcome sent)
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        results.put((k, "error", (message, traceback.format_exc()), {}))
        return
    # The process's objects (its tables: hundreds of MB) go with it, not one
    # by one: the indexing process waited 0.16-0.19 s for that at 100k records.
    os._exit(0)


def _batches(take: Callable[[], list[dict[str, Any]] | None], inbox: Any | None,
             analysed: list[tuple[str, Terms, int]], others: Sequence[Any]
             ) -> Iterator[dict[str, Any]]:
    """The documents of the batches ``take`` gives, until None: before each
    batch, the words the other workers sent are taken (:func:`_take_shared`);
    after it, those this one analysed are sent (:func:`_share`)."""
    while (batch := take()) is not None:
        _take_shared(inbox)
        yield from batch
        _share(analysed, others)


def _share(analysed: list[tuple[str, Terms, int]], others: Sequence[Any]) -> None:
    """Send the other workers the words this one analysed since the last
    call (after each batch), and forget them.  Those the others have not
    met yet they then enter without analysing (a word found in a batch
    reaches them a batch later): at 100,000 benchmark records, the two
    workers analysed 46,918 and 46,180 words instead of some 77,400 each."""
    if analysed and others:
        for q in others:
            q.put(analysed[:])
    analysed.clear()


def _take_shared(inbox: Any | None) -> None:
    """Take the words the other workers sent so far into
    :data:`~thb_search.postcolumns.SHARED` (up to its bound)."""
    if inbox is None:
        return
    while len(SHARED) < MAX_SHARED:
        try:
            words = inbox.get_nowait()
        except queue.Empty:
            return
        SHARED.update((token, (terms, taken)) for token, terms, taken in words)


def _check_alive(workers: list[Any]) -> None:
    """Raise if a worker process ended without reporting: killed (out of
    memory), or failed before it started (the one usual cause: a Python script
    that indexes without ``if __name__ == "__main__":``, which each worker
    process, started by spawning, imports and so runs again)."""
    for w in workers:
        if not w.is_alive() and w.exitcode:
            if w.exitcode < 0:
                raise IndexingError(
                    f"an indexing worker process died (killed by signal {-w.exitcode}; out of "
                    "memory?); the index was left as it was: run the command again, with more "
                    "memory free")
            raise IndexingError(
                f"an indexing worker process failed (exit code {w.exitcode}; its error is on "
                f"standard error); the index was left as it was. {MAIN_GUARD}")
