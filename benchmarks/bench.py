#!/usr/bin/env python3
"""Benchmark thb-search against the plain Whoosh recipe, SQLite FTS5 and Tantivy.

    python benchmarks/bench.py --size 10k [--out DIR] [--skip-cli] [--engines thb whoosh ...]

On the same synthetic records (``generate.py``) and the same query mix
(``queries.py``), for every engine: indexing speed and peak memory (in a
child process), index size, query latency top-10 only and top-10 with every
facet count, adding 10 records to the built index (with searches running
meanwhile), and the wall time of a new process running one query.  Prints a
Markdown table and writes ``bench-SIZE.json`` and ``bench-SIZE.md`` to the
output folder (``benchmarks/out`` by default).  Tantivy is optional: it is
skipped with a message when ``tantivy`` is not importable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import engines
import measure
import report
from engines.base import Query
from generate import DEFAULT_SEED, generate_records, parse_size, write_jsonl
from queries import QUERY_COUNT, cold_queries, make_queries

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.py"
#: Records written by the incremental-add measurement.
ADD_COUNT = 10
#: Extra build runs with more writer processes/threads, for engines that have them.
PARALLEL_PROCS = 2
#: Pause between two searches run while an add is in progress.
PROBE_PAUSE = 0.01


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Setup:
    """What every engine is measured on."""

    size: int
    data: Path  # the catalogue, JSON Lines
    extra: Path  # ADD_COUNT further records, for the incremental add
    queries: list[Query]
    queries_file: Path
    cold: list[Query]  # the queries timed in new processes
    work: Path  # engines' working folders go under here
    warmup: int
    cold_runs: int


def size_label(size: int) -> str:
    """10000 -> '10k', 1000000 -> '1M', 2500 -> '2500'."""
    for factor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def ensure_data(size: int, seed: int) -> tuple[Path, Path]:
    """The catalogue of ``size`` records and the ``ADD_COUNT`` records after
    them, generated into benchmarks/data/ unless already there."""
    stem = HERE / "data" / f"catalogue-{size_label(size)}-seed{seed}"
    data, extra = stem.with_suffix(".jsonl"), Path(f"{stem}-add{ADD_COUNT}.jsonl")
    if not (data.exists() and extra.exists()):
        log(f"generating {size} records into {data.relative_to(HERE.parent)}")
        records = generate_records(size + ADD_COUNT, seed)
        write_jsonl(itertools.islice(records, size), data)
        write_jsonl(records, extra)
    return data, extra


def worker(command: str, engine: str, workdir: Path, path: str, *options: str) -> list[str]:
    return [sys.executable, str(WORKER), command, engine, str(workdir), path, *options]


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# ---------------------------------------------------------------------------
# One engine


def measure_build(engine: engines.Engine, setup: Setup, workdir: Path,
                  procs: int) -> dict[str, Any]:
    """Index the catalogue in a child process: docs/s, peak memory, index size."""
    extra = ["--procs", str(procs)] if procs > 1 else []
    run = measure.run_measured(worker("build", engine.name, workdir, str(setup.data), *extra))
    out = run.output
    peak_kb = max(out["peak_rss_kb"], run.tree_peak_kb)
    return {
        "seconds": out["seconds"],
        "docs_per_s": setup.size / out["seconds"],
        "peak_rss_mb": peak_kb / 1024,
        "process_peak_rss_mb": out["peak_rss_kb"] / 1024,
        "tree_peak_rss_mb": run.tree_peak_kb / 1024,
        "process_wall_seconds": run.wall,
        "index_bytes": measure.disk_size(engine.index_path(workdir)),
        "detail": out["detail"],
    }


def measure_latency(engine: engines.Engine, setup: Setup, workdir: Path) -> dict[str, Any]:
    """Every query timed in one child process, after a warm-up."""
    run = measure.run_measured(worker("latency", engine.name, workdir, str(setup.queries_file),
                                      "--warmup", str(setup.warmup)))
    out = run.output
    totals = [t for t in out["totals"] if t is not None]
    return {
        "top10_ms": measure.summary(out["top10_ms"]),
        "facets_ms": measure.summary(out["facets_ms"]),
        "open_seconds": out["open_seconds"],
        "mean_matches": statistics.fmean(totals) if totals else None,
        "zero_match_queries": sum(1 for t in totals if t == 0),
        "peak_rss_mb": out["peak_rss_kb"] / 1024,
        "per_query": {"top10_ms": out["top10_ms"], "facets_ms": out["facets_ms"],
                      "totals": out["totals"], "top_ids": out["top_ids"]},
    }


def measure_cold(setup: Setup, command: Callable[[Query], list[str]],
                 cwd: Path) -> dict[str, Any]:
    """Median wall time of ``cold_runs`` new processes for each cold query."""
    per_query = []
    for q in setup.cold:
        times = measure.wall_times(command(q), setup.cold_runs, cwd=cwd)
        per_query.append({"query": q.to_dict(), "seconds": times,
                          "median": statistics.median(times)})
    return {"median": statistics.median(p["median"] for p in per_query),
            "runs": setup.cold_runs, "per_query": per_query}


def measure_add(engine: engines.Engine, setup: Setup, workdir: Path) -> dict[str, Any]:
    """Add ``ADD_COUNT`` records in a child process while this process keeps
    running one query on the same index; then run it once more, seeing the new
    records (reopening included), and check the index grew by that many.

    The slowest of those searches against their median shows what seeing a
    change costs a reader (reopening, rebuilding facet caches).
    """
    probe = setup.cold[0]
    searcher = engine.open(workdir)
    searcher.search(probe, True)  # warm
    try:
        before = searcher.count()
        child = measure.start(worker("add", engine.name, workdir, str(setup.extra)))
        during, errors = [], []
        while child[0].poll() is None:
            start = time.perf_counter()
            try:
                searcher.search(probe, True)
                during.append((time.perf_counter() - start) * 1000)
            except Exception as exc:  # noqa: BLE001 - any failure is what we report
                errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(PROBE_PAUSE)
        out = measure.finish(child)
        start = time.perf_counter()
        searcher.refresh()
        searcher.search(probe, True)
        first_ms = (time.perf_counter() - start) * 1000
        after = searcher.count()
    finally:
        searcher.close()
    return {
        "seconds": out["seconds"], "detail": out["detail"], "docs_before": before,
        "docs_after": after, "grew_by_expected": after - before == ADD_COUNT,
        "rebuilt": bool(out["detail"].get("rebuilt")),
        "searches_during_add": len(during), "failed_searches_during_add": len(errors),
        "errors": errors[:3], "search_ms_during_add": during,
        "first_search_after_add_ms": first_ms,
        "median_search_ms": statistics.median([first_ms, *during]),
        "slowest_search_ms": max([first_ms, *during]),
    }


def _phase(row: dict[str, Any], key: str, message: str, func: Callable[[], Any]) -> bool:
    """Run one measurement into ``row[key]``; on failure, log it, record it
    under ``row["errors"]`` and return False (the other figures still count)."""
    log(f"{row['label']}: {message}")
    try:
        row[key] = func()
        return True
    except Exception as exc:  # noqa: BLE001 - a failing engine must not stop the run
        text = str(exc) if isinstance(exc, measure.ChildFailed) else f"{type(exc).__name__}: {exc}"
        log(f"{row['label']}: {key} failed: {text}")
        row.setdefault("errors", {})[key] = text
        return False


def bench_engine(name: str, setup: Setup) -> list[dict[str, Any]]:
    """The rows of one engine: its main row, then a parallel-build row if it has one."""
    engine = engines.load(name)
    workdir = fresh_dir(setup.work / name)
    row: dict[str, Any] = {"engine": name, "label": engine.label, "procs": 1}
    rows = [row]
    if not _phase(row, "build", f"indexing {setup.size} records",
                  lambda: measure_build(engine, setup, workdir, 1)):
        return rows
    _phase(row, "latency", f"{len(setup.queries)} queries, top-10 only then with facets",
           lambda: measure_latency(engine, setup, workdir))
    _phase(row, "cold", f"new-process query x{setup.cold_runs} for {len(setup.cold)} queries",
           lambda: measure_cold(
               setup, lambda q: worker("query", name, workdir, json.dumps(q.to_dict())),
               workdir))
    _phase(row, "add", f"adding {ADD_COUNT} records while searching",
           lambda: measure_add(engine, setup, workdir))
    if engine.parallel:
        pdir = fresh_dir(setup.work / f"{name}-p{PARALLEL_PROCS}")
        prow: dict[str, Any] = {"engine": name, "procs": PARALLEL_PROCS,
                                "label": f"{engine.label} ({PARALLEL_PROCS} {engine.parallel})"}
        _phase(prow, "build", f"indexing with {PARALLEL_PROCS} writer {engine.parallel}",
               lambda: measure_build(engine, setup, pdir, PARALLEL_PROCS))
        shutil.rmtree(pdir, ignore_errors=True)
        rows.append(prow)
    return rows


# ---------------------------------------------------------------------------
# thb-search's command line


def cli_command(exe: Path, workdir: Path, q: Query) -> list[str]:
    """``thb-search --index DIR [--office X ...] --json QUERY WORDS``."""
    cmd = [str(exe), "--index", str(workdir / "index"), "--corpus", str(workdir / "corpus")]
    for facet, value in q.filters:
        cmd += [f"--{facet}", value]
    cmd += ["--json", *q.words]
    if q.phrase:
        cmd.append('"' + " ".join(q.phrase) + '"')
    return cmd


def bench_cli(setup: Setup) -> dict[str, Any]:
    """New-process wall time of the ``thb-search`` command on thb's index."""
    row: dict[str, Any] = {"engine": "thb-cli", "label": "thb-search (CLI)", "procs": 1}
    exe = Path(sys.executable).with_name("thb-search")
    found = exe if exe.exists() else shutil.which("thb-search")
    if found is None:
        return {**row, "skipped": "the thb-search command is not installed"}
    workdir = setup.work / "thb"
    _phase(row, "cold", f"new process x{setup.cold_runs} for {len(setup.cold)} queries",
           lambda: measure_cold(setup, lambda q: cli_command(Path(found), workdir, q), workdir))
    return row


