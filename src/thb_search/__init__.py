"""thb-search: full-text search over publications on combating trafficking in
human beings.

Library first: everything the ``thb-search`` command does is one call here.

    >>> from thb_search import Catalogue
    >>> with Catalogue("index", corpus=["corpus"]) as catalogue:
    ...     result = catalogue.search("forced labour supply chains")
    ...     [hit.title for hit in result.hits]

Names are imported on first use, so that ``import thb_search`` (and the
command's start-up) loads only what is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    CorpusErrors,
    CorpusFormatError,
    CorpusNotFoundError,
    IndexCorruptError,
    IndexingError,
    IndexLockedError,
    IndexNotFoundError,
    IndexOutdatedError,
    InvalidFilterError,
    ParameterError,
    QuerySyntaxError,
    RecordNotFoundError,
    ThbSearchError,
    UnknownFilterValueError,
)

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_LAZY = {
    "analyze": "analysis",
    "Record": "corpus", "read_file": "corpus", "read_records": "corpus",
    "AddReport": "adding", "IndexReport": "indexing", "add_files": "adding",
    "sync": "indexing",
    "locate": "locations",
    "FacetCount": "results", "Filters": "results", "Hit": "results", "Match": "results",
    "Publication": "results", "SearchResult": "results",
    "Catalogue": "searching",
}

if TYPE_CHECKING:
    from .adding import AddReport, add_files
    from .analysis import analyze
    from .corpus import Record, read_file, read_records
    from .indexing import IndexReport, sync
    from .locations import locate
    from .results import FacetCount, Filters, Hit, Match, Publication, SearchResult
    from .searching import Catalogue


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'thb_search' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AddReport",
    "Catalogue",
    "CorpusErrors",
    "CorpusFormatError",
    "CorpusNotFoundError",
    "FacetCount",
    "Filters",
    "Hit",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexOutdatedError",
    "IndexReport",
    "IndexingError",
    "InvalidFilterError",
    "Match",
    "ParameterError",
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
