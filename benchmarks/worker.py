#!/usr/bin/env python3
"""The child-process side of ``bench.py``: one measured operation per process.

    worker.py build   ENGINE WORKDIR DATA [--procs N]
    worker.py latency ENGINE WORKDIR QUERIES_JSON [--warmup N]
    worker.py add     ENGINE WORKDIR DATA
    worker.py query   ENGINE WORKDIR QUERY_JSON

Each prints one JSON object on stdout.  Only the engine asked for is
imported, so ``query`` (timed from outside, process start to exit) is what a
bare script of that engine costs: interpreter start, imports, opening the
index, one search with facet counts.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import engines
from engines.base import Query, Searcher


def peak_rss_kb() -> int:
    """This process's peak resident set size (VmHWM), in KiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def build(args: argparse.Namespace) -> dict[str, Any]:
    engine = engines.load(args.engine)
    start = time.perf_counter()
    detail = engine.build(Path(args.path), Path(args.workdir), args.procs)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "detail": detail, "peak_rss_kb": peak_rss_kb(),
            "children_peak_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def add(args: argparse.Namespace) -> dict[str, Any]:
    engine = engines.load(args.engine)
    start = time.perf_counter()
    detail = engine.add(Path(args.path), Path(args.workdir))
    return {"seconds": time.perf_counter() - start, "detail": detail}


def _timed(searcher: Searcher, queries: list[Query],
           facets: bool) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for q in queries:
        start = time.perf_counter()
        result = searcher.search(q, facets)
        times.append((time.perf_counter() - start) * 1000)
        results.append(result)
    return times, results


def latency(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then time every query top-10 only, then with facet counts."""
    engine = engines.load(args.engine)
    queries = [Query.from_dict(d) for d in json.loads(Path(args.path).read_text("utf-8"))]
    start = time.perf_counter()
    searcher = engine.open(Path(args.workdir))
    open_seconds = time.perf_counter() - start
    for facets in (False, True):
        _timed(searcher, queries[:args.warmup], facets)
    top10_ms, _ = _timed(searcher, queries, False)
    facets_ms, results = _timed(searcher, queries, True)
    searcher.close()
    return {
        "open_seconds": open_seconds,
        "top10_ms": top10_ms,
        "facets_ms": facets_ms,
        "totals": [r.total for r in results],
        "top_ids": [r.ids for r in results],
        "peak_rss_kb": peak_rss_kb(),
    }


def query(args: argparse.Namespace) -> dict[str, Any]:
    engine = engines.load(args.engine)
    searcher = engine.open(Path(args.workdir))
    result = searcher.search(Query.from_dict(json.loads(args.path)), True)
    return {"total": result.total, "ids": result.ids}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("build", "latency", "add", "query"))
    parser.add_argument("engine", choices=tuple(engines.ADAPTERS))
    parser.add_argument("workdir", help="the engine's working folder")
    parser.add_argument("path", help="data file, queries file, or (query) a query as JSON")
    parser.add_argument("--procs", type=int, default=1, help="build: writer processes/threads")
    parser.add_argument("--warmup", type=int, default=20, help="latency: warm-up queries")
    args = parser.parse_args(argv)
    command = {"build": build, "latency": latency, "add": add, "query": query}[args.command]
    print(json.dumps(command(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
