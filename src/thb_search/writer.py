"""Writing documents into Whoosh segments, fast.

Whoosh's own writer sorts every posting through a pool that pickles runs to
disk and merges them back; here postings stay in memory, grouped by term in
compact arrays (:class:`MemoryPool`), and a large build is spread over
worker processes, each writing its own segments of at most
about ``POOL_BYTES`` of postings (which bounds memory at any catalogue size).  The
segments are ordinary Whoosh segments: later updates use Whoosh's writer.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import traceback
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.writing import SegmentWriter

from .analysis import collecting_words, lexicon_entries, load_nltk

#: Approximate bytes of postings a bulk-build writer holds before it writes
#: them out as a segment (bounds each process's memory at any catalogue size).
POOL_BYTES = 120 * 1024 * 1024
#: A bulk build of fewer documents stays in this process.
PARALLEL_MIN_DOCS = 5_000
#: Documents sent to a worker at a time.
BATCH_DOCS = 500

Progress = Callable[[int, int], None]


class MemoryPool:
    """Postings in memory, by term: documents, weights and encoded values.

    Replaces Whoosh's ``PostingPool`` (same ``add`` / ``iter_postings`` /
    ``cleanup`` interface).  Documents must arrive in increasing order per
    term, which is how a segment writer numbers them.
    """

    #: Approximate bytes of one term's entry and of one posting.
    TERM_BYTES = 420
    POSTING_BYTES = 16

    def __init__(self) -> None:
        # (field, term) -> (documents, weights, value ends, values)
        self._terms: dict[tuple[str, bytes], tuple[array, array, array, bytearray]] = {}
        self.fieldnames: set[str] = set()
        self.nbytes = 0

    def add_many(self, fieldname: str, items: Iterable[tuple[bytes, int, float, bytes]],
                 docnum: int) -> None:
        """Add one document's postings of one field."""
        terms = self._terms
        size = 0
        for tbytes, _, weight, vbytes in items:
            entry = terms.get((fieldname, tbytes))
            if entry is None:
                entry = terms[(fieldname, tbytes)] = (
                    array("I"), array("f"), array("I", [0]), bytearray())
                self.fieldnames.add(fieldname)
                size += self.TERM_BYTES
            docs, weights, ends, values = entry
            docs.append(docnum)
            weights.append(weight)
            if vbytes:
                values += vbytes
                size += len(vbytes)
            ends.append(len(values))
        self.nbytes += size + self.POSTING_BYTES * len(items)

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        fieldname, tbytes, docnum, weight, vbytes = item
        self.add_many(fieldname, [(tbytes, 1, weight, vbytes or b"")], docnum)

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes]]:
        for key in sorted(self._terms):
            fieldname, tbytes = key
            docs, weights, ends, values = self._terms[key]
            for i, docnum in enumerate(docs):
                yield fieldname, tbytes, docnum, weights[i], bytes(values[ends[i]:ends[i + 1]])

    def write_to(self, fieldwriter: Any, schema: Any, lengths: _Lengths | None) -> None:
        """Write every posting list through a Whoosh field writer, a block at a
        time (what Whoosh's ``add_postings`` does a posting at a time)."""
        current = None
        doc_lengths: Any = None
        for key in sorted(self._terms):
            fieldname, tbytes = key
            if fieldname != current:
                if current is not None:
                    fieldwriter.finish_field()
                fieldwriter.start_field(fieldname, schema[fieldname])
                current = fieldname
                doc_lengths = (lengths.doc_field_length_reader(fieldname)
                               if lengths is not None else None)
            fieldwriter.start_term(tbytes)
            _add_block_postings(fieldwriter._postwriter, *self._terms[key], doc_lengths)
            fieldwriter.finish_term()
        if current is not None:
            fieldwriter.finish_field()

    def cleanup(self) -> None:
        self._terms.clear()
        self.nbytes = 0


