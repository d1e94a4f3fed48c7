"""The ``thb-search`` command: a thin layer over the library.

Each command parses its options, calls one library function and renders the
result through :mod:`thb_search.output`.  Data goes to stdout; notices,
progress and summaries to stderr.  Exit codes: 0 success (zero hits
included), 1 runtime error, 2 usage error.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__
from .errors import InvalidFilterError, ParameterError, QuerySyntaxError, ThbSearchError
from .indexdir import DEFAULT_WAIT
from .locations import CORPUS_ENV, INDEX_ENV, locate
from .output import CITATION_FORMATS, DATA_FORMATS, FORMATS
from .results import SORTS

F = TypeVar("F", bound=Callable[..., Any])


def _notify(message: str) -> None:
    click.echo(message[0].upper() + message[1:] + ".", err=True)


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn library errors into one-line ``Error: ...`` messages and exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (QuerySyntaxError, InvalidFilterError, ParameterError) as exc:
            _fail(str(exc), 2)
        except ThbSearchError as exc:
            _fail(str(exc), 1)
        except OSError as exc:  # a file the command could not read or write
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}: check that it exists and that you may "
                  "read and write it, then run the command again", 1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def index_option(func: F) -> F:
    return click.option(
        "--index", "index", metavar="DIR", envvar=INDEX_ENV, show_envvar=True,
        help="Index folder [default: ./index beside ./corpus, else a per-user folder].")(func)


def location_options(func: F) -> F:
    func = click.option(
        "--corpus", "corpus", metavar="DIR", envvar=CORPUS_ENV, show_envvar=True,
        help="Catalogue folder [default: ./corpus, else a per-user copy of the bundled "
             "catalogue].")(func)
    return index_option(func)


def _format_options(formats: tuple[str, ...], help_text: str) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        func = click.option("--json", "as_json", is_flag=True,
                            help="Same as --format json.")(func)
        func = click.option("--format", "fmt", type=click.Choice(formats), default="text",
                            show_default=True, help=help_text)(func)
        return func

    return decorate


#: --format for what lists publications: every format, citations included.
format_options = _format_options(
    FORMATS, f"Output format ({', '.join(CITATION_FORMATS[:-1])} and {CITATION_FORMATS[-1]}: "
             "citations for a reference manager).")
#: --format for facet counts: no citation formats.
data_format_options = _format_options(DATA_FORMATS, "Output format.")


def _color() -> bool:
    from .output import use_color

    return use_color(sys.stdout)


def _emit(text: str) -> None:
    click.echo(text, nl=False, color=_color())


def _open_catalogue(corpus: str | None, index: str | None) -> Any:
    from .searching import Catalogue

    loc = locate(corpus, index)
    return Catalogue(loc.index, corpus=[loc.corpus], notify=_notify)


#: Options every command takes the same way, which may also come before its name.
LOCATION_OPTIONS = ("--index", "--corpus")


def _located_first(args: list[str]) -> int:
    """How many of the first ``args`` are location options with their values
    (``--index DIR``, ``--corpus=DIR``)."""
    at = 0
    while at < len(args):
        if args[at] in LOCATION_OPTIONS and at + 1 < len(args):
            at += 2
        elif args[at].startswith(tuple(f"{o}=" for o in LOCATION_OPTIONS)):
            at += 1
        else:
            break
    return at


class DefaultGroup(click.Group):
    """A group whose first argument, when not a command, is a search query;
    ``--index DIR`` and ``--corpus DIR`` before a command's name are that
    command's (``thb-search --index DIR index`` indexes, it does not search
    for "index")."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        located = _located_first(args)
        if located and located < len(args) and args[located] in self.commands:
            args = [args[located], *args[:located], *args[located + 1:]]
        if args and args[0] not in self.commands and args[0] not in (
                "--help", "-h", "--version"):
            args = ["search", *args]
        return super().parse_args(ctx, args)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100, "terminal_width": 100}


@click.group("thb-search", cls=DefaultGroup, invoke_without_command=True,
             subcommand_metavar="[COMMAND] [ARGS]...", context_settings=CONTEXT)
@click.version_option(__version__, prog_name="thb-search")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Search publications on combating trafficking in human beings.

    \b
      thb-search "forced labour supply chains"
      thb-search "national referral mechanisms" --office ODIHR --json
      thb-search --theme "Rule of law"          (browse, newest first)
      thb-search add new-publications.jsonl     (copy into corpus/, index)

    A first argument that is not a command is a query: `thb-search QUERY` is
    `thb-search search QUERY`.  --index DIR and --corpus DIR may also come
    before a command: `thb-search --index DIR index` indexes.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@cli.command(context_settings=CONTEXT)
