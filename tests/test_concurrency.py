"""Concurrent use: searches while another process writes, two writers, and a
catalogue kept open (the web server's) over hundreds of commits.

* Readers during writes: reader processes search in a loop (half keep one
  ``Catalogue`` open, as the web server does; half open a new one for each
  search, as the command does) while a writer adds, updates and removes
  records through ``sync``, ``add_files`` and the command (``thb-search add``
  and ``index``).  The writer logs every committed state: the browse answer
  (total and every facet's counts) worked out from the records it wrote, and
  the answers of the other queries as a fresh catalogue gives them right
  after the commit.  No search may fail, every answer must be one of those
  states (one state, never a mix of two), and each reader must see them in
  commit order (never an older state after a newer one).
* Two writers: the second waits for the first, then applies its change; no
  change is lost; a writer killed (SIGKILL) while it holds the lock leaves
  nothing that blocks the next one.
* A catalogue kept open over 500 commits sees each commit on its very next
  search, and its memory (Python allocations, resident size, open files)
  does not grow with the number of commits.

Every way a search failed during writes (in the first test, or in
``scripts/concurrency_soak.py``, which runs it for a minute and prints a
summary) is also reproduced at its exact moment by a test of its own: the
other process is held, or the commit run, at that point (a monkeypatched
step), so that the test fails every time rather than now and then.

Processes are started with "spawn" (never a fork after threads); they
inherit the environment, so the tests' own data folder and signing key
(``user_data`` in conftest.py).
"""

from __future__ import annotations

import gc
import importlib.util
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FACETS = ("office", "theme", "type", "year")
SPAWN = multiprocessing.get_context("spawn")


def generator() -> Any:
    """``benchmarks/generate.py`` (the synthetic catalogue) as a module."""
    spec = importlib.util.spec_from_file_location("thb_generate", REPO / "benchmarks" /
                                                  "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("thb_generate", module)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# What an answer is: a signature to compare with the committed states.

#: The searches the readers run, in turn: (name, keyword arguments of search).
QUERIES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("browse", {}),
    ("keywords", {"query": "trafficking victims"}),
    ("filtered", {"query": "labour", "type": ["Study / report"]}),
    ("phrase, by date", {"query": '"forced labour"', "sort": "date", "limit": 20}),
)

Signature = tuple[Any, ...]


def facet_signature(facets: dict[str, Any]) -> tuple[tuple[str, tuple[tuple[Any, int], ...]],
                                                      ...]:
    """Every facet's (value, count) pairs, in one canonical order."""
    return tuple((name, tuple(sorted(((c.value, c.count) for c in facets[name]),
                                     key=lambda vc: str(vc[0]))))
                 for name in FACETS)


def signature(name: str, result: Any) -> Signature:
    """What must equal a committed state's answer: the total and every facet
    count; for a query with words also the ids of the page of hits, in order."""
    sig: Signature = (result.total, facet_signature(result.facets))
    return sig if name == "browse" else (*sig, tuple(h.id for h in result.hits))


def model_browse(records: Iterator[dict[str, Any]]) -> Signature:
    """The browse answer of a catalogue holding exactly ``records``, worked out
    from the records themselves (not by searching)."""
    counts: dict[str, Counter[Any]] = {name: Counter() for name in FACETS}
    total = 0
    for r in records:
        total += 1
        offices = r["office"] if isinstance(r["office"], list) else [r["office"]]
        counts["office"].update(set(offices))
        counts["theme"].update(set(r["themes"]))
        counts["type"][r["type"]] += 1
        counts["year"][int(r["date"][:4])] += 1
    return (total, tuple((name, tuple(sorted(((v, c) for v, c in counts[name].items() if c),
                                             key=lambda vc: str(vc[0]))))
                         for name in FACETS))


def sums(sig: Signature) -> dict[str, int]:
    return {name: sum(c for _, c in pairs) for name, pairs in sig[1]}


def invariant_problems(name: str, sig: Signature, kwargs: dict[str, Any]) -> list[str]:
    """What does not hold within one answer.  In these catalogues (generate.py)
    every record has exactly one type and one date (so one year), and at least
    one office and one theme.  Facet counts are disjunctive: a facet's counts
    ignore that facet's own filter."""
    total, s = sig[0], sums(sig)
    problems = []
    if s["year"] != total:
        problems.append(f"{name}: years sum to {s['year']}, total {total}")
    if "type" in kwargs:
        chosen = sum(c for v, c in dict(sig[1])["type"] if v in kwargs["type"])
        if chosen != total:
            problems.append(f"{name}: the chosen types count {chosen}, total {total}")
    elif s["type"] != total:
        problems.append(f"{name}: types sum to {s['type']}, total {total}")
    if s["office"] < total or s["theme"] < total:
        problems.append(f"{name}: offices sum to {s['office']}, themes {s['theme']}, "
                        f"total {total}")
    return problems


# ---------------------------------------------------------------------------
# Readers


