"""What every engine adapter implements, and the query and result types they share.

This module imports nothing beyond the standard library, so that a
new-process measurement pays only for the engine's own imports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Facet names of a result, in the order the table shows them.
FACETS = ("office", "theme", "type", "year")


@dataclass(frozen=True)
class Query:
    """One benchmark query, engine-neutral.

    ``words`` must all match; ``phrase`` (if any) must match as consecutive
    words; ``filters`` are exact facet values, ANDed across facets.  A query
    with neither words nor phrase browses (newest first).
    """

    words: tuple[str, ...] = ()
    phrase: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    kind: str = "words"

    @property
    def is_browse(self) -> bool:
        return not self.words and not self.phrase

    def text(self) -> str:
        """The query as a user types it: ``w1 w2 "p1 p2"``."""
        parts = list(self.words)
        if self.phrase:
            parts.append('"' + " ".join(self.phrase) + '"')
        return " ".join(parts)

    def filter_values(self, facet: str) -> list[str]:
        return [v for f, v in self.filters if f == facet]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "words": list(self.words), "phrase": list(self.phrase),
                "filters": [list(f) for f in self.filters], "text": self.text()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Query:
        return cls(tuple(d["words"]), tuple(d["phrase"]),
                   tuple((f, v) for f, v in d["filters"]), d["kind"])


@dataclass
class Result:
    """What a search returned: matches (None when not counted), the ids of the
    top hits, and facet counts (None when not asked for)."""

    total: int | None
    ids: list[str]
    facets: dict[str, dict[str, int]] | None = field(default=None)


class Searcher:
    """An open index."""

    def search(self, query: Query, facets: bool) -> Result:
        """Top 10 hits; with ``facets``, also the match count and the counts of
        every office, theme, type and year over all matches."""
        raise NotImplementedError

    def refresh(self) -> None:
        """See commits made since opening (a no-op where searches always do)."""

    def count(self) -> int:
        """Documents in the index now (after :meth:`refresh`)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the index."""


class Engine:
    """One way of indexing and searching the catalogue.

    Everything an engine writes lives in its ``workdir``.
    """

    name = ""
    label = ""
    #: What ``build(procs=N)`` runs N of ("processes", "threads"), or "" when
    #: the engine has a single writer.
    parallel = ""

    def build(self, data: Path, workdir: Path, procs: int = 1) -> dict[str, Any]:
        """Index every record of the JSON Lines file ``data`` from scratch."""
        raise NotImplementedError

    def add(self, data: Path, workdir: Path) -> dict[str, Any]:
        """Add the records of ``data`` to the built index, incrementally
        (the result says ``"rebuilt": True`` if the whole index was rewritten)."""
        raise NotImplementedError

    def open(self, workdir: Path) -> Searcher:
        raise NotImplementedError

    def index_path(self, workdir: Path) -> Path:
        """The file or folder holding the index (what the size figure measures)."""
        raise NotImplementedError


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON Lines file."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def feed(records: Iterable[dict[str, Any]], add: Callable[[dict[str, Any]], object]) -> int:
    """Pass every record to ``add``; return how many there were."""
    n = 0
    for record in records:
        add(record)
        n += 1
    return n


def year_of(record: dict[str, Any]) -> int:
    return int(record["date"][:4])


def datenum_of(record: dict[str, Any]) -> int:
    """``'2021-06-30'`` -> 20210630 (for newest-first sorting)."""
    return int(record["date"].replace("-", ""))