class _Lengths:
    """Field lengths of a new segment, read once (Whoosh reads them from disk
    for every posting it writes)."""

    def __init__(self, perdoc: Any, doc_count: int) -> None:
        self._perdoc = perdoc
        self._count = doc_count

    def doc_field_length_reader(self, fieldname: str, default: int = 0) -> Callable[[int], Any]:
        get = self._perdoc.doc_field_length_reader(fieldname, default)
        return [get(d) for d in range(self._count)].__getitem__


#: Posting blocks are stored without zlib: writing and reading skip the
#: (de)compression, for an index about a third larger.
CODEC = W3Codec(compression=0)


def _add_block_postings(pw: Any, docs: array, weights: array, ends: array, values: bytearray,
                        doc_lengths: Callable[[int], Any] | None) -> None:
    """Fill a W3 postings writer's blocks as ``add_posting`` would, a block at a
    time: the same block boundaries, statistics and bytes."""
    limit = pw._blocklimit
    n = len(docs)
    for start in range(0, n, limit):
        if len(pw._ids) >= limit:
            pw._write_block()
        end = min(n, start + limit - len(pw._ids))
        chunk = docs[start:end]
        pw._ids.extend(chunk)
        w = weights[start:end]
        pw._weights.extend(w)
        top = max(w)
        if top > pw._maxweight:
            pw._maxweight = top
        if values:
            pw._values.extend([bytes(values[ends[i]:ends[i + 1]]) for i in range(start, end)])
        if doc_lengths is not None:
            lens = [length for length in map(doc_lengths, chunk) if length]
            if lens:
                low, high = min(lens), max(lens)
                if pw._minlength is None or low < pw._minlength:
                    pw._minlength = low
                if high > pw._maxlength:
                    pw._maxlength = high


class FastSegmentWriter(SegmentWriter):
    """A Whoosh segment writer whose postings stay in memory (:class:`MemoryPool`)."""

    def __init__(self, ix: whoosh_index.Index, **kwargs: Any) -> None:
        # Segments stay separate files: Whoosh copies a compound file's parts
        # into memory when it opens them (0.1 s per 100 MB, in every search process).
        super().__init__(ix, codec=CODEC, compound=False, **kwargs)
        self.pool = MemoryPool()

    def add_document(self, **fields: Any) -> None:
        """Whoosh's ``add_document`` for this project's schema, minus what it
        does not use (document and field boosts, spelling fields, vectors), and
        with a field's postings added to the pool at once."""
        self._check_state()
        perdoc = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    items = list(field.index(value))
                    if field.scorable:
                        length = sum(item[1] for item in items)
                    self.pool.add_many(name, items, docnum)
                perdoc.add_field(name, field, value if field.stored else None, length)
                if field.column_type:
                    perdoc.add_column_value(name, field.column_type,
                                            field.to_column_value(value))
        except ValueError:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        try:
            lengths = _Lengths(pdr, self.docnum) if pdr is not None else None
            self.pool.write_to(self.fieldwriter, self.schema, lengths)
            self.fieldwriter.close()
        finally:
            if pdr is not None:
                pdr.close()


def fast_writer(ix: whoosh_index.Index, *, lock: bool = True) -> SegmentWriter:
    """A Whoosh segment writer whose postings stay in memory."""
    return FastSegmentWriter(ix, _lk=lock)


def _build_segments(ix: whoosh_index.Index, docs: Iterable[dict[str, Any]],
                    on_doc: Callable[[], None] | None = None) -> list[Any]:
    """Write ``docs`` into new segments of ``ix`` (not yet in its table of
    contents) and return them."""
    segments = []
    writer = None
    try:
        for doc in docs:
            if writer is None:
                writer = fast_writer(ix, lock=False)
            writer.add_document(**doc)
            if on_doc:
                on_doc()
            if writer.pool.nbytes >= POOL_BYTES:
                segments.append(_finish(writer))
                writer = None
        if writer is not None:
            segments.append(_finish(writer))
            writer = None
    finally:
        if writer is not None:
            writer.cancel()
    return segments


