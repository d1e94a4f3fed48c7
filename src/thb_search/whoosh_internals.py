"""Every use of Whoosh's private API, in one module, for one Whoosh version.

Whoosh stores the index; two things it does in Python a posting at a time
are done here a block at a time, through its internals:

* **reading** a term's postings into numpy arrays (:func:`read_postings`) and
  every document's field length (:func:`read_lengths`), for the engine and
  the facet arrays;
* **writing** segments whose postings are pooled in memory and handed to the
  W3 codec's postings writer a block at a time (:class:`FastSegmentWriter`,
  :func:`write_pool`), for indexing.

The codec (:class:`ThbCodec`) is Whoosh's W3 with compact posting blocks
(:mod:`thb_search.blocks`) and stored fields compressed with a dictionary
(:class:`StoredFieldsColumn`): at 100,000 records the postings take 38 MB
instead of W3's 239 MB (and a block decodes straight into numpy arrays),
the stored fields 47 MB instead of 76.

These calls (``_terms.matcher``, ``_read_ids``, ``_postwriter``,
``_commit_toc``, ...) are not Whoosh's public API, so this module refuses to
import with any other Whoosh than the one it was written and tested for
(:data:`SUPPORTED_WHOOSH`, the exact pin of ``pyproject.toml``).  The tests
compare what this writer writes and what this reader reads with Whoosh's own
writer and searcher.  Nothing else in thb-search touches Whoosh's internals.
"""

from __future__ import annotations

import itertools
import mmap
import pickle
import struct
import threading
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from hashlib import md5
from itertools import accumulate
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import whoosh
from whoosh import columns
from whoosh import fields as whoosh_fields
from whoosh import formats as whoosh_formats
from whoosh.analysis import IDTokenizer
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    STORED_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3LeafMatcher,
    W3PerDocReader,
    W3PerDocWriter,
    W3PostingsWriter,
    W3TermInfo,
)
from whoosh.filedb.filetables import OrderedHashWriter, md5_hash
from whoosh.filedb.filetables import _pointer as _HASH_SLOT  # a hash table slot: hash, position
from whoosh.reading import CorruptIndexError, TermNotFound
from whoosh.util.numeric import byte_to_length
from whoosh.util.numeric import length_to_byte as _length_to_byte
from whoosh.writing import SegmentWriter

from . import blocks
from .errors import ThbSearchError
from .fields import BodyTokens
from .schema import BODY_FIELD, BODY_LENGTH_FIELD, PAGES_FIELD, POS_BITS, PositionArray

if TYPE_CHECKING:
    from .postcolumns import Entry, Settled
    from .writer import MemoryPool

#: The one Whoosh version whose internals this module uses.
SUPPORTED_WHOOSH = "3.54.0"


class UnsupportedWhooshError(ThbSearchError, ImportError):
    """The installed Whoosh is not the version thb-search was written for."""


if whoosh.versionstring() != SUPPORTED_WHOOSH:
    raise UnsupportedWhooshError(
        f"thb-search needs Whoosh {SUPPORTED_WHOOSH} (the whoosh3=={SUPPORTED_WHOOSH} package) "
        f"but Whoosh {whoosh.versionstring()} is installed: run "
        f"pip install 'whoosh3=={SUPPORTED_WHOOSH}' (and uninstall any other package that "
        "provides 'whoosh')")

EMPTY_I = np.zeros(0, dtype=np.int64)
EMPTY_F = np.zeros(0, dtype=np.float32)
_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


# ---------------------------------------------------------------------------
# The codec: Whoosh's W3, with compact posting blocks


#: A block's header: its length in bytes after this field (negative for a
#: term's last block), postings, last document number, largest weight,
#: compression (zlib level, 0: none), shortest and longest field length (as
#: Whoosh's length bytes).  W3 pickles the same tuple (about 28 bytes).
_BLOCK_HEADER = struct.Struct("<iHIfBBB")
#: Blocks of fewer bytes are never compressed (see ThbCodec).
COMPRESS_MIN = 64


def _value_kind(format_: Any) -> int | str:
    """How :mod:`thb_search.blocks` stores a format's values."""
    if isinstance(format_, PositionArray):
        return blocks.POSITIONS
    size = format_.fixed_value_size()
    return size if size is not None and size >= 0 else blocks.VARIABLE


class ThbCodec(W3Codec):
    """Whoosh's W3 codec (same files: terms, postings, columns), whose
    posting blocks are :mod:`thb_search.blocks` arrays behind a packed header
    instead of pickled tuples (the postings take a sixth of the room and a
    block decodes into numpy arrays in a few calls), and whose stored fields
    are compressed with a dictionary (:class:`StoredFieldsColumn`).

    Whoosh pickles the codec into every segment, so Whoosh's own readers and
    searchers read these postings through :class:`CompactLeafMatcher`.
    Module-level name: moving it is a schema change.
    """

    def per_document_writer(self, storage: Any, segment: Any) -> Any:
        return ThbPerDocWriter(self, storage, segment)

    def field_writer(self, storage: Any, segment: Any) -> Any:
        writer = super().field_writer(storage, segment)
        writer._tindex.__class__ = _TermsTableWriter
        return writer

    def per_document_reader(self, storage: Any, segment: Any) -> Any:
        return ThbPerDocReader(storage, segment)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> Any:
        if byteids:  # term vectors (unused): W3's blocks
            return super().postings_writer(dbfile, byteids)
        return CompactPostingsWriter(dbfile, blocklimit=self._blocklimit,
                                     compression=self._compression,
                                     inlinelimit=self._inlinelimit)

    def postings_reader(self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None,
                        scorer: Any = None) -> Any:
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term, scorer)
        offset, length = terminfo.extent()
        return CompactLeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


class _TermsTableWriter(OrderedHashWriter):
    """Whoosh's ordered hash writer of a segment's terms, whose hash tables
    are written as Whoosh writes them, each in one piece rather than a write
    a slot (two slots a term).  Closing the terms file of an add's 540
    terms: 1.2-1.4 -> 0.8 ms; the tables of 90,000 terms: 105 -> 70-79 ms."""

    def _write_hashes(self) -> None:
        pos = self.dbfile.tell()
        parts = []
        for entries in self.buckets:
            numslots = 2 * len(entries)
            self.directory.append((pos, numslots))
            if not numslots:
                continue
            table: list[tuple[int, int] | None] = [None] * numslots
            for entry in entries:  # (hash, position): open addressing, in order
                slot = (entry[0] >> 8) % numslots
                while table[slot] is not None:
                    slot = (slot + 1) % numslots
                table[slot] = entry
            # (an empty slot is (0, 0): no key starts at 0, the header's place)
            flat = [n for entry in table for n in (entry or _EMPTY_SLOT)]
            parts.append(struct.pack(_HASH_SLOT.format[0] + _HASH_SLOT.format[1:] * numslots,
                                     *flat))
            pos += numslots * _HASH_SLOT.size
        self.dbfile.write(b"".join(parts))


_EMPTY_SLOT = (0, 0)


#: Field lengths' bytes (Whoosh's ``length_to_byte``, a bisection) met so
#: far, of lengths below ``_REMEMBERED_LENGTHS`` (a record's fields: the
#: lengths of documents' bodies are too many to keep in a long-lived process).
_LENGTH_BYTES: dict[int | None, int] = {None: 0}
_REMEMBERED_LENGTHS = 4096


def length_to_byte(length: int | None) -> int:
    """Whoosh's ``length_to_byte``, remembered (a term written looks up four)."""
    try:
        return _LENGTH_BYTES[length]
    except KeyError:
        byte = _length_to_byte(length)
        if length is not None and length < _REMEMBERED_LENGTHS:
            _LENGTH_BYTES[length] = byte
        return byte


def _length_bytes(lengths: np.ndarray) -> np.ndarray:
    """:func:`length_to_byte` of each of ``lengths``."""
    values, where = np.unique(lengths, return_inverse=True)
    return np.array([length_to_byte(int(v)) for v in values], dtype=np.uint8)[where]


def _md5_low32(key: bytes) -> int:
    """Whoosh's ``md5_hash`` (the low 32 bits of the key's MD5 as a number),
    without going through the digest's hex text."""
    return int.from_bytes(md5(key, usedforsecurity=False).digest()[12:], "big")


def _compressed(data: bytes, level: int) -> tuple[bytes, int]:
    """A posting block's bytes as stored, and their zlib level (0: as they
    are, when short or not smaller compressed)."""
    if level and len(data) >= COMPRESS_MIN:
        packed = zlib.compress(data, level)
        if len(packed) < len(data):
            return packed, level
    return data, 0


