#!/usr/bin/env python3
"""Full-text search over publications' PDFs: thb-search against SQLite FTS5 and Tantivy.

    python benchmarks/fulltext.py                      # 1,000 PDFs, about 100,000 pages
    python benchmarks/fulltext.py --documents 100      # a tenth, to try it out

A measurement to read, not a test: nothing is asserted.  On a 10,000-record
synthetic catalogue (``generate.py``) whose first ``--documents`` records each
have a generated PDF of 20-200 pages (``pdfgen.py``, cached in
``benchmarks/data/``), it measures, each step in a child process
(``fulltext_engines.py``) whose process tree's memory is sampled:

* thb-search: ``sync`` of the corpus folder into a new index, the PDFs'
  text read in it (``thb_search.documents.read_texts`` timed apart: text
  extraction pages/s) and indexed; then ``sync(rebuild=True)`` with the text
  already in the store (indexing pages/s); the index folder's size, its text
  store (``texts.sqlite``) apart;
* SQLite FTS5 and Tantivy (optional: skipped with a message when ``tantivy``
  is not importable): the same records and the same page texts, read from
  thb-search's ``texts.sqlite``, indexed one row per page plus one per record
  (see ``fulltext_engines.py``): indexing pages/s, index size;
* for every engine: the query mix (``--queries``, default 200: words from a
  page, THB phrases, words with office/theme/type/year filters), each query
  timed in a warm process after ``--warmup`` queries, top 10 records with the
  best page and a snippet, then the same with facet counts (office, theme,
  type, year over the matched records): p50/p95, records matched, how many
  hits have a page; a new process's first query (process start to exit,
  median of ``--cold-runs`` runs for a word query, a phrase and a filtered
  query, then the median of the three);
* adding 10 documents to 10 records of the built index: thb-search's
  ``add_files(corpus, index, [pdf], to=ID)`` once per PDF (reading each PDF
  included, timed apart), then 10 more PDFs put into ``documents/ID/`` and
  one ``sync``; the other engines read the same PDFs (PDFium's plain text of
  each page, through ``pypdfium2``; the 10 at once by a process per core, as
  thb-search reads a batch) and insert their pages, one commit per document,
  then 10 documents in one commit; every engine's time includes its reading,
  timed apart as well; before each engine's adds its index and the PDFs are
  read once, untimed, so that each starts with them in the page cache;
* whether extraction gave back the generated text: for a sample of
  documents, each page's text in the store against the text drawn on it
  (``pdfgen.document_pages``), running header and footer excluded.

Prints a Markdown report and writes ``OUT/fulltext-N.md`` and
``OUT/fulltext-N.json`` (N the number of documents; every figure, per-query
timings, matches and top records, the load average as each step started).

Options:

* ``--documents N``: records with a PDF, 1-1000 [1000];
* ``--queries N``: queries in the mix [200];
* ``--warmup N``: warm-up queries before the timed ones [20];
* ``--cold-runs N``: runs of each new-process measurement [5];
* ``--engines [sqlite] [tantivy]``: the engines beside thb-search, which
  always runs (its text store is the others' input) [sqlite tantivy];
  ``--engines`` alone: thb-search only;
* ``--workers N``: processes writing missing PDFs [one per CPU];
* ``--seed N``: data and query seed [42];
* ``--out DIR``: results and working folder [benchmarks/out];
* ``--keep-indexes``: keep ``OUT/fulltext-work-N/`` (corpus, indexes,
  ``setup.json``) instead of deleting it at the end;
* ``--keep-nltk-timeout``: leave NLTK's limit in place (see below);
* ``--report JSON``: only print the report of an earlier run's JSON file.

thb-search's indexing processes run with ``nltk.redos.DEFAULT_TIMEOUT = None``
unless ``--keep-nltk-timeout``: NLTK 3.10 puts a 5-second wall-clock limit on
every regular-expression match, including thb-search's word tokenizer, and
while a ``sync`` of the 1,000-document set tokenises in one thread, another
thread of the same process (a multiprocessing queue's feeder, pickling a
batch of documents for the writer processes) can hold the GIL long enough to
trip it: the sync then fails with ``TimeoutError``.  That was seen in an
earlier run of this benchmark; a rebuild of the 1,000-document set with the
limit kept, on 2026-12-03 at a load average of 8, passed, so it is rare.
Lifting the limit changes no figure otherwise (it only ever raises).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import measure
import pdfgen
from bench import ensure_data
from engines.base import Query
from fulltext_engines import LABELS
from generate import DEFAULT_SEED, FUNCTION_WORDS, THB_PHRASES, THB_WORDS, build_vocabulary
from queries import MID_RANKS

HERE = Path(__file__).resolve().parent
WORKER = HERE / "fulltext_engines.py"
CATALOGUE_SIZE = 10_000
ADD_COUNT = 10
QUERY_COUNT = 200
#: Documents the queries are drawn from (each generated once for its pages).
QUERY_POOL = 50
KINDS = {"words": 0.45, "phrase": 0.25, "filtered": 0.30}
WORD_COUNTS = {1: 0.35, 2: 0.4, 3: 0.25}
#: Documents whose extracted text is compared with the generated one.
CHECK_DOCUMENTS = 20
_TOKEN = re.compile(r"[\w-]+")


def warm(paths: list[Path]) -> int:
    """Read every file of ``paths`` (files, or folders walked) once, so
    that its pages are in the page cache; returns the bytes read."""
    total = 0
    for path in paths:
        files = [path] if path.is_file() else [p for p in sorted(path.rglob("*")) if p.is_file()]
        for file in files:
            with open(file, "rb") as handle:
                while chunk := handle.read(1 << 22):
                    total += len(chunk)
    return total


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Data


def link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_queries(documents: int, records: dict[int, dict[str, Any]], count: int,
                 seed: int) -> list[Query]:
    """The query mix, drawn from pages of ``QUERY_POOL`` of the documents (as
    generated, not as extracted): ``words`` 1-3 mid-frequency or THB words of
    one page; ``phrase`` a THB phrase on a page (or two adjacent content
    words), sometimes with one more word of the page; ``filtered`` 1-2 words
    of a page with one or two facet values of its record.  Every query matches
    at least the page it came from in every engine."""
    rng = random.Random(f"fulltext-queries-{seed}")
    vocabulary = build_vocabulary(seed)
    thb = set(THB_WORDS)
    wanted = {w for w in vocabulary.words if w in thb or vocabulary.rank[w] in MID_RANKS}
    function = set(FUNCTION_WORDS)
    pool = sorted(rng.sample(range(documents), min(documents, QUERY_POOL)))
    pages = {n: pdfgen.document_pages(n, records[n], seed) for n in pool}

    def words(tokens: list[str], k: int) -> tuple[str, ...]:
        candidates = [t.lower() if t.lower() in wanted else t for t in tokens]
        candidates = [t for t in candidates if t in wanted]
        chosen: list[str] = []
        for _ in range(8 * k):
            if len(chosen) == k or not candidates:
                break
            word = rng.choice(candidates)
            if word not in chosen:
                chosen.append(word)
        order = {w: i for i, w in reversed(list(enumerate(candidates)))}
        return tuple(sorted(chosen, key=order.__getitem__))

    def phrase(tokens: list[str]) -> tuple[str, ...]:
        text = f" {' '.join(tokens)} "
        present = [p for p in THB_PHRASES if f" {' '.join(p)} " in text]
        if present:
            return tuple(rng.choice(present))
        pairs = [(a, b) for a, b in zip(tokens, tokens[1:], strict=False)
                 if a.lower() not in function and b.lower() not in function]
        return tuple(rng.choice(pairs)) if pairs else ()

    def k(most: int) -> int:
        counts = [n for n in WORD_COUNTS if n <= most]
        return rng.choices(counts, weights=[WORD_COUNTS[n] for n in counts])[0]

    def facet_value(record: dict[str, Any], facet: str) -> str:
        if facet in ("office", "theme"):
            return str(rng.choice(record["office" if facet == "office" else "themes"]))
        return str(record["type"] if facet == "type" else record["date"][:4])

    queries: list[Query] = []
    while len(queries) < count:
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        n = rng.choice(pool)
        page = rng.choice(pages[n])
        tokens = _TOKEN.findall(page.text)
        record = records[n]
        if kind == "words":
            q = Query(words=words(tokens, k(3)), kind=kind)
        elif kind == "phrase":
            p = phrase(tokens)
            extra = words(tokens, 1) if rng.random() < 0.3 else ()
            lowered = {w.lower() for w in p}
            q = Query(words=tuple(w for w in extra if w.lower() not in lowered), phrase=p,
                      kind=kind)
        else:
            facets = sorted(rng.sample(["office", "theme", "type", "year"],
                                       2 if rng.random() < 0.25 else 1))
            q = Query(words=words(tokens, k(2)), kind=kind,
                      filters=tuple((f, facet_value(record, f)) for f in facets))
        if q.words or q.phrase:
            queries.append(q)
    return queries


def check_extraction(setup: dict[str, Any], records: dict[int, dict[str, Any]],
                     documents: int, seed: int) -> dict[str, Any]:
    """Pages of a sample of documents whose stored text is exactly the
    text drawn on them (running header and footer excluded)."""
    sample = sorted({round(i * documents / CHECK_DOCUMENTS)
                     for i in range(min(documents, CHECK_DOCUMENTS))})
    db = sqlite3.connect(f"file:{setup['texts']}?mode=ro", uri=True)
    compared = equal = 0
    first_difference = None
    try:
        for n in sample:
            rid = pdfgen.record_of(n)
            stored = [t for (t,) in db.execute(
                "SELECT text FROM pages WHERE sha256 = ? ORDER BY page",
                (setup["documents"][rid],))]
            drawn = [p.text for p in pdfgen.document_pages(n, records[n], seed)]
            for number, (got, want) in enumerate(zip(stored, drawn, strict=False), start=1):
                compared += 1
                equal += got == want
                if got != want and first_difference is None:
                    at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False))
                               if a != b), min(len(got), len(want)))
                    first_difference = {"record": rid, "page": number,
                                        "stored": got[max(0, at - 60):at + 60],
                                        "drawn": want[max(0, at - 60):at + 60]}
            if len(stored) != len(drawn):
                first_difference = first_difference or {
                    "record": rid, "pages_stored": len(stored), "pages_drawn": len(drawn)}
    finally:
        db.close()
    return {"documents": len(sample), "pages": compared, "equal": equal,
            "first_difference": first_difference}


# ---------------------------------------------------------------------------
# Measuring


def child(command: str, engine: str, setup_file: Path, *extra: str) -> list[str]:
    return [sys.executable, str(WORKER), command, engine, str(setup_file), *extra]


def measured(cmd: list[str]) -> dict[str, Any]:
    run = measure.run_measured(cmd, cwd=HERE)
    return {**run.output, "wall": run.wall,
            "tree_peak_mb": max(run.tree_peak_kb, run.output.get("peak_rss_kb", 0)) / 1024}


def latency_figures(out: dict[str, Any]) -> dict[str, Any]:
    hits = [h for per_query in out["hits"] for h in per_query]
    totals = [t for t in out["totals"] if t is not None]
    return {
        "top10_ms": measure.summary(out["top10_ms"]),
        "facets_ms": measure.summary(out["facets_ms"]),
        "open_seconds": out["open_seconds"],
        "mean_records_matched": statistics.fmean(totals) if totals else None,
        "queries_without_hits": sum(1 for h in out["hits"] if not h),
        "hits": len(hits), "hits_with_page": sum(1 for _, page in hits if page),
        "hits_listing_pages": sum(1 for per_query in out["pages_listed"] if per_query
                                  for n in per_query if n),
        "peak_rss_mb": out["peak_rss_kb"] / 1024,
        "per_query": {k: out[k] for k in ("top10_ms", "facets_ms", "totals", "hits",
                                          "snippet_chars", "facet_values",
                                          "pages_listed")},
    }


def cold(engine: str, setup_file: Path, queries: list[Query], runs: int) -> dict[str, Any]:
    per_query = []
    for q in queries:
        times = measure.wall_times(child("first", engine, setup_file, json.dumps(q.to_dict())),
                                   runs, cwd=HERE)
        per_query.append({"query": q.to_dict(), "seconds": times,
                          "median": statistics.median(times)})
    return {"median": statistics.median(p["median"] for p in per_query), "runs": runs,
            "per_query": per_query}


def cold_queries(queries: list[Query]) -> list[Query]:
    """The first two-word query, the first phrase and the first filtered query."""
    tests = [lambda q: q.kind == "words" and len(q.words) == 2,
             lambda q: q.kind == "phrase", lambda q: q.kind == "filtered"]
    return [next(q for q in queries if test(q)) for test in tests]


def step(row: dict[str, Any], key: str, message: str, func: Any) -> bool:
    """Run one measurement into ``row[key]``, noting the 1-minute load
    average as it starts (in ``row["load"]``)."""
    log(f"{row['label']}: {message}")
    row.setdefault("load", {})[key] = os.getloadavg()[0]
    try:
        row[key] = func()
        return True
    except Exception as exc:  # noqa: BLE001 - one failing step must not stop the run
        text = str(exc) if isinstance(exc, measure.ChildFailed) else f"{type(exc).__name__}: {exc}"
        log(f"{row['label']}: {key} failed: {text}")
        row.setdefault("errors", {})[key] = text
        return False


# ---------------------------------------------------------------------------
# The run


def environment() -> dict[str, Any]:
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"date": dt.datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(), "platform": platform.platform(),
            "cpus": len(os.sched_getaffinity(0)),
            "versions": {d: version(d) for d in ("thb-search", "whoosh3", "pypdfium2", "fpdf2",
                                                 "tantivy")},
            "sqlite": sqlite3.sqlite_version, "load_average_at_start": os.getloadavg(),
            "thb_search_from": str(Path(importlib.util.find_spec("thb_search").origin).parent)}


def prepare(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The data, the corpus folder and the setup file the child processes read."""
    catalogue, _ = ensure_data(CATALOGUE_SIZE, args.seed)
    start = time.perf_counter()
    manifest = pdfgen.ensure_pdfs(args.documents, args.seed, args.workers, log=log)
    generation_wall = time.perf_counter() - start
    folder = pdfgen.folder_for(args.seed)
    records = pdfgen.records_for(args.documents, args.seed)
    work = args.out / f"fulltext-work-{args.documents}"
    shutil.rmtree(work, ignore_errors=True)
    corpus = work / "corpus"
    link_or_copy(catalogue, corpus / catalogue.name)
    documents = {}
    for n in range(args.documents):
        rid = pdfgen.record_of(n)
        pdf = folder / pdfgen.pdf_name(n)
        link_or_copy(pdf, corpus / "documents" / rid / pdf.name)
        documents[rid] = sha256_of(pdf)
    extras = [{"rid": pdfgen.record_of(n), "pdf": str(folder / pdfgen.pdf_name(n)),
               "sha256": sha256_of(folder / pdfgen.pdf_name(n))}
              for n in range(pdfgen.FIRST_EXTRA, pdfgen.FIRST_EXTRA + 2 * ADD_COUNT)]
    log("drawing the query mix")
    queries = make_queries(args.documents, records, args.queries, args.seed)
    index = work / "thb-index"
    setup = {"work": str(work), "catalogue": str(catalogue), "corpus": str(corpus),
             "index": str(index), "texts": str(index / "texts.sqlite"),
             "documents": documents, "queries": [q.to_dict() for q in queries],
             "warmup": args.warmup, "add": extras[:ADD_COUNT], "add_batch": extras[ADD_COUNT:]}
    files = [manifest["files"][pdfgen.pdf_name(n)] for n in range(args.documents)]
    data = {
        "catalogue": str(catalogue), "records": CATALOGUE_SIZE, "seed": args.seed,
        "documents": args.documents,
        "pages": sum(f["pages"] for f in files),
        "pdf_bytes": sum(f["bytes"] for f in files),
        "pages_per_document": [min(f["pages"] for f in files), max(f["pages"] for f in files)],
        "generation": {"runs": manifest["runs"],
                       "this_run_wall_seconds": generation_wall,
                       "worker_seconds": sum(f["seconds"] for f in files)},
    }
    setup_file = work / "setup.json"
    setup_file.write_text(json.dumps(setup, indent=1), "utf-8")
    return setup, data, setup_file


