"""Rendering results as text, JSON, JSON Lines or CSV, or as citations (RIS,
BibTeX, CSL-JSON): the one output path.

Every function returns a string; the CLI decides where it goes (data to
stdout, summaries to stderr).  ``color`` adds ANSI bold/colour for terminals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import textwrap
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from .results import FacetCount, Hit, PageText, Publication, SearchResult

if TYPE_CHECKING:
    from .evaluation import Evaluation
    from .indexing import IndexReport

#: Citation formats (:mod:`thb_search.citations`): publications for a reference
#: manager, so only for what lists publications (search, similar, show).
CITATION_FORMATS = ("ris", "bibtex", "csl-json")
#: Every output format.
FORMATS = ("text", "json", "jsonl", "csv", *CITATION_FORMATS)
#: The formats of what is not a list of publications (facet counts).
DATA_FORMATS = tuple(f for f in FORMATS if f not in CITATION_FORMATS)
CSV_COLUMNS = ("id", "rank", "score", "title", "date", "type", "offices", "themes",
               "publisher", "url", "summary")
FACET_LABELS = {"office": "Office", "theme": "Theme", "type": "Type", "year": "Year"}
FACET_VALUES_SHOWN = 8
RELATED_HEADING = "Also matching some of your words:"

_BOLD, _MARK, _DIM, _RESET = "\x1b[1m", "\x1b[1;33m", "\x1b[2m", "\x1b[0m"


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, never with ``NO_COLOR`` set or ``TERM=dumb``."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def human_date(iso: str | None) -> str:
    if not iso:
        return "date unknown"
    d = dt.date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%B')} {d.year}"


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def _style(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color and text else text


# ---------------------------------------------------------------------------
# Search results


def render_search(result: SearchResult, fmt: str = "text", color: bool = False) -> str:
    """The data part of a search result in ``fmt``; in a citation format, the
    hits of the page shown (not the related results)."""
    if fmt in CITATION_FORMATS:
        return render_citations([h.publication for h in result.hits], fmt)
    if fmt == "json":
        return to_json(result.to_dict()) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(h.to_dict(), ensure_ascii=False) + "\n" for h in result.hits)
    if fmt == "csv":
        return render_hits_csv(result.hits)
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}")
    blocks = [_hit_text(h, color) for h in result.hits]
    if result.related:
        heading = _style(RELATED_HEADING, _BOLD, color)
        blocks.append(heading + "\n\n" + "\n\n".join(_hit_text(h, color, "  - ")
                                                    for h in result.related))
    if result.explain and (result.expansions or result.ignored):
        lines = [f"expansions: {e}" for e in result.expansions]
        lines += [f"ignored: {', '.join(result.ignored)}"] if result.ignored else []
        blocks.append("\n".join(lines))
    facets = render_facet_lines(result.facets, result.filters.to_dict(), color)
    if facets and result.total:
        blocks.append(facets)
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _hit_text(hit: Hit, color: bool, bullet: str | None = None) -> str:
    pub = hit.publication
    head = (bullet or f"{hit.rank:>2}. ") + _style(pub.title or "(untitled)", _BOLD, color)
    meta = " \u00b7 ".join(x for x in (human_date(pub.date), pub.type, "; ".join(pub.offices))
                           if x)
    lines = [head, "    " + _style(meta, _DIM, color)]
    snip = "".join(_style(t, _MARK, color) if m else t for t, m in hit.snippet_parts)
    if snip and hit.snippet_page is not None:
        snip = f"p. {hit.snippet_page}: {snip}"
    if snip:
        # Wrap the plain text, then re-apply marks by wrapping the styled text
        # only when there is no colour (ANSI codes would upset the widths).
        if color:
            lines.append("    " + snip)
        else:
            lines.extend(textwrap.wrap(snip, 100, initial_indent="    ",
                                       subsequent_indent="    "))
    if hit.pages:
        lines.append("    " + _style(pages_line(hit), _DIM, color))
    tail = f"id {hit.id}"
    if hit.score is not None:
        tail += f" \u00b7 score {hit.score:.3f}"
    lines.append("    " + _style(tail, _DIM, color))
    if hit.matches is not None:
        found = "; ".join(
            f"{m.query}: {', '.join(m.fields)}" + (f" (via {m.via})" if m.via else "")
            for m in hit.matches)
        lines.append("    explain: " + (found or "matched only through filters"))
    return "\n".join(lines)


def pages_line(hit: Hit, shown: int = 8) -> str:
    """``matched on 3 of 40 pages of report.pdf: 27, 31, 2``."""
    pub = hit.publication
    name = os.path.basename(pub.document or "")
    noun = "page" if pub.document_pages == 1 else "pages"
    pages = ", ".join(str(p) for p in hit.pages[:shown]) + (
        ", \u2026" if len(hit.pages) > shown else "")
    return f"matched on {len(hit.pages)} of {pub.document_pages} {noun} of {name}: {pages}"


def render_facet_lines(facets: Mapping[str, Sequence[FacetCount]],
                       selected: Mapping[str, Any] | None = None, color: bool = False,
                       shown: int = FACET_VALUES_SHOWN) -> str:
    """One line per facet: ``Type: Study / report (5) · Brochure (1)``."""
    lines = []
    selected = selected or {}
    for name, counts in facets.items():
        if not counts:
            continue
        chosen = {str(v) for v in selected.get(name, [])}
        items = []
        for c in counts[:shown]:
            text = f"{c.value} ({c.count})"
            if str(c.value) in chosen:
                text = "[x] " + _style(text, _BOLD, color)
            items.append(text)
        more = len(counts) - shown
        if more > 0:
            items.append(f"+{more} more")
        lines.append(f"{FACET_LABELS.get(name, name)}: " + " \u00b7 ".join(items))
    return "\n".join(lines)


def render_hits_csv(hits: Sequence[Hit]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for h in hits:
        p = h.publication
        writer.writerow([p.id, h.rank, "" if h.score is None else f"{h.score:.6f}", p.title,
                         p.date or "", p.type, "; ".join(p.offices), "; ".join(p.themes),
                         p.publisher, p.url, p.summary])
    return buf.getvalue()


def search_summary(result: SearchResult) -> str:
    """The line for stderr: ``2 of 2 publications`` (with paging when needed)."""
    noun = "publication" if result.total == 1 else "publications"
    shown = len(result.hits)
    if result.total == 0:
        return "0 publications"
    if shown == result.total:
        return f"{shown} of {result.total} {noun}"
    first = (result.page - 1) * result.limit + 1
    pages = -(-result.total // result.limit)
    if shown == 0:
        return (f"page {result.page} is past the end: {result.total} {noun} fill "
                f"{pages} page{'s' if pages > 1 else ''}")
    last = first + shown - 1
    more = f"; --page {result.page + 1} for more" if result.page < pages else ""
    return f"{first}-{last} of {result.total} {noun} (page {result.page} of {pages}{more})"


def search_messages(result: SearchResult) -> list[str]:
    """Notices for stderr, before the summary line."""
    out = []
    if result.notice:
        out.append(result.notice[0].upper() + result.notice[1:] + ".")
    if result.suggestions:
        first, *others = result.suggestions
        also = f" (or: {', '.join(others)})" if others else ""
        out.append(f"Did you mean: {first}{also}")
    return out


# ---------------------------------------------------------------------------
# Records, facets, index reports


def render_citations(publications: Sequence[Publication], fmt: str) -> str:
    """Publications as RIS, BibTeX or CSL-JSON (an array, even of one)."""
    # Imported here: bibtexparser and rispy take ~70 ms to import, which
    # every other command would pay for nothing.
    from . import citations

    if fmt == "ris":
        return citations.to_ris(publications)
    if fmt == "bibtex":
        return citations.to_bibtex(publications)
    if fmt == "csl-json":
        return to_json(citations.to_csl_json(publications)) + "\n"
    raise ValueError(f"unknown citation format {fmt!r}")


def render_publication(pub: Publication, fmt: str = "text", color: bool = False) -> str:
    if fmt in CITATION_FORMATS:
        return render_citations([pub], fmt)
    if fmt == "json":
        return to_json(pub.to_dict()) + "\n"
    if fmt == "jsonl":
        return json.dumps(pub.to_dict(), ensure_ascii=False) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        d = pub.to_dict()
        writer.writerow(d.keys())
        writer.writerow(["; ".join(v) if isinstance(v, list) else ("" if v is None else v)
                         for v in d.values()])
        return buf.getvalue()
    rows = [("id", pub.id), ("date", human_date(pub.date)), ("type", pub.type),
            ("offices", "; ".join(pub.offices)), ("themes", "; ".join(pub.themes)),
            ("locations", "; ".join(pub.locations)), ("publisher", pub.publisher), ("url", pub.url),
            ("collections", "; ".join(pub.collections)),
            ("document", f"{pub.document} ({pub.document_pages} page"
                         f"{'' if pub.document_pages == 1 else 's'})" if pub.document else "")]
    lines = [_style(pub.title or "(untitled)", _BOLD, color)]
    lines += [f"  {k + ':':<12} {v}" for k, v in rows if v]
    if pub.summary:
        lines.append("")
        lines.extend(textwrap.wrap(pub.summary, 100))
    return "\n".join(lines) + "\n"


def render_page(page: PageText, fmt: str = "text", color: bool = False) -> str:
    """A page of a document: its text with the query's words marked (bold on a
    terminal, in [brackets] elsewhere)."""
    if fmt in ("json", "jsonl"):
        data = page.to_dict()
        return (to_json(data) if fmt == "json" else json.dumps(data, ensure_ascii=False)) + "\n"
    if fmt != "text":
        raise ValueError(f"--page prints text or JSON, not {fmt}: use --format text or json")
    pub = page.publication
    head = f"{pub.document}, page {page.page} of {pub.document_pages}"
    text = "".join((_style(t, _MARK, True) if color else f"[{t}]") if m else t
                   for t, m in page.parts)
    lines = [_style(pub.title or pub.id, _BOLD, color), _style(head, _DIM, color), ""]
    lines += [text] if color else textwrap.wrap(text, 100) or [""]
    return "\n".join(lines) + "\n"


def render_facets(facets: Mapping[str, Sequence[FacetCount]], fmt: str = "text") -> str:
    if fmt == "json":
        return to_json({k: [c.to_dict() for c in v] for k, v in facets.items()}) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps({"facet": k, **c.to_dict()}, ensure_ascii=False) + "\n"
                       for k, v in facets.items() for c in v)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(("facet", "value", "count"))
        for k, v in facets.items():
            for c in v:
                writer.writerow((k, c.value, c.count))
        return buf.getvalue()
    lines = []
    for name, counts in facets.items():
        lines.append(f"{FACET_LABELS.get(name, name)}:")
        width = max((len(str(c.count)) for c in counts), default=1)
        lines.extend(f"  {c.count:>{width}}  {c.value}" for c in counts)
    return "\n".join(lines) + "\n"


def render_index_report(report: IndexReport) -> str:
    """The summary of an indexing run (for stderr)."""
    noun = "publication" if report.total == 1 else "publications"
    files = f"{report.files} file{'s' if report.files != 1 else ''}"
    if report.documents:
        files += f" and {report.documents} document{'s' if report.documents != 1 else ''}"
    how = "rebuilt" if report.rebuilt else "updated"
    if not report.changed and not report.rebuilt:
        head = f"{report.index}: {report.total} {noun} from {files}; nothing changed"
    else:
        head = f"{report.index} {how}: {report.total} {noun} from {files}"
    lines = [head,
             f"  added {report.added}, updated {report.updated}, removed {report.removed}, "
             f"unchanged {report.unchanged}; duplicates merged {report.merged}, "
             f"superseded {report.superseded}"]
    if report.documents_read:
        lines.append(f"  read the text of {report.documents_read} document"
                     f"{'s' if report.documents_read != 1 else ''}")
    lines += [f"warning: {w}" for w in report.warnings]
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} unreadable record"
                     f"{'s' if len(report.skipped) != 1 else ''} (fix them and run "
                     "'thb-search index' again):")
        lines += [f"  {e}" for e in report.skipped]
    return "\n".join(lines) + "\n"


def render_evaluation(result: Evaluation, per_query: bool = False) -> str:
    """The four measures (and, with ``per_query``, a line per query)."""
    lines = []
    if per_query:
        lines.append(f"{'qid':<8} {'nDCG@10':>8} {'MAP':>8} {'P@10':>8} {'R@100':>8} "
                     f"{'rel':>5}")
        for q in sorted(result.queries, key=lambda q: (len(q.qid), q.qid)):
            lines.append(f"{q.qid:<8} {q.ndcg_10:>8.4f} {q.map:>8.4f} {q.p_10:>8.4f} "
                         f"{q.recall_100:>8.4f} {q.relevant:>5}")
        lines.append("")
    lines += [f"nDCG@10     {result.ndcg_10:.4f}", f"MAP         {result.map:.4f}",
              f"P@10        {result.p_10:.4f}", f"Recall@100  {result.recall_100:.4f}"]
    return "\n".join(lines) + "\n"
