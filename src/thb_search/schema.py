"""The Whoosh schema of a thb-search index, and its version."""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

from whoosh import columns, fields, formats
from whoosh.reading import TermNotFound
from whoosh.system import pack_uint

from .analysis import ANALYSIS_VERSION, normalized_title, word_tokens
from .fields import (
    BodyPages,
    BodyPostings,
    TextAnalyzer,
    split_text_value,
    text_postings,
    text_value,
)
from .results import FACETS

if TYPE_CHECKING:
    from .corpus import Record

#: Weight of a title word against a summary word in the ranking field.
TITLE_BOOST = 2.0

#: The ranking field: title and summary words with their positions.
RANK_FIELD = "text"
#: The full text of a publication's document, page after page.
BODY_FIELD = "body"
#: The body's length (terms in all) and where each of its pages starts: for a
#: body given as words (BodyTokens), the writer works them out as it adds it.
BODY_LENGTH_FIELD = "body_len"
PAGES_FIELD = "pages"
#: Weight of a body word against a summary word (title and summary words weigh
#: more: a document has many words, each says less about what it is about).
BODY_WEIGHT = 0.5

#: Bits of a position in a position key ``document << POS_BITS | position``
#: (how the engine holds a term's occurrences): a title and summary have
#: fewer than a million positions, a document's body fewer than four billion.
POS_BITS = 20
POS_MASK = (1 << POS_BITS) - 1
BODY_POS_BITS = 32
BODY_POS_MASK = (1 << BODY_POS_BITS) - 1

#: Bump when the schema changes; with ANALYSIS_VERSION it decides whether an
#: existing index can be used or must be rebuilt from the catalogue.
SCHEMA_VERSION = f"10.{ANALYSIS_VERSION}"

#: Facet name -> the index field that holds it.
FACET_FIELDS = dict(zip(FACETS, ("office", "themes", "type", "year"), strict=True))


class PositionArray(formats.Positions):
    """Positions as raw 32-bit unsigned integers (Whoosh's own ``Positions``
    pickles a list of deltas).  A block of postings then turns into numpy
    arrays without a Python step per posting, which is what makes phrases
    and word pairs fast to match (see :mod:`thb_search.engine`); on disk the
    codec stores them 16 bits wide where they fit (:mod:`thb_search.blocks`)."""

    def encode(self, poslist: Any) -> bytes:
        return array("I", poslist).tobytes()

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return array("I", valuestring).tolist()

    def decode_frequency(self, valuestring: bytes) -> int:
        return len(valuestring) // 4

    def decode_weight(self, valuestring: bytes) -> float:
        return self.decode_frequency(valuestring) * self.field_boost


class TextField(fields.TEXT):
    """The ``text`` field: title and summary words with positions, title words
    weighted (see :class:`~thb_search.analysis.TextAnalyzer`).

    ``index()`` computes the postings straight from the analysis chain, without
    Whoosh's per-token objects (the same postings the analyzer would give; a
    test compares them): most of the indexing time is spent here.
    """

    def __init__(self, title_boost: float) -> None:
        super().__init__(analyzer=TextAnalyzer(title_boost), phrase=True)
        self.format = PositionArray(field_boost=self.format.field_boost)

    def tokens(self, value: Any) -> tuple[list[str], list[str], list[str]]:
        """The words of the title, summary and locations: what the writer adds
        (:meth:`thb_search.writer.MemoryPool.add_text`)."""
        title, summary, locations = split_text_value(value)
        return (word_tokens(title), word_tokens(summary),
                word_tokens(locations) if locations else [])

    def index(self, value: Any, **kwargs: Any) -> list[tuple[bytes, int, float, bytes]]:
        title, summary, locations = split_text_value(value)
        positions, weights, _ = text_postings(title, summary, self.analyzer.title_boost,
                                              locations)
        encode = self.format.encode
        fb = self.format.field_boost
        return [(term.encode("utf-8"), len(poslist), weights[term] * fb, encode(poslist))
                for term, poslist in positions.items()]


class BodyField(fields.TEXT):
    """The ``body`` field: the words of a publication's document with their
    positions: :class:`~thb_search.fields.BodyTokens` (the document's words,
    which the writer makes into postings and counts:
    :meth:`thb_search.writer.MemoryPool.add_body`) or
    :class:`~thb_search.fields.BodyPostings` (analysed already, with the page
    starts stored beside); ``index`` takes the positions of either."""

    def __init__(self) -> None:
        super().__init__(analyzer=TextAnalyzer(1.0), phrase=True)
        self.format = PositionArray(field_boost=1.0)

    def index(self, value: Any, **kwargs: Any) -> list[tuple[bytes, int, float, bytes]]:
        encode = self.format.encode
        return [(term.encode("utf-8"), len(poslist), float(len(poslist)), encode(poslist))
                for term, poslist in value.positions.items()]