class CompactPostingsWriter(W3PostingsWriter):
    """W3's postings writer (same blocks, same statistics), writing each
    block as :func:`thb_search.blocks.encode` bytes."""

    def start_postings(self, format_: Any, terminfo: Any) -> None:
        super().start_postings(format_, terminfo)
        self._kind = _value_kind(format_)

    def _write_block(self, last: bool = False) -> None:
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids = self._ids
        data, comp = _compressed(blocks.encode(ids, self._weights, self._values, self._kind),
                                 self._compression)
        length = _BLOCK_HEADER.size - 4 + len(data)
        self._postfile.write(_BLOCK_HEADER.pack(
            -length if last else length, len(ids), ids[-1], self._maxweight, comp,
            length_to_byte(self._minlength), length_to_byte(self._maxlength)))
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


def _block_header(data: bytes, at: int, position: int) -> tuple[Any, ...]:
    """The header of the block at ``data[at:]`` (``position`` in its file),
    checked: (length, negative for a term's last block; postings; last
    document; largest weight; compression; shortest and longest length)."""
    try:
        header = _BLOCK_HEADER.unpack_from(data, at)
    except struct.error as exc:
        raise CorruptIndexError(f"Damaged postings block at offset {position}: {exc}; "
                                "rebuild the index") from exc
    length, n, _, _, comp, _, _ = header
    if n == 0 or abs(length) < _BLOCK_HEADER.size - 4 or comp > 9:
        raise CorruptIndexError(f"Damaged postings block at offset {position}; "
                                "rebuild the index")
    return header


def _blocks_of(data: bytes, offset: int) -> list[blocks.Block]:
    """The decoded blocks of a term's postings ``data`` (read at ``offset``)."""
    data, spans = _block_spans(data, offset)
    return [blocks.decode(data[start:end], n, last_id) for start, end, n, last_id in spans]


def _term_postings(postfile: Any, offset: int, length: int, positions: bool
                   ) -> list[blocks.Postings]:
    """A term's postings, ``length`` bytes at ``offset`` in ``postfile``,
    read at once: a catalogue's term of many blocks decoded at once
    (:func:`thb_search.blocks.decode_many`; a search's first reading of a
    term at 100,000 records decodes about a hundred blocks), in one part;
    a term of one block, or a document body's (positions beyond 16 bits,
    thousands a posting), decoded block by block, a part a block: its
    arrays, and the position keys made of them, then stay small enough
    for the processor's cache (a body's word at 300 PDFs: 21 -> 11 ms)."""
    data, spans = _block_spans(postfile.get(offset, length), offset)
    if len(spans) > 1 and not blocks.wide_positions(data, spans):
        return [blocks.decode_many(data, spans, positions)]
    parts = []
    for start, end, n, last_id in spans:
        one = blocks.decode(data[start:end], n, last_id)
        parts.append(blocks.Postings(one.ids, one.weights, one.counts if positions else None,
                                     one.positions if positions else None))
    return parts


def _block_spans(data: bytes, offset: int) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    """A term's postings ``data`` (read at ``offset``: W3's magic number, then
    :class:`CompactPostingsWriter` blocks, each behind its header) as
    :func:`thb_search.blocks.decode_many` takes them: the blocks' bytes
    (compressed ones decompressed) and each block's (start, end, postings,
    last document number); checked."""
    magic = len(WHOOSH3_HEADER_MAGIC)
    if data[:magic] != WHOOSH3_HEADER_MAGIC:
        raise CorruptIndexError(f"Bad postings block tag {data[:magic]!r} at offset {offset}; "
                                "rebuild the index")
    spans = []
    compressed = set()
    at = magic
    while at < len(data):
        size, n, last_id, _, comp, _, _ = _block_header(data, at, offset + at)
        end = at + 4 + abs(size)
        if comp:
            compressed.add(len(spans))
        spans.append((at + _BLOCK_HEADER.size, end, n, last_id))
        at = end
    if at != len(data):
        raise CorruptIndexError(f"Damaged postings block at offset {offset}; rebuild the index")
    if compressed:  # (thb-search writes none; an index written with zlib blocks)
        bodies = [zlib.decompress(data[s:e]) if i in compressed else data[s:e]
                  for i, (s, e, _, _) in enumerate(spans)]
        ends = list(accumulate(map(len, bodies)))
        spans = [(e - len(b), e, n, last)
                 for b, e, (_, _, n, last) in zip(bodies, ends, spans, strict=True)]
        data = b"".join(bodies)
    return data, spans


class CompactLeafMatcher(W3LeafMatcher):
    """W3's matcher over :class:`CompactPostingsWriter` blocks; :meth:`block`
    gives the current block as numpy arrays."""

    def _goto(self, position: int) -> None:
        self._data = None
        self._ids = None
        self._weights = None
        self._values = None
        self._i = 0
        length, n, last_id, maxweight, comp, mnlen, mxlen = _block_header(
            self._postfile.get(position, _BLOCK_HEADER.size), 0, position)
        if length < 0:
            self._lastblock = True
            length = -length
        self._nextoffset = position + 4 + length
        self._dataoffset = position + _BLOCK_HEADER.size
        self._blocklength = n
        self._maxid = last_id
        self._maxweight = maxweight
        self._compression = comp
        self._minlength = byte_to_length(mnlen)
        self._maxlength = byte_to_length(mxlen)

    def block(self) -> blocks.Block:
        """The current block, decoded."""
        if self._data is None:
            data = self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
            if self._compression:
                data = zlib.decompress(data)
            self._data = blocks.decode(data, self._blocklength, self._maxid)
        return self._data

    def _read_data(self) -> None:
        self.block()

    def _read_ids(self) -> None:
        self._ids = tuple(self.block().ids.tolist())

    def _read_weights(self) -> None:
        self._weights = array("f", self.block().weights.tobytes())

    def _read_values(self) -> None:
        self._values = self.block().values(self._fixedsize)


#: Documents of a segment whose stored fields make its compression
#: dictionary, and the dictionary's size.
DICTIONARY_DOCS = 100
DICTIONARY_BYTES = 16 * 1024
#: Zstandard's level for stored fields.
STORED_LEVEL = 3


class StoredFieldsColumn(columns.Column):
    """Each document's stored fields (a pickled dict, as W3 stores them),
    compressed with Zstandard and a dictionary made from the segment's first
    documents' fields.  A record is a few hundred bytes, too short for a
    compressor to find much to repeat within it; with the field names,
    offices, publisher and words of other records to refer to, it compresses
    to about a third.  Against zlib with those documents as a preset
    dictionary (this column before schema 10), at 20,000 records of the
    benchmark's catalogue: 36-59 -> 7.6 µs a document to write (a tenth of
    an indexing worker's time before), 10 -> 4 µs to read, 8.4 -> 7.9 MB.

    The dictionary is trained on the first ``DICTIONARY_DOCS`` documents
    (``zstandard.train_dictionary``: the same bytes from the same documents);
    a segment of fewer (an add of a few records) has their own last
    ``DICTIONARY_BYTES`` as a raw-content dictionary, which costs nothing to
    make.  The column: the dictionary's length (uint32) and bytes (a trained
    dictionary starts with Zstandard's dictionary magic number, raw content
    with a pickle's protocol byte), then a Whoosh ``VarBytesColumn`` of the
    compressed documents."""

    def writer(self, dbfile: Any) -> Any:
        return _StoredFieldsWriter(dbfile)

    def reader(self, dbfile: Any, basepos: int, length: int, doccount: int) -> Any:
        return _StoredFieldsReader(dbfile, basepos, length, doccount)


def _stored_dictionary(samples: list[bytes]) -> bytes:
    """The compression dictionary of a segment whose first documents'
    stored fields are ``samples`` (see :class:`StoredFieldsColumn`)."""
    import zstandard

    if len(samples) >= DICTIONARY_DOCS:
        try:
            return zstandard.train_dictionary(DICTIONARY_BYTES, samples,
                                              level=STORED_LEVEL).as_bytes()
        except zstandard.ZstdError:  # (too little to learn from: short fields)
            pass
    return b"".join(samples)[-DICTIONARY_BYTES:]


def _zstd_dictionary(data: bytes) -> Any:
    import zstandard

    return zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_AUTO)


class _StoredFieldsWriter(columns.ColumnWriter):
    def __init__(self, dbfile: Any) -> None:
        self._dbfile = dbfile
        self._pending: list[tuple[int, bytes]] = []
        self._child: Any = None
        self._compress: Any = None

    def add(self, docnum: int, value: Any) -> None:
        data = pickle.dumps(value, 2)
        if self._child is not None:
            self._child.add(docnum, self._compress(data))
            return
        self._pending.append((docnum, data))
        if len(self._pending) >= DICTIONARY_DOCS:
            self._start()

    def _start(self) -> None:
        import zstandard

        samples = [data for _, data in self._pending]
        zdict = _stored_dictionary(samples) if samples else b""
        self._dbfile.write(struct.pack("<I", len(zdict)) + zdict)
        if zdict:
            self._compress = zstandard.ZstdCompressor(
                level=STORED_LEVEL, dict_data=_zstd_dictionary(zdict), write_checksum=False,
                write_content_size=True, write_dict_id=False).compress
        self._child = columns.VarBytesColumn().writer(self._dbfile)
        for docnum, data in self._pending:
            self._child.add(docnum, self._compress(data))
        self._pending = []

    def finish(self, doccount: int) -> None:
        if self._child is None:
            self._start()
        self._child.finish(doccount)