def _finish(writer: SegmentWriter) -> Any:
    return writer._finalize_segment()


def write_new_index(ix: whoosh_index.Index, docs: Iterable[dict[str, Any]], total: int,
                    *, procs: int | None = None,
                    progress: Progress | None = None) -> dict[str, str]:
    """Write ``docs`` (``total`` of them) into the empty index ``ix`` and commit.

    With several processors and many documents, worker processes share the
    work; segments are listed in a fixed order, so the document order (and
    with it the order of equal scores) does not depend on scheduling.
    Returns the lexicon of the documents (word -> term).
    """
    procs = procs or min(os.cpu_count() or 1, 4)
    main = fast_writer(ix)  # holds the index lock while the segments are written
    try:
        if procs > 1 and total >= PARALLEL_MIN_DOCS:
            segments, lexicon = _parallel(ix, docs, total, procs, progress)
        else:
            load_nltk()
            done = [0]

            def tick() -> None:
                done[0] += 1
                if progress and (done[0] % 1000 == 0 or done[0] == total):
                    progress(done[0], total)

            with collecting_words() as words:
                segments = _build_segments(ix, docs, tick)
            lexicon = lexicon_entries(words)
        main._close_segment()
        main._commit_toc(segments)
    except BaseException:
        main.cancel()
        raise
    main._finish()
    return lexicon


def _parallel(ix: whoosh_index.Index, docs: Iterable[dict[str, Any]], total: int, procs: int,
              progress: Progress | None) -> tuple[list[Any], dict[str, str]]:
    ctx = multiprocessing.get_context("spawn")
    jobs = [ctx.Queue(maxsize=4) for _ in range(procs)]
    results = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(ix.storage.folder, ix.indexname, jobs[k],
                                                 results, k), daemon=True)
               for k in range(procs)]
    for w in workers:
        w.start()
    try:
        batch: list[dict[str, Any]] = []
        sent = nbatch = 0
        for doc in docs:
            batch.append(doc)
            if len(batch) == BATCH_DOCS:
                _put(jobs[nbatch % procs], batch, workers)
                sent += len(batch)
                nbatch += 1
                batch = []
                if progress:
                    progress(sent, total)
        if batch:
            _put(jobs[nbatch % procs], batch, workers)
            sent += len(batch)
        for q in jobs:
            _put(q, None, workers)
        outcome: dict[int, list[Any]] = {}
        lexicon: dict[str, str] = {}
        while len(outcome) < procs:
            try:
                k, status, payload, terms = results.get(timeout=1.0)
            except queue.Empty:
                if any(not w.is_alive() and w.exitcode for w in workers):
                    raise RuntimeError("an indexing worker process died") from None
                continue
            if status == "error":
                raise RuntimeError(f"an indexing worker failed:\n{payload}")
            outcome[k] = payload
            lexicon.update(terms)
        if progress:
            progress(total, total)
        return [segment for k in range(procs) for segment in outcome[k]], lexicon
    finally:
        for w in workers:
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()


def _put(q: Any, item: Any, workers: list[Any]) -> None:
    while True:
        try:
            q.put(item, timeout=1.0)
            return
        except queue.Full:
            if any(not w.is_alive() for w in workers):
                raise RuntimeError("an indexing worker process died") from None


def _worker(folder: str, indexname: str, jobs: Any, results: Any, k: int) -> None:
    """A worker process: write the batches of its queue into segments."""
    try:
        load_nltk()
        ix = whoosh_index.open_dir(folder, indexname)

        def batches() -> Iterator[dict[str, Any]]:
            while (batch := jobs.get()) is not None:
                yield from batch

        with collecting_words() as words:
            segments = _build_segments(ix, batches())
        results.put((k, "ok", segments, lexicon_entries(words)))
    except BaseException:
        results.put((k, "error", traceback.format_exc(), {}))