@click.argument("query", nargs=-1)
@click.option("--office", multiple=True, metavar="NAME",
              help="Only this office (repeatable; exact name, a unique part, or an acronym "
                   "such as ODIHR).")
@click.option("--theme", multiple=True, metavar="NAME", help="Only this theme (repeatable).")
@click.option("--type", "type_", multiple=True, metavar="NAME",
              help="Only this content type (repeatable).")
@click.option("--year", multiple=True, metavar="YEAR",
              help="Only this year or range, e.g. 2021 or 2019-2021 (repeatable).")
@click.option("--since", metavar="DATE", help="Published on or after DATE (2021, 2021-06, "
                                              "2021-06-30).")
@click.option("--until", metavar="DATE", help="Published on or before DATE.")
@click.option("--sort", type=click.Choice(SORTS),
              help="Order [default: relevance with a query, date (newest first) without].")
@click.option("--limit", type=click.IntRange(1, 10000), default=10, show_default=True,
              help="Hits per page.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True,
              help="Page of hits to show.")
@click.option("--match", type=click.Choice(["all", "any"]), default="all", show_default=True,
              help="all: every word must match (falls back to partial matches when none "
                   "does); any: rank every publication containing any word.")
@click.option("--in", "fields", metavar="FIELDS",
              help="Where words are looked for: some of title,summary,body (comma-"
                   "separated)  [default: all three; body is the text of the documents].")
@click.option("--explain", is_flag=True,
              help="Show which query words matched in which fields, expansions and scores.")
@format_options
@location_options
@handle_errors
def search(query: tuple[str, ...], office: tuple[str, ...], theme: tuple[str, ...],
           type_: tuple[str, ...], year: tuple[str, ...], since: str | None, until: str | None,
           sort: str | None, limit: int, page: int, match: str, fields: str | None,
           explain: bool, fmt: str, as_json: bool, corpus: str | None,
           index: str | None) -> None:
    """Search the catalogue: ranked hits, then facet counts.

    \b
    QUERY words must all match, in title, summary or the publication's
    document (PDF), stemmed, British and American spellings alike.
    Query syntax:
      "exact phrase"   AND  OR  NOT  -word   (group)
      title:  summary:  body:  office:  theme:  type:  year:2019-2021
      traffick*   labr~   (wildcard, fuzzy)
    Acronyms expand: THB, NRM, ODIHR, OSCE, CTHB/OSR.
    With no QUERY, browse (newest first). A query whose first word starts
    with - goes after --: thb-search -- -labour trafficking
    """
    from .output import render_search, search_messages, search_summary

    fmt = "json" if as_json else fmt
    with _open_catalogue(corpus, index) as catalogue:
        result = catalogue.search(
            " ".join(query), office=office, theme=theme, type=type_, year=year, since=since,
            until=until, sort=sort, limit=limit, page=page, match=match, explain=explain,
            fields=fields.split(",") if fields is not None else None)
    for line in search_messages(result):
        click.echo(line, err=True)
    _emit(render_search(result, fmt, color=_color()))
    if fmt == "text":
        click.echo(search_summary(result), err=True)


@cli.command("index", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--rebuild", is_flag=True,
              help="Build from scratch into a new folder, swapped in when complete.")
@click.option("--skip-invalid", is_flag=True,
              help="Index the readable records and list the unreadable ones (default: stop "
                   "and leave the index as it was).")
@click.option("--wait", type=click.FloatRange(0), default=DEFAULT_WAIT, show_default=True,
              metavar="SECONDS", help="How long to wait for another process writing the index.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@location_options
@handle_errors
def index_cmd(paths: tuple[str, ...], rebuild: bool, skip_invalid: bool, wait: float,
              as_json: bool, corpus: str | None, index: str | None) -> None:
    """Bring the index in line with the catalogue.

    Indexes corpus/ (or the given files and folders, and only those): adds new
    publications, updates changed ones, removes those whose file is gone,
    leaves the rest alone, and reports the counts.
    """
    from .indexing import sync
    from .output import render_index_report, to_json

    loc = locate(corpus, index)
    with _progress() as progress, _progress("Reading PDFs", 2) as reading:
        report = sync(loc.index, list(paths) or [loc.corpus], rebuild=rebuild,
                      skip_invalid=skip_invalid, wait=wait, notify=_notify, progress=progress,
                      reading=reading)
    if as_json:
        click.echo(to_json(report.to_dict()))
    click.echo(render_index_report(report), err=True, nl=False)


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--to", "to", metavar="ID",
              help="Attach the PDF to this publication (its id, or a unique start of it).")
