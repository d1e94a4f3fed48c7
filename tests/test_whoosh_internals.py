"""thb-search's codec against Whoosh's: the same postings, read by Whoosh's
own readers, through either of its writers, merged or compressed."""

from __future__ import annotations

import mmap
import pickle
import struct
import threading
from array import array
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec
from whoosh.filedb.filestore import RamStorage
from whoosh.reading import CorruptIndexError
from whoosh.writing import SegmentWriter

from conftest import BUNDLED
from thb_search import blocks, whoosh_internals
from thb_search.corpus import read_records
from thb_search.fields import body_postings, body_tokens
from thb_search.schema import BODY_POS_BITS, POS_BITS, build_schema, to_document
from thb_search.whoosh_internals import (
    CODEC,
    DICTIONARY_BYTES,
    DICTIONARY_DOCS,
    STORED_FIELDS,
    ColumnBytes,
    ThbCodec,
    fast_writer,
    read_keys,
    read_lengths,
    read_numbers,
    read_postings,
)

#: Pages of a document long enough for body positions beyond 16 bits.
PAGES = [" ".join(f"trafficking victim{i % 7} shelter" for i in range(n)) for n in
         (9_000, 14_000, 1)]


def documents() -> list[dict[str, Any]]:
    records = list(read_records([BUNDLED]))
    docs = []
    for copy in range(30):
        for k, record in enumerate(records):
            body = body_postings(PAGES) if (copy + k) % 29 == 0 else None
            docs.append(to_document(record, record.fingerprint(), body))
    return docs


DOCS = documents()


def build(folder: Path, how: str, codec: Any = None, docs: list[dict[str, Any]] = DOCS) -> Any:
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), build_schema())
    writer = (SegmentWriter(ix, codec=codec, compound=False) if how == "whoosh"
              else fast_writer(ix, few=how == "few"))
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    return ix


def contents(ix: Any) -> dict[tuple[str, bytes], Any]:
    """Every term's postings and statistics as Whoosh's reader gives them,
    and as read_postings gives them."""
    out = {}
    with ix.reader() as r:
        for field, term in r.all_terms():
            m = r.postings(field, term)
            ti = r.term_info(field, term)
            if field in ("text", "body"):
                items = list(m.items_as("positions"))
            else:
                items = list(m.all_ids())
            weights = list(r.postings(field, term).items_as("weight"))
            bits = BODY_POS_BITS if field == "body" else POS_BITS
            docs, w, keys = read_postings(r, field, term.decode(), positions=field in (
                "text", "body"), pos_bits=bits)
            out[field, term] = (items, weights, docs.tolist(), w.tolist(),
                                None if keys is None else keys.tolist(),
                                (ti.doc_frequency(), ti.weight(), ti.max_weight(),
                                 ti.min_length(), ti.max_length(), ti.min_id(), ti.max_id()))
        stored = [r.stored_fields(d) for d in range(r.doc_count_all())]
    return {"terms": out, "stored": stored}


def test_whoosh_reads_what_the_codec_writes_as_what_w3_writes(tmp_path: Path) -> None:
    w3 = contents(build(tmp_path / "w3", "whoosh", W3Codec()))
    assert contents(build(tmp_path / "generic", "whoosh", CODEC)) == w3  # a posting at a time
    assert contents(build(tmp_path / "fast", "fast")) == w3  # a block at a time
    assert contents(build(tmp_path / "zlib", "whoosh", ThbCodec(compression=1))) == w3
    # Positions run on from page to page: 27,000 words, 42,000, then 3.
    body = [v for (field, _), v in w3["terms"].items() if field == "body"]
    assert max(p for items, *_ in body for _, positions in items for p in positions) == 69_002
    assert max(int(np.max(np.asarray(v[4]) & ((1 << BODY_POS_BITS) - 1))) for v in body) == 69_002


def test_records_postings_take_a_quarter_of_w3s(tmp_path: Path) -> None:
    def size(folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.glob("*.pst"))

    records = [doc for doc in DOCS if "body" not in doc]
    build(tmp_path / "w3", "whoosh", W3Codec(compression=0), records)
    build(tmp_path / "ours", "fast", docs=records)
    assert size(tmp_path / "ours") * 4 < size(tmp_path / "w3")