def reader_main(index: str, kept_open: bool, begin: Any, stop: Any, ready: Any, out: Any,
                nice: int = 0) -> None:
    """A reader process: once ``begin`` is set (the index is built meanwhile),
    search in a loop until ``stop`` is set; put on ``out`` what it saw (each
    query's answers as (signature, times in a row) runs), how many searches,
    which failed and how."""
    import thb_search.retrieval  # noqa: F401  (imported while the index is built)
    from thb_search import Catalogue

    # Readers search flat out, but yield to the writer: on a machine of two
    # cores eight of them would otherwise leave it a ninth of one.
    os.nice(nice)
    begin.wait()
    runs: dict[str, list[list[Any]]] = {name: [] for name, _ in QUERIES}
    searches = failures = 0
    errors: list[str] = []
    kinds: Counter[str] = Counter()
    slowest = 0.0
    catalogue = None
    try:
        n = 0
        while n == 0 or not stop.is_set():
            name, kwargs = QUERIES[n % len(QUERIES)]
            start = time.perf_counter()
            try:
                if kept_open:
                    catalogue = catalogue or Catalogue(index)
                    result = catalogue.search(**kwargs)
                else:
                    with Catalogue(index) as fresh:
                        result = fresh.search(**kwargs)
                json.dumps(result.to_dict())  # rendered, as the web server does
                sig = signature(name, result)
                problems = invariant_problems(name, sig, kwargs)
                if problems:
                    raise AssertionError("; ".join(problems))
            except Exception as exc:
                failures += 1
                kinds[type(exc).__name__] += 1
                if len(errors) < 5:
                    errors.append(traceback.format_exc())
            else:
                seen = runs[name]
                if seen and seen[-1][0] == sig:
                    seen[-1][1] += 1
                else:
                    seen.append([sig, 1])
            searches += 1
            slowest = max(slowest, time.perf_counter() - start)
            if n == 0:
                ready.put(os.getpid())
            n += 1
    finally:
        if catalogue is not None:
            catalogue.close()
        out.put({"pid": os.getpid(), "kept_open": kept_open, "searches": searches,
                 "failures": failures, "errors": errors, "kinds": kinds, "runs": runs,
                 "slowest": slowest})


# ---------------------------------------------------------------------------
# The writer


#: The writer's changes, in turn: (what, through what).  One commit each.
SCHEDULE = (
    ("add", "sync"), ("add", "add_files"), ("update", "sync"), ("remove", "sync"),
    ("add", "sync"), ("update", "sync"), ("add", "command"), ("update", "sync"),
    ("remove", "sync"), ("add", "add_files"), ("update", "command"), ("remove", "sync"),
)


