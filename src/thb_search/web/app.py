"""The web layer: pages, the JSON API and exports over one :class:`Catalogue`.

Every route reads its parameters (:mod:`.params`), makes one library call and
renders the result: as HTML (Jinja2 templates, autoescaped), as the JSON the
command line prints (``to_dict()``), or as Atom, RIS, BibTeX or CSL-JSON.
Errors go through one handler: a :class:`~thb_search.errors.ThbSearchError`
becomes a status and ``{"error": {"code", "message"}}`` (or an HTML page),
anything else a 500 that says nothing of the code.

The catalogue is shared by all requests; library calls run in a worker
thread, so the event loop stays free to serve files, and one at a time (the
catalogue's own lock: the engine's caches are not made for threads).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .. import __version__
from ..errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexOutdatedError,
    InvalidFilterError,
    ParameterError,
    QuerySyntaxError,
    RecordNotFoundError,
    ThbSearchError,
)
from ..output import render_publication, render_search
from ..searching import Catalogue
from . import pages
from .openapi import openapi
from .params import check_none, parse_paging, parse_search

T = TypeVar("T")
log = logging.getLogger("thb_search.web")

#: Export suffixes: suffix -> (output format, media type).
EXPORTS = {
    ".ris": ("ris", "application/x-research-info-systems; charset=utf-8"),
    ".bib": ("bibtex", "application/x-bibtex; charset=utf-8"),
    ".csl.json": ("csl-json", "application/vnd.citationstyles.csl+json; charset=utf-8"),
}
#: Hits a feed or a list export gives by default.
EXPORT_LIMIT = 20
#: Status and code of each kind of library error.
STATUS: list[tuple[type[ThbSearchError], int, str]] = [
    (QuerySyntaxError, 400, "invalid_query"),
    (InvalidFilterError, 400, "invalid_filter"),
    (ParameterError, 400, "invalid_parameter"),
    (RecordNotFoundError, 404, "not_found"),
    (IndexNotFoundError, 503, "index_unavailable"),
    (IndexOutdatedError, 503, "index_unavailable"),
    (IndexCorruptError, 503, "index_unavailable"),
    (IndexLockedError, 503, "index_unavailable"),
]
#: Only the package's own scripts, styles and images; no framing, no plugins.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class Library:
    """The catalogue, called from a worker thread (its calls run one at a
    time: :class:`~thb_search.Catalogue` holds its lock for each)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    async def call(self, fn: Callable[[Catalogue], T]) -> T:
        return await run_in_threadpool(fn, self.catalogue)


def create_app(index_dir: str | os.PathLike[str], *,
               corpus: Sequence[str | os.PathLike[str]] | None = None,
               notify: Callable[[str], None] | None = None) -> Starlette:
    """The web application over the index at ``index_dir`` (built from
    ``corpus`` first when missing)."""
    library = Library(Catalogue(index_dir, corpus=corpus, notify=notify))
    templates = Jinja2Templates(env=pages.environment())
    views = _Views(library, templates)
    routes = [
        Route("/", views.search_page),
        Route("/search", views.search_page),
        Route("/search.atom", views.search_atom),
        Route("/search.ris", views.search_export),
        Route("/search.bib", views.search_export),
        Route("/search.csl.json", views.search_export),
        Route("/publications/{rid}/pages/{number:int}", views.page_view),
        Route("/publications/{rid}/document.pdf", views.document_file),
        Route("/publications/{rid:path}", views.publication_page),
        Route("/api/search", views.api_search),
        Route("/api/facets", views.api_facets),
        Route("/api/openapi.json", views.api_openapi),
        Route("/api/publications/{rid}/similar", views.api_similar),
        Route("/api/publications/{rid}", views.api_publication),
        Mount("/static", StaticFiles(packages=[("thb_search.web", "static")]), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        library.catalogue.close()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        ThbSearchError: views.library_error, HTTPException: views.http_error,
        Exception: views.unexpected_error})
    app.add_middleware(_SecurityHeaders)
    app.state.library = library
    return app


class _SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers += [(b"content-security-policy", CSP.encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"DENY")]
            await send(message)

        await self.app(scope, receive, with_headers)


