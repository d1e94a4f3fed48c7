"""The OpenAPI description of the JSON API (``/api/openapi.json``).

Written by hand, next to what it describes; ``tests/test_web.py`` checks
that every route answers as described and Schemathesis fuzzes the API from it.
"""

from __future__ import annotations

from typing import Any

from ..results import SORTS
from .params import MAX_LIMIT, MAX_QUERY


def _param(name: str, schema: dict[str, Any], description: str, *, many: bool = False,
           where: str = "query", required: bool = False) -> dict[str, Any]:
    if many:
        schema = {"type": "array", "items": schema}
    out: dict[str, Any] = {"name": name, "in": where, "schema": schema,
                           "description": description, "required": required}
    if many:
        out.update(style="form", explode=True)
    return out


_TEXT = {"type": "string", "maxLength": 200}
SEARCH_PARAMETERS = [
    _param("q", {"type": "string", "maxLength": MAX_QUERY},
           "The query, in the query language of the command line (empty: browse, newest "
           "first)."),
    _param("office", _TEXT, "Only this office: exact name, a unique part, or an acronym "
           "(repeatable).", many=True),
    _param("theme", _TEXT, "Only this theme (repeatable).", many=True),
    _param("type", _TEXT, "Only this content type (repeatable).", many=True),
    _param("year", _TEXT, "Only this year or range, e.g. 2021 or 2019-2021 (repeatable).",
           many=True),
    _param("since", _TEXT, "Published on or after this date (2021, 2021-06, 2021-06-30)."),
    _param("until", _TEXT, "Published on or before this date."),
    _param("sort", {"type": "string", "enum": list(SORTS)},
           "Order (default: relevance with a query, date without)."),
    _param("page", {"type": "integer", "minimum": 1, "default": 1}, "Page of hits."),
    _param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 10},
           "Hits per page."),
    _param("match", {"type": "string", "enum": ["all", "any"], "default": "all"},
           "all: every word must match (partial matches when none does); any: any word."),
]
PAGING = [SEARCH_PARAMETERS[8], SEARCH_PARAMETERS[9]]
ID = _param("rid", {"type": "string", "minLength": 1, "maxLength": 200},
            "A publication id, or a unique start of one.", where="path", required=True)

_STRINGS = {"type": "array", "items": {"type": "string"}}
_NULLABLE_STRING = {"type": ["string", "null"]}
PUBLICATION = {
    "type": "object",
    "required": ["id", "title", "date", "type", "offices", "themes", "publisher", "summary",
                 "url", "collections"],
    "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "date": _NULLABLE_STRING,
        "type": {"type": "string"}, "offices": _STRINGS, "themes": _STRINGS,
        "publisher": {"type": "string"}, "summary": {"type": "string"},
        "url": {"type": "string"}, "collections": _STRINGS,
        "locations": {**_STRINGS, "description": "The countries a press statement is about "
                                                 "(present only when it names some)."},
        "document": {"type": "object", "required": ["file", "pages"],
                     "properties": {"file": {"type": "string"},
                                    "pages": {"type": "integer", "minimum": 0}},
                     "description": "The publication's PDF (present only when it has one)."},
    },
}
HIT = {
    "type": "object",
    "required": ["id", "rank", "score", "title", "date", "type", "offices", "themes",
                 "publisher", "summary", "snippet", "url"],
    "properties": {
        "id": {"type": "string"}, "rank": {"type": "integer", "minimum": 1},
        "score": {"type": ["number", "null"]}, "title": {"type": "string"},
        "date": _NULLABLE_STRING, "type": {"type": "string"}, "offices": _STRINGS,
        "themes": _STRINGS, "publisher": {"type": "string"}, "summary": {"type": "string"},
        "snippet": {"type": "string", "description": "HTML: text escaped, matches in <mark>"},
        "url": {"type": "string"},
        "pages": {"type": "array", "items": {"type": "integer", "minimum": 1},
                  "description": "Pages of its document that match, best first (present "
                                 "only for a publication with a document)."},
        "snippet_page": {"type": ["integer", "null"],
                         "description": "The page the snippet is from (null: the record)."},
    },
}
COUNT = {"type": "object", "required": ["value", "count"],
         "properties": {"value": {"type": ["string", "integer"]},
                        "count": {"type": "integer", "minimum": 0}}}
FACETS = {"type": "object", "required": ["office", "theme", "type", "year"],
          "properties": {name: {"type": "array", "items": COUNT}
                         for name in ("office", "theme", "type", "year")}}
RESULT = {
    "type": "object",
    "required": ["query", "total", "page", "limit", "sort", "filters", "hits", "facets",
                 "suggestions", "notice"],
    "properties": {
        "query": {"type": "string"}, "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer"}, "limit": {"type": "integer"},
        "sort": {"type": "string", "enum": list(SORTS)},
        "filters": {"type": "object"}, "hits": {"type": "array", "items": HIT},
        "facets": FACETS, "suggestions": _STRINGS, "notice": _NULLABLE_STRING,
        "related": {"type": "array", "items": HIT,
                    "description": "Publications with some of the words, when fewer than "
                                   "a page have them all (present only then)."},
    },
}
ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"},
                                            "message": {"type": "string"}}}},
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "A bad query, filter or parameter (the message says which and how to fix it).",
            404: "No publication has this id.",
            503: "The index cannot be opened (missing, outdated, damaged or locked)."}
    return {str(s): _json({"$ref": "#/components/schemas/Error"}, text[s]) for s in statuses}


def openapi(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    ref = "#/components/schemas/"
    return {
        "openapi": "3.1.0",
        "info": {"title": "thb-search", "version": version,
                 "description": "Search publications on combating trafficking in human "
                                "beings. Read-only; every response is JSON."},
        "paths": {
            "/api/search": {"get": {
                "summary": "Ranked search with disjunctive facet counts (browse without q)",
                "operationId": "search", "parameters": SEARCH_PARAMETERS,
                "responses": {"200": _json({"$ref": ref + "SearchResult"},
                                           "The same object as thb-search --json."),
                              **_errors(400, 503)}}},
            "/api/publications/{rid}": {"get": {
                "summary": "One whole publication", "operationId": "publication",
                "parameters": [ID],
                "responses": {"200": _json({"$ref": ref + "Publication"}, "The publication."),
                              **_errors(400, 404, 503)}}},
            "/api/publications/{rid}/similar": {"get": {
                "summary": "The publications most like one", "operationId": "similar",
                "parameters": [ID, *PAGING],
                "responses": {"200": _json({"$ref": ref + "SearchResult"},
                                           "Ranked like a search."),
                              **_errors(400, 404, 503)}}},
            "/api/facets": {"get": {
                "summary": "Every office, theme, type and year with its count",
                "operationId": "facets", "parameters": [],
                "responses": {"200": _json({"$ref": ref + "Facets"}, "Facet counts."),
                              **_errors(400, 503)}}},
        },
        "components": {"schemas": {"SearchResult": RESULT, "Publication": PUBLICATION,
                                   "Hit": HIT, "Facets": FACETS, "Error": ERROR}},
    }
