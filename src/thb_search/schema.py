"""The Whoosh schema of a thb-search index, and its version."""

from __future__ import annotations

from whoosh import fields

from .analysis import ANALYSIS_VERSION, ThbAnalyzer, TextAnalyzer, VocabularyAnalyzer

#: Weight of a title word against a summary word in the ranking field.
TITLE_BOOST = 2.0

#: Bump when the schema changes; with ANALYSIS_VERSION it decides whether an
#: existing index can be used or must be rebuilt from the catalogue.
SCHEMA_VERSION = f"1.{ANALYSIS_VERSION}"

#: Facet fields: record attribute -> index field.
FACET_FIELDS = {"office": "office", "theme": "themes", "type": "type", "year": "year"}


def build_schema() -> fields.Schema:
    """The schema.

    ``text`` (title words weighted ``TITLE_BOOST``, then summary words) is what
    ranking scores; ``title`` and ``summary`` serve field-scoped queries;
    ``office``, ``themes``, ``type`` and ``year`` are exact-valued facet fields
    (multi-valued where the data is); ``vocab`` holds unstemmed words for
    spelling suggestions.
    """
    text = ThbAnalyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=text, stored=True, phrase=True),
        summary=fields.TEXT(analyzer=text, stored=True, phrase=True),
        text=fields.TEXT(analyzer=TextAnalyzer(TITLE_BOOST), phrase=True),
        vocab=fields.KEYWORD(analyzer=VocabularyAnalyzer(), scorable=False),
        office=fields.KEYWORD(stored=True, scorable=False),
        themes=fields.KEYWORD(stored=True, scorable=False),
        type=fields.KEYWORD(stored=True, scorable=False),
        year=fields.KEYWORD(stored=True, scorable=False),
        date=fields.ID(stored=True),
        datenum=fields.NUMERIC(int, bits=32, sortable=True, signed=False),
        title_sort=fields.ID(sortable=True),
        publisher=fields.ID(stored=True),
        url=fields.STORED(),
        collections=fields.STORED(),
        fingerprint=fields.STORED(),
    )
