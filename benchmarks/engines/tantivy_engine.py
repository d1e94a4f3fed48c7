"""Tantivy through tantivy-py (optional: ``pip install tantivy``).

Schema: ``title`` and ``summary`` with the ``en_stem`` tokenizer, ``office``,
``themes`` and ``type`` as raw (exact) text fast fields, ``year`` and
``date`` as integer fast fields.  A query is parsed over title and summary
with every word required (title boosted 2x); filters are ``term_query``
clauses of a boolean query; facet counts are one ``terms`` aggregation per
facet over all matches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tantivy

from .base import Engine, Query, Result, Searcher, datenum_of, feed, read_jsonl, year_of

#: Writer heap in bytes, split between the writer threads.
HEAP_BYTES = 256 * 1024 * 1024
#: Query facet name -> index field.
FIELDS = {"office": "office", "theme": "themes", "type": "type", "year": "year"}
AGGREGATIONS = {name: {"terms": {"field": f, "size": 1000}} for name, f in FIELDS.items()}


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=True, tokenizer_name="en_stem")
    sb.add_text_field("summary", stored=True, tokenizer_name="en_stem")
    for name in ("office", "themes", "type"):
        sb.add_text_field(name, stored=True, fast=True, tokenizer_name="raw")
    sb.add_integer_field("year", stored=True, indexed=True, fast=True)
    sb.add_integer_field("date", fast=True)
    sb.add_text_field("publisher", stored=True, tokenizer_name="raw")
    return sb.build()


def to_document(record: dict[str, Any]) -> tantivy.Document:
    return tantivy.Document(
        id=record["id"], title=record["title"], summary=record["summary"],
        office=record["office"], themes=record["themes"], type=record["type"],
        year=year_of(record), date=datenum_of(record), publisher=record["publisher"])


def query_string(query: Query) -> str:
    """Every word and the phrase quoted (words with hyphens need no escaping)."""
    parts = list(query.words)
    if query.phrase:
        parts.append(" ".join(query.phrase))
    return " ".join('"' + p.replace('"', "") + '"' for p in parts)


class TantivySearcher(Searcher):
    def __init__(self, ix: tantivy.Index) -> None:
        self.index = ix
        self.schema = ix.schema
        self.searcher = ix.searcher()

    def _query(self, query: Query) -> tantivy.Query:
        if query.is_browse:
            q = tantivy.Query.all_query()
        else:
            q = self.index.parse_query(query_string(query), ["title", "summary"],
                                       field_boosts={"title": 2.0},
                                       conjunction_by_default=True)
        if not query.filters:
            return q
        clauses = [(tantivy.Occur.Must, q)]
        for facet, value in query.filters:
            term = int(value) if facet == "year" else value
            clauses.append((tantivy.Occur.Must,
                            tantivy.Query.term_query(self.schema, FIELDS[facet], term)))
        return tantivy.Query.boolean_query(clauses)

    def search(self, query: Query, facets: bool) -> Result:
        q = self._query(query)
        order = {"order_by_field": "date"} if query.is_browse else {}
        found = self.searcher.search(q, 10, count=facets, **order)
        ids = [self.searcher.doc(address)["id"][0] for _, address in found.hits]
        if not facets:
            return Result(None, ids)
        aggs = self.searcher.aggregate(q, AGGREGATIONS)
        counts = {name: {str(b["key"]): b["doc_count"] for b in aggs[name]["buckets"]}
                  for name in FIELDS}
        return Result(found.count, ids, counts)

    def refresh(self) -> None:
        self.index.reload()
        self.searcher = self.index.searcher()

    def count(self) -> int:
        self.refresh()
        return self.searcher.num_docs


class Tantivy(Engine):
    name = "tantivy"
    label = "Tantivy"
    parallel = "threads"

    def build(self, data: Path, workdir: Path, procs: int = 1) -> dict[str, Any]:
        path = self.index_path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        ix = tantivy.Index(build_schema(), path=str(path))
        writer = ix.writer(HEAP_BYTES, procs)
        n = feed(read_jsonl(data), lambda r: writer.add_document(to_document(r)))
        writer.commit()
        writer.wait_merging_threads()
        return {"records": n}

    def add(self, data: Path, workdir: Path) -> dict[str, Any]:
        ix = tantivy.Index.open(str(self.index_path(workdir)))
        writer = ix.writer(HEAP_BYTES // 8, 1)
        n = feed(read_jsonl(data), lambda r: writer.add_document(to_document(r)))
        writer.commit()
        writer.wait_merging_threads()
        return {"added": n}

    def open(self, workdir: Path) -> Searcher:
        return TantivySearcher(tantivy.Index.open(str(self.index_path(workdir))))

    def index_path(self, workdir: Path) -> Path:
        return workdir / "index"


ENGINE = Tantivy()