# ---------------------------------------------------------------------------
# The run


def environment() -> dict[str, Any]:
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": len(os.sched_getaffinity(0)),
        "thb-search": version("thb-search"), "whoosh": version("whoosh3"),
        "tantivy": version("tantivy"), "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": os.getloadavg()[0],
    }


def compile_thb_search() -> None:
    """Write thb_search's bytecode (``__pycache__``), as installing a wheel does.

    An editable install run with ``PYTHONDONTWRITEBYTECODE`` set never writes
    it, so every timed new process would compile the ~30 modules a search
    imports from source (some 30-45 ms), a cost the other engines' scripts,
    whose modules come precompiled with Python and its packages, never pay.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("thb_search")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    env = environment()
    compile_thb_search()
    data, extra = ensure_data(args.size, args.seed)
    label = size_label(args.size)
    work = fresh_dir(args.out / f"work-{label}")
    queries = make_queries(args.size, args.queries, args.seed)
    queries_file = work / "queries.json"
    queries_file.write_text(json.dumps([q.to_dict() for q in queries], indent=1), "utf-8")
    setup = Setup(args.size, data, extra, queries, queries_file, cold_queries(queries), work,
                  args.warmup, args.cold_runs)
    rows: list[dict[str, Any]] = []
    for name in args.engines:
        reason = engines.unavailable(name)
        if reason:
            log(f"skipping {name}: {reason}")
            rows.append({"engine": name, "label": name, "skipped": reason})
            continue
        engine_rows = bench_engine(name, setup)
        rows += engine_rows
        if name == "thb" and not args.skip_cli and "build" in engine_rows[0]:
            rows.append(bench_cli(setup))
    if not args.keep_indexes:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "size": args.size, "seed": args.seed, "data": str(data),
        "queries": [q.to_dict() for q in queries],
        "cold_queries": [q.to_dict() for q in setup.cold],
        "warmup": args.warmup, "environment": {**env, "load_average_at_end": os.getloadavg()[0]},
        "rows": rows,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, required=True,
                        help="catalogue size: 10k, 100k, 1M or a plain number")
    parser.add_argument("--out", type=Path, default=HERE / "out",
                        help="folder for the results and the engines' indexes "
                             "[default: benchmarks/out]")
    parser.add_argument("--engines", nargs="+", default=list(engines.ADAPTERS),
                        metavar="ENGINE",
                        help=f"engines to run, of {', '.join(engines.ADAPTERS)} [default: all]")
    parser.add_argument("--skip-cli", action="store_true",
                        help="skip the thb-search command-line figures")
    parser.add_argument("--queries", type=int, default=QUERY_COUNT,
                        help=f"queries in the mix [default: {QUERY_COUNT}]")
    parser.add_argument("--warmup", type=int, default=20,
                        help="warm-up queries before timing [default: 20]")
    parser.add_argument("--cold-runs", type=int, default=10,
                        help="runs of each new-process measurement [default: 10]")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="data and query seed")
    parser.add_argument("--keep-indexes", action="store_true",
                        help="keep the engines' indexes under OUT/work-SIZE")
    args = parser.parse_args(argv)
    args.engines = [e for item in args.engines for e in item.split(",") if e]
    unknown = sorted(set(args.engines) - set(engines.ADAPTERS))
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}: "
                     f"choose from {', '.join(engines.ADAPTERS)}")
    args.out = args.out.absolute()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results = run(args)
    results["seconds"] = time.perf_counter() - started
    table = report.markdown(results)
    label = size_label(args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"bench-{label}.json").write_text(json.dumps(results, indent=1), "utf-8")
    (args.out / f"bench-{label}.md").write_text(table, "utf-8")
    print(table)
    log(f"done in {results['seconds']:.0f} s; results in {args.out}/bench-{label}.json")
    return 1 if any("errors" in r for r in results["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