def in_three_segments(folder: Path) -> Any:
    """An index of ``DOCS`` in three segments of 100 (each committed alone)."""
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), build_schema())
    for start in range(0, len(DOCS), 100):
        writer = fast_writer(ix)
        for doc in DOCS[start:start + 100]:
            writer.add_document(**doc)
        writer.commit(merge=False)
    assert len(ix._segments()) == 3
    return ix


def test_merged_segments_keep_the_postings(tmp_path: Path) -> None:
    one = build(tmp_path / "one", "fast")
    folder = tmp_path / "parts"
    ix = in_three_segments(folder)
    writer = fast_writer(ix)
    writer.commit(optimize=True)  # Whoosh merges them through the codec's matchers
    ix = whoosh_index.open_dir(str(folder))
    assert len(ix._segments()) == 1
    assert {type(s.codec()) for s in ix._segments()} == {ThbCodec}
    assert contents(ix) == contents(one)


def test_columns_read_whole_are_what_whoosh_s_readers_give_a_value_at_a_time(
        tmp_path: Path) -> None:
    """Over segments of either writer and codec, one with a deleted document
    and one where no document has a body (its lengths all the default)."""
    folder = tmp_path / "ix"
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), build_schema())
    plain = [to_document(record, record.fingerprint()) for record in read_records([BUNDLED])]
    for k, docs in enumerate([DOCS[:100], DOCS[100:200], plain]):
        writer = SegmentWriter(ix, codec=W3Codec(), compound=False) if k == 1 else fast_writer(ix)
        for doc in docs:
            writer.add_document(**doc)
        writer.commit(merge=False)
    writer = ix.writer()
    writer.delete_document(3)
    writer.commit(merge=False)
    with ix.reader() as r:
        assert len(r.leaf_readers()) == 3 and r.has_deletions()
        for field in ("datenum", "body_len"):
            assert read_numbers(r, field).tolist() == list(r.column_reader(field))
        assert read_numbers(r, "body_len").tolist()[200:] == [0] * 10
        assert [n for n in read_numbers(r, "body_len").tolist() if n] == [69_003]
        for field in ("title_sort", "id_sort"):
            assert read_keys(r, field) == list(r.column_reader(field))
            with ColumnBytes(r, field) as keys:
                assert [keys[d] for d in range(r.doc_count_all())] == read_keys(r, field)
        assert read_lengths(r, "text").tolist() == [
            r.doc_field_length(d, "text") for d in range(r.doc_count_all())]


@pytest.mark.parametrize("cutoff", [0, 2 ** 15])  # offsets stored; summed from the lengths
def test_a_bytes_column_read_from_its_mapping_gives_whoosh_s_values(
        tmp_path: Path, cutoff: int) -> None:
    """Values empty, long and of any bytes (each document has one, as each
    has a sort key); lengths and offsets wider than a byte."""
    from whoosh import columns
    from whoosh.filedb.filestore import FileStorage

    from thb_search.whoosh_internals import _MappedBytes

    values = {d: b"" for d in range(12)}
    values.update({1: "été".encode(), 2: bytes(range(256)) * 3, 5: b"x", 9: b"\x00" * 70_000})
    column = columns.VarBytesColumn(write_offsets_cutoff=cutoff)
    storage = FileStorage(str(tmp_path))
    out = storage.create_file("c.col")
    writer = column.writer(out)
    for doc, value in values.items():
        writer.add(doc, value)
    writer.finish(12)
    out.close()
    colfile = storage.open_file("c.col")
    whoosh_reader = column.reader(colfile, 0, storage.file_length("c.col"), 12)
    assert whoosh_reader.had_stored_offsets == (cutoff == 0)
    expected = list(whoosh_reader)
    colfile.close()
    with open(tmp_path / "c.col", "rb") as handle:
        mapped = _MappedBytes(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), 0, 12)
    try:
        assert [mapped[d] for d in range(12)] == expected == list(values.values())
        for outside in (12, -1):
            with pytest.raises(IndexError):
                mapped[outside]
    finally:
        mapped.close()


def _merged(folder: Path) -> Any:
    """Three segments (one of Whoosh's own writer and codec, whose blocks are
    merged as Whoosh merges them), some documents of two deleted, then merged
    into one."""
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), build_schema())
    for start in range(0, len(DOCS), 100):
        writer = (SegmentWriter(ix, codec=W3Codec(), compound=False) if start == 100
                  else fast_writer(ix))
        for doc in DOCS[start:start + 100]:
            writer.add_document(**doc)
        writer.commit(merge=False)
    writer = ix.writer()
    for docnum in (0, 3, 57, 99, 100, 101, 150, 199):
        writer.delete_document(docnum)
    writer.commit(merge=False)
    return _optimized(ix, folder)