class _Views:
    def __init__(self, library: Library, templates: Jinja2Templates) -> None:
        self.library = library
        self.templates = templates

    # -- pages ---------------------------------------------------------------

    async def search_page(self, request: Request) -> Response:
        params = parse_search(request.query_params.multi_items())
        try:
            result = await self.library.call(lambda c: c.search(**params.search_kwargs()))
        except (QuerySyntaxError, InvalidFilterError) as exc:
            # The page again, with the message where the query was typed.
            return self.templates.TemplateResponse(
                request, "search.html", pages.search_context(params, None, str(exc)),
                status_code=400)
        return self.templates.TemplateResponse(
            request, "search.html", pages.search_context(params.resolved(result.filters),
                                                         result))

    async def publication_page(self, request: Request) -> Response:
        rid = request.path_params["rid"]
        suffix = next((x for x in EXPORTS if rid.endswith(x)), None)
        if suffix is not None and not await self._exists(rid):
            return await self._publication_export(rid[:-len(suffix)], suffix)
        check_none(request.query_params.multi_items())
        pub = await self.library.call(lambda c: c.get(rid))
        if pub.id != rid:  # a unique start of the id: to the publication's own address
            return RedirectResponse(f"/publications/{quote(pub.id)}", status_code=308)
        similar = await self.library.call(lambda c: c.similar(pub.id, limit=5))
        return self.templates.TemplateResponse(
            request, "publication.html", pages.publication_context(pub, similar))

    async def page_view(self, request: Request) -> Response:
        query = _query_only(request)
        rid, number = request.path_params["rid"], request.path_params["number"]
        page = await self.library.call(lambda c: c.page(rid, number, query))
        return self.templates.TemplateResponse(request, "page.html",
                                               pages.page_context(page, query))

    async def document_file(self, request: Request) -> Response:
        check_none(request.query_params.multi_items())
        rid = request.path_params["rid"]
        path = await self.library.call(lambda c: c.document_path(rid))
        return FileResponse(path, media_type="application/pdf",
                            content_disposition_type="inline", filename=path.name)

    async def _publication_export(self, rid: str, suffix: str) -> Response:
        fmt, media = EXPORTS[suffix]
        pub = await self.library.call(lambda c: c.get(rid))
        return Response(render_publication(pub, fmt), media_type=media,
                        headers=_attachment(pub.id + suffix))

    async def _exists(self, rid: str) -> bool:
        def exists(c: Catalogue) -> bool:
            try:
                return c.get(rid).id == rid
            except RecordNotFoundError:
                return False

        return await self.library.call(exists)

    # -- exports -------------------------------------------------------------

    async def search_atom(self, request: Request) -> Response:
        params = parse_search(request.query_params.multi_items(), limit=EXPORT_LIMIT)
        kwargs = {**params.search_kwargs(), "sort": "date", "facets": False}
        result = await self.library.call(lambda c: c.search(**kwargs))
        base = str(request.base_url).rstrip("/")
        body = pages.atom(result, params.resolved(result.filters), base, str(request.url))
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    async def search_export(self, request: Request) -> Response:
        suffix = request.url.path[len("/search"):]
        fmt, media = EXPORTS[suffix]
        params = parse_search(request.query_params.multi_items(), limit=EXPORT_LIMIT)
        kwargs = {**params.search_kwargs(), "facets": False}
        result = await self.library.call(lambda c: c.search(**kwargs))
        return Response(render_search(result, fmt), media_type=media,
                        headers=_attachment("search" + suffix))

    # -- API -----------------------------------------------------------------

    async def api_search(self, request: Request) -> Response:
        params = parse_search(request.query_params.multi_items())
        result = await self.library.call(lambda c: c.search(**params.search_kwargs()))
        return JSONResponse(result.to_dict())

    async def api_publication(self, request: Request) -> Response:
        check_none(request.query_params.multi_items())
        rid = request.path_params["rid"]
        pub = await self.library.call(lambda c: c.get(rid))
        return JSONResponse(pub.to_dict())

    async def api_similar(self, request: Request) -> Response:
        page, limit = parse_paging(request.query_params.multi_items())
        rid = request.path_params["rid"]
        result = await self.library.call(lambda c: c.similar(rid, limit=limit, page=page))
        return JSONResponse(result.to_dict())

    async def api_facets(self, request: Request) -> Response:
        check_none(request.query_params.multi_items())
        counts = await self.library.call(lambda c: c.facets())
        return JSONResponse({k: [c.to_dict() for c in v] for k, v in counts.items()})

    async def api_openapi(self, request: Request) -> Response:
        check_none(request.query_params.multi_items())
        return JSONResponse(openapi(__version__))

    # -- errors --------------------------------------------------------------

    async def library_error(self, request: Request, exc: Exception) -> Response:
        status, code = next(((s, c) for kind, s, c in STATUS if isinstance(exc, kind)),
                            (500, "error"))
        return self._error(request, status, code, str(exc))

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return self._error(request, 404, "not_found",
                               f"there is no page at {request.url.path}")
        if exc.status_code == 405:
            return self._error(request, 405, "method_not_allowed",
                               f"{request.method} is not allowed here: use GET "
                               "(thb-search is read-only over HTTP)")
        return self._error(request, exc.status_code, "http_error", str(exc.detail))

    async def unexpected_error(self, request: Request, exc: Exception) -> Response:
        log.exception("error answering %s", request.url.path)
        return self._error(request, 500, "internal_error",
                           "the server could not answer this request: it has been logged")

    def _error(self, request: Request, status: int, code: str, message: str) -> Response:
        path = request.url.path
        if path.startswith("/api/") or "." in path.rsplit("/", 1)[-1]:
            return JSONResponse({"error": {"code": code, "message": message}},
                                status_code=status)
        title = {404: "Not found"}.get(status, "Error")
        return self.templates.TemplateResponse(
            request, "error.html",
            {"status": status, "message": message, "title": f"{title} – thb-search"},
            status_code=status)


def _query_only(request: Request) -> str:
    """The one parameter a page view takes: ``q``, the words to mark."""
    params = parse_search(request.query_params.multi_items(), allowed=("q",))
    return params.q


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{json.dumps(name)[1:-1]}"'}
