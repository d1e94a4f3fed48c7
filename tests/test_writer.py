"""Bulk builds: worker processes write what one process writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from thb_search import Catalogue, sync
from thb_search.indexing import IndexDir
from thb_search.writer import MemoryPool

QUERIES = ["trafficking", "forced labour supply chains", "national referral mechanisms",
           '"human beings"', "title:terrorism", "gender-sensitive", ""]


def results(index: Path) -> list[object]:
    out = []
    with Catalogue(index) as cat:
        for q in QUERIES:
            r = cat.search(q, limit=20)
            out.append((r.total, sorted((h.id, round(h.score or 0, 9)) for h in r.hits),
                        r.to_dict()["facets"]))
    return out


def test_parallel_build_equals_single_process_build(tmp_path: Path, corpus_copy: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sync(tmp_path / "single", [corpus_copy])
    import thb_search.writer as writer

    monkeypatch.setattr(writer, "PARALLEL_MIN_DOCS", 1)
    monkeypatch.setattr(writer, "BATCH_DOCS", 3)
    report = sync(tmp_path / "parallel", [corpus_copy])
    assert report.total == 10
    segments = [p for p in IndexDir(tmp_path / "parallel").current().glob("*.trm")]
    assert len(segments) == 2  # one per worker
    assert results(tmp_path / "parallel") == results(tmp_path / "single")


def test_memory_pool_orders_postings_by_field_term_document() -> None:
    pool = MemoryPool()
    pool.add_many("text", [(b"b", 1, 1.0, b"\x01\x00\x00\x00"), (b"a", 1, 2.0, b"")], 0)
    pool.add(("office", b"x", 1, 1.0, b""))
    pool.add_many("text", [(b"b", 1, 3.0, b"\x02\x00\x00\x00")], 1)
    assert list(pool.iter_postings()) == [
        ("office", b"x", 1, 1.0, b""),
        ("text", b"a", 0, 2.0, b""),
        ("text", b"b", 0, 1.0, b"\x01\x00\x00\x00"),
        ("text", b"b", 1, 3.0, b"\x02\x00\x00\x00"),
    ]
    assert pool.nbytes > 0
    pool.cleanup()
    assert list(pool.iter_postings()) == [] and pool.nbytes == 0