def _optimized(ix: Any, folder: Path) -> Any:
    """``ix``'s segments merged into one by thb-search's writer."""
    writer = fast_writer(ix)
    writer.commit(optimize=True)
    ix = whoosh_index.open_dir(str(folder))
    assert len(ix._segments()) == 1
    return ix


def _merged_file(ix: Any, ext: str) -> bytes:
    """A file of the one segment of ``ix`` (the merged segments' are still there)."""
    (merged,) = ix._segments()
    (path,) = Path(ix.storage.folder).glob(f"*_{merged.segid}.{ext}")
    return path.read_bytes()


def test_a_merge_writes_what_whoosh_s_merge_writes(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments are merged a term's blocks at a time; the merged segment's
    postings and terms files are byte for byte those of Whoosh's merge (a
    posting at a time), deleted documents left out and the others renumbered
    alike, and what a reader finds in it is what it found before the merge."""
    ours = _merged(tmp_path / "ours")
    with monkeypatch.context() as patched:
        patched.setattr(whoosh_internals.FastSegmentWriter, "add_postings_to_pool",
                        SegmentWriter.add_postings_to_pool)
        whooshs = _merged(tmp_path / "whoosh")
    (segment,) = ours._segments()
    assert segment.doc_count_all() == len(DOCS) - 8

    for ext in ("pst", "trm"):
        assert _merged_file(ours, ext) == _merged_file(whooshs, ext), ext
    assert len(_merged_file(ours, "pst")) > 100_000  # the long documents' positions
    assert contents(ours) == contents(whooshs)
    kept = [doc for i, doc in enumerate(DOCS) if i not in (0, 3, 57, 99, 100, 101, 150, 199)]
    assert contents(ours) == contents(build(tmp_path / "kept", "fast", docs=kept))


def _merged_whole(folder: Path, parts: list[list[dict[str, Any]]]) -> Any:
    """Segments of ``parts``' documents, none deleted, merged into one (an
    add to a catalogue: Whoosh merges the small segments of earlier adds)."""
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), build_schema())
    for part in parts:
        writer = fast_writer(ix)
        for doc in part:
            writer.add_document(**doc)
        writer.commit(merge=False)
    return _optimized(ix, folder)


def test_a_merge_copies_the_blocks_of_terms_one_segment_has(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A term that only one of the merged segments has is written as its
    blocks were, renumbered (its blocks copied, not decoded and encoded
    again): the files are byte for byte Whoosh's merge's, terms of several
    blocks and terms of several segments among them."""
    copied: list[tuple[str, bytes, int]] = []
    copy = whoosh_internals._TermWriter.copy

    def spy(self: Any, tbytes: bytes, term: Any) -> None:
        copied.append((self._fw._fieldname, tbytes,
                       len(whoosh_internals._blocks_of(term.data, 0))))
        copy(self, tbytes, term)

    monkeypatch.setattr(whoosh_internals._TermWriter, "copy", spy)
    records = list(read_records([BUNDLED]))
    one = replace(records[0], id="only-one", title="Zanzibar quokka", summary="quokka numbat")
    late = [replace(records[i % 10], id=f"late-{i}", title=f"Numbat report {i}",
                    summary=f"A wombat study {i % 7}, the numbat") for i in range(99)]
    parts = [DOCS[:200], [to_document(one, "fp", body_postings(["quokka numbat", "quokka"]))],
             [to_document(r, "fp") for r in late]]
    ours = _merged_whole(tmp_path / "ours", parts)
    with monkeypatch.context() as patched:
        patched.setattr(whoosh_internals.FastSegmentWriter, "add_postings_to_pool",
                        SegmentWriter.add_postings_to_pool)
        whooshs = _merged_whole(tmp_path / "whoosh", parts)
    for ext in ("pst", "trm"):
        assert _merged_file(ours, ext) == _merged_file(whooshs, ext), ext
    assert contents(ours) == contents(whooshs) == contents(
        build(tmp_path / "one", "fast", docs=[doc for part in parts for doc in part]))
    with ours.reader() as r:
        terms = set(r.all_terms())
    names = {(field, term) for field, term, _ in copied}
    assert 0 < len(copied) < len(terms)  # others are merged from several segments
    # One segment's only (the first's, the one record's, the last 99's):
    assert {("text", b"traffick"), ("body", b"quokka"), ("text", b"zanzibar"),
            ("id", b"late-5"), ("text", b"wombat")} <= names
    # In two segments (the one record's and the last 99's; all three's):
    office = ("office", records[0].offices[0].encode())
    assert not {("text", b"numbat"), office} & names
    assert {("text", b"numbat"), office} <= terms
    assert max(blocks for _, _, blocks in copied) > 1  # the first 200 documents' words


