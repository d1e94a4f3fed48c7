"""thb-search: full-text search over publications on combating trafficking in
human beings.

Library first: everything the ``thb-search`` command does is one call here.

    >>> from thb_search import Catalogue
    >>> with Catalogue("index", corpus=["corpus"]) as catalogue:
    ...     result = catalogue.search("forced labour supply chains")
    ...     [hit.title for hit in result.hits]
"""

from __future__ import annotations

__version__ = "0.1.0"

from .analysis import analyze
from .corpus import Record, read_file, read_records
from .errors import (
    CorpusErrors,
    CorpusFormatError,
    CorpusNotFoundError,
    IndexLockedError,
    IndexNotFoundError,
    InvalidFilterError,
    QuerySyntaxError,
    RecordNotFoundError,
    ThbSearchError,
    UnknownFilterValueError,
)
from .facets import FacetCount
from .indexing import AddReport, IndexReport, add_files, sync
from .locations import locate
from .searching import Catalogue, Filters, Hit, Match, Publication, SearchResult

__all__ = [
    "AddReport",
    "Catalogue",
    "CorpusErrors",
    "CorpusFormatError",
    "CorpusNotFoundError",
    "FacetCount",
    "Filters",
    "Hit",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexReport",
    "InvalidFilterError",
    "Match",
    "Publication",
    "QuerySyntaxError",
    "Record",
    "RecordNotFoundError",
    "SearchResult",
    "ThbSearchError",
    "UnknownFilterValueError",
    "__version__",
    "add_files",
    "analyze",
    "locate",
    "read_file",
    "read_records",
    "sync",
]