@click.option("--skip-invalid", is_flag=True,
              help="Add the files even if some records or PDFs are unreadable (they are "
                   "listed).")
@click.option("--wait", type=click.FloatRange(0), default=DEFAULT_WAIT, show_default=True,
              metavar="SECONDS", help="How long to wait for another process writing the index.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@location_options
@handle_errors
def add(files: tuple[str, ...], to: str | None, skip_invalid: bool, wait: float,
        as_json: bool, corpus: str | None, index: str | None) -> None:
    """Add catalogue files (.txt listing, .jsonl, .csv) or PDFs and index them.

    The files are validated, copied into corpus/ (so a rebuild loses nothing),
    then indexed incrementally. Adding the same file twice changes nothing.
    A PDF goes to corpus/documents/ID/: with --to, as the document of that
    publication (replacing the one it had); without, as a publication of its
    own, described by its title, date and first page until a catalogue record
    with its id describes it.
    """
    from .adding import add_files
    from .output import render_index_report, to_json

    loc = locate(corpus, index)
    with _progress() as progress, _progress("Reading PDFs", 2) as reading:
        report = add_files(loc.corpus, loc.index, list(files), to=to,
                           skip_invalid=skip_invalid, wait=wait, notify=_notify,
                           progress=progress, reading=reading)
    if as_json:
        click.echo(to_json(report.to_dict()))
    for src, dest in report.copied:
        click.echo(f"Copied {src} to {dest}", err=True)
    for src, twin in report.present:
        if src == twin:
            click.echo(f"{src} is already in the catalogue folder", err=True)
        else:
            click.echo(f"{src} is already in the catalogue as {twin}; not copied", err=True)
    click.echo(render_index_report(report.index), err=True, nl=False)


@cli.command(context_settings=CONTEXT)
@click.argument("id")
@click.option("--page", type=click.IntRange(1), metavar="N",
              help="Print page N of the publication's document (its PDF) instead.")
@click.option("--query", metavar="QUERY", help="With --page: mark the words of QUERY.")
@format_options
@location_options
@handle_errors
def show(id: str, page: int | None, query: str | None, fmt: str, as_json: bool,
         corpus: str | None, index: str | None) -> None:
    """Print one whole publication (ID, or a unique start of it).

    With --page N, print page N of its document instead, the words of
    --query marked.
    """
    from .output import render_page, render_publication

    fmt = "json" if as_json else fmt
    with _open_catalogue(corpus, index) as catalogue:
        if page is not None:
            text = catalogue.page(id, page, query or "")
        else:
            pub = catalogue.get(id)
    if page is not None:
        _emit(render_page(text, fmt, color=_color()))
    else:
        _emit(render_publication(pub, fmt, color=_color()))


@cli.command(context_settings=CONTEXT)
@click.argument("id")
@click.option("--limit", type=click.IntRange(1, 10000), default=10, show_default=True,
              help="Hits per page.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True,
              help="Page of hits to show.")
@format_options
@location_options
@handle_errors
def similar(id: str, limit: int, page: int, fmt: str, as_json: bool, corpus: str | None,
            index: str | None) -> None:
    """List the publications most like publication ID."""
    from .output import render_search, search_messages, search_summary

    fmt = "json" if as_json else fmt
    with _open_catalogue(corpus, index) as catalogue:
        result = catalogue.similar(id, limit=limit, page=page)
    for line in search_messages(result):
        click.echo(line, err=True)
    _emit(render_search(result, fmt, color=_color()))
    if fmt == "text":
        click.echo(search_summary(result), err=True)


@cli.command(context_settings=CONTEXT)
@data_format_options
@location_options
@handle_errors
def facets(fmt: str, as_json: bool, corpus: str | None, index: str | None) -> None:
    """Print every office, theme, type and year of the catalogue with its count."""
    from .output import render_facets

    with _open_catalogue(corpus, index) as catalogue:
        counts = catalogue.facets()
    _emit(render_facets(counts, "json" if as_json else fmt))


@cli.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network interface, so other "
                   "machines can connect).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--open", "open_browser", is_flag=True,
              help="Open the page in the default web browser.")
