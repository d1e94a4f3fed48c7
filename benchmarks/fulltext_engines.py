#!/usr/bin/env python3
"""The engines of the full-text benchmark (``fulltext.py``), and its child processes.

    fulltext_engines.py build   ENGINE SETUP_JSON [--rebuild] [--no-nltk-timeout]
    fulltext_engines.py latency ENGINE SETUP_JSON
    fulltext_engines.py add     ENGINE SETUP_JSON [--no-nltk-timeout]
    fulltext_engines.py first   ENGINE SETUP_JSON QUERY_JSON

ENGINE is ``thb``, ``sqlite`` or ``tantivy``.  ``--rebuild`` only labels a
thb-search build whose page texts are in the store already (both builds are
``sync(rebuild=True)``); ``--no-nltk-timeout`` sets
``nltk.redos.DEFAULT_TIMEOUT`` to None first (see ``fulltext.py``).

Each command prints one JSON object on stdout.  ``SETUP_JSON`` is the file
``fulltext.py`` writes into its working folder (the catalogue, the corpus
folder, thb-search's index, which record has which document, the queries,
the documents to add).  Only the engine asked for is imported, so ``first``
(timed from outside, process start to exit) costs what a bare script of that
engine costs: interpreter start, imports, opening the index, one search with
facet counts and snippets.

The engines, all over the same text: the catalogue's records (title,
summary, office, themes, type, year) and the page texts thb-search read from
the PDFs into ``INDEX/texts.sqlite``:

* **thb-search**: ``thb_search.sync`` over the corpus folder (records, and
  the PDFs in ``documents/ID/``); ``Catalogue.search(q, office=..., limit=10)``,
  whose hits carry ``pages`` and ``snippet_page``.
* **SQLite FTS5**: one FTS5 table (``porter unicode61``) of *units*: a row
  per record (title, summary; page 0) and a row per page of its document
  (body; page N), with the record's row number and the page number as
  ``UNINDEXED`` columns; records, offices and themes in side tables.  All
  words must match one unit; the top 10 records by the ``bm25`` of their best
  unit (title 2, summary 1, body 1), each with its best matching page (its
  record row when no page matches) and an FTS5 ``snippet`` of it, in one
  statement; facet counts are ``GROUP BY`` over the distinct matched records.
* **Tantivy** (optional): one document per unit as above, with the record's
  id, office, themes, type, year and date on every one (fast fields);
  ``en_stem`` text; top units read until 10 distinct records are found (the
  first unit of a record is its best); where that is the record's own row,
  one more search (the words in the body, that record's id) for its best
  page; a ``SnippetGenerator`` snippet; facet counts are ``terms``
  aggregations with a ``cardinality`` of record ids under each bucket
  (HyperLogLog: approximate above a few thousand).

Matching differs on purpose: thb-search indexes a publication's record and
document as one document (all words must occur somewhere in it, a phrase may
run on to the next page), while FTS5 and Tantivy, one row per page, need all
words on one page (or in the record).  "Records matched" shows what that does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.base import FACETS, Query, datenum_of, read_jsonl, year_of

#: Engine name -> label, in the order of the report.
LABELS = {"thb": "thb-search", "sqlite": "SQLite FTS5", "tantivy": "Tantivy"}


@dataclass
class Result:
    """What a search returned: matched records, the top 10 as (record id,
    the page shown or None, snippet), and facet counts over records."""

    total: int | None
    hits: list[tuple[str, int | None, str]]
    facets: dict[str, dict[str, int]] | None = field(default=None)
    #: thb-search: how many matching pages each hit lists (``Hit.pages``).
    pages: list[int] | None = None


def peak_rss_kb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def page_texts(setup: dict[str, Any], documents: dict[str, str] | None = None
               ) -> Iterator[tuple[str, Iterator[tuple[int, str]]]]:
    """(record id, its pages as (number, text)) for every document of
    ``documents`` (record id -> SHA-256; the setup's indexed set by default),
    read from thb-search's text store."""
    db = sqlite3.connect(f"file:{setup['texts']}?mode=ro", uri=True)
    try:
        for rid, sha in sorted((documents or setup["documents"]).items()):
            yield rid, iter(db.execute(
                "SELECT page, text FROM pages WHERE sha256 = ? ORDER BY page", (sha,)))
    finally:
        db.close()


def records_by_id(setup: dict[str, Any], ids: set[str]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in read_jsonl(Path(setup["catalogue"])) if r["id"] in ids}


def pdf_pages(pdf: str) -> list[tuple[int, str]]:
    """A PDF's pages as (number from 1, text): PDFium's plain text of each page
    (``pypdfium2``, the library thb-search reads with, without its cleaning),
    what a script feeding FTS5 or Tantivy would read."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for n in range(len(doc)):
            page = doc[n]
            textpage = page.get_textpage()
            pages.append((n + 1, textpage.get_text_range()))
            textpage.close()
            page.close()
        return pages
    finally:
        doc.close()


def read_pdfs(pdfs: list[str]) -> list[list[tuple[int, str]]]:
    """Several PDFs' pages (:func:`pdf_pages`), read as thb-search reads a
    batch: by a process per core (forked, so sooner started than
    thb-search's spawned ones)."""
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(
            max_workers=min(os.cpu_count() or 1, 4),
            mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(pdf_pages, pdfs))


# ---------------------------------------------------------------------------
# thb-search


class _Timer:
    """Wraps ``thb_search.documents.read_texts`` (where it is defined and in
    every thb_search module that imported it: ``add_files`` calls it from
    ``thb_search.adding``), adding up the seconds spent in it."""

    def __init__(self) -> None:
        import thb_search.adding  # noqa: F401 - imported for the scan below
        import thb_search.documents as documents
        import thb_search.indexing  # noqa: F401 - imported for the scan below

        self.seconds = 0.0
        original = documents.read_texts

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        for name, module in list(sys.modules.items()):
            if (name == "thb_search" or name.startswith("thb_search.")) \
                    and getattr(module, "read_texts", None) is original:
                module.read_texts = timed


class Thb:
    name = "thb"

    def build(self, setup: dict[str, Any], rebuild: bool) -> dict[str, Any]:
        """``sync(rebuild=True)``: reading the PDFs (``documents.read_texts``,
        timed apart) unless their text is in the store, and indexing."""
        from thb_search import sync

        reading = _Timer()
        start = time.perf_counter()
        report = sync(setup["index"], [setup["corpus"]], rebuild=True)
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "read_seconds": reading.seconds,
                "index_seconds": seconds - reading.seconds,
                "records": report.total, "documents": report.documents,
                "documents_read": report.documents_read, "rebuild": rebuild}

    def add(self, setup: dict[str, Any]) -> dict[str, Any]:
        """``add_files(corpus, index, [pdf], to=ID)`` for each of the first 10
        extra PDFs (as ``thb-search add FILE --to ID`` does, one call each),
        then the other 10 put into ``documents/ID/`` and one ``sync``."""
        from thb_search import add_files, sync

        reading = _Timer()
        calls = []
        for item in setup["add"]:
            before = reading.seconds
            start = time.perf_counter()
            report = add_files(setup["corpus"], setup["index"], [item["pdf"]], to=item["rid"])
            calls.append({"seconds": time.perf_counter() - start,
                          "read_seconds": reading.seconds - before,
                          "updated": report.index.updated})
        for item in setup["add_batch"]:
            folder = Path(setup["corpus"]) / "documents" / item["rid"]
            folder.mkdir(parents=True, exist_ok=True)
            _link_or_copy(Path(item["pdf"]), folder / Path(item["pdf"]).name)
        before = reading.seconds
        start = time.perf_counter()
        report = sync(setup["index"], [setup["corpus"]])
        batch = {"seconds": time.perf_counter() - start,
                 "read_seconds": reading.seconds - before,
                 "updated": report.updated, "documents": report.documents,
                 "documents_read": report.documents_read}
        return {"each": calls, "batch": batch}

    def open(self, setup: dict[str, Any]) -> ThbSearcher:
        return ThbSearcher(setup["index"])


class ThbSearcher:
    def __init__(self, index: str) -> None:
        from thb_search import Catalogue

        self.catalogue = Catalogue(index)

    def search(self, q: Query, facets: bool) -> Result:
        r = self.catalogue.search(
            q.text(), office=q.filter_values("office"), theme=q.filter_values("theme"),
            type=q.filter_values("type"), year=q.filter_values("year"), limit=10,
            facets=facets)
        counts = ({f: {str(c.value): c.count for c in r.facets[f]} for f in FACETS}
                  if facets else None)
        return Result(r.total, [(h.id, h.snippet_page, h.snippet) for h in r.hits], counts,
                      [len(h.pages) for h in r.hits])

    def close(self) -> None:
        self.catalogue.close()


def _link_or_copy(src: Path, dest: Path) -> None:
    import shutil

    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


# ---------------------------------------------------------------------------
# SQLite FTS5

FTS_SCHEMA = """
CREATE TABLE docs(id INTEGER PRIMARY KEY, rid TEXT NOT NULL UNIQUE, title TEXT,
                  summary TEXT, date INTEGER, year INTEGER, type TEXT, publisher TEXT);
CREATE TABLE doc_office(doc INTEGER NOT NULL, office TEXT NOT NULL);
CREATE TABLE doc_theme(doc INTEGER NOT NULL, theme TEXT NOT NULL);
CREATE VIRTUAL TABLE units USING fts5(title, summary, body, doc UNINDEXED, page UNINDEXED,
                                      tokenize='porter unicode61');
"""
FTS_INDEXES = """
CREATE INDEX doc_office_value ON doc_office(office, doc);
CREATE INDEX doc_office_doc ON doc_office(doc);
CREATE INDEX doc_theme_value ON doc_theme(theme, doc);
CREATE INDEX doc_theme_doc ON doc_theme(doc);
CREATE INDEX docs_type ON docs(type);
CREATE INDEX docs_year ON docs(year);
"""
#: Filter facet -> condition on the ``doc`` column of ``units``.
FTS_CONDITIONS = {
    "office": "doc IN (SELECT doc FROM doc_office WHERE office = ?)",
    "theme": "doc IN (SELECT doc FROM doc_theme WHERE theme = ?)",
    "type": "doc IN (SELECT id FROM docs WHERE type = ?)",
    "year": "doc IN (SELECT id FROM docs WHERE year = ?)",
}
#: The 10 records whose best unit scores best, each with its best page (its
#: record row when no page matches).
FTS_TOP = """
WITH hits AS MATERIALIZED (
  SELECT doc, page, rowid, bm25(units, 2.0, 1.0, 1.0) AS score FROM units WHERE {where}),
top AS MATERIALIZED (SELECT doc, min(score) AS score FROM hits GROUP BY doc ORDER BY 2 LIMIT 10),
best AS (SELECT doc, page, rowid, min((page = 0) * 1e9 + score) FROM hits
         WHERE doc IN (SELECT doc FROM top) GROUP BY doc)
SELECT top.doc, best.page, best.rowid FROM top JOIN best ON best.doc = top.doc
ORDER BY top.score
"""
FTS_SNIPPET = ("SELECT snippet(units, -1, '<mark>', '</mark>', '…', 24) FROM units "
               "WHERE units MATCH ? AND rowid = ?")


class Fts5:
    name = "sqlite"

    def path(self, setup: dict[str, Any]) -> Path:
        return Path(setup["work"]) / "sqlite" / "fulltext.db"

    def build(self, setup: dict[str, Any], rebuild: bool) -> dict[str, Any]:
        path = self.path(setup)
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(path.name + "*"):
            old.unlink()
        start = time.perf_counter()
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(FTS_SCHEMA)
            db.execute("BEGIN")
            rows = {}
            for r in read_jsonl(Path(setup["catalogue"])):
                rows[r["id"]] = _insert_record(db, r)
            pages = 0
            for rid, texts in page_texts(setup):
                pages += _insert_pages(db, rows[rid], texts)
            db.execute("COMMIT")
            db.executescript(FTS_INDEXES)
            db.execute("INSERT INTO units(units) VALUES('optimize')")
            db.execute("ANALYZE")
        finally:
            db.close()
        return {"seconds": time.perf_counter() - start, "records": len(rows), "pages": pages}

    def add(self, setup: dict[str, Any]) -> dict[str, Any]:
        """The same 20 PDFs as thb-search added, each read (:func:`pdf_pages`)
        and its pages inserted: the first 10 a transaction each, the other 10
        read together (:func:`read_pdfs`) and inserted in one."""
        db = sqlite3.connect(self.path(setup), isolation_level=None)
        try:
            def rows(items: list[dict[str, Any]]) -> dict[str, int]:
                marks = ",".join("?" * len(items))
                return dict(db.execute(f"SELECT rid, id FROM docs WHERE rid IN ({marks})",
                                       [i["rid"] for i in items]).fetchall())

            each = []
            ids = rows(setup["add"])
            for item in setup["add"]:
                start = time.perf_counter()
                texts = pdf_pages(item["pdf"])
                read = time.perf_counter() - start
                db.execute("BEGIN IMMEDIATE")
                _insert_pages(db, ids[item["rid"]], iter(texts))
                db.execute("COMMIT")
                each.append({"seconds": time.perf_counter() - start, "read_seconds": read})
            ids = rows(setup["add_batch"])
            start = time.perf_counter()
            batch = read_pdfs([i["pdf"] for i in setup["add_batch"]])
            read = time.perf_counter() - start
            db.execute("BEGIN IMMEDIATE")
            for item, texts in zip(setup["add_batch"], batch, strict=True):
                _insert_pages(db, ids[item["rid"]], iter(texts))
            db.execute("COMMIT")
            return {"each": each, "batch": {"seconds": time.perf_counter() - start,
                                            "read_seconds": read}}
        finally:
            db.close()

    def open(self, setup: dict[str, Any]) -> FtsSearcher:
        return FtsSearcher(self.path(setup))


def _insert_record(db: sqlite3.Connection, r: dict[str, Any]) -> int:
    cur = db.execute(
        "INSERT INTO docs(rid, title, summary, date, year, type, publisher) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (r["id"], r["title"], r["summary"], datenum_of(r), year_of(r), r["type"],
         r["publisher"]))
    doc = cur.lastrowid
    assert doc is not None
    db.executemany("INSERT INTO doc_office VALUES (?, ?)", [(doc, o) for o in r["office"]])
    db.executemany("INSERT INTO doc_theme VALUES (?, ?)", [(doc, t) for t in r["themes"]])
    db.execute("INSERT INTO units(title, summary, body, doc, page) VALUES (?, ?, '', ?, 0)",
               (r["title"], r["summary"], doc))
    return doc