@pytest.mark.parametrize("how", ["whoosh", "fast"])
def test_segments_name_the_codec(tmp_path: Path, how: str) -> None:
    ix = build(tmp_path / how, how, CODEC, DOCS[:5])
    assert [type(s.codec()) for s in ix._segments()] == [ThbCodec]


@pytest.mark.parametrize("count", [0, 1, DICTIONARY_DOCS - 1, DICTIONARY_DOCS, 250])
def test_stored_fields_round_trip(count: int) -> None:
    storage = RamStorage()
    docs = {d: {"id": f"r{d}", "title": "word " * (d % 7), "pages": list(range(d % 3))}
            for d in range(0, 2 * count, 2)}  # odd documents store nothing
    writer = STORED_FIELDS.writer(storage.create_file("col"))
    for docnum, fields in docs.items():
        writer.add(docnum, fields)
    writer.finish(2 * count + 1)
    writer._dbfile.close()
    reader = STORED_FIELDS.reader(storage.open_file("col"), 0, storage.file_length("col"),
                                  2 * count + 1)
    assert list(reader) == [docs.get(d) for d in range(2 * count + 1)]


def _stored_column(docs: dict[int, dict[str, Any]], doccount: int) -> tuple[bytes, Any]:
    """Write ``docs`` (document number -> stored fields) as a stored-fields
    column; its bytes and a reader of it."""
    storage = RamStorage()
    writer = STORED_FIELDS.writer(storage.create_file("col"))
    for docnum, fields in docs.items():
        writer.add(docnum, fields)
    writer.finish(doccount)
    writer._dbfile.close()
    data = storage.open_file("col").read()
    return data, STORED_FIELDS.reader(storage.open_file("col"), 0, len(data), doccount)


#: Zstandard's dictionary magic number, which starts a trained dictionary.
ZSTD_DICT_MAGIC = bytes.fromhex("37a430ec")


def _records(count: int) -> dict[int, dict[str, Any]]:
    """``count`` stored-field dicts like a catalogue's, varied."""
    records = [doc for doc in DOCS if "body" not in doc]
    keep = ("id", "title", "summary", "office", "themes", "date", "publisher", "url")
    return {d: {**{k: records[d % len(records)].get(k) for k in keep}, "id": f"r{d}"}
            for d in range(count)}


def test_stored_fields_dictionary_is_trained_on_a_segments_first_documents() -> None:
    """A segment of DICTIONARY_DOCS documents or more compresses with a
    Zstandard dictionary trained on its first ones, the same bytes from the
    same documents; a smaller one (an add of a few records) with its
    documents' own last bytes."""
    docs = _records(DICTIONARY_DOCS + 50)
    data, reader = _stored_column(docs, len(docs))
    (size,) = struct.unpack("<I", data[:4])
    assert 0 < size <= DICTIONARY_BYTES and data[4:8] == ZSTD_DICT_MAGIC
    assert list(reader) == list(docs.values())
    assert _stored_column(docs, len(docs))[0] == data

    few = _records(5)
    data, reader = _stored_column(few, 5)
    (size,) = struct.unpack("<I", data[:4])
    assert data[4:4 + size] == b"".join(pickle.dumps(d, 2) for d in few.values())
    assert list(reader) == list(few.values())


