"""SQLite FTS5 from the standard library.

Tables: ``docs`` (one row a record, with ``type`` and ``year`` columns),
``doc_office`` and ``doc_theme`` (the multi-valued facets, one row per value)
and ``docs_fts``, an external-content FTS5 table over title and summary with
the ``porter`` tokenizer.  Ranking is ``bm25`` (title weighted 2x); facet
counts are ``GROUP BY`` queries over the matched set, materialised once per
search; filters are ``WHERE`` conditions on the side tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .base import Engine, Query, Result, Searcher, datenum_of, feed, read_jsonl, year_of

SCHEMA = """
CREATE TABLE docs(id INTEGER PRIMARY KEY, rid TEXT NOT NULL UNIQUE, title TEXT,
                  summary TEXT, date INTEGER, year INTEGER, type TEXT, publisher TEXT);
CREATE TABLE doc_office(doc INTEGER NOT NULL, office TEXT NOT NULL);
CREATE TABLE doc_theme(doc INTEGER NOT NULL, theme TEXT NOT NULL);
CREATE VIRTUAL TABLE docs_fts USING fts5(title, summary, content='docs',
                                         content_rowid='id', tokenize='porter unicode61');
"""
INDEXES = """
CREATE INDEX doc_office_value ON doc_office(office, doc);
CREATE INDEX doc_office_doc ON doc_office(doc);
CREATE INDEX doc_theme_value ON doc_theme(theme, doc);
CREATE INDEX doc_theme_doc ON doc_theme(doc);
CREATE INDEX docs_type ON docs(type, date);
CREATE INDEX docs_year ON docs(year, date);
CREATE INDEX docs_date ON docs(date);
"""
#: Filter facet -> SQL condition on ``docs d``.
CONDITIONS = {
    "office": "d.id IN (SELECT doc FROM doc_office WHERE office = ?)",
    "theme": "d.id IN (SELECT doc FROM doc_theme WHERE theme = ?)",
    "type": "d.type = ?",
    "year": "d.year = ?",
}
FACET_SQL = """
WITH m AS MATERIALIZED ({matched})
SELECT 'office', o.office, count(*) FROM doc_office o JOIN m ON o.doc = m.id GROUP BY o.office
UNION ALL
SELECT 'theme', t.theme, count(*) FROM doc_theme t JOIN m ON t.doc = m.id GROUP BY t.theme
UNION ALL
SELECT 'type', d.type, count(*) FROM docs d JOIN m ON d.id = m.id GROUP BY d.type
UNION ALL
SELECT 'year', d.year, count(*) FROM docs d JOIN m ON d.id = m.id GROUP BY d.year
UNION ALL
SELECT '', NULL, count(*) FROM m
"""


def fts_expression(query: Query) -> str:
    """Every word and the phrase as FTS5 strings (quoted: no operator surprises)."""
    parts = list(query.words)
    if query.phrase:
        parts.append(" ".join(query.phrase))
    return " ".join('"' + p.replace('"', '""') + '"' for p in parts)


def _where(query: Query) -> tuple[str, list[Any]]:
    """The match and filter conditions on ``docs d`` (joined to ``docs_fts``)."""
    conditions, params = [], []
    if not query.is_browse:
        conditions.append("docs_fts MATCH ?")
        params.append(fts_expression(query))
    for facet, value in query.filters:
        conditions.append(CONDITIONS[facet])
        params.append(int(value) if facet == "year" else value)
    return " AND ".join(conditions) or "1", params


def _source(query: Query) -> str:
    return "docs d" if query.is_browse else "docs_fts JOIN docs d ON d.id = docs_fts.rowid"


class SqliteSearcher(Searcher):
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)

    def search(self, query: Query, facets: bool) -> Result:
        where, params = _where(query)
        order = "d.date DESC" if query.is_browse else "bm25(docs_fts, 2.0, 1.0)"
        rows = self.db.execute(
            f"SELECT d.rid FROM {_source(query)} WHERE {where} ORDER BY {order} LIMIT 10",
            params).fetchall()
        ids = [r[0] for r in rows]
        if not facets:
            return Result(None, ids)
        matched = f"SELECT d.id AS id FROM {_source(query)} WHERE {where}"
        counts: dict[str, dict[str, int]] = {"office": {}, "theme": {}, "type": {}, "year": {}}
        total = 0
        for facet, value, n in self.db.execute(FACET_SQL.format(matched=matched), params):
            if facet:
                counts[facet][str(value)] = n
            else:
                total = n
        return Result(total, ids, counts)

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM docs").fetchone()[0]

    def close(self) -> None:
        self.db.close()


def _insert(db: sqlite3.Connection, records: Iterable[dict[str, Any]]) -> int:
    """Insert records into the tables (not yet the full-text index); return how many."""

    def insert(r: dict[str, Any]) -> None:
        cur = db.execute(
            "INSERT INTO docs(rid, title, summary, date, year, type, publisher) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (r["id"], r["title"], r["summary"], datenum_of(r), year_of(r), r["type"],
             r["publisher"]))
        doc = cur.lastrowid
        db.executemany("INSERT INTO doc_office VALUES (?, ?)", [(doc, o) for o in r["office"]])
        db.executemany("INSERT INTO doc_theme VALUES (?, ?)", [(doc, t) for t in r["themes"]])

    return feed(records, insert)


class SqliteFts5(Engine):
    name = "sqlite"
    label = "SQLite FTS5"

    def build(self, data: Path, workdir: Path, procs: int = 1) -> dict[str, Any]:
        workdir.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.index_path(workdir), isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            db.execute("BEGIN")
            n = _insert(db, read_jsonl(data))
            db.execute("INSERT INTO docs_fts(docs_fts) VALUES('rebuild')")
            db.execute("COMMIT")
            db.executescript(INDEXES)
            db.execute("INSERT INTO docs_fts(docs_fts) VALUES('optimize')")
            db.execute("ANALYZE")
        finally:
            db.close()
        return {"records": n}

    def add(self, data: Path, workdir: Path) -> dict[str, Any]:
        db = sqlite3.connect(self.index_path(workdir), isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            first = db.execute("SELECT coalesce(max(id), 0) + 1 FROM docs").fetchone()[0]
            n = _insert(db, read_jsonl(data))
            db.execute("INSERT INTO docs_fts(rowid, title, summary) "
                       "SELECT id, title, summary FROM docs WHERE id >= ?", (first,))
            db.execute("COMMIT")
        finally:
            db.close()
        return {"added": n}

    def open(self, workdir: Path) -> Searcher:
        return SqliteSearcher(self.index_path(workdir))

    def index_path(self, workdir: Path) -> Path:
        return workdir / "catalogue.db"


ENGINE = SqliteFts5()