def _insert_pages(db: sqlite3.Connection, doc: int, texts: Iterator[tuple[int, str]]) -> int:
    cur = db.executemany("INSERT INTO units(title, summary, body, doc, page) "
                         "VALUES ('', '', ?, ?, ?)", ((t, doc, n) for n, t in texts))
    return cur.rowcount


class FtsSearcher:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)

    def search(self, q: Query, facets: bool) -> Result:
        from engines.sqlite_fts5 import FACET_SQL, fts_expression

        expression = fts_expression(q)
        conditions = ["units MATCH ?", *(FTS_CONDITIONS[f] for f, _ in q.filters)]
        params: list[Any] = [expression, *(int(v) if f == "year" else v
                                           for f, v in q.filters)]
        where = " AND ".join(conditions)
        top = self.db.execute(FTS_TOP.format(where=where), params).fetchall()
        hits = []
        for doc, page, rowid in top:
            rid = self.db.execute("SELECT rid FROM docs WHERE id = ?", (doc,)).fetchone()[0]
            snippet = self.db.execute(FTS_SNIPPET, (expression, rowid)).fetchone()[0]
            hits.append((rid, page or None, snippet))
        if not facets:
            return Result(None, hits)
        matched = f"SELECT DISTINCT doc AS id FROM units WHERE {where}"
        counts: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        total = 0
        for facet, value, n in self.db.execute(FACET_SQL.format(matched=matched), params):
            if facet:
                counts[facet][str(value)] = n
            else:
                total = n
        return Result(total, hits, counts)

    def close(self) -> None:
        self.db.close()