class _StoredFieldsReader(columns.ColumnReader):
    def __init__(self, dbfile: Any, basepos: int, length: int, doccount: int) -> None:
        super().__init__(dbfile, basepos, length, doccount)
        (size,) = struct.unpack("<I", dbfile.get(basepos, 4))
        self._zdict = dbfile.get(basepos + 4, size)
        self._decompress: Any = None
        # (a Zstandard decompressor is not to be used by two threads at once:
        # a server's searches read stored fields from several)
        self._lock = threading.Lock()
        start = basepos + 4 + size
        self._child = columns.VarBytesColumn().reader(dbfile, start, length - (start - basepos),
                                                      doccount)

    def __getitem__(self, docnum: int) -> Any:
        data = self._child[docnum]
        if not data:
            return None
        with self._lock:
            if self._decompress is None:
                import zstandard

                self._decompress = zstandard.ZstdDecompressor(
                    dict_data=_zstd_dictionary(self._zdict)).decompress
            data = self._decompress(data)
        return pickle.loads(data)


#: The stored fields of ThbCodec's segments.
STORED_FIELDS = StoredFieldsColumn()


class ThbPerDocWriter(W3PerDocWriter):
    """W3's per-document writer, stored fields in :data:`STORED_FIELDS`."""

    def _create_column(self, fieldname: str, column: Any) -> None:
        super()._create_column(fieldname, STORED_FIELDS if fieldname == "_stored" else column)


class ThbPerDocReader(W3PerDocReader):
    """W3's per-document reader, stored fields from :data:`STORED_FIELDS`."""

    stored_column = STORED_FIELDS

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        value = self._cached_reader("_stored", STORED_FIELDS)[docnum]
        return {} if value is None else value


# ---------------------------------------------------------------------------
# Reading


def open_columns(reader: Any) -> None:
    """Open every column file of ``reader``'s segments now.  Whoosh opens them
    on first use, and a later commit removes the files of segments it merged
    away: a reader of the state before it must hold them open already."""
    listed: dict[int, list[str]] = {}  # the files of each storage (one folder: one listing)
    for leaf, _ in reader.leaf_readers():
        perdoc, segment = getattr(leaf, "_perdoc", None), getattr(leaf, "_segment", None)
        if (perdoc is None or segment is None or not hasattr(perdoc, "_colfiles")
                or getattr(perdoc, "_thb_opened", False)):  # a reader taken over: done
            continue
        names = listed.get(id(leaf._storage))
        if names is None:
            names = listed[id(leaf._storage)] = list(leaf._storage)
        prefix = segment.make_filename("").rstrip(".") + "."
        for name in names:
            if name.startswith(prefix) and name.endswith(".col"):
                field = name[len(prefix):-len(".col")]
                if field not in perdoc._colfiles:
                    perdoc._colfiles[field] = perdoc._get_column_file(field)
                # Whoosh checks that a file exists before it reads its first
                # stored fields or lengths: read them through the open file.
                stored = getattr(perdoc, "stored_column", STORED_COLUMN)
                column = (stored if field == "_stored" else LENGTHS_COLUMN
                          if field.startswith("_") and field.endswith("_len") else None)
                if column is not None and field not in perdoc._readers:
                    perdoc._readers[field] = perdoc.column_reader(field, column)
        perdoc._thb_opened = True


def read_postings(reader: Any, fieldname: str, text: str, positions: bool = False,
                  pos_bits: int = POS_BITS) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(documents, weights, position keys or None) of a term, over all segments.

    Whoosh's matchers hand out one posting per Python call; its W3 codec
    stores postings in blocks of up to 128, each a pickled tuple of document
    numbers, weights and values.  Reading whole blocks costs a few
    microseconds per block instead of a microsecond per posting (and the
    blocks of :class:`ThbCodec` are numpy arrays already).  Deleted
    documents are included: callers mask them out.  Position keys need a
    field whose values are raw uint32 positions
    (:class:`thb_search.schema.PositionArray`).
    """
    btext = text.encode("utf-8")
    docs, weights, keys = [], [], []
    for segment, offset in reader.leaf_readers():
        if (fieldname, btext) not in segment:
            continue
        terms = segment._terms
        if isinstance(terms._codec, ThbCodec):
            terminfo = terms.term_info(fieldname, btext)
            if not terminfo.is_inlined():
                start, length = terminfo.extent()
                if isinstance(length, tuple):  # as W3TermInfo.from_bytes reads it
                    (length,) = length
                for found in _term_postings(terms._postfile, start, length, positions):
                    ids = found.ids + offset
                    docs.append(ids)
                    weights.append(found.weights)
                    if positions:
                        assert found.counts is not None and found.positions is not None
                        keys.append((np.repeat(ids, found.counts) << pos_bits)
                                    | found.positions)
                continue
        fmt = segment.schema[fieldname].format
        m = terms.matcher(fieldname, btext, fmt)
        while m.is_active():  # W3 blocks (Whoosh's own writer)
            m._read_ids()
            m._read_weights()
            ids = np.asarray(m._ids, dtype=np.int64) + offset
            docs.append(ids)
            weights.append(np.asarray(m._weights, dtype=np.float32))
            if positions:
                m._read_values()
                values = m._values
                counts = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) >> 2
                pos = np.frombuffer(b"".join(values), dtype=np.uint32).astype(np.int64)
                keys.append((np.repeat(ids, counts) << pos_bits) | pos)
            m._next_block()
    if not docs:
        return EMPTY_I, EMPTY_F, (EMPTY_I if positions else None)
    return (np.concatenate(docs), np.concatenate(weights),
            np.concatenate(keys) if positions else None)


def read_lengths(reader: Any, fieldname: str) -> np.ndarray:
    """Every document's length of ``fieldname`` (as Whoosh stores it: one byte,
    decoded), over all segments."""
    parts = []
    for segment, _ in reader.leaf_readers():
        column = segment._perdoc._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN)
        count = segment.doc_count_all()
        if column is None:
            parts.append(np.zeros(count, dtype=np.float32))
        else:
            parts.append(_LENGTHS[_numbers(column, count)])
    return np.concatenate(parts) if parts else EMPTY_F


def read_numbers(reader: Any, fieldname: str) -> np.ndarray:
    """Every document's value of the numeric column ``fieldname`` (an int64
    array), over all segments: read as one array a segment, not a value at a
    time (116 ms at 100k records)."""
    parts = [_numbers(segment.column_reader(fieldname, translate=False),
                      segment.doc_count_all())
             for segment, _ in reader.leaf_readers()]
    return np.concatenate(parts) if parts else EMPTY_I


def _numbers(column: Any, count: int) -> np.ndarray:
    """The ``count`` values of a segment's numeric column reader (int64)."""
    if not isinstance(column, columns.NumericColumn.Reader) or column._typecode in "fd":
        return np.fromiter(column, dtype=np.int64, count=count)
    stored = min(column._count, count)  # (documents after the last value: the default)
    kind = np.dtype(column._typecode).newbyteorder(">")  # (Whoosh packs them "!")
    out = np.full(count, column._default, dtype=np.int64)
    out[:stored] = np.frombuffer(column._dbfile.get(column._basepos, stored * kind.itemsize),
                                 dtype=kind)
    return out


def read_keys(reader: Any, fieldname: str) -> list[bytes]:
    """Every document's value of the bytes column ``fieldname``, over all
    segments: each segment's values sliced from one read (88 ms at 100k
    records a value at a time, 22 this way)."""
    out: list[bytes] = []
    for segment, _ in reader.leaf_readers():
        column = segment.column_reader(fieldname, translate=False)
        if not isinstance(column, columns.VarBytesColumn.Reader):
            out.extend(column)
            continue
        lengths, offsets = column._lengths, column._offsets
        data = column._dbfile.get(column._basepos, sum(lengths)) if len(lengths) else b""
        out.extend([data[at:at + n] for at, n in zip(offsets, lengths, strict=True)])
    return out


