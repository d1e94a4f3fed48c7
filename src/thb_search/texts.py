"""The text of every document an index has read, page by page, by content.

Extracting a PDF's text is the slow part of indexing it, so each document is
read once: its pages are kept in ``texts.sqlite`` at the top of the index
folder (outside the generations, so a rebuild reuses them), under the
SHA-256 of the file's bytes.  A changed file is a new key; texts no record
refers to any more are pruned after each run.  Searches read single pages
from here for their snippets.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from .dataclass import dataclass

FILE = "texts.sqlite"


@dataclass(frozen=True)
class DocumentText:
    """What was read of a document: its pages, the pages without text (scans),
    and its own metadata."""

    sha256: str
    pages: int
    empty_pages: int
    title: str
    created: str | None  # ISO date

    @property
    def has_text(self) -> bool:
        return self.empty_pages < self.pages


class TextStore:
    """Page texts of documents, by the SHA-256 of their bytes."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / FILE
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._info: dict[str, DocumentText] = {}  # what info() found
        self._all_read = False  # whether _info holds every document of the file

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            db.execute("CREATE TABLE IF NOT EXISTS documents (sha256 TEXT PRIMARY KEY, "
                       "pages INTEGER NOT NULL, empty_pages INTEGER NOT NULL, "
                       "title TEXT NOT NULL, created TEXT) WITHOUT ROWID")
            db.execute("CREATE TABLE IF NOT EXISTS pages (sha256 TEXT NOT NULL, "
                       "page INTEGER NOT NULL, text TEXT NOT NULL, "
                       "PRIMARY KEY (sha256, page)) WITHOUT ROWID")
            self._db = db
        return self._db

    def info(self, sha256: str) -> DocumentText | None:
        """What is known of a document, or None when it was never read."""
        known = self._info.get(sha256)
        if known is not None or self._all_read:
            return known
        if not self.path.exists():
            return None
        # (An indexing run asks for each of the catalogue's documents two or
        # three times: every document's is read at the first question, one
        # query instead of one a document: 1,020 documents' 6 -> 2 ms.)
        with self._lock:
            rows = self._connect().execute(
                "SELECT sha256, pages, empty_pages, title, created FROM documents").fetchall()
        for row in rows:
            self._info.setdefault(row[0], DocumentText(*row))
        self._all_read = True
        return self._info.get(sha256)

    def page(self, sha256: str, number: int) -> str | None:
        """The text of page ``number`` (from 1), or None when there is no such page."""
        if not self.path.exists():
            return None
        with self._lock:
            row = self._connect().execute(
                "SELECT text FROM pages WHERE sha256 = ? AND page = ?",
                (sha256, number)).fetchone()
        return row[0] if row else None

    def pages(self, sha256: str, chunk: int = 64) -> Iterable[str]:
        """Every page's text, in order, up to the first missing page (read
        ``chunk`` pages at a time: one query a page took 0.2 ms, 2.3 s of a
        writer's 26 in a build of 200 PDFs)."""
        number = 1
        while self.path.exists():
            with self._lock:
                rows = self._connect().execute(
                    "SELECT page, text FROM pages WHERE sha256 = ? AND page >= ? AND page < ? "
                    "ORDER BY page", (sha256, number, number + chunk)).fetchall()
            for page, text in rows:
                if page != number:
                    return
                yield text
                number += 1
            if len(rows) < chunk:
                return

    def put(self, sha256: str, pages: Iterable[str], title: str,
            created: str | None) -> DocumentText:
        """Keep a document's pages, read from ``pages`` one at a time: all of
        them or, if reading fails half-way, none (one transaction)."""
        counted = {"pages": 0, "empty": 0}

        def rows() -> Iterable[tuple[str, int, str]]:
            for number, text in enumerate(pages, start=1):
                counted["pages"] = number
                counted["empty"] += not text.strip()
                yield sha256, number, text

        with self._lock:
            db = self._connect()
            with db:
                db.execute("DELETE FROM pages WHERE sha256 = ?", (sha256,))
                db.executemany("INSERT INTO pages VALUES (?, ?, ?)", rows())
                info = DocumentText(sha256, counted["pages"], counted["empty"], title, created)
                db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?)",
                           (sha256, info.pages, info.empty_pages, title, created))
            self._info[sha256] = info
        return info

    def prune(self, keep: set[str]) -> int:
        """Forget the documents not in ``keep``; returns how many."""
        if not self.path.exists():
            return 0
        with self._lock:
            db = self._connect()
            known = {r[0] for r in db.execute("SELECT sha256 FROM documents")}
            gone = sorted(known - keep)
            with db:
                db.executemany("DELETE FROM pages WHERE sha256 = ?", ((s,) for s in gone))
                db.executemany("DELETE FROM documents WHERE sha256 = ?", ((s,) for s in gone))
            for sha in gone:
                self._info.pop(sha, None)
        return len(gone)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