# ---------------------------------------------------------------------------
# Tantivy

#: Writer heap in bytes.
HEAP_BYTES = 256 * 1024 * 1024
TANTIVY_FIELDS = {"office": "office", "theme": "themes", "type": "type", "year": "year"}


class Tantivy:
    name = "tantivy"

    def path(self, setup: dict[str, Any]) -> Path:
        return Path(setup["work"]) / "tantivy"

    @staticmethod
    def schema() -> Any:
        import tantivy

        sb = tantivy.SchemaBuilder()
        sb.add_text_field("rid", stored=True, fast=True, tokenizer_name="raw")
        sb.add_integer_field("page", stored=True)
        for name in ("title", "summary", "body"):
            sb.add_text_field(name, stored=True, tokenizer_name="en_stem")
        for name in ("office", "themes", "type"):
            sb.add_text_field(name, fast=True, tokenizer_name="raw")
        sb.add_integer_field("year", indexed=True, fast=True)
        sb.add_integer_field("date", fast=True)
        return sb.build()

    @staticmethod
    def _unit(r: dict[str, Any], page: int, **text: str) -> Any:
        import tantivy

        return tantivy.Document(rid=r["id"], page=page, office=r["office"], themes=r["themes"],
                                type=r["type"], year=year_of(r), date=datenum_of(r), **text)

    def build(self, setup: dict[str, Any], rebuild: bool) -> dict[str, Any]:
        import shutil

        import tantivy

        path = self.path(setup)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        start = time.perf_counter()
        ix = tantivy.Index(self.schema(), path=str(path))
        writer = ix.writer(HEAP_BYTES, 1)
        records = {}
        for r in read_jsonl(Path(setup["catalogue"])):
            records[r["id"]] = r
            writer.add_document(self._unit(r, 0, title=r["title"], summary=r["summary"]))
        pages = 0
        for rid, texts in page_texts(setup):
            for n, text in texts:
                writer.add_document(self._unit(records[rid], n, body=text))
                pages += 1
        writer.commit()
        writer.wait_merging_threads()
        return {"seconds": time.perf_counter() - start, "records": len(records),
                "pages": pages}

    def add(self, setup: dict[str, Any]) -> dict[str, Any]:
        """As for FTS5: the first 10 PDFs read and committed one by one, the
        other 10 read together and committed in one."""
        import tantivy

        items = setup["add"] + setup["add_batch"]
        records = records_by_id(setup, {i["rid"] for i in items})
        ix = tantivy.Index.open(str(self.path(setup)))
        writer = ix.writer(HEAP_BYTES // 4, 1)
        each = []
        for item in setup["add"]:
            start = time.perf_counter()
            texts = pdf_pages(item["pdf"])
            read = time.perf_counter() - start
            for n, text in texts:
                writer.add_document(self._unit(records[item["rid"]], n, body=text))
            writer.commit()
            each.append({"seconds": time.perf_counter() - start, "read_seconds": read})
        start = time.perf_counter()
        batch = read_pdfs([i["pdf"] for i in setup["add_batch"]])
        read = time.perf_counter() - start
        for item, texts in zip(setup["add_batch"], batch, strict=True):
            for n, text in texts:
                writer.add_document(self._unit(records[item["rid"]], n, body=text))
        writer.commit()
        batch_seconds = time.perf_counter() - start
        writer.wait_merging_threads()
        return {"each": each, "batch": {"seconds": batch_seconds, "read_seconds": read}}

    def open(self, setup: dict[str, Any]) -> TantivySearcher:
        import tantivy

        return TantivySearcher(tantivy.Index.open(str(self.path(setup))))


class TantivySearcher:
    #: Units read first when looking for the 10 best records (then 4x more).
    FIRST_UNITS = 50

    def __init__(self, ix: Any) -> None:
        self.index = ix
        self.schema = ix.schema
        self.searcher = ix.searcher()

    def _query(self, q: Query) -> Any:
        import tantivy
        from engines.tantivy_engine import query_string

        parsed = self.index.parse_query(query_string(q), ["title", "summary", "body"],
                                        field_boosts={"title": 2.0},
                                        conjunction_by_default=True)
        if not q.filters:
            return parsed
        clauses = [(tantivy.Occur.Must, parsed)]
        for facet, value in q.filters:
            term = int(value) if facet == "year" else value
            clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(
                self.schema, TANTIVY_FIELDS[facet], term)))
        return tantivy.Query.boolean_query(clauses)

    def search(self, q: Query, facets: bool) -> Result:
        import tantivy
        from engines.tantivy_engine import query_string

        query = self._query(q)
        best: dict[str, tuple[int, Any]] = {}
        limit, offset = self.FIRST_UNITS, 0
        while True:
            found = self.searcher.search(query, limit, count=False, offset=offset).hits
            for _, address in found:
                doc = self.searcher.doc(address)
                rid = doc["rid"][0]
                if rid not in best:
                    best[rid] = (doc["page"][0], doc)
                    if len(best) == 10:
                        break
            if len(best) == 10 or len(found) < limit:
                break
            offset += limit
            limit *= 4
        body_query = None
        for rid, (page, doc) in list(best.items()):
            if page:
                continue
            # The record's own text scored best: its best page, if any matches.
            body_query = body_query or self.index.parse_query(
                query_string(q), ["body"], conjunction_by_default=True)
            found = self.searcher.search(tantivy.Query.boolean_query([
                (tantivy.Occur.Must, body_query),
                (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "rid", rid))]),
                1, count=False).hits
            if found:
                doc = self.searcher.doc(found[0][1])
                best[rid] = (doc["page"][0], doc)
        generators: dict[str, Any] = {}
        hits = []
        for rid, (page, doc) in best.items():
            name = "body" if page else "summary"
            if name not in generators:
                generators[name] = tantivy.SnippetGenerator.create(
                    self.searcher, query, self.schema, name)
            hits.append((rid, page or None, generators[name].snippet_from_doc(doc).to_html()))
        if not facets:
            return Result(None, hits)
        records = {"cardinality": {"field": "rid"}}
        aggs = self.searcher.aggregate(query, {
            "total": records,
            **{name: {"terms": {"field": f, "size": 1000}, "aggs": {"records": records}}
               for name, f in TANTIVY_FIELDS.items()}})
        counts = {name: {str(b["key"]): round(b["records"]["value"])
                         for b in aggs[name]["buckets"]} for name in TANTIVY_FIELDS}
        return Result(round(aggs["total"]["value"]), hits, counts)

    def close(self) -> None:
        pass