class ColumnBytes:
    """Documents' values of the bytes column ``fieldname`` over all of a
    reader's segments, each sliced from its column file's mapping when asked
    for.  Whoosh's column reader reads a segment's whole offsets and lengths
    first (0.7 ms a column at 100k records), then takes two system calls a
    value; a commit's bisection among the sorted keys (:func:`thb_search.
    facets._placed`) asks for some 17 values a new document.  Close it
    (or use it in a ``with``) to let the mappings go."""

    def __init__(self, reader: Any, fieldname: str) -> None:
        self._starts: list[int] = []  # each segment's first document
        self._parts: list[Any] = []  # _MappedBytes, or Whoosh's reader
        for segment, start in reader.leaf_readers():
            self._starts.append(start)
            self._parts.append(_MappedBytes.of(segment, fieldname)
                               or segment.column_reader(fieldname, translate=False))

    def __getitem__(self, doc: int) -> bytes:
        i = bisect_right(self._starts, doc) - 1
        return self._parts[i][doc - self._starts[i]]

    def close(self) -> None:
        for part in self._parts:
            if isinstance(part, _MappedBytes):
                part.close()

    def __enter__(self) -> ColumnBytes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _MappedBytes:
    """One segment's ``VarBytesColumn`` read from its file's mapping, in the
    layout Whoosh's ``VarBytesColumn.Reader`` reads: the values, each
    document's length, then (a segment of more than 32,768 documents) each
    one's offset, as big-endian arrays; then their type codes and ``X`` (a
    length's code alone when no offsets are stored).  Stored lengths and
    offsets are unpacked a value at a time (a sort column's take 5 bytes a
    document: 5 MB at a million records); else the offsets are summed from
    the lengths."""

    def __init__(self, data: mmap.mmap, base: int, doccount: int) -> None:
        # (``base``: where the column starts in ``data``; its end is the file's)
        self._data = data
        self._base = base
        self._count = doccount
        last = len(data) - 1
        if data[last:last + 1] == b"X":
            lens_code, offsets_code = chr(data[last - 2]), chr(data[last - 1])
            self._offsets_at = last - 2 - doccount * array(offsets_code).itemsize
            self._lengths_at = self._offsets_at - doccount * array(lens_code).itemsize
            self._formats = (_big_endian(lens_code), _big_endian(offsets_code))
            self._sizes = (array(lens_code).itemsize, array(offsets_code).itemsize)
            self._summed: tuple[np.ndarray, np.ndarray] | None = None
        else:
            lens_code = chr(data[last])
            at = last - doccount * array(lens_code).itemsize
            lengths = np.frombuffer(data, dtype=np.dtype(_big_endian(lens_code)), count=doccount,
                                    offset=at).astype(np.int64)
            self._summed = (lengths, np.cumsum(lengths) - lengths)

    @classmethod
    def of(cls, segment: Any, fieldname: str) -> _MappedBytes | None:
        """The column of a segment reader (None: not a bytes column of its own
        file; Whoosh's reader reads it)."""
        perdoc = getattr(segment, "_perdoc", None)
        if (perdoc is None or type(segment.schema[fieldname].column_type)
                is not columns.VarBytesColumn or not segment.has_column(fieldname)):
            return None
        found = perdoc._colfiles.get(fieldname)
        if found is None:
            found = perdoc._colfiles[fieldname] = perdoc._get_column_file(fieldname)
        colfile, base, length = found
        doccount = segment.doc_count_all()
        if not colfile.is_real or base or length < 2 or not doccount:
            return None
        data = mmap.mmap(colfile.fileno(), 0, access=mmap.ACCESS_READ)
        if len(data) != length:
            data.close()
            return None
        return cls(data, base, doccount)

    def __getitem__(self, doc: int) -> bytes:
        if not 0 <= doc < self._count:
            raise IndexError(f"document {doc} of {self._count}")
        if self._summed is not None:
            n, at = int(self._summed[0][doc]), int(self._summed[1][doc])
        else:
            (n,) = struct.unpack_from(self._formats[0], self._data,
                                      self._lengths_at + doc * self._sizes[0])
            (at,) = struct.unpack_from(self._formats[1], self._data,
                                       self._offsets_at + doc * self._sizes[1])
        at += self._base
        return self._data[at:at + n]

    def close(self) -> None:
        self._data.close()


def _big_endian(code: str) -> str:
    """The struct format of one value of array type ``code`` as Whoosh's
    files hold arrays: big-endian, at the type's size here (array's ``L``
    is 8 bytes, struct's standard ``L`` 4)."""
    letter = {1: "B", 2: "H", 4: "I", 8: "Q"}[array(code).itemsize]
    return ">" + (letter.lower() if code.islower() else letter)


# ---------------------------------------------------------------------------
# Writing


#: Posting blocks are stored without zlib: writing and reading skip the
#: (de)compression.
CODEC = ThbCodec(compression=0)


class _Lengths:
    """Field lengths of a new segment, read once (Whoosh reads them from disk
    for every posting it writes)."""

    def __init__(self, perdoc: Any, doc_count: int) -> None:
        self._perdoc = perdoc
        self.count = doc_count

    def field_lengths(self, fieldname: str, default: int = 0) -> list[int]:
        """Each document's length of ``fieldname``."""
        get = self._perdoc.doc_field_length_reader(fieldname, default)
        return [get(d) for d in range(self.count)]


#: Terms of one block written together at most (_TermWriter.write_batch),
#: and the documents a segment needs for its blocks to be encoded many at a
#: time (blocks.encode_blocks).
WRITE_BATCH = 4096
AT_ONCE_DOCS = 1000


def write_pool(pool: MemoryPool, fieldwriter: Any, schema: Any, lengths: _Lengths | None) -> None:
    """Write every posting list of ``pool`` through a Whoosh field writer, a
    block at a time (what Whoosh's ``add_postings`` does a posting at a time):
    a term in one step into a segment of thb-search's blocks
    (:class:`_TermWriter`), or all of a field's terms at once (an add's:
    :meth:`_TermWriter.write_settled`); through Whoosh's postings writer
    into one of Whoosh's own."""
    from .postcolumns import Settled  # (not imported by searches)

    for fieldname, terms in pool.sorted_fields():
        if not isinstance(terms, Settled):
            first = next(terms, None)
            if first is None:
                continue  # (a field without terms is not written)
            terms = itertools.chain((first,), terms)
        fieldwriter.start_field(fieldname, schema[fieldname])
        field_lengths = lengths.field_lengths(fieldname) if lengths is not None else None
        # (numpy's calls cost some 0.3 ms a batch: a segment of an add's few
        # records writes its terms one by one)
        term_writer = (_TermWriter(fieldwriter, _value_kind(schema[fieldname].format),
                                   bulk=lengths is not None and lengths.count >= AT_ONCE_DOCS)
                       if type(fieldwriter._postwriter) is CompactPostingsWriter else None)
        length_array = None  # (each document's field length; None: no length)
        if field_lengths is not None and (isinstance(terms, Settled) or (
                term_writer is not None and term_writer.at_once)):
            length_array = np.array([length or 0 for length in field_lengths], dtype=np.int64)
        if isinstance(terms, Settled):
            if term_writer is not None and term_writer.write_settled(terms, length_array):
                fieldwriter.finish_field()
                continue
            held: dict[bytes, Any] = {}
            terms.append_to(held)  # (in term order: a Settled's are)
            terms = iter(held.items())
        _write_terms(terms, fieldwriter, term_writer, field_lengths, length_array)
        fieldwriter.finish_field()


def _write_terms(terms: Iterable[tuple[bytes, Any]], fieldwriter: Any,
                 term_writer: _TermWriter | None, field_lengths: list[int] | None,
                 length_array: np.ndarray | None) -> None:
    """Write a field's terms, in order, a term at a time (see :func:`write_pool`)."""
    doc_lengths = field_lengths.__getitem__ if field_lengths is not None else None
    if term_writer is not None and term_writer.at_once:
        term_writer.length_array = length_array
    batch: list[tuple[bytes, Any]] = []  # terms written together (_TermWriter.batched)
    for tbytes, lists in terms:
        if batch and (isinstance(lists, CopiedTerm) or not term_writer.batched(lists[0])
                      or len(batch) >= WRITE_BATCH):
            term_writer.write_batch(batch, doc_lengths)
            batch.clear()
        if isinstance(lists, CopiedTerm):
            if term_writer is None:
                raise TypeError("a merged term's blocks are copied only into ThbCodec segments")
            term_writer.copy(tbytes, lists)
            continue
        if term_writer is not None:
            if term_writer.batched(lists[0]):
                batch.append((tbytes, lists))
            else:
                term_writer.write(tbytes, *lists, doc_lengths)
            continue
        fieldwriter.start_term(tbytes)
        _add_block_postings(fieldwriter._postwriter, *lists, doc_lengths)
        fieldwriter.finish_term()
    if batch:
        term_writer.write_batch(batch, doc_lengths)


class CopiedTerm(NamedTuple):
    """A term of a merged segment that no other part of the new segment has:
    its postings' bytes as they were (W3's magic number, then the blocks) and
    its term information, to be written again with document numbers moved by
    ``shift`` (where the segment's documents start in the new one)."""

    data: bytes
    info: bytes
    shift: int


