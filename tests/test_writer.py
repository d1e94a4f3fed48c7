"""Bulk builds: worker processes write what one process writes."""

from __future__ import annotations

import gc
import json
import sqlite3
import subprocess
import sys
import weakref
from array import array
from pathlib import Path

import numpy as np
import pytest

from thb_search import Catalogue, sync
from thb_search.analysis import lexicon_entries, synonym_lines, words_of
from thb_search.corpus import read_records
from thb_search.errors import CorpusErrors
from thb_search.indexing import IndexDir
from thb_search.postcolumns import TokenTable
from thb_search.writer import MemoryPool, merge_count

QUERIES = ["trafficking", "forced labour supply chains", "national referral mechanisms",
           '"human beings"', "title:terrorism", "gender-sensitive", ""]


def results(index: Path) -> list[object]:
    out = []
    with Catalogue(index) as cat:
        for q in QUERIES:
            r = cat.search(q, limit=20)
            out.append((r.total, sorted((h.id, round(h.score or 0, 9)) for h in r.hits),
                        r.to_dict()["facets"]))
    return out


def test_parallel_build_equals_single_process_build(tmp_path: Path, corpus_copy: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sync(tmp_path / "single", [corpus_copy])
    import thb_search.writer as writer

    monkeypatch.setattr(writer, "PARALLEL_MIN_DOCS", 1)
    monkeypatch.setattr(writer, "BATCH_DOCS", 3)
    report = sync(tmp_path / "parallel", [corpus_copy])
    assert report.total == 10
    segments = [p for p in IndexDir(tmp_path / "parallel").current().glob("*.trm")]
    assert len(segments) == 2  # one per worker
    assert results(tmp_path / "parallel") == results(tmp_path / "single")
    # Both lexicons hold the words of the records and of the synonyms (which
    # a worker analyses): the same pairs, some of them met in no record.
    lexicons = [lexicon_pairs(tmp_path / name) for name in ("single", "parallel")]
    assert lexicons[0] == lexicons[1]
    synonyms = lexicon_entries(words_of(e for g in synonym_lines() for e in g))
    records = lexicon_entries(words_of(f"{r.title} {r.summary} {' '.join(r.locations)}"
                                       for r in read_records([corpus_copy])))
    assert synonyms.items() <= lexicons[0].items()
    assert sorted(synonyms.keys() - records.keys()) == [
        "cooperation", "cthb", "europe", "mechanism", "operation", "organization", "osr",
        "security", "thb"]
    assert records.keys() <= lexicons[0].keys()


def test_a_rebuild_s_workers_start_once_the_catalogue_is_read_and_end_with_it(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Started when the reading is done (with the number of records read),
    used for the documents, ended when the rebuild is, or stopped at once
    when it stops before writing (an unreadable record)."""
    import multiprocessing

    import thb_search.writer as writer

    monkeypatch.setattr(writer, "PARALLEL_MIN_DOCS", 1)
    monkeypatch.setattr(writer, "BATCH_DOCS", 3)
    started: list[tuple[int, object]] = []

    def start(total: int, texts: object = (), procs: int | None = None) -> object:
        workers = real(total, texts, procs)
        started.append((total, workers))
        return workers

    real = writer.start_workers
    monkeypatch.setattr("thb_search.indexing.start_workers", start)
    report = sync(tmp_path / "index", [corpus_copy], rebuild=True)
    assert report.total == 10 and [total for total, _ in started] == [10]
    assert [sorted(w.reported) for _, w in started] == [[0, 1]]  # type: ignore[attr-defined]
    assert multiprocessing.active_children() == []
    (corpus_copy / "more.jsonl").write_text('{"title": "Cut off\n', encoding="utf-8")
    with pytest.raises(CorpusErrors):
        sync(tmp_path / "index", [corpus_copy], rebuild=True)
    assert [total for total, _ in started] == [10, 10]
    assert started[1][1].reported == set()  # type: ignore[attr-defined]
    assert multiprocessing.active_children() == []
    with Catalogue(tmp_path / "index") as cat:
        assert cat.search("").total == 10


def test_a_rebuild_writes_the_files_states_while_it_indexes(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalogue files' states (which do not depend on the commit) are
    written into the new generation while its documents are indexed; the
    state then names them, and the next run reads no file again."""
    import time

    import thb_search.indexing as indexing
    from thb_search.state import FILE_STATE_PREFIX

    seen: list[list[str]] = []

    def write_new_index(ix: object, *args: object, **kwargs: object) -> object:
        folder = Path(ix.storage.folder)  # type: ignore[attr-defined]
        for _ in range(500):  # (up to 5 s: a thread writes them)
            states = sorted(p.name for p in folder.glob(f"{FILE_STATE_PREFIX}*.json"))
            if len(states) == 2:
                break
            time.sleep(0.01)
        seen.append(states)
        return real(ix, *args, **kwargs)

    real = indexing.write_new_index
    monkeypatch.setattr(indexing, "write_new_index", write_new_index)
    (corpus_copy / "more.jsonl").write_text('{"title": "One more"}\n', encoding="utf-8")
    report = sync(tmp_path / "index", [corpus_copy], rebuild=True)
    assert report.total == 11 and len(seen) == 1 and len(seen[0]) == 2
    gen = IndexDir(tmp_path / "index").current()
    assert gen is not None
    state = json.loads((gen / "thb-state.json").read_text("utf-8"))
    assert sorted(entry[2] for entry in state["files"].values()) == seen[0]
    again = sync(tmp_path / "index", [corpus_copy])
    assert (again.added, again.updated, again.unchanged, again.rebuilt) == (0, 0, 11, False)


def lexicon_pairs(index: Path) -> dict[str, str]:
    with sqlite3.connect(IndexDir(index).current() / "lexicon.sqlite") as db:
        return dict(db.execute("SELECT word, term FROM lexicon"))


def test_memory_pool_orders_postings_by_field_term_document() -> None:
    pool = MemoryPool()
    pool.add_many("text", [(b"b", 1, 1.0, b"\x01\x00\x00\x00"), (b"a", 1, 2.0, b"")], 0)
    pool.add(("office", b"x", 1, 1.0, b""))
    pool.add_many("text", [(b"b", 1, 3.0, b"\x02\x00\x00\x00")], 1)
    assert list(pool.iter_postings()) == [
        ("office", b"x", 1, 1.0, b""),
        ("text", b"a", 0, 2.0, b""),
        ("text", b"b", 0, 1.0, b"\x01\x00\x00\x00"),
        ("text", b"b", 1, 3.0, b"\x02\x00\x00\x00"),
    ]
    assert pool.nbytes > 0
    pool.cleanup()
    assert list(pool.iter_postings()) == [] and pool.nbytes == 0


TEXTS = [  # (title, summary, locations): every way a part can be empty or odd
    ("Forced labour in supply chains", "Co-operation of NGOs against trafficking; the "
     "gender-sensitive approach.", "Republic of Moldova, Ukraine"),
    ("", "Only a summary, of labour and of trafficking.", ""),
    ("The of and", "A title of stopwords only: the mark follows at FIELD_GAP.", ""),
    ("Dačić: co-operation re-visited", "", "Serbia"),
    ("Labour", "labour LABOUR Labour's labours", ""),
    ("", "", "Moldova"),
    ("run-s to-the end", "s-t the-of n-n", ""),
]


@pytest.mark.parametrize("apart", [False, True])
@pytest.mark.parametrize("settle_every", [1, 40, 500_000])
def test_text_tokens_held_as_columns_are_the_postings_of_the_text_field(
        settle_every: int, apart: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """``add_text`` (token numbers, made into postings with numpy every
    SETTLE_POSTINGS tokens) holds what the ``text`` field's own postings
    (``TextField.index``, analysed a document at a time) give: terms,
    documents, weights (title words twice), positions and lengths (each
    document's once, in order, across settles); a merged term's postings
    (``extend``) follow them.  The same whether the pool sorts them into its
    terms or ``apart`` (an add's pool) until they are written."""
    import thb_search.writer as writer
    from thb_search.fields import text_postings, text_value
    from thb_search.schema import TITLE_BOOST, build_schema

    monkeypatch.setattr(writer, "SETTLE_POSTINGS", settle_every)
    field = build_schema()["text"]
    assert len(TEXTS) * 3 < 30  # the merged documents follow
    columns, tuples = MemoryPool(apart=apart), MemoryPool()
    lengths: list[tuple[str, list[int], list[int]]] = []
    for docnum, (title, summary, locations) in enumerate(TEXTS * 3):
        value = text_value(title, summary, [locations] if locations else [])
        columns.add_text("text", *field.tokens(value), TITLE_BOOST, 1.0, docnum)
        tuples.add_many("text", field.index(value), docnum)
        if docnum == 7:  # (taken twice: each document's once)
            lengths.extend(columns.text_lengths())
    lengths.extend(columns.text_lengths())
    assert list(columns.text_lengths()) == []
    # Each document's length (terms, the summary mark's included), in order.
    assert [(f, d, n) for f, docs, ns in lengths for d, n in zip(docs, ns, strict=True)] == [
        ("text", docnum, text_postings(title, summary, TITLE_BOOST, locations)[2])
        for docnum, (title, summary, locations) in enumerate(TEXTS * 3)]
    for pool in (columns, tuples):
        pool.extend("text", b"labor", np.array([30, 32]), np.array([1.5, 2.0]),
                    np.array([4, 8]), array("I", [3, 1, 2]).tobytes())
    got = list(columns.iter_postings())
    assert got == list(tuples.iter_postings())
    # "Labour" / "labour LABOUR Labour's labours": the title's at 0 (weight 2),
    # the mark at 100, the summary's from 101.
    assert [(p[3], array("I", p[4]).tolist()) for p in got if p[1:3] == (b"labor", 4)] == [
        (6.0, [0, 101, 102, 103, 104])]
    assert columns.nbytes == tuples.nbytes


def test_words_another_worker_analysed_are_entered_as_they_are(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker sends the words it analysed after each batch (``_share``);
    another takes them (``_take_shared``) and enters them neither analysed
    again nor collected for its lexicon (the first collected them): the
    postings are those of its own analysis."""
    import queue

    import thb_search.postcolumns as postcolumns
    from thb_search.analysis import collecting_words
    from thb_search.fields import text_value
    from thb_search.postcolumns import ANALYSED, SHARED
    from thb_search.schema import TITLE_BOOST, build_schema
    from thb_search.writer import _share, _take_shared

    field = build_schema()["text"]
    values = [text_value(t, s, [p] if p else []) for t, s, p in TEXTS]
    analysed: list[tuple[str, tuple[tuple[str, int], ...], int]] = []
    own, other = MemoryPool(), MemoryPool()
    inbox: queue.Queue[list[tuple[str, tuple[tuple[str, int], ...], int]]] = queue.Queue()
    ANALYSED.append(analysed)
    try:
        with collecting_words() as words:
            for docnum, value in enumerate(values):
                own.add_text("text", *field.tokens(value), TITLE_BOOST, 1.0, docnum)
        ANALYSED.remove(analysed)
        tokens = {t for v in values for part in field.tokens(v) for t in part}
        assert sorted(t for t, _, _ in analysed) == sorted(tokens)  # each once
        _share(analysed, [inbox])
        assert analysed == [] and inbox.qsize() == 1
        _take_shared(inbox)
        assert set(SHARED) == tokens and inbox.empty()

        def analyse(token: str) -> None:
            raise AssertionError(f"{token!r} analysed again")

        monkeypatch.setattr(postcolumns, "_word_terms", analyse)
        with collecting_words() as not_collected:
            for docnum, value in enumerate(values):
                other.add_text("text", *field.tokens(value), TITLE_BOOST, 1.0, docnum)
        assert not_collected == set() and {"co", "operation", "cooperation", "moldova"} <= words
        assert list(other.iter_postings()) == list(own.iter_postings())
        assert list(other.text_lengths()) == list(own.text_lengths())
    finally:
        SHARED.clear()
        if analysed in ANALYSED:
            ANALYSED.remove(analysed)


def test_a_worker_takes_the_words_sent_before_each_batch_and_sends_its_own_after() -> None:
    import queue

    from thb_search.postcolumns import SHARED
    from thb_search.writer import _batches

    analysed: list[tuple[str, tuple[tuple[str, int], ...], int]] = []
    inbox: queue.Queue[list[tuple[str, tuple[tuple[str, int], ...], int]]] = queue.Queue()
    out: queue.Queue[list[tuple[str, tuple[tuple[str, int], ...], int]]] = queue.Queue()
    jobs = iter([[{"id": "a"}, {"id": "b"}], [{"id": "c"}], None])
    inbox.put([("Zorblax", (("zorblax", 0),), 1)])
    docs = _batches(jobs.__next__, inbox, analysed, [out])
    try:
        assert SHARED == {} and next(docs) == {"id": "a"}
        assert SHARED == {"Zorblax": ((("zorblax", 0),), 1)}  # taken before the batch
        analysed.append(("Quux", (("quux", 0),), 1))  # (analysing "a")
        inbox.put([("Blip", (("blip", 0),), 1)])
        assert next(docs) == {"id": "b"} and out.empty() and "Blip" not in SHARED
        assert next(docs) == {"id": "c"}  # the first batch's words sent, the next's taken
        assert out.get_nowait() == [("Quux", (("quux", 0),), 1)] and analysed == []
        assert "Blip" in SHARED
        assert list(docs) == [] and out.empty()  # (nothing analysed: nothing sent)
    finally:
        SHARED.clear()


def test_words_sent_are_taken_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import queue

    import thb_search.writer as writer
    from thb_search.postcolumns import SHARED

    monkeypatch.setattr(writer, "MAX_SHARED", 2)
    inbox: queue.Queue[list[tuple[str, tuple[tuple[str, int], ...], int]]] = queue.Queue()
    for word in ("a", "b", "c"):
        inbox.put([(word, ((word, 0),), 1)])
    try:
        writer._take_shared(inbox)
        assert list(SHARED) == ["a", "b"] and inbox.qsize() == 1
    finally:
        SHARED.clear()


def test_a_parallel_build_analyses_the_documents_pages_in_its_workers(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process reading the catalogue sends where each PDF's pages are
    kept, and the workers analyse them: the index is the one process's."""
    import thb_search.writer as writer
    from conftest import NRM_HANDBOOK, TERRORISM
    from test_documents import forty_pages
    from thb_search.fields import BodyPages

    for rid, page in ((TERRORISM, 27), (NRM_HANDBOOK, 5)):
        (corpus_copy / "documents" / rid).mkdir(parents=True)
        forty_pages(corpus_copy / "documents" / rid / f"{rid}.pdf", phrase_page=page)
    sync(tmp_path / "single", [corpus_copy])

    def not_here(self: BodyPages) -> None:
        raise AssertionError("pages analysed in the process reading the catalogue")

    monkeypatch.setattr(BodyPages, "analysed", not_here)
    monkeypatch.setattr(writer, "PARALLEL_MIN_DOCS", 1)
    monkeypatch.setattr(writer, "BATCH_DOCS", 3)
    sync(tmp_path / "parallel", [corpus_copy])
    assert results(tmp_path / "parallel") == results(tmp_path / "single")
    with Catalogue(tmp_path / "parallel") as cat:
        hits = cat.search('"debt bondage in domestic work"').hits
        assert sorted((h.id, h.pages) for h in hits) == sorted(
            [(TERRORISM, (27,)), (NRM_HANDBOOK, (5,))])


PAGES = [  # a document's pages: every way a page can be odd
    "Forced labour in supply chains: co-operation of NGOs, the gender-sensitive way.",
    "",
    "the of and",
    "Labour's labours; re-visited labour-market studies. Dačić's report.",
    "run-s to-the end s-t n-n",
]


@pytest.mark.parametrize("apart", [False, True])
@pytest.mark.parametrize("settle_every", [1, 30, 500_000])
def test_body_words_held_as_columns_are_the_postings_of_the_body_field(
        settle_every: int, apart: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """``add_body`` (a document's words as token numbers) holds what its
    analysed pages (``body_postings``, a term at a time) give: positions
    running on from page to page, a term's weight its number of positions
    (``BodyField.index``'s postings, added a posting at a time);
    ``add_body`` gives the same page starts and length."""
    import thb_search.writer as writer
    from thb_search.fields import body_postings, body_tokens
    from thb_search.schema import build_schema

    monkeypatch.setattr(writer, "SETTLE_POSTINGS", settle_every)
    columns, positions = MemoryPool(apart=apart), MemoryPool()
    field = build_schema()["body"]
    documents = [PAGES, PAGES[::-1], PAGES[1:2], PAGES[3:]] * 2
    for docnum, pages in enumerate(documents):
        words, analysed = body_tokens(pages), body_postings(pages)
        assert columns.add_body("body", words, docnum) == (analysed.length,
                                                           analysed.page_starts)
        positions.add_many("body", field.index(analysed), docnum)
    got = list(columns.iter_postings())
    assert got == list(positions.iter_postings())
    assert columns.nbytes == positions.nbytes
    # Page 1 takes 10 positions ("in", "of", "the" dropped; "co-operation"
    # and "gender-sensitive" two each); pages 2 and 3 none; page 4 starts at 10:
    # "Labour's" 10, "labours" 11, "re-visited" 12 ("re" a stopword),
    # "labour-market" 13-14.
    assert [(p[3], array("I", p[4]).tolist()) for p in got if p[1:3] == (b"labor", 0)] == [
        (4.0, [1, 10, 11, 13])]
    assert MemoryPool().add_body("body", body_tokens(PAGES), 0)[1] == (0, 10, 10, 10, 18)


def test_a_token_table_numbers_tokens_and_is_freed_when_let_go() -> None:
    # A writer's tables hold every word it met: they must go when the writer
    # lets them go, not when the cycle collector next runs.
    table = TokenTable()
    assert table.numbers(["labour", "trafficking", "labour"]) == [0, 1, 0]
    assert table.numbers(["trafficking", "supply"]) == [1, 2]
    gone = weakref.ref(table)
    enabled = gc.isenabled()
    gc.disable()
    try:
        del table
        assert gone() is None
    finally:
        if enabled:
            gc.enable()


UNGUARDED = """\
import os
import sys
import thb_search.writer as writer
from thb_search import sync
from thb_search.errors import ThbSearchError

writer.PARALLEL_MIN_DOCS = 1
os.cpu_count = lambda: 2  # two workers on any machine
try:
    sync(sys.argv[1], [sys.argv[2]])
except ThbSearchError as exc:
    sys.exit(str(exc))
"""


def test_a_script_that_indexes_without_a_main_guard_is_told_so(tmp_path: Path,
                                                               corpus_copy: Path) -> None:
    """Worker processes are spawned: each imports the script that started the
    build and so runs it again.  That run fails at once (it does not wait for
    the lock the build holds), and the build's error says what to do."""
    script = tmp_path / "build.py"
    script.write_text(UNGUARDED, encoding="utf-8")
    index = tmp_path / "index"
    done = subprocess.run([sys.executable, str(script), str(index), str(corpus_copy)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    guard = ('A Python script that indexes must do so under if __name__ == "__main__": '
             "(worker processes import it)")
    build = ("an indexing worker process failed (exit code 1; its error is on standard "
             f"error); the index was left as it was. {guard}")
    assert done.returncode == 1 and done.stdout == ""
    # The workers write their own error too (at once, so their lines may interleave).
    text = done.stderr.replace("\n", "")
    assert text.count(build) == 1, done.stderr
    rest = text.replace(build, "")
    assert rest in (guard, guard * 2), done.stderr
    assert IndexDir(index).current() is None


@pytest.mark.parametrize(("sizes", "merged"), [
    ([1, 1, 1, 1], 0),  # fewer than five segments: none merged
    ([1, 1, 1, 1, 1], 5),
    ([1, 1, 1, 1, 50], 5),  # 54 < fib(9), which is 55 in Whoosh's numbering
    ([1, 1, 1, 1, 51], 0),  # 55 is not
    ([1, 1, 1, 1, 51, 51], 0),  # 106 against fib(10) = 89
    ([2, 2, 2, 2, 2, 2, 2], 5),  # the five smallest, not all seven
    ([10, 10, 10, 10, 30, 30, 40], 7),  # 70 and 100 are not, 140 < fib(11) = 144
])
def test_merge_count_is_whoosh_merge_small_rule(sizes: list[int], merged: int) -> None:
    assert merge_count(sizes) == merged


def _segments(index: Path) -> dict[str, int]:
    """Segment id -> documents of the index's latest commit."""
    ix = IndexDir(index).open()
    try:
        return {s.segment_id(): s.doc_count_all() for s in ix._segments()}
    finally:
        ix.close()


def test_small_segments_merge_without_a_segment_whose_files_are_large(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An add's commit sizes segments by their files as well as their
    documents: the segment of one long publication (a PDF's, here a long
    summary) is not merged again with every few one-record segments, as
    Whoosh's MERGE_SMALL, counting documents, would at the fifth."""
    import thb_search.writer as writer

    monkeypatch.setattr(writer, "MERGE_UNIT_BYTES", 1024)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    index = tmp_path / "index"
    long_summary = " ".join(f"finding{i}" for i in range(8000))
    (corpus / "long.jsonl").write_text(json.dumps(
        {"id": "long", "title": "A long report", "summary": long_summary}) + "\n",
        encoding="utf-8")
    sync(index, [corpus])
    (long_segment,) = _segments(index)
    counts = []
    for n in range(6):
        (corpus / f"add-{n}.jsonl").write_text(json.dumps(
            {"id": f"add-{n}", "title": f"Note {n}", "summary": "a short note"}) + "\n",
            encoding="utf-8")
        sync(index, [corpus])
        segments = _segments(index)
        assert segments[long_segment] == 1, n  # kept as it was
        counts.append(sorted(segments.values()))
    # The fifth add finds five segments (MERGE_SMALL would merge them all);
    # the sixth merges the five one-record segments, not the long one, into
    # the segment it writes.
    assert counts == [[1, 1], [1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1, 1],
                      [1, 1, 1, 1, 1, 1], [1, 6]]
    with Catalogue(index) as cat:
        assert cat.search("finding7999").total == 1
        assert [h.id for h in cat.search("note", limit=10).hits] == [
            f"add-{n}" for n in range(6)]
