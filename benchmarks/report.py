"""The Markdown report of a benchmark run (from the results ``bench.py`` collects)."""

from __future__ import annotations

from collections import Counter
from typing import Any

DASH = "–"


def _int(value: float) -> str:
    return f"{value:,.0f}"


def _mb(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else _int(value)


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else _int(value)


def _s(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def _pair(summary: dict[str, float]) -> str:
    return f"{_ms(summary['p50'])} / {_ms(summary['p95'])}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _main_row(row: dict[str, Any]) -> list[str]:
    cells = [row["label"]] + [DASH] * 8
    if "skipped" in row:
        cells[1] = "skipped: " + row["skipped"]
        return cells
    if "build" in row.get("errors", {}):
        cells[1] = "**failed** (see below)"
        return cells
    build, lat = row.get("build"), row.get("latency")
    if build:
        cells[1:4] = [_int(build["docs_per_s"]), _mb(build["peak_rss_mb"]),
                      _mb(build["index_bytes"] / 2**20)]
    if lat:
        cells[4:6] = [_pair(lat["top10_ms"]), _pair(lat["facets_ms"])]
        cells[8] = _int(lat["mean_matches"]) if lat["mean_matches"] is not None else DASH
    if "add" in row:
        cells[6] = _s(row["add"]["seconds"])
    if "cold" in row:
        cells[7] = _s(row["cold"]["median"])
    return cells


def _add_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    out = []
    for row in rows:
        add = row.get("add")
        if add:
            out.append([
                row["label"], _s(add["seconds"]),
                f"{add['docs_before']:,} → {add['docs_after']:,}"
                + ("" if add["grew_by_expected"] else " **(wrong)**")
                + (" **(rebuilt the whole index)**" if add["rebuilt"] else ""),
                f"{add['searches_during_add']} / {add['failed_searches_during_add']}",
                f"{_ms(add['median_search_ms'])} / {_ms(add['slowest_search_ms'])}",
            ])
    return out


def _cold_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    timed = [r for r in results["rows"] if "cold" in r]
    header = ["Query"] + [r["label"] for r in timed]
    body = []
    for i, q in enumerate(results["cold_queries"]):
        filters = " ".join(f"--{f} {v!r}" for f, v in q["filters"])
        text = " ".join(p for p in (q["text"], filters) if p) or "(empty)"
        body.append([f"{q['kind']}: `{text}`"]
                    + [_s(r["cold"]["per_query"][i]["median"]) for r in timed])
    return header, body


def _preamble(results: dict[str, Any]) -> list[str]:
    env = results["environment"]
    kinds = Counter(q["kind"] for q in results["queries"])
    mix = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    versions = ", ".join(f"{k} {env[k]}" for k in ("thb-search", "whoosh", "sqlite", "tantivy")
                         if env.get(k))
    busy = (" (the machine was busy before the run started: figures are noisier)"
            if env["load_average_at_start"] > 0.5 else "")
    return [
        f"## {results['size']:,} records",
        "",
        f"Synthetic catalogue of {results['size']:,} records (seed {results['seed']}); "
        f"{len(results['queries'])} queries ({mix}), timed after {results['warmup']} "
        f"warm-up queries.  Python {env['python']}, {env['cpus']} CPUs, {versions}; "
        f"{env['date']}, run took {results.get('seconds', 0):.0f} s; load average "
        f"{env['load_average_at_start']:.1f} at the start{busy}, "
        f"{env['load_average_at_end']:.1f} at the end.",
        "",
    ]


NOTES = """\
* **Index docs/s**: records / seconds of the indexing call (reading the JSON Lines
  file included, interpreter start not), in a child process. *(N processes)* and
  *(N threads)* rows index with N writers: Whoosh `writer(procs=N)`, Tantivy threads
  (the main rows use one).
* **Peak RSS**: the indexing process's VmHWM, or the sampled sum over its process
  tree when larger (multi-process writers).
* **Latency**: per query, in one warm process; p50 / p95 over the query mix.
  thb-search counts facets disjunctively (a facet's counts ignore that facet's own
  filter), returns snippets, and falls back to partial matches when no record has
  every word; the others count facets over the filtered matches.
* **Add 10**: adding 10 new records to the built index (thb-search: a new
  JSON Lines file in the corpus folder, then `sync`), timed in its own process
  while the benchmark kept running one query (the first one of the table of new
  processes) on the index (table below; its last column times those searches
  and the first one after the add, which reopens the index: the slowest against
  the median is what seeing a change costs a reader).
* **New process**: median wall time of a fresh process (interpreter start, imports,
  opening the index, one query with facet counts) for each query below, then the
  median over the queries.
* **Matches/query**: mean number of matching records; the engines' analyzers
  differ a little (Snowball with British/American folding, Porter, Tantivy `en_stem`).
"""


def _find(rows: list[dict[str, Any]], label: str) -> dict[str, Any]:
    return next((r for r in rows if r["label"] == label and "skipped" not in r), {})


def _get(row: dict[str, Any], *keys: str) -> float | None:
    value: Any = row
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value)


def targets(results: dict[str, Any]) -> list[list[str]]:
    """Issue 12's targets, each with the figures it compares (thb-search
    against the other engines of the same run) and whether it is met."""
    rows = results["rows"]
    thb, cli = _find(rows, "thb-search (API)"), _find(rows, "thb-search (CLI)")
    whoosh, fts5 = _find(rows, "Whoosh groupedby"), _find(rows, "SQLite FTS5")
    tantivy = _find(rows, "Tantivy")
    big = results["size"] >= 1_000_000
    out: list[list[str]] = []

    def check(what: str, ours: float | None, bound: float | None, shown: str,
              fmt: Any, at_most: bool = True) -> None:
        if ours is None or bound is None:
            out.append([what, DASH, DASH, "not measured"])
            return
        met = ours <= bound if at_most else ours >= bound
        out.append([what, fmt(ours), f"{'≤' if at_most else '≥'} {fmt(bound)} ({shown})",
                    "met" if met else "**not met**"])

    def times(row: dict[str, Any], factor: float, *keys: str) -> float | None:
        value = _get(row, *keys)
        return None if value is None else value * factor

    check("Add 10 records (s)", _get(thb, "add", "seconds"),
          1.0 if big else times(tantivy, 3, "add", "seconds"),
          "1 s at 1M" if big else "3 × Tantivy", _s)
    check("Slowest search during / right after the add (ms)",
          _get(thb, "add", "slowest_search_ms"), times(thb, 3, "add", "median_search_ms"),
          "3 × the median", _ms)
    if not big:
        check("New process, CLI (s)", _get(cli, "cold", "median"),
              times(fts5, 1.5, "cold", "median"), "1.5 × FTS5", _s)
        check("Index size (MB)", times(thb, 2**-20, "build", "index_bytes"),
              times(whoosh, 1.2 * 2**-20, "build", "index_bytes"), "1.2 × Whoosh", _mb)
        check("Indexing (docs/s)", _get(thb, "build", "docs_per_s"),
              times(fts5, 0.5, "build", "docs_per_s"), "half of FTS5", _int, at_most=False)
    check("Indexing peak RSS (MB)", _get(thb, "build", "peak_rss_mb"),
          2048.0 if big else 1024.0, "2 GiB at 1M" if big else "1 GiB", _mb)
    if big:
        check("Top-10 + facets p95 (ms)", _get(thb, "latency", "facets_ms", "p95"), 150.0,
              "150 ms at 1M", _ms)
    else:
        check("Top-10 + facets p50 (ms)", _get(thb, "latency", "facets_ms", "p50"),
              times(tantivy, 2, "latency", "facets_ms", "p50"), "2 × Tantivy", _ms)
        check("Top-10 + facets p95 (ms)", _get(thb, "latency", "facets_ms", "p95"),
              _get(tantivy, "latency", "facets_ms", "p95"), "Tantivy", _ms)
    return out


def markdown(results: dict[str, Any]) -> str:
    """The report: main table, notes, incremental add, new-process details."""
    rows = results["rows"]
    lines = _preamble(results)
    lines += _table(
        ["Engine", "Index docs/s", "Index peak RSS (MB)", "Index size (MB)",
         "Top-10 p50 / p95 (ms)", "Top-10 + facets p50 / p95 (ms)", "Add 10 (s)",
         "New process (s)", "Matches/query"],
        [_main_row(r) for r in rows])
    lines += ["", NOTES]
    failures = [f"* **{r['label']}**: {key} failed: {text.splitlines()[-1]}"
                for r in rows for key, text in r.get("errors", {}).items()]
    if failures:
        lines += ["### Failures (details in the JSON)", "", *failures, ""]
    add_rows = _add_rows(rows)
    if add_rows:
        lines += ["### Incremental add of 10 records", ""]
        lines += _table(["Engine", "Add (s)", "Documents", "Searches during add (ok / failed)",
                         "Search during and right after, median / slowest (ms)"], add_rows)
        lines.append("")
    lines += ["### Targets (issue 12: thb-search against the other engines of this run)", ""]
    lines += _table(["Target", "thb-search", "Bound", ""], targets(results))
    lines.append("")
    header, body = _cold_rows(results)
    if len(header) > 1:
        runs = next(r["cold"]["runs"] for r in rows if "cold" in r)
        lines += [f"### New process, one query with facets (median of {runs} runs, s)", ""]
        lines += _table(header, body)
        lines.append("")
    return "\n".join(lines)