#: W3's term information (W3TermInfo): flags, total weight, documents,
#: shortest and longest field length (bytes), largest weight, first and
#: last document; then where the postings are and their length.
_TERMINFO = struct.Struct("!BfIBBfIIqi")
_KEY_FIELD = struct.Struct("!H")
#: Where a term's postings are, the end of its W3TermInfo bytes.
_TERMINFO_EXTENT = struct.Struct("!qi")
#: Whoosh's hash file: the lengths of a key and its value before them.
_KEY_VALUE_LENGTHS = struct.Struct("!ii")
#: The same as numpy types, and a term's block header (its postings' magic
#: number, then _BLOCK_HEADER) and information (_TERMINFO) as numpy writes
#: many at once (_TermWriter.write_settled).
_KEY_VALUE_DTYPE = np.dtype([("key", ">i4"), ("value", ">i4")])
_SETTLED_HEAD = np.dtype([("magic", "S4"), ("size", "<i4"), ("count", "<u2"), ("last", "<u4"),
                          ("top", "<f4"), ("comp", "u1"), ("low", "u1"), ("high", "u1")])
_SETTLED_INFO = np.dtype([("flags", "u1"), ("weight", ">f4"), ("count", ">u4"), ("low", "u1"),
                          ("high", "u1"), ("top", ">f4"), ("first", ">u4"), ("last", ">u4"),
                          ("offset", ">i8"), ("length", ">i4")])
assert _SETTLED_HEAD.itemsize == len(WHOOSH3_HEADER_MAGIC) + _BLOCK_HEADER.size
assert _SETTLED_INFO.itemsize == _TERMINFO.size and _KEY_VALUE_DTYPE.itemsize == 8


