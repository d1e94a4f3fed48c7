"""The engines the benchmark compares, loaded on demand.

Each adapter module imports its own library at the top and defines
``ENGINE``; only the adapters asked for are imported, so an optional library
that is not installed (Tantivy) only skips its engine.
"""

from __future__ import annotations

import importlib

from .base import Engine

#: Engine name -> adapter module, in the order of the results table.
ADAPTERS = {
    "thb": "engines.thb",
    "whoosh": "engines.whoosh_groupedby",
    "sqlite": "engines.sqlite_fts5",
    "tantivy": "engines.tantivy_engine",
}


def load(name: str) -> Engine:
    """The engine called ``name`` (ImportError when its library is missing)."""
    return importlib.import_module(ADAPTERS[name]).ENGINE


def unavailable(name: str) -> str | None:
    """Why the engine cannot run here, or None when it can."""
    try:
        load(name)
    except ImportError as exc:
        return f"{exc.name or exc} is not importable ({exc})"
    return None