def run(args: argparse.Namespace) -> dict[str, Any]:
    env = environment()
    setup, data, setup_file = prepare(args)
    pages = data["pages"]
    queries = [Query.from_dict(d) for d in setup["queries"]]
    cold_set = cold_queries(queries)
    rows: list[dict[str, Any]] = []
    records = pdfgen.records_for(args.documents, args.seed)

    thb: dict[str, Any] = {"engine": "thb", "label": LABELS["thb"]}
    rows.append(thb)
    guard = [] if args.keep_nltk_timeout else ["--no-nltk-timeout"]
    env["nltk_timeout_lifted"] = not args.keep_nltk_timeout
    if not step(thb, "build", f"sync: {args.documents} PDFs ({pages:,} pages) read and indexed",
                lambda: measured(child("build", "thb", setup_file, *guard))):
        return {"environment": env, "data": data, "rows": rows}
    step(thb, "rebuild", "sync(rebuild=True), the texts in the store",
         lambda: measured(child("build", "thb", setup_file, "--rebuild", *guard)))
    index = Path(setup["index"])
    thb["size"] = {"index_bytes": measure.disk_size(index),
                   "texts_bytes": measure.disk_size(index / "texts.sqlite")}
    step(thb, "extraction", "comparing extracted pages with the generated text",
         lambda: check_extraction(setup, records, args.documents, args.seed))
    others = []
    for name in args.engines:
        row = {"engine": name, "label": LABELS[name]}
        rows.append(row)
        if name == "tantivy" and importlib.util.find_spec("tantivy") is None:
            row["skipped"] = "tantivy is not importable (pip install tantivy)"
            log(f"skipping Tantivy: {row['skipped']}")
            continue
        if step(row, "build", f"indexing {pages:,} pages and {CATALOGUE_SIZE:,} records",
                lambda name=name: measured(child("build", name, setup_file))):
            path = Path(setup["work"]) / ("sqlite" if name == "sqlite" else "tantivy")
            row["size"] = {"index_bytes": measure.disk_size(path)}
            others.append(row)
    for row in [thb, *others]:
        name = row["engine"]
        step(row, "latency", f"{len(queries)} queries, top 10 then with facets",
             lambda name=name: latency_figures(measured(child("latency", name, setup_file))))
        step(row, "cold", f"new process x{args.cold_runs} for {len(cold_set)} queries",
             lambda name=name: cold(name, setup_file, cold_set, args.cold_runs))
    for row in [thb, *others]:
        name = row["engine"]
        # Every engine's add starts with its index and the PDFs it adds in
        # the page cache (untimed): this machine's kernel drops pages unused
        # for a few minutes, and the first engine to add read the PDFs from
        # disk for the others.
        row["warmed_mb"] = round(warm([index if name == "thb" else Path(setup["work"]) / name,
                                       *(Path(item["pdf"]) for item in
                                         setup["add"] + setup["add_batch"])]) / 1e6, 1)
        step(row, "add", f"adding {ADD_COUNT} documents one by one, then {ADD_COUNT} at once",
             lambda name=name: measured(child("add", name, setup_file,
                                              *(guard if name == "thb" else []))))
    if not args.keep_indexes:
        shutil.rmtree(setup["work"], ignore_errors=True)
    env["load_average_at_end"] = os.getloadavg()
    return {"environment": env, "data": data, "queries": setup["queries"],
            "cold_queries": [q.to_dict() for q in cold_set], "warmup": args.warmup,
            "rows": rows}


