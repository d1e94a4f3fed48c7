"""An Atom feed (RFC 4287) of a search, so that a feed reader can follow
"new publications on forced labour from ODIHR".

Entry ids are tag URIs made of the publication id (``tag:thb-search,2026:
publication/kj3aasqbxs``): the same publication keeps its id across
reindexing, so a reader never shows it twice.  ``updated`` is the publication
date (midnight UTC); an undated publication takes the feed's date.  The XML is
written by the standard library's ElementTree, which escapes every value.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import quote

from .results import Hit, SearchResult

ATOM = "http://www.w3.org/2005/Atom"
#: The tagging entity of every id (RFC 4151): a name and the year it was minted.
TAG = "tag:thb-search,2026:"
#: ``updated`` of a feed that has no dated entry.
EPOCH = "1970-01-01T00:00:00Z"


def entry_id(publication_id: str) -> str:
    """The Atom id of a publication (the same whatever index holds it)."""
    return f"{TAG}publication/{quote(publication_id, safe='')}"


def atom_feed(result: SearchResult, *, title: str, feed_url: str, page_url: str,
              entry_url: Callable[[str], str], feed_key: str) -> bytes:
    """The hits of ``result`` as an Atom feed (UTF-8 XML).

    ``feed_url`` is the feed's own address, ``page_url`` the same search as a
    web page, ``entry_url(id)`` a publication's page; ``feed_key`` identifies
    the search (its normalised parameters) in the feed's id.
    """
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    dates = [_timestamp(h.publication.date) for h in result.hits if h.publication.date]
    updated = max(dates, default=EPOCH)
    _text(feed, "id", f"{TAG}search?{feed_key}")
    _text(feed, "title", title)
    _text(feed, "updated", updated)
    _link(feed, feed_url, "self", "application/atom+xml")
    _link(feed, page_url, "alternate", "text/html")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "thb-search")
    _text(feed, "generator", "thb-search")
    for hit in result.hits:
        _entry(feed, hit, entry_url, updated)
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _entry(feed: ET.Element, hit: Hit, entry_url: Callable[[str], str],
           fallback: str) -> None:
    pub = hit.publication
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    _text(entry, "id", entry_id(pub.id))
    _text(entry, "title", pub.title or pub.summary[:80] or pub.id)
    _text(entry, "updated", _timestamp(pub.date) if pub.date else fallback)
    if pub.date:
        _text(entry, "published", _timestamp(pub.date))
    _link(entry, entry_url(pub.id), "alternate", "text/html")
    if pub.url.lower().startswith(("http://", "https://")):
        _link(entry, pub.url, "related", None)
    for name in pub.offices or ((pub.publisher,) if pub.publisher else ()):
        author = ET.SubElement(entry, f"{{{ATOM}}}author")
        _text(author, "name", name)
    for term in (*pub.themes, *((pub.type,) if pub.type else ())):
        ET.SubElement(entry, f"{{{ATOM}}}category", {"term": term})
    if pub.summary:
        _text(entry, "summary", pub.summary)


def _timestamp(date: str) -> str:
    return f"{date}T00:00:00Z"


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}{tag}").text = text


def _link(parent: ET.Element, href: str, rel: str, kind: str | None) -> None:
    attrs = {"href": href, "rel": rel}
    if kind:
        attrs["type"] = kind
    ET.SubElement(parent, f"{{{ATOM}}}link", attrs)
