"""The plain Whoosh recipe: a standard schema, one writer, ``groupedby`` facets.

Schema: TEXT ``title`` and ``summary`` with ``StemmingAnalyzer`` (title boosted
2x, as thb-search weights it), KEYWORD ``office``/``themes``/``type`` (lists of
exact values), ID ``year``, a sortable NUMERIC ``date`` for browsing.  A query
is parsed by ``MultifieldParser`` over title and summary (all words must
match, quotes make phrases); filters are ``Term`` queries passed as ``filter``;
facets come from ``groupedby`` with ``sorting.Count``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from whoosh import fields, index, qparser, sorting
from whoosh import query as wq
from whoosh.analysis import StemmingAnalyzer

from .base import Engine, Query, Result, Searcher, datenum_of, feed, read_jsonl, year_of

#: Writer memory in MB, split between the writer processes.
LIMIT_MB = 256
#: Query facet name -> index field.
FIELDS = {"office": "office", "theme": "themes", "type": "type", "year": "year"}
GROUPS = {
    "office": sorting.FieldFacet("office", allow_overlap=True),
    "theme": sorting.FieldFacet("themes", allow_overlap=True),
    "type": sorting.FieldFacet("type"),
    "year": sorting.FieldFacet("year"),
}
NEWEST_FIRST = sorting.FieldFacet("date", reverse=True)


def build_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True, field_boost=2.0),
        summary=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True),
        office=fields.KEYWORD(stored=True),
        themes=fields.KEYWORD(stored=True),
        type=fields.KEYWORD(stored=True),
        year=fields.ID(stored=True),
        date=fields.NUMERIC(int, bits=32, sortable=True, signed=False),
        publisher=fields.STORED(),
    )


def to_document(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"], "title": record["title"], "summary": record["summary"],
        "office": record["office"], "themes": record["themes"], "type": [record["type"]],
        "year": str(year_of(record)), "date": datenum_of(record),
        "publisher": record["publisher"],
    }


class WhooshSearcher(Searcher):
    def __init__(self, ix: index.Index) -> None:
        self.searcher = ix.searcher()
        self.parser = qparser.MultifieldParser(["title", "summary"], ix.schema)

    def search(self, query: Query, facets: bool) -> Result:
        q = wq.Every() if query.is_browse else self.parser.parse(query.text())
        terms = [wq.Term(FIELDS[f], v) for f, v in query.filters]
        kwargs: dict[str, Any] = {"limit": 10, "filter": wq.And(terms) if terms else None}
        if query.is_browse:
            kwargs["sortedby"] = NEWEST_FIRST
        if facets:
            kwargs.update(groupedby=GROUPS, maptype=sorting.Count)
        results = self.searcher.search(q, **kwargs)
        ids = [hit["id"] for hit in results[:10]]
        if not facets:
            return Result(None, ids)
        counts = {name: {str(k): v for k, v in results.groups(name).items()}
                  for name in GROUPS}
        return Result(len(results), ids, counts)

    def refresh(self) -> None:
        if not self.searcher.up_to_date():
            self.searcher = self.searcher.refresh()

    def count(self) -> int:
        self.refresh()
        return self.searcher.doc_count()

    def close(self) -> None:
        self.searcher.close()


class WhooshGroupedby(Engine):
    name = "whoosh"
    label = "Whoosh groupedby"
    parallel = "processes"

    def build(self, data: Path, workdir: Path, procs: int = 1) -> dict[str, Any]:
        path = self.index_path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        ix = index.create_in(str(path), build_schema())
        writer = ix.writer(procs=procs, limitmb=LIMIT_MB // procs)
        n = feed(read_jsonl(data), lambda r: writer.add_document(**to_document(r)))
        writer.commit()
        return {"records": n}

    def add(self, data: Path, workdir: Path) -> dict[str, Any]:
        ix = index.open_dir(str(self.index_path(workdir)))
        writer = ix.writer()
        n = feed(read_jsonl(data), lambda r: writer.add_document(**to_document(r)))
        writer.commit()
        return {"added": n}

    def open(self, workdir: Path) -> Searcher:
        return WhooshSearcher(index.open_dir(str(self.index_path(workdir))))

    def index_path(self, workdir: Path) -> Path:
        return workdir / "index"


ENGINE = WhooshGroupedby()