class _TermWriter:
    """Writes the terms of one field: the bytes that Whoosh's
    ``start_term``, :func:`_add_block_postings` and ``finish_term`` write
    (the blocks in the postings file, W3's term information in the terms
    file's ordered hash), without the postings writer's per-term objects and
    with the files' positions counted here rather than asked of the files (a
    system call each, three a term).  An add of ten records writes some 500
    terms: 10 -> 6.5 ms.  A test compares the files with Whoosh's, byte for
    byte."""

    def __init__(self, fieldwriter: Any, kind: int | str, *, bulk: bool = False) -> None:
        self._fw = fieldwriter
        self._pw = fieldwriter._postwriter
        self._kind = kind
        self.limit = self._pw._blocklimit
        self._postpos: int | None = None
        self._termpos: int | None = None
        #: The field's length of each document of the segment (None: the
        #: field has no lengths), for blocks encoded at once.
        self.length_array: np.ndarray | None = None
        #: Whether blocks are encoded many at a time (blocks.encode_blocks): a
        #: positional field's, uncompressed, in a ``bulk`` segment's writing.
        self.at_once = bulk and kind == blocks.POSITIONS and not self._pw._compression
        # Field lengths' bytes, of the lengths this writer met: a document's
        # body length (too long for length_to_byte's memory) recurs in each
        # of its terms.
        self._length_bytes: dict[int | None, int] = {}

    def _length_byte(self, length: int | None) -> int:
        byte = self._length_bytes.get(length)
        if byte is None:
            byte = self._length_bytes[length] = length_to_byte(length)
        return byte

    def copy(self, tbytes: bytes, term: CopiedTerm) -> None:
        """Write a merged segment's term as it was, its blocks' last document
        numbers (and the term's first and last) moved by ``term.shift``."""
        data = bytearray(term.data)
        at = len(WHOOSH3_HEADER_MAGIC)
        while at < len(data):
            size, n, last_id, maxweight, comp, minbyte, maxbyte = _block_header(data, at, at)
            _BLOCK_HEADER.pack_into(data, at, size, n, last_id + term.shift, maxweight, comp,
                                    minbyte, maxbyte)
            at += 4 + abs(size)
        flags, weight, df, minbyte, maxbyte, maxweight, first, last, _, _ = _TERMINFO.unpack(
            term.info)
        start = self._append(data)
        self._add_term(_KEY_FIELD.pack(self._fw._fieldid) + tbytes, _TERMINFO.pack(
            flags, weight, df, minbyte, maxbyte, maxweight, first + term.shift,
            last + term.shift, start, len(data)))

    def write(self, tbytes: bytes, docs: array, weights: array, lengths: array,
              values: bytearray, doc_lengths: Callable[[int], Any] | None) -> None:
        """Write a term: its blocks of at most ``limit`` postings (as
        Whoosh's postings writer cuts them) and its term information.  Terms
        of several blocks (a long document's words; 3,171 of the 90,061 terms
        of a 50,000-record segment) came through Whoosh's postings writer, a
        bytes object a posting."""
        n = len(docs)
        if n == 1:
            self._write_one(tbytes, docs[0], weights[0], lengths, values, doc_lengths)
            return
        limit = self.limit
        if n > limit and self.at_once:
            term = blocks.encode_blocks(docs, weights, lengths, values, list(range(0, n, limit)),
                                        self.length_array if doc_lengths is not None else None)
            if term is not None:
                self._write_blocks(tbytes, term, docs[0], weights)
                return
        parts = [WHOOSH3_HEADER_MAGIC]
        total_weight = 0
        term_top = 0
        term_min: int | None = None
        term_max = 0
        at = 0  # where the block's values start in ``values``
        for start in range(0, n, limit):
            end = min(n, start + limit)
            ids = docs[start:end] if n > limit else docs
            w = weights[start:end] if n > limit else weights
            top = max(w)
            maxweight = top if top > 0 else 0
            minlength, maxlength = None, 0
            if doc_lengths is not None:
                lens = [length for length in map(doc_lengths, ids) if length]
                if lens:
                    minlength, maxlength = min(lens), max(lens)
            if self._kind == blocks.POSITIONS:  # (from the pool's bytes, not a bytes a posting)
                if n > limit:
                    block_lengths = lengths[start:end]
                    size = sum(block_lengths)
                    data = blocks.encode(ids, w, values[at:at + size], self._kind, block_lengths)
                    at += size
                else:
                    data = blocks.encode(ids, w, values, self._kind, lengths)
            else:
                data = blocks.encode(ids, w, _values(lengths, values, start, end), self._kind)
            data, comp = _compressed(data, self._pw._compression)
            parts.append(self._block(data, end - start, ids[-1], maxweight, comp, minlength,
                                     maxlength, end == n))
            # The term's statistics, as W3TermInfo.add_block gathers them.
            total_weight += sum(w)
            term_top = max(term_top, maxweight)
            if minlength is not None:
                term_min = minlength if term_min is None else min(term_min, minlength)
            term_max = max(term_max, maxlength)
        block = b"".join(parts)
        start = self._append(block)
        info = _TERMINFO.pack(0, total_weight, n, 0 if term_min is None else self._length_byte(
            term_min), self._length_byte(term_max), term_top, docs[0], docs[-1], start,
            len(block))
        self._add_term(_KEY_FIELD.pack(self._fw._fieldid) + tbytes, info)

    def batched(self, docs: array) -> bool:
        """Whether a term of these documents is written with others
        (:meth:`write_batch`): a positional term of one block of several
        postings (most of a segment's: 36,890 of 39,969 ``text`` terms of a
        50,000-record segment)."""
        return self.at_once and 1 < len(docs) <= self.limit

    def write_batch(self, terms: list[tuple[bytes, Entry]],
                    doc_lengths: Callable[[int], Any] | None) -> None:
        """:meth:`write` of each of ``terms`` (:meth:`batched` ones), their
        blocks encoded at once: a 50,000-record segment's postings written in
        2.4 s instead of 3.1-3.2 (about 38 -> 20 µs a term)."""
        starts = [0]
        for _, (docs, _, _, _) in terms:
            starts.append(starts[-1] + len(docs))
        encoded = blocks.encode_blocks(
            array("I", b"".join(entry[0] for _, entry in terms)),
            array("f", b"".join(entry[1] for _, entry in terms)),
            array("I", b"".join(entry[2] for _, entry in terms)),
            b"".join(entry[3] for _, entry in terms), starts[:-1],
            self.length_array if doc_lengths is not None else None)
        if encoded is None:  # (encode's checks: a term at a time)
            for tbytes, entry in terms:
                self.write(tbytes, *entry, doc_lengths)
            return
        byte = self._length_byte
        field = _KEY_FIELD.pack(self._fw._fieldid)
        for (tbytes, (docs, weights, _, _)), data, count, last_id, top, low, high in zip(
                terms, encoded.data, encoded.counts, encoded.last_ids, encoded.top_weights,
                encoded.min_lengths, encoded.max_lengths, strict=True):
            top = top if top > 0 else 0
            block = WHOOSH3_HEADER_MAGIC + self._block(data, count, last_id, top, 0, low, high,
                                                       True)
            at = self._append(block)
            self._add_term(field + tbytes, _TERMINFO.pack(
                0, sum(weights), count, 0 if low is None else byte(low), byte(high), top,
                docs[0], last_id, at, len(block)))

    def write_settled(self, settled: Settled, length_array: np.ndarray | None) -> bool:
        """Write every term of ``settled`` (in increasing order) at once: the
        bytes :meth:`write` writes a term at a time, of terms of one block
        each (a segment of a few documents: an add's), encoded with numpy
        (:func:`thb_search.blocks.encode_terms`) and written in one piece to
        each file.  ``length_array``: each document's field length (None:
        the field has none).  The segment of one 100-page document (13,344
        body terms), written: 110-150 ms a term at a time, 34-39 ms so.
        False, nothing written, when the terms need :meth:`write`
        (a term of several blocks, compressed blocks, other than positions,
        or what ``encode_terms`` declines)."""
        bounds = settled.bounds
        n = np.diff(bounds)
        if (self._kind != blocks.POSITIONS or self._pw._compression or not len(n)
                or int(n.max()) > self.limit):
            return False
        room = len(WHOOSH3_HEADER_MAGIC) + _BLOCK_HEADER.size
        encoded = blocks.encode_terms(bounds, settled.docs, settled.weights, settled.counts,
                                      settled.positions, room)
        if encoded is None:
            return False
        count = len(n)
        first, last = bounds[:-1], bounds[1:] - 1
        docs = settled.docs.astype(np.int64)
        if length_array is not None:  # the shortest and longest of the documents' lengths
            field = length_array[docs]
            big = np.iinfo(np.int64).max
            low = np.minimum.reduceat(np.where(field > 0, field, big), first)
            minbyte = np.where(low == big, 0, _length_bytes(np.where(low == big, 0, low)))
            maxbyte = _length_bytes(np.maximum.reduceat(field, first))
        else:
            minbyte, maxbyte = 0, length_to_byte(0)
        top = np.maximum(encoded.top_weights, 0)
        sizes = np.diff(encoded.starts)
        head = np.zeros(count, dtype=_SETTLED_HEAD)
        head["magic"] = WHOOSH3_HEADER_MAGIC
        head["size"] = -(sizes - len(WHOOSH3_HEADER_MAGIC) - 4)  # (negative: the last block)
        head["count"] = n
        head["last"] = docs[last]
        head["top"] = top
        head["low"] = minbyte
        head["high"] = maxbyte
        data = encoded.data
        data[encoded.starts[:-1, None] + np.arange(room)] = head.view(np.uint8).reshape(count,
                                                                                        room)
        start = self._append(data.tobytes())
        info = np.zeros(count, dtype=_SETTLED_INFO)
        info["weight"] = encoded.total_weights
        info["count"] = n
        info["low"] = minbyte
        info["high"] = maxbyte
        info["top"] = top
        info["first"] = docs[first]
        info["last"] = docs[last]
        info["offset"] = start + encoded.starts[:-1]
        info["length"] = sizes
        self._add_terms(settled.names, info.view(np.uint8).reshape(count, _TERMINFO.size))
        return True

    def _write_blocks(self, tbytes: bytes, term: blocks.TermBlocks, first: int,
                      weights: array) -> None:
        """:meth:`write`'s bytes of a term of several blocks encoded at once
        (:func:`thb_search.blocks.encode_blocks`)."""
        parts = [WHOOSH3_HEADER_MAGIC]
        total_weight = 0.0
        start = 0
        last = len(term.data) - 1
        byte = self._length_byte
        for b, (data, count, last_id, top, low, high) in enumerate(zip(
                term.data, term.counts, term.last_ids, term.top_weights, term.min_lengths,
                term.max_lengths, strict=True)):
            parts.append(self._block(data, count, last_id, top, 0, low, high, b == last))
            # (summed block by block, as W3TermInfo.add_block sums them)
            total_weight += sum(weights[start:start + count])
            start += count
        term_top = max(top if top > 0 else 0 for top in term.top_weights)
        lows = [low for low in term.min_lengths if low is not None]
        block = b"".join(parts)
        at = self._append(block)
        info = _TERMINFO.pack(0, total_weight, start, byte(min(lows)) if lows else 0,
                              byte(max(term.max_lengths)), term_top, first, term.last_ids[-1],
                              at, len(block))
        self._add_term(_KEY_FIELD.pack(self._fw._fieldid) + tbytes, info)

    def _block(self, data: bytes, count: int, last_id: int, top: float, comp: int,
               low: int | None, high: int, final: bool) -> bytes:
        """A block's header as W3's postings writer writes it (its size
        negative for a term's last block, its largest weight 0 unless
        positive, the shortest and longest field length as bytes), then the
        block's (stored) bytes."""
        size = _BLOCK_HEADER.size - 4 + len(data)
        return _BLOCK_HEADER.pack(-size if final else size, count, last_id,
                                  top if top > 0 else 0, comp, self._length_byte(low),
                                  self._length_byte(high)) + data

    def _write_one(self, tbytes: bytes, doc: int, weight: float, lengths: array,
                   values: bytearray, doc_lengths: Callable[[int], Any] | None) -> None:
        """:meth:`write` of a term of one posting (a term in one document:
        most of an add's), the same bytes without its steps for several:
        a 100-page document's 10,781 terms, 22.1 -> 7.9 µs a term."""
        length = doc_lengths(doc) if doc_lengths is not None else None
        if length:
            minbyte = maxbyte = self._length_byte(length)
        else:
            minbyte, maxbyte = 0, self._length_byte(0)
        maxweight = weight if weight > 0 else 0
        data, comp = _compressed(blocks.encode_one(weight, values, self._kind, lengths),
                                 self._pw._compression)
        size = _BLOCK_HEADER.size - 4 + len(data)
        block = WHOOSH3_HEADER_MAGIC + _BLOCK_HEADER.pack(
            -size, 1, doc, maxweight, comp, minbyte, maxbyte) + data
        start = self._append(block)
        info = _TERMINFO.pack(0, weight + 0.0, 1, minbyte, maxbyte, maxweight, doc, doc, start,
                              len(block))
        self._add_term(_KEY_FIELD.pack(self._fw._fieldid) + tbytes, info)

    def _append(self, block: bytes) -> int:
        """Write a term's blocks to the postings file; returns where they start."""
        if self._postpos is None:
            self._postpos = self._fw._postfile.tell()
        start = self._postpos
        self._fw._postfile.write(block)
        self._postpos += len(block)
        return start

    def _add_terms(self, names: list[bytes], values: np.ndarray) -> None:
        """:meth:`_add_term` of each of ``names`` (in increasing order, after
        the terms written before) with its value, a row of ``values``, the
        entries written in one piece."""
        table = self._fw._tindex
        field = _KEY_FIELD.pack(self._fw._fieldid)
        keys = [field + tbytes for tbytes in names]
        if keys[0] <= table.lastkey or any(a >= b for a, b in zip(keys, keys[1:], strict=False)):
            raise ValueError(f"Keys must increase: {table.lastkey!r}..{keys[0]!r}")
        if self._termpos is None:
            self._termpos = table.dbfile.tell()
        key_lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
        value_size = values.shape[1]
        sizes = _KEY_VALUE_LENGTHS.size + key_lengths + value_size
        starts = np.concatenate(([0], np.cumsum(sizes)))
        out = np.empty(int(starts[-1]), dtype=np.uint8)
        lengths = np.empty(len(keys), dtype=_KEY_VALUE_DTYPE)
        lengths["key"] = key_lengths
        lengths["value"] = value_size
        at = starts[:-1]
        out[at[:, None] + np.arange(_KEY_VALUE_LENGTHS.size)] = lengths.view(np.uint8).reshape(
            len(keys), _KEY_VALUE_LENGTHS.size)
        joined = np.frombuffer(b"".join(keys), dtype=np.uint8)
        key_at = at + _KEY_VALUE_LENGTHS.size
        out[np.repeat(key_at - (np.cumsum(key_lengths) - key_lengths), key_lengths)
            + np.arange(len(joined))] = joined
        out[(key_at + key_lengths)[:, None] + np.arange(value_size)] = values
        table.dbfile.write(out.tobytes())
        positions = (self._termpos + at).tolist()
        index = table.index  # (Whoosh's GrowableArray: widened as numbers need)
        try:
            index.array.extend(array(index.array.typecode, positions))
        except (OverflowError, AttributeError, TypeError):
            index.extend(positions)  # (a number at a time, the array widened)
        buckets = table.buckets
        hashes = map(_md5_low32 if table.hashfn is md5_hash else table.hashfn, keys)
        for h, pos in zip(hashes, positions, strict=True):
            buckets[h & 255].append((h, pos))
        table.lastkey = keys[-1]
        self._termpos += int(starts[-1])

    def _add_term(self, key: bytes, value: bytes) -> None:
        """Whoosh's ``OrderedHashWriter.add``, with the position counted."""
        table = self._fw._tindex
        if key <= table.lastkey:
            raise ValueError(f"Keys must increase: {table.lastkey!r}..{key!r}")
        if self._termpos is None:
            self._termpos = table.dbfile.tell()
        pos = self._termpos
        table.index.append(pos)
        entry = _KEY_VALUE_LENGTHS.pack(len(key), len(value)) + key + value
        table.dbfile.write(entry)
        self._termpos += len(entry)
        h = _md5_low32(key) if table.hashfn is md5_hash else table.hashfn(key)
        table.buckets[h & 255].append((h, pos))
        table.lastkey = key