class FacetField(fields.KEYWORD):
    """An exact-valued facet field; a document gives it a list of values."""

    def __init__(self) -> None:
        super().__init__(stored=True, scorable=False)

    def index(self, value: Any, **kwargs: Any) -> list[tuple[bytes, int, float, bytes]]:
        if isinstance(value, str):
            return list(super().index(value, **kwargs))
        one = _FREQ_ONE
        return [(v.encode("utf-8"), 1, 1.0, one) for v in dict.fromkeys(value)]


_FREQ_ONE = pack_uint(1)


def build_schema() -> fields.Schema:
    """The schema.

    ``text`` (title words weighted ``TITLE_BOOST``, a summary mark, then summary
    words, then location words) is the positional field of the record: ranking, phrases and the
    ``title:`` / ``summary:`` scopes use it; ``body`` holds the words of the
    record's document, if it has one, with ``body_len`` (its exact length)
    and ``pages`` (where each page starts) beside.  ``office``, ``themes``, ``type`` and
    ``year`` are exact-valued facet fields (multi-valued where the data is);
    ``datenum``, ``title_sort`` and ``id_sort`` are columns for sorting (and
    for breaking ties: equal scores rank newest first, then by id); the rest
    is stored.
    """
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        text=TextField(TITLE_BOOST),  # RANK_FIELD
        body=BodyField(),  # BODY_FIELD
        body_len=fields.COLUMN(columns.NumericColumn("I", default=0)),
        office=FacetField(),
        themes=FacetField(),
        type=FacetField(),
        year=FacetField(),
        datenum=fields.COLUMN(columns.NumericColumn("I", default=0)),
        title_sort=fields.COLUMN(columns.VarBytesColumn()),
        id_sort=fields.COLUMN(columns.VarBytesColumn()),
        title=fields.STORED(),
        summary=fields.STORED(),
        date=fields.STORED(),
        publisher=fields.STORED(),
        url=fields.STORED(),
        collections=fields.STORED(),
        locations=fields.STORED(),
        fingerprint=fields.STORED(),
        pages=fields.STORED(),
        document=fields.STORED(),
    )


def live_docnum(reader: Any, rid: str) -> int | None:
    """The document of publication ``rid`` in ``reader`` (None: none; the id
    term of a deleted document may remain, its postings skip it)."""
    try:
        return reader.first_id("id", rid.encode("utf-8"))
    except TermNotFound:
        return None


def to_document(record: Record, fp: str, body: BodyPostings | BodyPages | None = None,
                document: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Whoosh document of a record, with its document's text (``body``,
    analysed or still to be: see :func:`analysed`) and what is shown of the
    document (``document``) when it has one."""
    doc: dict[str, Any] = {
        "id": record.id,
        "text": text_value(record.title, record.summary, record.locations),
        "office": list(record.offices),
        "themes": list(record.themes),
        "type": [record.type] if record.type else [],
        "year": [str(record.year)] if record.date else [],
        "datenum": (record.date.year * 10_000 + record.date.month * 100 + record.date.day
                    if record.date else 0),
        "title_sort": (normalized_title(record.title or record.summary)[:200]
                       or record.id).encode("utf-8"),
        "id_sort": record.id.encode("utf-8"),
        "title": record.title,
        "summary": record.summary,
    }
    # Text fields left empty are not stored (the title and summary are).
    if record.date:
        doc["date"] = record.date.isoformat()
    if record.publisher:
        doc["publisher"] = record.publisher
    if record.url:
        doc["url"] = record.url
    doc["collections"] = list(record.collections)
    if fp:
        doc["fingerprint"] = fp
    doc["body_len"] = body.length if isinstance(body, BodyPostings) else 0
    if record.locations:  # stored only when given, like a document
        doc["locations"] = list(record.locations)
    if isinstance(body, BodyPostings):
        doc["pages"] = list(body.page_starts)
    if body is not None:
        doc["body"] = body
    if document is not None:
        doc["document"] = document
    return doc


def analysed(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its document's pages read: a
    :class:`~thb_search.fields.BodyPages` body replaced by its words
    (:class:`~thb_search.fields.BodyTokens`), from which thb-search's writer
    (:class:`thb_search.whoosh_internals.FastSegmentWriter`) works out
    ``body_len`` and ``pages`` (where each page starts) as it adds them."""
    body = doc.get("body")
    if not isinstance(body, BodyPages):
        return doc
    return {**doc, "body": body.analysed()}