def test_stored_fields_read_from_several_threads_at_once() -> None:
    """A server's searches read stored fields from several threads: each
    reads what was written (one decompressor, used by one thread at a time)."""
    docs = _records(400)
    _, reader = _stored_column(docs, len(docs))
    wrong: list[int] = []

    def read(offset: int) -> None:
        for _ in range(20):
            for d in range(offset, len(docs), 3):
                if reader[d] != docs[d]:
                    wrong.append(d)

    threads = [threading.Thread(target=read, args=(i % 3,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_stored_fields_take_less_than_w3s(tmp_path: Path) -> None:
    def size(folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.glob("*_stored.col"))

    records = [doc for doc in DOCS if "body" not in doc]
    build(tmp_path / "w3", "whoosh", W3Codec(), records)
    build(tmp_path / "ours", "fast", docs=records)
    assert size(tmp_path / "ours") * 2 < size(tmp_path / "w3")


def _files(folder: Path, ext: str) -> bytes:
    (path,) = folder.glob(f"*.{ext}")
    return path.read_bytes()


def test_terms_are_written_as_whoosh_writes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-step writing of a term gives the same postings and terms
    files, byte for byte, as Whoosh's field writer does (start_term, the
    blocks' postings, finish_term), for terms of one block and of several
    (the long documents' words)."""
    several = []
    write = whoosh_internals._TermWriter.write

    def counting(terms: Any, tbytes: bytes, docs: Any, *lists: Any) -> None:
        if len(docs) > terms.limit:
            several.append((len(docs), terms._kind))
        write(terms, tbytes, docs, *lists)

    at_once = []
    encode_blocks = blocks.encode_blocks

    def counting_blocks(*args: Any) -> Any:
        term = encode_blocks(*args)
        at_once.append(term is not None)
        return term

    monkeypatch.setattr(whoosh_internals._TermWriter, "write", counting)
    monkeypatch.setattr(blocks, "encode_blocks", counting_blocks)
    # (these 300 documents' segment, as a bulk build's larger ones)
    monkeypatch.setattr(whoosh_internals, "AT_ONCE_DOCS", len(DOCS))
    build(tmp_path / "one-step", "fast")
    assert len(several) > 10 and max(n for n, _ in several) > 2 * 128  # of two blocks, of three
    # Positional terms' blocks are encoded many at once (blocks.encode_blocks):
    # each term of several blocks (the body's too, wide positions: those
    # blocks one at a time), and terms of one block in batches; the facets'
    # a block at a time.
    positional = [n for n, kind in several if kind == blocks.POSITIONS]
    assert len(positional) > 10 and len(at_once) > len(positional) and all(at_once)

    def through_whoosh(terms: Any, tbytes: bytes, *lists: Any) -> None:
        fw = terms._fw
        fw.start_term(tbytes)
        whoosh_internals._add_block_postings(fw._postwriter, *lists)
        fw.finish_term()

    monkeypatch.setattr(whoosh_internals._TermWriter, "write", through_whoosh)
    monkeypatch.setattr(whoosh_internals._TermWriter, "batched", lambda *_: False)
    build(tmp_path / "whoosh", "fast")
    for ext in ("pst", "trm"):
        assert _files(tmp_path / "one-step", ext) == _files(tmp_path / "whoosh", ext), ext
    assert len(_files(tmp_path / "whoosh", "trm")) > 10_000


#: A document's words whose body positions take each of the blocks' layouts:
#: 16 bits (``alpha``'s first), wide and close (``filler``: 8-bit gaps;
#: ``beta``: 16-bit), wide and far apart (``alpha``: 32 bits), one wide one
#: (``delta``).
WIDE_PAGES = [" ".join(["alpha"] + ["filler"] * 69_000 + ["beta"] + ["filler"] * 1_000
                       + ["beta", "alpha", "delta"]), "beta gamma"]


@pytest.mark.parametrize("settle_every", [500_000, 2_000])
def test_an_adds_terms_written_at_once_are_written_as_whoosh_writes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settle_every: int) -> None:
    """A segment of a few documents (an add's) writes each positional
    field's terms at once (_TermWriter.write_settled), its postings sorted
    apart as they came (every ``settle_every``) and joined; its postings and
    terms files are, byte for byte, those Whoosh's field writer writes a
    term at a time (start_term, the blocks' postings, finish_term)."""
    import thb_search.writer as writer

    monkeypatch.setattr(writer, "SETTLE_POSTINGS", settle_every)
    parts = []
    joined = writer.joined

    def counting_parts(settled: Any) -> Any:
        parts.append(len(settled))
        return joined(settled)

    monkeypatch.setattr(writer, "joined", counting_parts)
    records = [doc for doc in DOCS[:12] if "body" not in doc][:4]
    first, second = list(read_records([BUNDLED]))[:2]
    with_bodies = [to_document(first, first.fingerprint(), body_postings(PAGES)),
                   to_document(second, second.fingerprint(), body_postings(WIDE_PAGES))]
    # (as a sync adds them: their words, which the writer numbers into columns)
    docs = [*records, *({**doc, "body": body_tokens(pages)}
                        for doc, pages in zip(with_bodies, (PAGES, WIDE_PAGES), strict=True))]
    at_once = []
    write_settled = whoosh_internals._TermWriter.write_settled

    def counting(terms: Any, settled: Any, lengths: Any) -> bool:
        done = write_settled(terms, settled, lengths)
        at_once.append((terms._fw._fieldname, len(settled.names), done))
        return done

    monkeypatch.setattr(whoosh_internals._TermWriter, "write_settled", counting)
    build(tmp_path / "at-once", "few", docs=docs)
    # (body: traffick, victim0 ... victim6, shelter; alpha, filler, beta, gamma, delta)
    assert [(field, done) for field, _, done in at_once] == [("body", True), ("text", True)]
    assert at_once[0][1] == 14 and at_once[1][1] > 100
    # (settling every 2,000 words, each body, of 23,000 and 71,000 words, is
    # sorted apart once it is added; the text's 300 words when written)
    assert parts == ([1, 1] if settle_every == 500_000 else [2, 1])

    def through_whoosh(terms: Any, tbytes: bytes, *lists: Any) -> None:
        fw = terms._fw
        fw.start_term(tbytes)
        whoosh_internals._add_block_postings(fw._postwriter, *lists)
        fw.finish_term()

    monkeypatch.setattr(whoosh_internals._TermWriter, "write_settled", lambda *_: False)
    monkeypatch.setattr(whoosh_internals._TermWriter, "write", through_whoosh)
    build(tmp_path / "whoosh", "fast", docs=docs)
    for ext in ("pst", "trm"):
        assert _files(tmp_path / "at-once", ext) == _files(tmp_path / "whoosh", ext), ext
    ix = whoosh_index.open_dir(str(tmp_path / "at-once"))
    with ix.searcher() as searcher:
        m = searcher.reader().postings("body", b"filler")
        assert [len(p) for _, p in m.items_as("positions")] == [70_000]
    assert contents(ix) == contents(build(tmp_path / "w3", "whoosh", W3Codec(),
                                          [*records, *with_bodies]))


def test_a_commits_reader_takes_over_the_segments_left_as_they_were(tmp_path: Path) -> None:
    ix = build(tmp_path / "ix", "fast", docs=DOCS[:40])
    writer = fast_writer(ix)
    for doc in DOCS[40:50]:
        writer.add_document(**doc)
    writer.commit(merge=False)
    before = ix.reader()
    old = {leaf.segment().segment_id(): leaf for leaf, _ in before.leaf_readers()}
    writer = fast_writer(ix)
    writer.delete_document(45)  # in the second segment
    for doc in DOCS[50:55]:
        writer.add_document(**doc)
    writer.commit(merge=False)
    after = whoosh_internals.reopened(ix, before)
    try:
        leaves = {leaf.segment().segment_id(): leaf for leaf, _ in after.leaf_readers()}
        first, second = old
        assert len(leaves) == 3
        assert leaves[first] is old[first]  # same documents, same deletions
        assert leaves[second] is not old[second] and old[second].is_closed  # a deletion
        assert after.doc_count() == whoosh_internals.doc_count(ix) == ix.doc_count() == 54
        with ix.reader() as fresh:
            assert ([after.stored_fields(d) for d in after.all_doc_ids()]
                    == [fresh.stored_fields(d) for d in fresh.all_doc_ids()])
    finally:
        after.close()
    assert old[first].is_closed


class _Postfile:
    """A postings file's bytes, read as Whoosh's structured file gives them."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def get(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]


def test_a_damaged_terms_postings_are_refused_with_where_they_are() -> None:
    body = blocks.encode([3, 9], [1.0, 2.0], [array("I", [4]).tobytes()] * 2, blocks.POSITIONS)
    block = whoosh_internals._BLOCK_HEADER.pack(
        -(whoosh_internals._BLOCK_HEADER.size - 4 + len(body)), 2, 9, 2.0, 0, 1, 1) + body
    good = b"\x00" * 10 + WHOOSH3_HEADER_MAGIC + block
    [found] = whoosh_internals._term_postings(_Postfile(good), 10, len(good) - 10, True)
    assert (found.ids.tolist(), found.weights.tolist(), found.positions.tolist()) == (
        [3, 9], [1.0, 2.0], [4, 4])
    with pytest.raises(CorruptIndexError, match="Bad postings block tag b'xxxx' at offset 10"):
        whoosh_internals._term_postings(_Postfile(b"\x00" * 10 + b"xxxx" + block), 10,
                                        len(good) - 10, True)
    # the extent ends inside the block: the block's length runs past it
    with pytest.raises(CorruptIndexError, match="Damaged postings block at offset 10"):
        whoosh_internals._term_postings(_Postfile(good), 10, len(good) - 11, True)


def test_term_hash_and_length_bytes_are_whooshs_and_the_lengths_kept_are_bounded() -> None:
    """The writer's shortcuts give Whoosh's own values (the hash decides a
    term's bucket in the terms file; the length byte is in every block), and
    a long-lived writer keeps the bytes of short lengths only (documents'
    bodies have too many lengths to keep)."""
    from whoosh.filedb.filetables import md5_hash
    from whoosh.util.numeric import length_to_byte

    keys = [b"", b"a", b"\x00\x01text", "été".encode(), bytes(range(256)), b"x" * 1000]
    assert [whoosh_internals._md5_low32(k) for k in keys] == [md5_hash(k) for k in keys]
    lengths = [None, 0, 1, 7, 99, 4095, 4096, 50_000, 106_373, 106_374, 10**9]
    assert [whoosh_internals.length_to_byte(n) for n in lengths] == [
        length_to_byte(n) for n in lengths]
    for n in range(4096, 300_000, 7):
        whoosh_internals.length_to_byte(n)
    assert max(n for n in whoosh_internals._LENGTH_BYTES if n is not None) < 4096


@pytest.mark.parametrize("count", [0, 3, 5_000])  # empty buckets; collisions in every bucket
def test_a_terms_table_is_written_as_whoosh_writes_it(count: int) -> None:
    from whoosh.filedb.filetables import OrderedHashReader, OrderedHashWriter

    files = []
    for table_class in (OrderedHashWriter, whoosh_internals._TermsTableWriter):
        storage = RamStorage()
        table = table_class(storage.create_file("t"))
        for n in range(count):
            table.add(b"\x00\x01term%06d" % n, b"info of %d" % n)
        table.close()
        files.append(storage.open_file("t").read())
    assert files[0] == files[1]
    storage = RamStorage()
    with storage.create_file("t") as out:
        out.write(files[1])
    reader = OrderedHashReader(storage.open_file("t"), len(files[1]))
    assert [reader[b"\x00\x01term%06d" % n] for n in range(count)] == [
        b"info of %d" % n for n in range(count)]


def test_segments_terms_tables_are_written_by_the_one_piece_writer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = []
    write = whoosh_internals._TermsTableWriter._write_hashes

    def counting(table: Any) -> None:
        written.append(sum(len(entries) for entries in table.buckets))
        write(table)

    monkeypatch.setattr(whoosh_internals._TermsTableWriter, "_write_hashes", counting)
    ix = build(tmp_path / "ix", "fast", docs=DOCS[:10])
    with ix.reader() as reader:
        assert written == [len(list(reader.all_terms()))]


def test_deleting_by_term_deletes_what_whoosh_s_term_query_deletes(tmp_path: Path) -> None:
    """An update deletes the record's old document by its id, read from the
    segments' postings: the same documents and count as Whoosh's way (a
    ``Term`` query through a searcher), a document deleted before not again."""
    rid = DOCS[5]["id"]
    seen = []
    for how in ("whoosh", "ours"):
        ix = in_three_segments(tmp_path / how)
        writer = fast_writer(ix)
        writer.delete_document(105)  # (a copy of DOCS[5], in the second segment)
        writer.commit(merge=False)
        writer = fast_writer(ix)
        delete = (writer.delete_by_term if how == "ours"
                  else super(type(writer), writer).delete_by_term)  # (Whoosh's own)
        counts = (delete("id", rid), delete("id", "no-such-record"))
        writer.commit(merge=False)
        with ix.reader() as reader:
            deleted = [d for d in range(reader.doc_count_all()) if reader.is_deleted(d)]
        seen.append((counts, deleted))
    assert seen[0] == seen[1]
    assert seen[1] == ((29, 0), list(range(5, 300, 10)))