def _values(lengths: array, values: bytearray, start: int, end: int) -> list[bytes]:
    """The values of postings ``start`` to ``end`` of a pool's term (none if
    its postings have no values)."""
    if not values:
        return []
    at = sum(lengths[:start]) if start else 0
    out = []
    for length in lengths[start:end]:
        out.append(bytes(values[at:at + length]))
        at += length
    return out


def _add_block_postings(pw: Any, docs: array, weights: array, lengths: array,
                        values: bytearray, doc_lengths: Callable[[int], Any] | None) -> None:
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
            pw._values.extend(_values(lengths, values, start, end))
        if doc_lengths is not None:
            lens = [length for length in map(doc_lengths, chunk) if length]
            if lens:
                low, high = min(lens), max(lens)
                if pw._minlength is None or low < pw._minlength:
                    pw._minlength = low
                if high > pw._maxlength:
                    pw._maxlength = high


#: How a field of a document is indexed (see FastSegmentWriter._field_plan).
_TEXT, _INDEXED, _ID = "text", "indexed", "id"


class FastSegmentWriter(SegmentWriter):
    """A Whoosh segment writer whose postings stay in memory
    (:class:`thb_search.writer.MemoryPool`) and are written a block at a time."""

    def __init__(self, ix: Any, *, apart: bool = False, **kwargs: Any) -> None:
        from .writer import MemoryPool

        # Segments stay separate files: Whoosh copies a compound file's parts
        # into memory when it opens them (0.1 s per 100 MB, in every search process).
        super().__init__(ix, codec=CODEC, compound=False, **kwargs)
        self.pool = MemoryPool(apart=apart)
        self._field_plans: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}

    def delete_by_term(self, fieldname: str, text: str, searcher: Any = None) -> int:
        """Whoosh's ``delete_by_term``: delete the committed documents holding
        this term, as many as it returns; read from the segments' postings
        rather than through a ``whoosh.query.Term`` and a searcher, whose
        modules (morph_en's regular expressions) an update would import
        (10-11 ms of a process's first update)."""
        if searcher is not None:
            return super().delete_by_term(fieldname, text, searcher)
        reader = self.reader()
        try:
            count = 0
            for leaf, offset in reader.leaf_readers():
                try:
                    docnums = list(leaf.postings(fieldname, text).all_ids())  # (not deleted ones)
                except TermNotFound:
                    continue
                for docnum in docnums:
                    self.delete_document(docnum + offset)
                count += len(docnums)
            return count
        finally:
            reader.close()

    def add_document(self, **fields: Any) -> None:
        """Whoosh's ``add_document`` for this project's schema, minus what it
        does not use (document and field boosts, spelling fields, vectors), and
        with a field's postings added to the pool at once."""
        self._check_state()
        perdoc = self.perdocwriter
        docnum = self.docnum
        body = fields.get(BODY_FIELD)
        if isinstance(body, BodyTokens):  # a document's words: its postings and counts
            body_length, page_starts = self.pool.add_body(BODY_FIELD, body, docnum)
            fields = {**fields, BODY_LENGTH_FIELD: body_length, PAGES_FIELD: list(page_starts)}
        plan = self._field_plans.get(tuple(fields))
        if plan is None:
            plan = self._field_plan(tuple(fields))
        pool = self.pool
        perdoc.start_doc(docnum)
        # What W3's add_field and add_column_value do, without a call each
        # for a document's 17 fields: its stored values, its lengths, its
        # columns' values.
        stored_values = perdoc._storedfields
        column_writers = perdoc._colwriters
        try:
            for name, field, how, stored, column_type in plan:
                value = fields[name]
                if value is None:
                    continue
                length = 0
                if how is _TEXT:  # (its length later: _write_text_lengths)
                    pool.add_text(name, *field.tokens(value), field.analyzer.title_boost,
                                  field.format.field_boost, docnum)
                elif how is not None:
                    if isinstance(value, BodyTokens):  # added above
                        if field.scorable:
                            length = body_length
                    else:
                        if how is _ID and isinstance(value, str):
                            items = [(value.encode("utf-8"), 1, field.format.field_boost, b"")]
                        else:
                            items = list(field.index(value))
                        if field.scorable:
                            length = sum(item[1] for item in items)
                        pool.add_many(name, items, docnum)
                if stored:
                    stored_values[name] = value
                if length:
                    perdoc.add_field(name, field, None, length)
                if column_type:
                    writer = column_writers.get(name)
                    if writer is None:
                        perdoc._create_column(name, column_type)
                        writer = column_writers[name]
                    writer.add(docnum, field.to_column_value(value))
        except ValueError:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _field_plan(self, names: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """How a document of these fields is added, worked out once for the
        writer (a catalogue's documents have a few sets of fields): per field
        in name order, (name, field, how it is indexed, stored, column type).
        An unknown field is Whoosh's error."""
        schema = self.schema
        given = sorted(name for name in names if not name.startswith("_"))
        self._check_fields(schema, given)
        plan = []
        for name in given:
            field = schema[name]
            how = None
            if field.indexed:
                if getattr(field, "tokens", None) is not None:  # the text field
                    how = _TEXT
                elif (type(field) is whoosh_fields.ID and type(field.analyzer) is IDTokenizer
                      and type(field.format) is whoosh_formats.Existence):
                    how = _ID  # one term, the value: what Whoosh's ID.index gives
                else:
                    how = _INDEXED
            plan.append((name, field, how, field.stored, field.column_type))
        self._field_plans[names] = plan
        return plan

    def _write_text_lengths(self) -> None:
        """Write the lengths of the text fields of the documents added since
        the last call: what ``add_field`` writes of a document's length (its
        byte in the field's lengths column, its sum in the field's total),
        for many documents at once; before any other document's lengths go
        into the column (a merged segment's, or at the segment's end)."""
        perdoc = self.perdocwriter
        for fieldname, docs, lengths in self.pool.text_lengths():
            if not self.schema[fieldname].scorable:
                continue
            column = f"_{fieldname}_len"
            if not perdoc._has_column(column):
                perdoc._create_column(column, LENGTHS_COLUMN)
            add = perdoc._get_column(column).add
            for docnum, length in zip(docs, lengths, strict=True):
                add(docnum, length_to_byte(length))
            perdoc._fieldlengths[fieldname] += sum(lengths)

    def add_reader(self, reader: Any) -> None:
        self._write_text_lengths()  # (the merged documents' lengths follow)
        super().add_reader(reader)

    def _flush_segment(self) -> None:
        self._write_text_lengths()
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        try:
            lengths = _Lengths(pdr, self.docnum) if pdr is not None else None
            write_pool(self.pool, self.fieldwriter, self.schema, lengths)
            self.fieldwriter.close()
        finally:
            if pdr is not None:
                pdr.close()

    def add_postings_to_pool(self, reader: Any, startdoc: int,
                             docmap: dict[int, int] | None) -> None:
        """Whoosh's merge of a segment's postings into this writer (in its
        ``add_reader``), a term's blocks at a time.  Whoosh's own finds each
        term again through the terms file's hash, opens a matcher and takes a
        Python step a posting: merging four segments that each hold a record
        with a 100-page PDF took 2.5-5 s, nearly all of it there.  The pool
        then holds exactly what Whoosh's merge puts into it (a test compares
        the merged segments' files byte for byte)."""
        terms = reader._terms
        if not isinstance(terms._codec, ThbCodec):  # a segment of Whoosh's own blocks
            super().add_postings_to_pool(reader, startdoc, docmap)
            return
        new = None  # old document number -> new one (-1: deleted); None: + startdoc
        if docmap is not None:
            new = np.full(reader.doc_count_all(), -1, dtype=np.int64)
            new[np.fromiter(docmap.keys(), dtype=np.int64, count=len(docmap))] = np.fromiter(
                docmap.values(), dtype=np.int64, count=len(docmap))
        pool = self.pool
        schema = self.schema
        postfile = terms._postfile
        fields: dict[str, tuple[Any, dict[bytes, Any], int | str]] = {}
        for fieldname, tbytes, value in _term_items(terms):
            held = fields.get(fieldname)
            if held is None:
                if fieldname not in schema:
                    continue
                held = fields[fieldname] = (pool.terms_of(fieldname), pool.copied(fieldname),
                                            _value_kind(schema[fieldname].format))
            entries, copied, kind = held
            if len(value) == _TERMINFO.size and not value[0]:
                offset, length = _TERMINFO_EXTENT.unpack_from(value, _TERMINFO.size - 12)
            else:  # (Whoosh's writer never inlines a term's postings: every term has blocks)
                offset, length = W3TermInfo.from_bytes(value).extent()
                if isinstance(length, tuple):  # as W3TermInfo.from_bytes reads it
                    (length,) = length
            data = postfile.get(offset, length)
            earlier = copied.pop(tbytes, None)
            if earlier is not None:  # an earlier segment's: now in the pool, then this one
                _pool_postings(pool, fieldname, tbytes, earlier.data, 0, kind, None,
                               earlier.shift)
            elif new is None and tbytes not in entries and len(value) == _TERMINFO.size:
                # Only this segment has the term (so far): its blocks are copied
                # as they are when the segment is written, unless a later
                # segment has it too.  An add whose commit merges five segments
                # of a 100-page PDF each (40,000 terms, 15,000 of them copied):
                # merging 2.5-2.8 -> 1.3-1.6 s, the add 3.9-4.6 -> 2.2-2.9 s.
                copied[tbytes] = CopiedTerm(data, value, startdoc)
                pool.nbytes += len(data)
                continue
            _pool_postings(pool, fieldname, tbytes, data, offset, kind, new, startdoc)

    def _commit_toc(self, segments: list[Any]) -> None:
        """Whoosh's commit, minus its removal of the files the new table of
        contents no longer uses: those stay until the commit is signed
        (:func:`superseded`), so that a commit cut off before its signature
        can be taken back to the previous one."""
        from whoosh.index import TOC

        TOC(self.schema, segments, self.generation).write(self.storage, self.indexname)


#: A term of one block of at most this many postings is merged with the
#: standard library's arrays (blocks.decode_postings), a larger one with numpy.
SMALL_BLOCK = 16


def _pool_postings(pool: MemoryPool, fieldname: str, tbytes: bytes, data: bytes, offset: int,
                   kind: int | str, new: np.ndarray | None, startdoc: int) -> None:
    """Add to ``pool`` a merged segment's postings of a term (``data``, read
    at ``offset``), renumbered by ``new`` (None: ``startdoc`` on)."""
    if kind == blocks.POSITIONS and new is None:
        at = len(WHOOSH3_HEADER_MAGIC)
        size, n, last_id, _, comp, _, _ = _block_header(data, at, offset + at)
        if size < 0 and not comp and n <= SMALL_BLOCK:  # one block (its last), a few postings
            # (An add's commit merging five segments of a 100-page PDF each
            # decodes 65,000 terms' blocks: its merging took 1.3-1.6 s with
            # numpy, 0.9 s so.)
            pool.extend_raw(fieldname, tbytes, *blocks.decode_postings(
                data[at + _BLOCK_HEADER.size:], n, last_id, startdoc))
            return
    pool.extend(fieldname, tbytes, *_merged_postings(_blocks_of(data, offset), kind, new,
                                                     startdoc))


def _term_items(terms: Any, chunk: int = 1 << 22) -> Iterator[tuple[str, bytes, bytes]]:
    """(field, term, term information bytes) of every term of a segment's
    terms reader, in the file's order: its ordered hash's entries parsed from
    a few megabytes read at once (Whoosh reads three pieces a term)."""
    index = terms._tindex
    unmap = terms._fieldunmap
    unpack = _KEY_VALUE_LENGTHS.unpack_from
    pos, end = index.startofdata, index.endofdata
    rest = b""
    while pos < end:
        data = rest + index.dbfile.get(pos, min(chunk, end - pos))
        pos += len(data) - len(rest)
        at, size = 0, len(data)
        while at + 8 <= size:
            keylen, datalen = unpack(data, at)
            key = at + 8
            stop = key + keylen + datalen
            if stop > size:
                break
            yield (unmap[data[key] << 8 | data[key + 1]], data[key + 2:key + keylen],
                   data[key + keylen:stop])
            at = stop
        rest = data[at:]
    if rest:
        raise CorruptIndexError("Damaged terms file: its last entry is cut off; "
                                "rebuild the index")


def _merged_postings(found: list[blocks.Block], kind: int | str, new: np.ndarray | None,
                     startdoc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bytes]:
    """A term's postings (its blocks, ``found``) in a merged segment:
    (documents, weights, each value's length in bytes, the values' bytes),
    its deleted documents left out and the others numbered by ``new`` (None:
    ``startdoc`` on)."""
    one = len(found) == 1  # most terms: no concatenation
    ids = found[0].ids if one else np.concatenate([b.ids for b in found])
    weights = found[0].weights if one else np.concatenate([b.weights for b in found])
    docs = ids + startdoc if new is None else new[ids]
    keep = None if new is None else docs >= 0
    if kind == blocks.POSITIONS:
        counts = found[0].counts if one else np.concatenate([b.counts for b in found])
        positions = (found[0].positions if one
                     else np.concatenate([b.positions for b in found]))
        if keep is not None:
            positions = positions[np.repeat(keep, counts)]
            counts = counts[keep]
        lengths = counts * 4
        values = positions.astype(np.uint32).tobytes()  # the format's raw uint32
    else:
        each = [v or b"" for b in found for v in b.values(kind)]
        if keep is not None:
            each = [v for v, kept in zip(each, keep.tolist(), strict=True) if kept]
        lengths = np.fromiter(map(len, each), dtype=np.int64, count=len(each))
        values = b"".join(each)
    if keep is not None:
        docs, weights = docs[keep], weights[keep]
    return docs, weights, lengths, values


def reopened(ix: Any, before: Any | None, *, close_rest: bool = True) -> Any:
    """A reader of ``ix``'s latest commit that takes over ``before``'s (a
    reader of an earlier commit) readers of the segments that commit left as
    they were, same documents and deletions: opening a segment reads its
    terms table and, for a search, opens its columns (about 0.3-1 ms a
    segment at 100k records).  ``before``'s other segment readers are closed
    (``close_rest``), or left to the caller, which may still be reading
    ``before`` (see :func:`not_taken_over`)."""
    if before is None:
        return ix.reader()
    toc = ix._read_toc()
    if not toc.segments:
        if close_rest:
            before.close()
        return ix.reader()
    from whoosh.reading import MultiReader, SegmentReader

    unchanged = {leaf.segment().segment_id(): leaf for leaf, _ in before.leaf_readers()
                 if not getattr(leaf, "is_closed", True) and leaf.segment() is not None}
    taken: set[int] = set()
    readers: list[Any] = []
    try:
        for segment in toc.segments:
            leaf = unchanged.get(segment.segment_id())
            if leaf is None or not _same_documents(leaf.segment(), segment):
                leaf = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
            else:
                taken.add(id(leaf))
            readers.append(leaf)
    except BaseException:
        for leaf in readers:
            if id(leaf) not in taken:
                leaf.close()
        raise
    if close_rest:
        for leaf in unchanged.values():
            if id(leaf) not in taken:
                leaf.close()
    if len(readers) == 1 and not taken:
        return readers[0]
    # A reader taken over keeps its own generation: the whole has the commit's.
    return MultiReader(readers, generation=toc.generation)


def not_taken_over(reader: Any, by: Any | None) -> list[Any]:
    """The open segment readers of ``reader`` that ``by`` (a reader made from
    it by :func:`reopened`, or None) does not use: what closes with ``reader``."""
    used = {id(leaf) for leaf, _ in by.leaf_readers()} if by is not None else set()
    return [leaf for leaf, _ in reader.leaf_readers()
            if id(leaf) not in used and not getattr(leaf, "is_closed", True)]


def _same_documents(old: Any, new: Any) -> bool:
    return (old.doc_count_all() == new.doc_count_all()
            and old.deleted_count() == new.deleted_count()
            and set(old.deleted_docs()) == set(new.deleted_docs()))


def doc_count(ix: Any) -> int:
    """The live documents of ``ix``'s latest commit, from its table of
    contents (``ix.doc_count()`` opens a reader of every segment)."""
    return sum(segment.doc_count() for segment in ix._segments())


def superseded(ix: Any) -> list[str]:
    """Names of the files of ``ix``'s folder that its latest table of contents
    does not use (older tables of contents, segments merged or emptied)."""
    from whoosh.index import TOC

    gen = ix.latest_generation()
    live = {s.segment_id() for s in ix._segments()}
    tocs, segs = TOC._pattern(ix.indexname), TOC._segment_pattern(ix.indexname)
    names = []
    for name in ix.storage:
        toc, seg = tocs.match(name), segs.match(name)
        if (toc and int(toc.group(1)) != gen) or (seg and seg.group(1) not in live):
            names.append(name)
    return sorted(names)


def fast_writer(ix: Any, *, lock: bool = True, few: bool = False) -> FastSegmentWriter:
    """A segment writer whose postings stay in memory; ``lock=False`` for the
    writers of a bulk build, whose segments another writer commits; ``few``
    for an add's few documents (their postings sorted apart: see
    :data:`thb_search.writer.FEW_DOCS`)."""
    return FastSegmentWriter(ix, _lk=lock, apart=few)


def finish_segment(writer: FastSegmentWriter) -> Any:
    """Write out a writer's segment without committing it; returns the segment."""
    return writer._finalize_segment()


def commit_segments(writer: FastSegmentWriter, segments: Sequence[Any]) -> None:
    """Make ``segments`` (written by other writers) the whole index: a new
    table of contents, written by ``writer``, which holds the lock."""
    writer._close_segment()
    writer._commit_toc(list(segments))


def release(writer: FastSegmentWriter) -> None:
    """Release a writer after :func:`commit_segments` (its lock included)."""
    writer._finish()