# ---------------------------------------------------------------------------
# The report


def _mb(n: float | None) -> str:
    return "–" if n is None else f"{n / 1e6:,.0f}" if n >= 10e6 else f"{n / 1e6:,.1f}"


def _n(x: float | None, digits: int = 3) -> str:
    """A figure with ``digits`` significant digits, thousands separated."""
    if x is None:
        return "–"
    if x >= 10 ** (digits - 1):
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _ms(s: dict[str, float] | None) -> str:
    return "–" if s is None else f"{_n(s['p50'])} / {_n(s['p95'])}"


def _add(row: dict[str, Any]) -> str:
    add = row.get("add")
    if not add:
        return "–"
    return f"{_n(sum(e['seconds'] for e in add['each']))} / {_n(add['batch']['seconds'])}"


def targets(results: dict[str, Any]) -> list[str]:
    """Issue 12's targets on this set: thb-search against the engines of the
    run (none where an engine it is measured against did not run)."""
    rows = {r["engine"]: r for r in results["rows"] if "skipped" not in r}
    thb, fts, tan = rows.get("thb", {}), rows.get("sqlite", {}), rows.get("tantivy", {})
    pages = results["data"]["pages"]
    table: list[tuple[str, float | None, float | None, str, bool]] = []

    def add(label: str, ours: float | None, bound: float | None, how: str,
            most: bool = True) -> None:
        table.append((label, ours, bound, how, most))

    def adds(row: dict[str, Any], reading: bool) -> tuple[float | None, float | None]:
        a = row.get("add")
        if not a or (not reading and "read_seconds" not in a["batch"]):
            return None, None
        each = sum(e["seconds"] - (0 if reading else e["read_seconds"]) for e in a["each"])
        batch = a["batch"]["seconds"] - (0 if reading else a["batch"]["read_seconds"])
        return each, batch

    (t_each, t_batch), (o_each, o_batch) = adds(tan, True), adds(thb, True)
    add("Add 10 PDFs at once, reading them (s)", o_batch, t_batch and 3 * t_batch, "3 × Tantivy")
    add("Add 10 PDFs one by one, reading them (s)", o_each, t_each and 3 * t_each, "3 × Tantivy")
    (t_each, t_batch), (o_each, o_batch) = adds(tan, False), adds(thb, False)
    add("… reading left out: at once (s)", o_batch, t_batch and 3 * t_batch, "3 × Tantivy")
    add("… reading left out: one by one (s)", o_each, t_each and 3 * t_each, "3 × Tantivy")
    cold = {k: r["cold"]["median"] for k, r in rows.items() if r.get("cold")}
    add("New process (s)", cold.get("thb"), cold.get("sqlite") and 1.5 * cold["sqlite"],
        "1.5 × FTS5")
    size = {k: r["size"]["index_bytes"] / 1e6 for k, r in rows.items() if r.get("size")}
    add("Index size (MB)", size.get("thb"), size.get("sqlite"), "FTS5's; no Whoosh recipe here")
    ours = pages / thb["rebuild"]["seconds"] if thb.get("rebuild") else None
    theirs = pages / fts["build"]["seconds"] if fts.get("build") else None
    add("Indexing (pages/s)", ours, theirs and theirs / 2, "half of FTS5", most=False)
    add("Build peak RSS (MB)", thb["build"]["tree_peak_mb"] if thb.get("build") else None,
        1024, "1 GiB")
    lat = {k: r["latency"]["facets_ms"] for k, r in rows.items() if r.get("latency")}
    add("Top 10 + facets p50 (ms)", lat.get("thb", {}).get("p50"),
        lat.get("tantivy") and 2 * lat["tantivy"]["p50"], "2 × Tantivy")
    add("Top 10 + facets p95 (ms)", lat.get("thb", {}).get("p95"),
        lat.get("tantivy") and lat["tantivy"]["p95"], "Tantivy")
    out = ["", "#### Issue 12's targets on this set", "",
           "| Target | thb-search | Bound | |", "|---|---:|---:|---|"]
    met = measured = 0
    for label, value, bound, how, most in table:
        if value is None or not bound:
            out.append(f"| {label} | {_n(value)} | not measured ({how}) | |")
            continue
        ok = value <= bound if most else value >= bound
        measured += 1
        met += ok
        out.append(f"| {label} | {_n(value)} | {'≤' if most else '≥'} {_n(bound)} ({how}) | "
                   f"{'met' if ok else '**not met**'} |")
    out += ["", f"{met} of the {measured} measured met. Every engine's add reads the PDFs "
            "(the rows above); the two rows \"reading left out\" compare what is left of "
            "each add once its reading is taken away."]
    return out


