"""thb-search through its library API: ``sync`` to index, ``Catalogue.search`` to query.

Its processes run as the ``thb-search`` command runs (``cli.main``): with
``OPENBLAS_NUM_THREADS=1`` unless set, so that numpy's import starts no
OpenBLAS thread pool (thb-search does no linear algebra).  That pool's
threads take some 50 ms of CPU on the other core as a process starts
(numpy's import: 114-126 ms of CPU, 66-78 with the variable set), and a
search running beside it in another process waits for the core: searches
every 10 ms while a process importing numpy and thb-search's writer started
every 0.3 s took over 3 times their median 17 and 22 times in about 1,000,
2 and 5 times with the variable set (2026-12-05, two runs).  Until that
day the benchmark's thb-search processes started the pool, which the
command never did.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy's import (see above)

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from thb_search import Catalogue, sync  # noqa: E402

from .base import FACETS, Engine, Query, Result, Searcher  # noqa: E402


class ThbSearcher(Searcher):
    def __init__(self, index: Path) -> None:
        self.catalogue = Catalogue(index)

    def search(self, query: Query, facets: bool) -> Result:
        r = self.catalogue.search(
            query.text(), office=query.filter_values("office"),
            theme=query.filter_values("theme"), type=query.filter_values("type"),
            year=query.filter_values("year"), limit=10, facets=facets)
        counts = ({f: {str(c.value): c.count for c in r.facets[f]} for f in FACETS}
                  if facets else None)
        return Result(r.total, [h.id for h in r.hits], counts)

    def count(self) -> int:  # Catalogue refreshes by itself when the index changed
        return len(self.catalogue)

    def close(self) -> None:
        self.catalogue.close()


class ThbSearch(Engine):
    """The catalogue file is linked into ``workdir/corpus``, which is what
    ``sync`` indexes; an incremental add drops a new file into that folder and
    calls ``sync`` again, as a user of ``thb-search index`` would."""

    name = "thb"
    label = "thb-search (API)"

    def build(self, data: Path, workdir: Path, procs: int = 1) -> dict[str, Any]:
        corpus = workdir / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        _link_or_copy(data, corpus / data.name)
        report = sync(self.index_path(workdir), [corpus], rebuild=True)
        return {"records": report.total}

    def add(self, data: Path, workdir: Path) -> dict[str, Any]:
        corpus = workdir / "corpus"
        shutil.copyfile(data, corpus / data.name)
        report = sync(self.index_path(workdir), [corpus])
        return {"added": report.added, "updated": report.updated,
                "unchanged": report.unchanged, "total": report.total,
                "rebuilt": report.rebuilt}

    def open(self, workdir: Path) -> Searcher:
        return ThbSearcher(self.index_path(workdir))

    def index_path(self, workdir: Path) -> Path:
        return workdir / "index"


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


ENGINE = ThbSearch()