ENGINES = {"thb": Thb, "sqlite": Fts5, "tantivy": Tantivy}


# ---------------------------------------------------------------------------
# The child processes


def latency(engine: Any, setup: dict[str, Any]) -> dict[str, Any]:
    """Warm up, then time every query top-10 (with pages and snippets) only,
    then with facet counts."""
    queries = [Query.from_dict(d) for d in setup["queries"]]
    start = time.perf_counter()
    searcher = engine.open(setup)
    open_seconds = time.perf_counter() - start
    for facets in (False, True):
        for q in queries[:setup["warmup"]]:
            searcher.search(q, facets)
    out: dict[str, Any] = {"open_seconds": open_seconds}
    for facets, key in ((False, "top10_ms"), (True, "facets_ms")):
        times, results = [], []
        for q in queries:
            start = time.perf_counter()
            results.append(searcher.search(q, facets))
            times.append((time.perf_counter() - start) * 1000)
        out[key] = times
    searcher.close()
    out.update({
        "totals": [r.total for r in results],
        "hits": [[[rid, page] for rid, page, _ in r.hits] for r in results],
        "snippet_chars": [sum(len(s) for _, _, s in r.hits) for r in results],
        "pages_listed": [r.pages for r in results],
        "facet_values": [sum(len(v) for v in r.facets.values()) if r.facets else 0
                         for r in results],
        "peak_rss_kb": peak_rss_kb(),
    })
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("build", "latency", "add", "first"))
    parser.add_argument("engine", choices=tuple(ENGINES))
    parser.add_argument("setup", type=Path)
    parser.add_argument("query", nargs="?", help="first: the query, as JSON")
    parser.add_argument("--rebuild", action="store_true",
                        help="build: the page texts are in the store already")
    parser.add_argument("--no-nltk-timeout", action="store_true",
                        help="thb build/add: set nltk.redos.DEFAULT_TIMEOUT to None (see "
                             "fulltext.py --keep-nltk-timeout)")
    args = parser.parse_args(argv)
    setup = json.loads(args.setup.read_text("utf-8"))
    engine = ENGINES[args.engine]()
    if args.no_nltk_timeout:
        import nltk.redos

        nltk.redos.DEFAULT_TIMEOUT = None
    if args.command == "build":
        out = engine.build(setup, args.rebuild)
        out["peak_rss_kb"] = peak_rss_kb()
    elif args.command == "latency":
        out = latency(engine, setup)
    elif args.command == "add":
        out = engine.add(setup)
    else:
        result = engine.open(setup).search(Query.from_dict(json.loads(args.query)), True)
        out = {"total": result.total, "ids": [rid for rid, _, _ in result.hits]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
