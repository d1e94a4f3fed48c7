"""The lexicon of an index: every word met while indexing, with its term.

Kept in ``lexicon.sqlite`` beside the index.  It serves two purposes:

* searching needs no NLTK import (0.2-0.8 s) for the words the index holds:
  their terms are looked up here (see :func:`thb_search.analysis.term_for`);
* "did you mean" turns a close term of the index back into a word as users
  wrote it.

It is a cache of a pure function (folded word -> index term, for one analysis
version): extra words do no harm, a missing word is analysed with NLTK.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

FILE = "lexicon.sqlite"
#: How much of the lexicon a connection reads through a mapping.
MAP_BYTES = 256 * 1024 * 1024
#: Words :meth:`Lexicon.look_up` remembers at most (a long-lived searcher
#: highlights text after text); past it, it starts afresh.
ASKED_AT_MOST = 200_000


class Lexicon:
    """Word -> term pairs of one index generation."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / FILE
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._asked: set[str] = set()  # words looked up at once (look_up)
        self._found: dict[str, str] = {}  # those of them the lexicon holds, with their terms

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS lexicon "
                             "(word TEXT PRIMARY KEY, term TEXT NOT NULL) WITHOUT ROWID")
            self._db.execute("CREATE INDEX IF NOT EXISTS lexicon_term ON lexicon (term)")
            # Pages read through a mapping rather than a read() each: the
            # lookups of an add touch some 1,500 pages (2.8 -> 2.0 ms at 100k).
            self._db.execute(f"PRAGMA mmap_size={MAP_BYTES}")
        return self._db

    def add(self, terms: Mapping[str, str]) -> None:
        """Remember ``word -> term`` pairs (words already known are kept)."""
        with self._lock:
            db = self._connect()
            with db:
                db.executemany("INSERT OR IGNORE INTO lexicon VALUES (?, ?)", terms.items())

    def look_up(self, words: Iterable[str]) -> None:
        """Look ``words`` up at once (a query per 500): :meth:`term` then
        answers them from memory.  An add of ten records asks about some 500
        words: one query each took 10 ms."""
        wanted = [w for w in set(words) if w not in self._asked]
        if not wanted or (self._db is None and not self.path.exists()):
            return
        if len(self._asked) + len(wanted) > ASKED_AT_MOST:
            self._asked.clear()  # first: a word asked about is then in _found
            self._found.clear()
        with self._lock:
            db = self._connect()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                self._found.update(db.execute(
                    "SELECT word, term FROM lexicon WHERE word IN "
                    f"({','.join('?' * len(chunk))})", chunk).fetchall())
        self._asked.update(wanted)

    def holds(self, word: str, term: str) -> bool:
        """Whether ``word -> term`` was found by :meth:`look_up` (False when
        it was not asked about)."""
        return self._found.get(word) == term

    def term(self, word: str) -> str | None:
        """The term of ``word``, if the index has met it."""
        if word in self._asked:
            return self._found.get(word)
        if self._db is None and not self.path.exists():  # once open, no stat a word
            return None
        with self._lock:
            row = self._connect().execute(
                "SELECT term FROM lexicon WHERE word = ?", (word,)).fetchone()
        return row[0] if row else None

    def words(self, term: str) -> list[str]:
        """The words met that have this term."""
        if not self.path.exists():
            return []
        with self._lock:
            rows = self._connect().execute(
                "SELECT word FROM lexicon WHERE term = ? ORDER BY word", (term,)).fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