def markdown(results: dict[str, Any]) -> str:
    env, data = results["environment"], results["data"]
    pages = data["pages"]
    gen = data["generation"]
    runs = gen["runs"]
    kinds: dict[str, int] = {}
    for q in results.get("queries", []):
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    load = env["load_average_at_start"]
    steps = [x for r in results["rows"] for x in r.get("load", {}).values()]
    busy = (" (the machine was busy before the run started: figures are noisier)"
            if load[0] > 0.5 else "")
    out = [f"### Full-text search: {data['documents']:,} PDFs, {pages:,} pages", "",
           f"{data['records']:,}-record synthetic catalogue (seed {data.get('seed', 42)}), "
           f"the first "
           f"{data['documents']:,} records with a PDF of {data['pages_per_document'][0]}-"
           f"{data['pages_per_document'][1]} pages ({pages / data['documents']:.0f} on average, "
           f"{data['pdf_bytes'] / 1e6:,.0f} MB); {sum(kinds.values())} queries "
           f"({', '.join(f'{v} {k}' for k, v in kinds.items())}), timed after "
           f"{results.get('warmup', 0)} warm-up queries.  Python {env['python']}, "
           f"{env['cpus']} CPUs, {versions}, sqlite {env['sqlite']}; {env['date']}, run took "
           f"{results.get('seconds', 0):.0f} s; load average (1/5/15 min) "
           f"{'/'.join(f'{x:.1f}' for x in load)} at the start{busy}, "
           f"{'/'.join(f'{x:.1f}' for x in env.get('load_average_at_end', load))} at the end"
           + (f", {min(steps):.1f}-{max(steps):.1f} (1 min) as each step started" if steps
              else "") + "."
           + (" thb-search's indexing processes ran with `nltk.redos.DEFAULT_TIMEOUT = None` "
              "(NLTK's 5 s wall-clock limit on a match can fail big syncs: see "
              "`benchmarks/README.md`)."
              if env.get("nltk_timeout_lifted") else ""),
           ""]
    if runs:
        wall = sum(r["wall_seconds"] for r in runs)
        written = sum(r["pages"] for r in runs)
        out += [f"The PDFs (these and the {2 * ADD_COUNT} to add) were written by `pdfgen.py` "
                f"in {wall:.0f} s: {sum(r['documents'] for r in runs):,} files, {written:,} "
                f"pages, {written / wall:,.0f} pages/s with "
                f"{', '.join(sorted({str(r['workers']) for r in runs}))} worker processes"
                + (f" ({len(runs)} runs: " + ", ".join(
                    f"{r['documents']:,} files in {r['wall_seconds']:.0f} s" for r in runs)
                   + ")" if len(runs) > 1 else "")
                + f"; {pages / gen['worker_seconds']:,.0f} pages/s per process.", ""]
    out += ["| Engine | Read PDFs (pages/s) | Index (pages/s) | Index size (MB) | "
            "Build peak RSS (MB) | Top 10 + page p50 / p95 (ms) | + facets p50 / p95 (ms) | "
            "Hits shown with a page | Records matched/query | Query process peak RSS (MB) | "
            "New process (s) | Add 10: one by one / at once (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in results["rows"]:
        if "skipped" in row:
            out.append(f"| {row['label']} | skipped: {row['skipped']} |" + " |" * 10)
            continue
        build = row.get("build")
        lat = row.get("latency")
        if row["engine"] == "thb":
            read = pages / build["read_seconds"] if build and build["read_seconds"] else None
            rebuild = row.get("rebuild")
            index = pages / rebuild["seconds"] if rebuild else None
        else:
            read, index = None, pages / build["seconds"] if build else None
        out.append(" | ".join([
            f"| {row['label']}", _n(read), _n(index),
            _mb(row.get("size", {}).get("index_bytes")),
            _n(build["tree_peak_mb"]) if build else "–",
            _ms(lat["top10_ms"]) if lat else "–", _ms(lat["facets_ms"]) if lat else "–",
            f"{lat['hits_with_page']:,} of {lat['hits']:,}" if lat else "–",
            _n(lat["mean_records_matched"]) if lat else "–",
            _n(lat["peak_rss_mb"]) if lat else "–",
            _n(row["cold"]["median"]) if row.get("cold") else "–", _add(row)]) + " |")
    thb = results["rows"][0]
    if thb.get("build"):
        b, r = thb["build"], thb.get("rebuild")
        size = thb.get("size", {})
        out += ["", "#### thb-search in detail", "",
                "| Step | Seconds | Pages/s | Peak RSS, process tree (MB) |",
                "|---|---:|---:|---:|",
                f"| `sync` of the corpus: PDFs read and indexed | {_n(b['seconds'])} | "
                f"{_n(pages / b['seconds'])} | {_n(b['tree_peak_mb'])} |",
                f"| … reading the PDFs (`documents.read_texts`, {b['documents_read']:,} read) | "
                f"{_n(b['read_seconds'])} | {_n(pages / b['read_seconds'])} | |",
                f"| … the rest (indexing) | {_n(b['index_seconds'])} | "
                f"{_n(pages / b['index_seconds'])} | |"]
        if r:
            out.append(f"| `sync(rebuild=True)`, the texts in the store | {_n(r['seconds'])} | "
                       f"{_n(pages / r['seconds'])} | {_n(r['tree_peak_mb'])} |")
        if size:
            out += ["", f"Index folder {_mb(size['index_bytes'])} MB: the text store "
                    f"`texts.sqlite` {_mb(size['texts_bytes'])} MB, the index itself "
                    f"{_mb(size['index_bytes'] - size['texts_bytes'])} MB."]
        lat = thb.get("latency")
        if lat:
            out += ["", f"Of thb-search's {lat['hits']:,} hits, {lat['hits_with_page']:,} had a "
                    f"`snippet_page` (the snippet is a passage of that page) and "
                    f"{lat['hits_listing_pages']:,} listed matching `pages`."]
        check = thb.get("extraction")
        if check:
            out += ["", f"Extraction check: {check['equal']:,} of {check['pages']:,} pages of "
                    f"{check['documents']} documents have exactly the text drawn on them "
                    "(hyphenated words joined, running header and footer removed)."]
            if check["first_difference"]:
                out.append(f"First difference: `{json.dumps(check['first_difference'])}`")
        add = thb.get("add")
        if add:
            each = add["each"]
            secs = [e["seconds"] for e in each]
            out += ["", f"Adding: `add_files(corpus, index, [pdf], to=ID)` ×{len(each)}: "
                    f"{_n(sum(secs))} s in all, {_n(statistics.median(secs))} s median a call "
                    f"(reading the PDF {_n(statistics.median(e['read_seconds'] for e in each))} "
                    f"s of it); {len(each)} PDFs put into `documents/ID/` and one `sync`: "
                    f"{_n(add['batch']['seconds'])} s (reading them "
                    f"{_n(add['batch']['read_seconds'])} s)."]
    others = [r for r in results["rows"] if r is not thb and r.get("add")
              and "read_seconds" in r["add"]["batch"]]
    if others:
        warmed = [r for r in (thb, *others) if r.get("warmed_mb") is not None]
        if warmed:
            out += ["", "Before each engine's adds, its index and the 20 PDFs were read once, "
                    "untimed (" + ", ".join(f"{r['label']} {r['warmed_mb']:,.0f} MB"
                                            for r in warmed)
                    + "), so that every engine starts with them in the page cache."]
        out += ["", "The other engines read the same PDFs in their timed adds (PDFium's plain "
                "text of each page, `pypdfium2`; the 10 at once by a process per core), then "
                "insert their pages: " + "; ".join(
                    f"{r['label']} {_n(sum(e['seconds'] for e in r['add']['each']))} s one by "
                    f"one (reading {_n(sum(e['read_seconds'] for e in r['add']['each']))} s of "
                    f"it), {_n(r['add']['batch']['seconds'])} s at once (reading "
                    f"{_n(r['add']['batch']['read_seconds'])} s)" for r in others) + "."]
    out += targets(results)
    lat_rows = [r for r in results["rows"] if r.get("latency")]
    if lat_rows:
        out += ["", "#### Queries by kind, with facets: p50 / p95 (ms)", "",
                "| Kind | " + " | ".join(r["label"] for r in lat_rows) + " |",
                "|---|" + "---:|" * len(lat_rows)]
        qs = results.get("queries", [])
        for kind in dict.fromkeys(q["kind"] for q in qs):
            cells = []
            for r in lat_rows:
                times = [t for t, q in zip(r["latency"]["per_query"]["facets_ms"], qs,
                                           strict=True) if q["kind"] == kind]
                cells.append(_ms(measure.summary(times)))
            out.append(f"| {kind} | " + " | ".join(cells) + " |")
        out += ["", "#### New process, one query with facets (median of "
                f"{lat_rows[0].get('cold', {}).get('runs', 0)} runs, s)", "",
                "| Query | " + " | ".join(r["label"] for r in lat_rows) + " |",
                "|---|" + "---:|" * len(lat_rows)]
        for i, q in enumerate(results.get("cold_queries", [])):
            filters = "".join(f" --{f} '{v}'" for f, v in q["filters"])
            cells = [_n(r["cold"]["per_query"][i]["median"]) if r.get("cold") else "–"
                     for r in lat_rows]
            out.append(f"| {q['kind']}: `{q['text']}{filters}` | " + " | ".join(cells) + " |")
    errors = [f"- {r['label']}, {k}: {v.splitlines()[0][:200]}" for r in results["rows"]
              for k, v in r.get("errors", {}).items()]
    if errors:
        out += ["", "Errors:", *errors]
    return "\n".join(out) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1000,
                        help="records with a PDF, at most 1000 [default: 1000]")
    parser.add_argument("--queries", type=int, default=QUERY_COUNT,
                        help=f"queries in the mix [default: {QUERY_COUNT}]")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up queries [default: 20]")
    parser.add_argument("--cold-runs", type=int, default=5,
                        help="runs of each new-process measurement [default: 5]")
    parser.add_argument("--engines", nargs="*", default=["sqlite", "tantivy"],
                        choices=["sqlite", "tantivy"],
                        help="engines beside thb-search [default: sqlite tantivy]")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes writing PDFs [default: one per CPU]")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="data and query seed")
    parser.add_argument("--out", type=Path, default=HERE / "out",
                        help="results and working folder [default: benchmarks/out]")
    parser.add_argument("--keep-indexes", action="store_true",
                        help="keep the indexes in OUT/fulltext-work-N/")
    parser.add_argument("--keep-nltk-timeout", action="store_true",
                        help="leave NLTK's 5 s wall-clock limit on each regular-expression "
                             "match in thb-search's indexing processes (by default it is "
                             "lifted: it can fail big syncs, see benchmarks/README.md)")
    parser.add_argument("--report", type=Path, metavar="JSON",
                        help="only print the report of an earlier run's JSON file")
    args = parser.parse_args(argv)
    if not 1 <= args.documents <= pdfgen.FIRST_EXTRA:
        parser.error(f"--documents must be 1-{pdfgen.FIRST_EXTRA}")
    args.out = args.out.absolute()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        print(markdown(json.loads(args.report.read_text("utf-8"))), end="")
        return 0
    started = time.perf_counter()
    results = run(args)
    results["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"fulltext-{args.documents}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1), "utf-8")
    text = markdown(results)
    stem.with_suffix(".md").write_text(text, "utf-8")
    print(text)
    log(f"done in {results['seconds']:.0f} s; results in {stem}.json")
    return 1 if any("errors" in r for r in results["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