@location_options
@handle_errors
def serve(host: str, port: int, open_browser: bool, corpus: str | None,
          index: str | None) -> None:
    """Serve the catalogue as a web page and a JSON API, until Ctrl-C.

    The index is built first if it is missing. Pages: / (search, facets,
    exports); the API: /api/search, /api/publications/ID, /api/facets,
    described at /api/openapi.json. Read-only: adding publications stays a
    command-line job, and the server answers from what another process adds
    or indexes on its next request.
    """
    from .web.server import serve as run_server

    loc = locate(corpus, index)
    run_server(loc.index, [loc.corpus], host=host, port=port, open_browser=open_browser,
               notify=_notify)
    click.echo("Stopped.", err=True)


@cli.command("eval", context_settings=CONTEXT)
@click.option("--queries", "queries_path", required=True, metavar="QUERIES.tsv",
              type=click.Path(exists=True, dir_okay=False),
              help="Queries, one 'qid<TAB>text' a line.")
@click.option("--qrels", "qrels_path", required=True, metavar="QRELS.tsv",
              type=click.Path(exists=True, dir_okay=False),
              help="TREC relevance judgments, 'qid 0 docid grade' a line.")
@click.option("--run", "run_path", metavar="FILE", type=click.Path(dir_okay=False, writable=True),
              help="Also write the ranking as a TREC run file (qid Q0 docid rank score tag, "
                   "top 1000).")
@click.option("--per-query", is_flag=True, help="Print each query's figures too.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@index_option
@handle_errors
def eval_cmd(queries_path: str, qrels_path: str, run_path: str | None, per_query: bool,
             as_json: bool, index: str | None) -> None:
    """Measure ranking quality on a judged query set.

    \b
    Runs every query against the index (--match any, the analysis and ranking
    of normal searches) and prints nDCG@10, MAP (at 1000), P@10 and
    Recall@100 with trec_eval's definitions (graded relevance for nDCG),
    averaged over the queries that have at least one relevant document.
    Load a collection by indexing it into its own folder, e.g.
      THB_SEARCH_INDEX=/tmp/cran thb-search index cranfield/corpus.jsonl
      THB_SEARCH_INDEX=/tmp/cran thb-search eval --queries cranfield/queries.tsv \\
          --qrels cranfield/qrels.tsv
    """
    from .evaluation import DEFAULT_DEPTH, evaluate, read_qrels, read_queries, run_queries
    from .evaluation import write_run as write_trec_run
    from .output import render_evaluation, to_json
    from .searching import Catalogue

    queries = read_queries(queries_path)
    qrels = read_qrels(qrels_path)
    # No automatic build here: evaluating the wrong catalogue would say nothing.
    with Catalogue(locate(None, index).index) as catalogue:
        run = run_queries(catalogue, queries, DEFAULT_DEPTH)
        size = len(catalogue)
    result = evaluate(run, qrels, DEFAULT_DEPTH)
    if run_path:
        write_trec_run(run, run_path, depth=DEFAULT_DEPTH)
    if as_json:
        _emit(to_json({**result.to_dict(), "queries": len(queries), "documents": size}) + "\n")
    else:
        _emit(render_evaluation(result, per_query))
        click.echo(f"{len(queries)} queries run against {size} publications; "
                   f"{result.evaluated} with relevant documents averaged", err=True)


class _progress:
    """A progress bar on stderr for long runs on a terminal (else nothing):
    ``label`` for ``minimum`` steps or more."""

    def __init__(self, label: str = "Indexing", minimum: int = 2000) -> None:
        self.label = label
        self.minimum = minimum

    def __enter__(self) -> Callable[[int, int], None] | None:
        self.bar: Any = None
        if not sys.stderr.isatty():
            return None
        return self.update

    def update(self, done: int, total: int) -> None:
        if total < self.minimum:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def main() -> None:
    """Entry point of the ``thb-search`` script."""
    # thb-search does no linear algebra, yet importing numpy starts OpenBLAS's
    # thread pool (one thread a core), which alone cost a new process 30-50 ms
    # of its ~0.27 s on 2 busy cores.  numpy is first imported after this line
    # (a test checks that importing this module does not import it); a value
    # the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        cli(prog_name="thb-search")
    except BrokenPipeError:  # `thb-search ... | head`
        sys.stderr.close()
        sys.exit(0)