@dataclass
class Writer:
    """Adds, updates and removes records in ``corpus``, indexing each change
    (one commit each), and logs every committed state."""

    corpus: Path
    index: Path
    seed: int = 1
    base: int = 1000
    rebuild_every: int = 0
    states: list[dict[str, Signature]] = field(default_factory=list)
    ops: Counter[str] = field(default_factory=Counter)
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    seconds: Counter[str] = field(default_factory=Counter)  # time taken, by change

    def __post_init__(self) -> None:
        self.gen = generator()
        self.rng = random.Random(self.seed)
        self.pool = self.gen.generate_records(10**7, seed=self.seed)
        self.outside = self.corpus.parent / "incoming"
        self.outside.mkdir(parents=True, exist_ok=True)
        self.numbered = 0

    def records(self, n: int) -> list[dict[str, Any]]:
        return [next(self.pool) for _ in range(n)]

    def build(self) -> None:
        """The first index (state 0)."""
        from thb_search import sync

        self.corpus.mkdir(parents=True, exist_ok=True)
        self.files["base.jsonl"] = self.records(self.base)
        write_records(self.corpus / "base.jsonl", self.files["base.jsonl"])
        self.began = time.monotonic()
        sync(self.index, [self.corpus])
        self.log("build")

    def log(self, op: str) -> None:
        """Record the state just committed (called after each change, when
        this writer, the only one, has returned: nothing else can commit)."""
        from thb_search import Catalogue

        self.seconds[op] += time.monotonic() - self.began
        expected = model_browse(r for rs in self.files.values() for r in rs)
        state = {}
        with Catalogue(self.index) as catalogue:
            for name, kwargs in QUERIES:
                state[name] = signature(name, catalogue.search(**kwargs))
        assert state["browse"] == expected, (
            f"after {op} (commit {len(self.states)}) the index answers {state['browse']!r}, "
            f"the records written give {expected!r}")
        self.states.append(state)
        self.ops[op] += 1

    def step(self) -> None:
        """The next change of :data:`SCHEDULE`, indexed (one commit)."""
        from thb_search import add_files, sync

        self.numbered += 1
        self.began = time.monotonic()
        n = self.numbered
        op, how = SCHEDULE[(n - 1) % len(SCHEDULE)]
        extra = sorted(name for name in self.files if name != "base.jsonl")
        if op != "add" and len(extra) < 2:
            op = "add"  # keep something to update and remove
        if op == "add" and how in ("add_files", "command"):  # copied into the corpus
            name = f"incoming-{n}.jsonl"
            self.files[name] = self.records(self.rng.randint(1, 20))
            write_records(self.outside / name, self.files[name])
            if how == "command":
                self.command("add", str(self.outside / name))
                return self.log("thb-search add")
            report = add_files(self.corpus, self.index, [self.outside / name], wait=60)
            assert [Path(dest).name for _, dest in report.copied] == [name], report
            return self.log("add_files")
        if op == "add":
            name = f"added-{n}.jsonl"
            self.files[name] = self.records(self.rng.randint(1, 20))
            write_records(self.corpus / name, self.files[name])
        elif op == "update":
            name = self.rng.choice(extra)
            records = [self.changed(r) for r in self.files[name]]
            if self.rng.random() < 0.3:  # one gone, one new, in the same file
                records = records[1:] + self.records(1)
            self.files[name] = records
            write_records(self.corpus / name, records)
        else:
            name = self.rng.choice(extra)
            (self.corpus / name).unlink()
            del self.files[name]
        rebuild = bool(self.rebuild_every) and n % self.rebuild_every == 0
        if how == "command":
            self.command("index", *(["--rebuild"] if rebuild else []))
            return self.log(f"thb-search index{' --rebuild' if rebuild else ''} ({op})")
        report = sync(self.index, [self.corpus], wait=60, rebuild=rebuild)
        assert report.changed, report
        self.log(f"sync --rebuild ({op})" if rebuild else f"sync ({op})")

    def changed(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` with another type, office, themes, year and summary."""
        rng = self.rng
        return {**record, "type": rng.choice(self.gen.TYPES),
                "office": rng.sample(self.gen.OFFICES, rng.randint(1, 2)),
                "themes": rng.sample(self.gen.THEMES, rng.randint(1, 3)),
                "date": f"{rng.randint(2000, 2024)}{record['date'][4:]}",
                "summary": record["summary"] + f" Revised {self.numbered} forced labour."}

    def command(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "thb_search", *args, "--wait", "60",
             "--index", str(self.index), "--corpus", str(self.corpus)],
            capture_output=True, text=True, timeout=120, cwd=self.corpus.parent)
        assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------
# Checking what the readers saw


def misplaced(seen: list[Signature], states: list[Signature]) -> list[str]:
    """What is wrong with the answers ``seen`` (a reader's successive distinct
    answers, in the order it got them) given the committed ``states`` in
    commit order: one line per answer that is no committed state, or a state
    older than one the reader had already seen.  States may repeat (an update
    may change nothing a query shows): each answer is matched to the earliest
    state not before the previous answer's."""
    out, at = [], 0
    for k, sig in enumerate(seen):
        found = next((i for i in range(at, len(states)) if states[i] == sig), None)
        if found is not None:
            at = found
        elif sig in states:
            out.append(f"answer {k} is state {states.index(sig)}, older than state {at} "
                       "seen before it")
        else:
            out.append(f"answer {k} is no committed state: {sig!r}")
    return out


@dataclass
class Outcome:
    readers: list[dict[str, Any]]
    states: list[dict[str, Signature]]
    ops: Counter[str]
    seconds: float

    @property
    def searches(self) -> int:
        return sum(r["searches"] for r in self.readers)

    @property
    def failures(self) -> int:
        return sum(r["failures"] for r in self.readers)

    def seen(self) -> set[int]:
        """The commits (state numbers) some reader's browse answer was."""
        browse = [s["browse"] for s in self.states]
        return {i for r in self.readers for sig, _ in r["runs"]["browse"]
                for i, b in enumerate(browse) if b == sig}

    def problems(self) -> list[str]:
        """Every failed search and every answer out of place (empty: all good)."""
        out = []
        for r in self.readers:
            who = f"reader {r['pid']} ({'kept open' if r['kept_open'] else 'reopened'})"
            out += [f"{who}: {e}" for e in r["errors"]]
            if r["failures"] > len(r["errors"]):
                out.append(f"{who}: {r['failures'] - len(r['errors'])} more failed searches")
            for name, _ in QUERIES:
                states = [s[name] for s in self.states]
                wrong = misplaced([sig for sig, _ in r["runs"][name]], states)
                out += [f"{who}, {name}: {w}" for w in wrong]
        return out


def readers_during_writes(corpus: Path, index: Path, *, seconds: float, readers: int,
                          commits: int = 0, base: int = 1000, seed: int = 1,
                          rebuild_every: int = 0, nice: int = 5) -> Outcome:
    """Build an index of ``base`` records, start ``readers`` reader processes,
    change and index the catalogue for ``seconds`` (and at least ``commits``
    times), then stop the readers and collect what they saw."""
    writer = Writer(corpus, index, seed=seed, base=base, rebuild_every=rebuild_every)
    begin, stop, ready, out = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue(), SPAWN.Queue()
    procs = [SPAWN.Process(target=reader_main, daemon=True,
                           args=(str(index), k % 2 == 0, begin, stop, ready, out, nice))
             for k in range(readers)]
    for p in procs:
        p.start()
    results: list[dict[str, Any]] = []
    try:
        writer.build()
        begin.set()
        for _ in procs:  # every reader has answered once before the first change
            ready.get(timeout=120)
        start = time.monotonic()
        while time.monotonic() - start < seconds or writer.numbered < commits:
            writer.step()
        elapsed = time.monotonic() - start
        time.sleep(0.2)  # every reader searches the last state too
        stop.set()
        for _ in procs:
            results.append(out.get(timeout=120))
    finally:
        begin.set()
        stop.set()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
    return Outcome(results, writer.states, writer.ops, elapsed)


# ---------------------------------------------------------------------------
# Writers held at one moment (spawned processes)


def paused_add(corpus: str, index: str, file: str, holding: Any, release: Any,
               out: Any) -> None:
    """``add_files`` of ``file`` that stops half-way through writing the index
    (the lock held, Whoosh's writer open, nothing committed) until ``release``
    is set (never, if None: to be killed there); puts its report's counts on
    ``out``."""
    from thb_search import add_files

    def progress(done: int, total: int) -> None:
        holding.set()
        if release is None:  # not waiting on an Event: a process killed in
            time.sleep(600)  # Event.wait() would hang the next Event.set()
        else:
            release.wait(120)

    report = add_files(corpus, index, [file], wait=60, progress=progress)
    out.put((report.index.added, report.index.total))


def add_at_once(corpus: str, index: str, file: str, both_chose: Any, out: Any) -> None:
    """``add_files`` of ``file``, held for a second where it starts copying,
    or until the other process has come as far (two adds at the same moment:
    since an add holds the writer lock from start to end, the other one waits
    for it instead, and the barrier breaks)."""
    import threading

    import thb_search.adding as adding

    copy = adding._Copies._copy

    def held(self: Any, src: Path, dest: Path) -> None:
        try:
            both_chose.wait(1.0)
        except threading.BrokenBarrierError:
            pass
        copy(self, src, dest)

    adding._Copies._copy = held  # type: ignore[method-assign]
    try:
        report = adding.add_files(corpus, index, [file], wait=60)
        out.put(("ok", [Path(d).name for _, d in report.copied]))
    except Exception as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def signing_held(corpus: str, index: str, committed: Any, go: Any) -> None:
    """``sync`` that, once its commit is written, waits for ``go`` before
    signing it (the moment readers see a commit not signed yet)."""
    import thb_search.indexing as indexing

    sign = indexing.sign

    def held(gen: Path, superseded: Any = (), written: Any = None) -> None:
        committed.set()
        go.wait(60)
        sign(gen, superseded, written)

    indexing.sign = held
    indexing.sync(index, [corpus], wait=60)


def commit_server(corpus: str, index: str, conn: Any) -> None:
    """On each number k received: replace the catalogue's one marker record by
    record k and index the change (one commit); send back the report's counts."""
    from thb_search import sync

    while (k := conn.recv()) is not None:
        record = {"id": marker_id(k), "title": "Commit marker", "date": "2024-05-01",
                  "type": "Poster", "office": ["OSCE Secretariat"], "themes": ["Youth"]}
        (Path(corpus) / "marker.jsonl").write_text(json.dumps(record) + "\n", "utf-8")
        report = sync(index, [corpus], wait=60)
        conn.send((report.added, report.removed, report.total))


def marker_id(k: int) -> str:
    return f"marker-{k:04d}"


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def ids(catalogue: Any) -> set[str]:
    return {h.id for h in catalogue.search(limit=10_000).hits}


# ---------------------------------------------------------------------------
# The tests


def test_readers_during_writes_see_only_committed_states(tmp_path: Path) -> None:
    """Eight readers, 600 records, at least one round of :data:`SCHEDULE` and
    6 s of changes (about 15 s in all on two cores)."""
    outcome = readers_during_writes(tmp_path / "corpus", tmp_path / "index", seconds=6,
                                    readers=8, commits=len(SCHEDULE), base=600)
    problems = outcome.problems()
    assert problems == [], "\n".join(problems)  # every traceback, whole
    assert outcome.failures == 0
    # The writer changed the catalogue in every way while they searched...
    assert len(outcome.states) - 1 >= len(SCHEDULE)
    assert {"sync (add)", "sync (update)", "sync (remove)", "add_files", "thb-search add",
            "thb-search index (update)"} <= set(outcome.ops), outcome.ops
    # ...and every reader searched all along and saw it change.
    assert len(outcome.readers) == 8
    assert all(r["searches"] >= 2 * len(QUERIES) for r in outcome.readers)
    assert len(outcome.seen()) >= 3


def search_once(catalogue: Any | None, index: Path, **options: Any) -> Any:
    """One search: on ``catalogue``, kept open, or (None) on one opened for it."""
    from thb_search import Catalogue

    if catalogue is not None:
        return catalogue.search(**options)
    with Catalogue(index) as opened:
        return opened.search(**options)


def small_index(tmp_path: Path, size: int = 30, seed: int = 3) -> tuple[Path, Path,
                                                                        list[dict[str, Any]]]:
    """(corpus, index, records): the first ``size`` of 60 generated records
    indexed (the rest are for the test to add)."""
    from thb_search import sync

    records = list(generator().generate_records(60, seed=seed))
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    write_records(corpus / "base.jsonl", records[:size])
    sync(index, [corpus])
    return corpus, index, records


@pytest.mark.parametrize("kept_open", [True, False], ids=["kept open", "opened"])
def test_a_search_while_a_commit_is_signed_answers(tmp_path: Path, kept_open: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A search finds a commit not signed yet, then the writer signs it and
    releases the lock before the search asks whether a writer is active: the
    search must still answer (it failed 1 in 3 commits with 8 readers)."""
    import thb_search.indexdir
    import thb_search.snapshot
    from thb_search import Catalogue
    from thb_search.indexdir import IndexDir

    corpus, index, records = small_index(tmp_path)
    states = [model_browse(iter(records[:30])), model_browse(iter(records[:40]))]
    catalogue = Catalogue(index) if kept_open else None
    write_records(corpus / "new.jsonl", records[30:40])
    committed, go = SPAWN.Event(), SPAWN.Event()
    writer = SPAWN.Process(target=signing_held, args=(str(corpus), str(index), committed, go))
    writer.start()
    module: Any = thb_search.snapshot if kept_open else thb_search.indexdir
    verify, problems = module.verify, []

    def verify_then_let_the_writer_finish(gen: Path, **kwargs: Any) -> str | None:
        problem = verify(gen, **kwargs)
        problems.append(problem)
        if len(problems) == 1:
            go.set()
            writer.join(60)  # the commit is signed and the lock released meanwhile
        return problem

    try:
        assert committed.wait(60)
        assert IndexDir(index).writer_active()
        monkeypatch.setattr(module, "verify", verify_then_let_the_writer_finish)
        result = search_once(catalogue, index)
    finally:
        go.set()
        writer.join(60)
        if catalogue is not None:
            catalogue.close()
    assert writer.exitcode == 0
    assert problems[0].startswith("its table of contents _MAIN_")  # the moment was met
    assert problems[0].endswith(".toc is not signed")
    assert signature("browse", result) in states


@pytest.mark.parametrize("kept_open", [True, False], ids=["kept open", "opened"])
def test_a_search_while_a_commit_removes_files_answers(tmp_path: Path, kept_open: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The next commit is sealed (and the files it superseded removed) while
    a search checks the signature of the one before: the search must still
    answer (it failed with FileNotFoundError on a file the signature listed)."""
    import thb_search.trust as trust
    from thb_search import Catalogue, sync

    corpus, index, records = small_index(tmp_path)
    catalogue = Catalogue(index) if kept_open else None
    write_records(corpus / "a.jsonl", records[30:40])
    sync(index, [corpus])  # a commit the catalogue kept open has not seen yet
    states = [model_browse(iter(records[:40])), model_browse(iter(records[:50]))]
    entries, landed = trust._entries, []

    def list_then_commit(gen: Path) -> dict[str, os.DirEntry[str]]:
        listed = entries(gen)
        if not landed:  # another writer seals its commit right after the listing
            landed.append(True)
            write_records(corpus / "b.jsonl", records[40:50])
            landed.append(sync(index, [corpus]).added)
        return listed

    monkeypatch.setattr(trust, "_entries", list_then_commit)
    try:
        result = search_once(catalogue, index)
    finally:
        monkeypatch.undo()
        if catalogue is not None:
            catalogue.close()
    assert landed == [True, 10]
    assert signature("browse", result) in states


@pytest.mark.parametrize("kept_open", [True, False], ids=["kept open", "opened"])
def test_a_search_while_a_rebuild_swaps_generations_answers(
        tmp_path: Path, kept_open: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild swaps in a new generation (and removes the old one) between
    a search opening the live generation and reading it: the search must
    still answer (it failed with Whoosh's EmptyIndexError, a traceback for
    the command)."""
    from thb_search import Catalogue, sync
    from thb_search.indexdir import IndexDir

    corpus, index, records = small_index(tmp_path)
    catalogue = Catalogue(index) if kept_open else None
    write_records(corpus / "a.jsonl", records[30:40])
    assert sync(index, [corpus], rebuild=True).rebuilt  # one the catalogue has not seen
    states = [model_browse(iter(records[:40])), model_browse(iter(records[:50]))]
    open_live, rebuilt = IndexDir.open, []

    def open_then_rebuild(self: IndexDir, trusted: Path | None = None) -> Any:
        ix = open_live(self, trusted)
        if not rebuilt:  # another process rebuilds the index right now
            rebuilt.append(True)
            write_records(corpus / "b.jsonl", records[40:50])
            rebuilt.append(sync(index, [corpus], rebuild=True).total)
        return ix

    monkeypatch.setattr(IndexDir, "open", open_then_rebuild)
    try:
        result = search_once(catalogue, index)
    finally:
        monkeypatch.undo()
        if catalogue is not None:
            catalogue.close()
    assert rebuilt == [True, 50]
    assert signature("browse", result) in states


@pytest.mark.parametrize("kept_open", [True, False], ids=["kept open", "opened"])
def test_a_search_while_commits_merge_its_segments_answers(
        tmp_path: Path, kept_open: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits land while a search reads the publications of its hits, until
    Whoosh merges away a segment of the state the search is reading (the
    commit's seal removes its files): the search must still answer (it
    failed with TypeError: 'NoneType' object is not subscriptable, Whoosh
    finding no stored-fields file, or FileNotFoundError)."""
    from thb_search import Catalogue, sync
    from thb_search.indexdir import IndexDir
    from thb_search.snapshot import Snapshot

    corpus, index, records = small_index(tmp_path)
    for n in range(30, 34):  # a few small segments, which the next commits merge
        write_records(corpus / f"more-{n}.jsonl", records[n:n + 1])
        sync(index, [corpus])
    gen = IndexDir(index).current()
    assert gen is not None
    stored = {p.name for p in gen.glob("*._stored.col")}
    assert len(stored) == 5
    states = [model_browse(iter(records[:n])) for n in range(34, 61)]
    catalogue = Catalogue(index) if kept_open else None
    if catalogue is not None:
        assert len(catalogue) == 34  # its snapshot: no publication read yet
    publication, merged = Snapshot.publication, []

    def commit_until_merged(self: Snapshot, docnum: int) -> Any:
        n = 34
        while not merged and n < 60:  # other writers commit, a record each, meanwhile
            write_records(corpus / f"more-{n}.jsonl", records[n:n + 1])
            sync(index, [corpus])
            n += 1
            if not stored <= {p.name for p in gen.glob("*._stored.col")}:
                merged.append(n - 34)
        return publication(self, docnum)

    monkeypatch.setattr(Snapshot, "publication", commit_until_merged)
    try:
        result = search_once(catalogue, index, limit=100)
    finally:
        monkeypatch.undo()
        if catalogue is not None:
            catalogue.close()
    assert merged == [1]  # the first commit merged away a segment of the state searched
    assert signature("browse", result) in states
    assert len(result.hits) == result.total


def test_a_filtered_search_while_a_commit_lands_answers(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit lands while a catalogue kept open resolves a search's filters:
    the search answers from one state (it read a closed snapshot:
    ReaderClosed)."""
    import thb_search.searching as searching
    from thb_search import Catalogue, sync

    corpus, index, records = small_index(tmp_path)
    chosen = {"type": [records[0]["type"]]}
    with Catalogue(index) as before:
        states = [signature("filtered", before.search(**chosen))]
    resolve, landed = searching.resolve_filters, []

    def commit_then_resolve(*args: Any, **kwargs: Any) -> Any:
        if not landed:  # another writer commits at this moment
            write_records(corpus / "new.jsonl", records[30:60])
            landed.append(sync(index, [corpus]).added)
        return resolve(*args, **kwargs)

    with Catalogue(index) as catalogue:
        catalogue.search()
        monkeypatch.setattr(searching, "resolve_filters", commit_then_resolve)
        result = catalogue.search(**chosen)
        monkeypatch.undo()
        states.append(signature("filtered", catalogue.search(**chosen)))
    assert landed == [30]
    assert states[0] != states[1]
    assert signature("filtered", result) in states


# ---------------------------------------------------------------------------
# Two writers


def journal_stage(corpus: Path, pid: int) -> str | None:
    """The stage of process ``pid``'s add (its journal), or None."""
    try:
        return json.loads((corpus / f".thb-add-{pid}.json").read_text("utf-8"))["stage"]
    except (OSError, ValueError, KeyError):
        return None


def command_add(corpus: Path, index: Path, file: Path, wait: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "thb_search", "add", str(file), "--wait", str(wait), "--json",
         "--index", str(index), "--corpus", str(corpus)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=corpus.parent)


def test_a_second_writer_waits_then_applies_its_change(tmp_path: Path) -> None:
    from thb_search import Catalogue
    from thb_search.indexdir import IndexDir

    corpus, index, records = small_index(tmp_path)
    (tmp_path / "in").mkdir()
    write_records(tmp_path / "in" / "a.jsonl", records[30:40])
    write_records(tmp_path / "in" / "b.jsonl", records[40:55])
    holding, release, out = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    first = SPAWN.Process(target=paused_add, args=(str(corpus), str(index),
                                                   str(tmp_path / "in" / "a.jsonl"), holding,
                                                   release, out))
    first.start()
    second = None
    try:
        assert holding.wait(60)  # the first writer is half-way through its commit
        assert IndexDir(index).writer_active()
        second = command_add(corpus, index, tmp_path / "in" / "b.jsonl", wait=60)
        # The second waits for the lock before it copies anything.
        time.sleep(1.5)
        assert second.poll() is None
        assert journal_stage(corpus, second.pid) is None
        assert not (corpus / "b.jsonl").exists()
        release.set()
        assert out.get(timeout=60) == (10, 40)  # the first: its 10 added, 40 in all
        stdout, stderr = second.communicate(timeout=60)
    finally:
        release.set()
        first.join(60)
        if second is not None and second.poll() is None:
            second.kill()
            second.communicate()
    assert second.returncode == 0, stderr
    report = json.loads(stdout)
    assert [Path(c["to"]).name for c in report["copied"]] == ["b.jsonl"]
    assert (report["index"]["added"], report["index"]["total"]) == (15, 55)
    with Catalogue(index) as catalogue:
        assert ids(catalogue) == {r["id"] for r in records[:55]}  # nothing lost
    assert sorted(p.name for p in corpus.iterdir()) == ["a.jsonl", "b.jsonl", "base.jsonl"]


def test_a_writer_killed_holding_the_lock_never_blocks_the_next(tmp_path: Path) -> None:
    from thb_search import Catalogue, sync
    from thb_search.indexdir import IndexDir
    from thb_search.trust import unsigned, verify

    corpus, index, records = small_index(tmp_path)
    (tmp_path / "in").mkdir()
    write_records(tmp_path / "in" / "a.jsonl", records[30:40])
    write_records(tmp_path / "in" / "b.jsonl", records[40:55])
    holding, out = SPAWN.Event(), SPAWN.Queue()
    first = SPAWN.Process(target=paused_add, args=(str(corpus), str(index),
                                                   str(tmp_path / "in" / "a.jsonl"), holding,
                                                   None, out))
    first.start()
    second = None
    try:
        assert holding.wait(60)  # lock held, Whoosh's writer open, half a segment written
        second = command_add(corpus, index, tmp_path / "in" / "b.jsonl", wait=600)
        time.sleep(1.5)  # it waits for the lock
        assert second.poll() is None and journal_stage(corpus, second.pid) is None
        first.kill()  # SIGKILL
        first.join(60)
        # The waiting writer goes ahead at once (it would wait 600 s for a live one).
        stdout, stderr = second.communicate(timeout=60)
    finally:
        if first.is_alive():
            first.kill()
        first.join(60)
        if second is not None and second.poll() is None:
            second.kill()
            second.communicate()
    assert first.exitcode == -signal.SIGKILL
    assert second.returncode == 0, stderr
    # It finished the killed add (its file was copied; indexing was left).
    assert "An add that was interrupted was finished: corpus/a.jsonl indexed now.\n" in stderr
    report = json.loads(stdout)
    assert (report["index"]["added"], report["index"]["total"]) == (25, 55)
    assert IndexDir(index).writer_active() is False
    assert sync(index, [corpus], wait=0).changed is False  # the next one: no wait at all
    with Catalogue(index) as catalogue:
        assert ids(catalogue) == {r["id"] for r in records[:55]}
    assert sorted(p.name for p in corpus.iterdir()) == ["a.jsonl", "b.jsonl", "base.jsonl"]
    gen = IndexDir(index).current()
    assert gen is not None and verify(gen) is None and unsigned(gen) == []
    assert [p.name for p in gen.iterdir() if ".tmp" in p.name] == []


def test_two_adds_of_files_of_one_name_at_once_keep_both(tmp_path: Path) -> None:
    """Two adds of different files both named new.jsonl, at the same moment
    (each has chosen where to copy its file before either has copied it): the
    second must not replace the first (new.jsonl and new-2.jsonl)."""
    from thb_search import Catalogue

    corpus, index, records = small_index(tmp_path)
    files = [tmp_path / "a" / "new.jsonl", tmp_path / "b" / "new.jsonl"]
    for file, part in zip(files, (records[30:40], records[40:55]), strict=True):
        file.parent.mkdir()
        write_records(file, part)
    both_chose, out = SPAWN.Barrier(2), SPAWN.Queue()
    adds = [SPAWN.Process(target=add_at_once, args=(str(corpus), str(index), str(f),
                                                    both_chose, out)) for f in files]
    for p in adds:
        p.start()
    try:
        outcomes = sorted(out.get(timeout=120) for _ in adds)
    finally:
        for p in adds:
            p.join(60)
            if p.is_alive():
                p.kill()
                p.join()
    assert outcomes == [("ok", ["new-2.jsonl"]), ("ok", ["new.jsonl"])]
    assert sorted(p.name for p in corpus.iterdir()) == ["base.jsonl", "new-2.jsonl",
                                                        "new.jsonl"]
    with Catalogue(index) as catalogue:
        assert ids(catalogue) == {r["id"] for r in records[:55]}


# ---------------------------------------------------------------------------
# A catalogue kept open over many commits


def memory() -> dict[str, int]:
    """This process's memory, after a full collection: Python's allocated
    blocks (every object, numpy arrays' headers included), resident size,
    open files, open snapshots.  (No tracemalloc: it makes each search
    three times slower, and the test would take a minute.)"""
    from thb_search.snapshot import Snapshot, let_go_done

    let_go_done()  # replaced snapshots' files and arrays are let go in a thread
    gc.collect()
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return {"blocks": sys.getallocatedblocks(), "rss": pages * os.sysconf("SC_PAGE_SIZE"),
            "files": len(os.listdir("/proc/self/fd")),
            "snapshots": sum(isinstance(o, Snapshot) for o in gc.get_objects())}


def snapshot_blocks(index: Path) -> int:
    """The Python blocks one more open snapshot of ``index`` holds (searched once)."""
    from thb_search import Catalogue

    before = memory()["blocks"]
    with Catalogue(index) as other:
        other.search("marker")
        held = memory()["blocks"] - before
    return held


@pytest.fixture
def in_memory(tmp_path: Path) -> Iterator[Path]:
    """A folder in /dev/shm where there is one (else ``tmp_path``): the 500
    commits' fsyncs, a third of their time on this disk, are not what is
    tested with them."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="thb-test-") as folder:
        yield Path(folder)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_a_catalogue_kept_open_follows_500_commits_in_bounded_memory(in_memory: Path) -> None:
    """Each commit replaces the one marker record (the catalogue keeps its
    size, so nothing may grow): after each, the next search shows the new
    marker and only it.  From commit 100 to 500 the catalogue's process may
    not keep a snapshot, a file or a reader more: Python's blocks may grow by
    less than half of what one snapshot holds (about 1,000 blocks here, so a
    leak of 2 or more objects a commit fails; measured: under 150), its
    resident size by less than 4 MB (a snapshot's SQLite connections, file
    buffers and arrays are C memory; measured: under 0.1 MB)."""
    from thb_search import Catalogue

    corpus, index, _ = small_index(in_memory, size=20)
    conn, theirs = SPAWN.Pipe()
    server = SPAWN.Process(target=commit_server, args=(str(corpus), str(index), theirs))
    server.start()
    measured: dict[int, dict[str, int]] = {}
    others = memory()["snapshots"]  # other tests' catalogues, open in this process
    try:
        with Catalogue(index) as catalogue:
            assert catalogue.search("marker").total == 0
            for k in range(1, 501):
                conn.send(k)
                assert conn.recv() == ((1, 0, 21) if k == 1 else (1, 1, 21)), k
                # Seen on the very next search: the new marker, and only it (the
                # one before was removed by the same commit).
                result = catalogue.search("marker")
                assert [h.id for h in result.hits] == [marker_id(k)], k
                assert (result.total, len(catalogue)) == (1, 21), k
                if k in (100, 500):
                    measured[k] = memory()
            one_snapshot = snapshot_blocks(index)
    finally:
        conn.send(None)
        server.join(60)
        if server.is_alive():
            server.kill()
            server.join()
    growth = {key: measured[500][key] - measured[100][key] for key in measured[100]}
    print(f"from commit 100 to 500: {growth}; one snapshot holds {one_snapshot} blocks")
    assert measured[100]["snapshots"] == measured[500]["snapshots"] == others + 1
    assert growth["files"] == 0
    assert one_snapshot > 500
    assert growth["blocks"] < one_snapshot // 2
    assert growth["rss"] < 4 * 1024 * 1024


def test_misplaced_accepts_committed_states_in_commit_order_only() -> None:
    states = [(1,), (2,), (2,), (3,), (1,)]
    assert misplaced([(1,), (2,), (3,), (1,)], states) == []
    assert misplaced([(2,), (1,)], states) == []  # the last state is (1,) again
    assert misplaced([(3,), (2,), (4,)], states) == [
        "answer 1 is state 1, older than state 3 seen before it",
        "answer 2 is no committed state: (4,)"]


def test_model_browse_is_what_the_index_answers(tmp_path: Path) -> None:
    from thb_search import Catalogue, sync

    records = list(generator().generate_records(300, seed=7))
    (tmp_path / "corpus").mkdir()
    write_records(tmp_path / "corpus" / "c.jsonl", records)
    sync(tmp_path / "index", [tmp_path / "corpus"])
    with Catalogue(tmp_path / "index") as catalogue:
        result = catalogue.search()
    sig = model_browse(iter(records))
    assert signature("browse", result) == sig
    assert sig[0] == 300 and sums(sig)["type"] == sums(sig)["year"] == 300
    assert invariant_problems("browse", sig, {}) == []
    assert invariant_problems("browse", (301, sig[1]), {}) == [
        "browse: years sum to 300, total 301", "browse: types sum to 300, total 301"]
