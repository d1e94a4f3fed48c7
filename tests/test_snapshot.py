"""A catalogue kept open answers after each commit exactly as a new one does.

A kept-open catalogue keeps what it had read of the segments a commit left
alone (the engine's caches, carried over); each answer after adds, updates,
removals, deletions and merges of segments must be the one a catalogue opened
afresh gives: the same ids in the same order, the same scores and facet
counts.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
from pathlib import Path

import pytest

from pdfs import pages_pdf
from thb_search import Catalogue, sync

WORDS = ("border police victim shelter labour market supply chain audit court judge "
         "witness child online platform debt bondage domestic worker migrant route "
         "referral hotline survivor network training budget report council mission").split()
BODY_WORDS = ("zebrafinch albatross harbour ledger border shelter bondage courier "
              "manifest").split()
TYPES = ("Report", "Factsheet", "Guide")
OFFICES = ("Vienna", "Warsaw", "Skopje", "Kyiv")

QUERIES: list[dict[str, object]] = [
    {"query": "border police"},
    {"query": "victim shelter", "match": "any"},
    {"query": "supply chain audit"},
    {"query": '"debt bondage"'},
    {"query": "title:court judge"},
    {"query": 'summary:"migrant route"'},
    {"query": "report -council"},
    {"query": "refer*"},
    {"query": "judg~"},
    {"query": "zebrafinch"},
    {"query": '"albatross harbour"'},
    {"query": "border bondage", "match": "any", "limit": 30},
    {"query": "body:shelter ledger"},
    {"query": "child online", "office": ["Warsaw"]},
    {"query": "network", "type": ["Factsheet"], "year": ["2015-2020"]},
    {"query": "", "theme": ["Labour"]},
    {"query": "", "sort": "title", "limit": 20},
    {"query": "training budget", "sort": "date"},
    {"query": "hotline", "explain": True},
    {"query": "mission council court", "page": 2, "limit": 5},
]


def _records(rng: random.Random, ids: range, documents: Path | None = None,
             tag: str = "") -> list[dict[str, object]]:
    records = []
    for i in ids:
        record: dict[str, object] = {
            "id": f"r{i:04d}",
            "title": " ".join(rng.choices(WORDS, k=rng.randint(2, 7))) + tag,
            "summary": " ".join(rng.choices(WORDS, k=rng.randint(5, 40))),
            "date": f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "type": rng.choice(TYPES),
            "office": rng.sample(OFFICES, rng.randint(1, 2)),
            "themes": ["Labour"] if rng.random() < 0.4 else ["Justice"],
        }
        if documents is not None and rng.random() < 0.2:
            pdf = documents / f"r{i:04d}{tag.strip()}.pdf"
            pages_pdf(pdf, [[" ".join(rng.choices(BODY_WORDS, k=12)) for _ in range(3)]
                            for _ in range(rng.randint(1, 2))])
            record["file"] = str(pdf)
        records.append(record)
    return records


def _write(path: Path, records: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _answers(cat: Catalogue) -> list[object]:
    out: list[object] = []
    for q in QUERIES:
        result = cat.search(**q)  # type: ignore[arg-type]
        # Hits compare exactly (ids, order, scores, snippets), as do facet counts.
        out.append((q, result))
        out.append(cat.ranked_ids(str(q["query"]) or "border", depth=50))
    ids = [hit.id for hit in cat.search("border", limit=3).hits]
    out.append([cat.similar(rid) for rid in ids])
    out.append((len(cat), cat.facets()))
    return out


def _segments(cat: Catalogue) -> dict[str, int]:
    """Each segment's name and first document number."""
    return {s.name: s.start for s in cat._latest().engine.layout.segments}


def test_a_catalogue_kept_open_answers_as_a_new_one_after_every_commit(
        tmp_path: Path) -> None:
    rng = random.Random(12)
    corpus, documents, index = tmp_path / "corpus", tmp_path / "docs", tmp_path / "index"
    corpus.mkdir()
    documents.mkdir()
    base = _records(rng, range(240), documents)
    _write(corpus / "base.jsonl", base)
    sync(index, [corpus])

    def step_add(n: int, count: int = 0) -> None:
        start = 1000 + 200 * n
        count = count or rng.randint(2, 6)
        _write(corpus / f"add-{n}.jsonl",
               _records(rng, range(start, start + count), documents, f" a{n}"))

    def step_update() -> None:
        for i in rng.sample(range(len(base)), 6):
            base[i] = _records(rng, range(i, i + 1), documents, " updated")[0]
        _write(corpus / "base.jsonl", base)

    def step_remove() -> None:
        for i in sorted(rng.sample(range(len(base)), 5), reverse=True):
            del base[i]
        _write(corpus / "base.jsonl", base)

    # Whoosh merges the small segments once there are five or more, and lists
    # the others by size: the segment of the 120 records then comes before
    # the first one, and both move.
    steps = [
        lambda: step_add(0, 120), lambda: step_add(1), step_update, lambda: step_add(2),
        step_remove, lambda: step_add(3), lambda: step_add(4),
        lambda: (corpus / "add-1.jsonl").unlink(), step_update, lambda: step_add(5),
        step_remove,
    ]
    merged = deleted_only = moved = False
    with Catalogue(index) as kept:
        _answers(kept)  # read every posting list the queries need
        for n, step in enumerate(steps):
            before = _segments(kept)
            step()
            sync(index, [corpus])
            with Catalogue(index) as fresh:
                expected = _answers(fresh)
                after = _segments(fresh)
            assert kept._latest().engine._cache, "what was read is carried over"
            answers = _answers(kept)
            for got, want in zip(answers, expected, strict=True):
                assert got == want, (n, got)
            merged |= bool(set(before) - set(after)) and bool(set(after) - set(before))
            deleted_only |= after == before
            moved |= any(before[name] != start for name, start in after.items()
                         if name in before)
    assert merged, "a commit merged segments"
    assert deleted_only, "a commit only deleted documents"
    assert moved, "segments a commit kept moved"


@pytest.mark.parametrize("kept", [False, True])
def test_a_rebuild_starts_afresh(tmp_path: Path, kept: bool) -> None:
    rng = random.Random(3)
    corpus = tmp_path / "c.jsonl"
    _write(corpus, _records(rng, range(50)))
    sync(tmp_path / "index", [corpus])
    with Catalogue(tmp_path / "index") as cat:
        cat.search("border police")
        _write(corpus, _records(rng, range(50)))
        sync(tmp_path / "index", [corpus], rebuild=True)
        if kept:
            cat.search("border police")
        with Catalogue(tmp_path / "index") as fresh:
            assert cat.search("border police") == fresh.search("border police")


def test_a_commit_takes_over_the_readers_of_segments_it_left_alone(tmp_path: Path) -> None:
    """A kept-open catalogue does not open again a segment a commit left as it
    was (same documents, same deletions); a segment whose deletions changed is
    read afresh, and the reader it replaces is closed."""
    from thb_search.snapshot import let_go_done

    rng = random.Random(5)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    base = _records(rng, range(60))
    _write(corpus / "base.jsonl", base)
    sync(index, [corpus])
    _write(corpus / "a.jsonl", _records(rng, range(100, 105), tag=" a"))
    sync(index, [corpus])

    def leaves(cat: Catalogue) -> dict[str, object]:
        cat.search("border")
        return {leaf.segment().segment_id(): leaf
                for leaf, _ in cat._latest()._reader.leaf_readers()}

    with Catalogue(index) as kept:
        first = leaves(kept)
        assert len(first) == 2
        _write(corpus / "b.jsonl", _records(rng, range(200, 204), tag=" b"))
        sync(index, [corpus])  # adds a segment: the two others are left alone
        second = leaves(kept)
        assert len(second) == 3
        assert all(second[name] is leaf for name, leaf in first.items())
        base[0] = _records(rng, range(0, 1), tag=" updated")[0]
        _write(corpus / "base.jsonl", base)
        sync(index, [corpus])  # deletes the old copy of r0000 in the base segment
        third = leaves(kept)
        let_go_done()
        (base_segment,) = [name for name, leaf in first.items()
                           if leaf.segment().doc_count_all() == 60]  # type: ignore[attr-defined]
        assert third[base_segment] is not second[base_segment]
        assert second[base_segment].is_closed  # type: ignore[attr-defined]
        taken_over = [name for name in second if name != base_segment and name in third]
        assert taken_over and all(third[name] is second[name] and
                                  not third[name].is_closed  # type: ignore[attr-defined]
                                  for name in taken_over)
        assert [h.id for h in kept.search("updated").hits] == ["r0000"]
    with Catalogue(index) as fresh:
        assert len(fresh) == 69


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_lets_go_in_a_thread_of_its_own() -> None:
    """A process forked after its parent let a snapshot go (the thread that
    frees it is not copied) frees what it lets go itself."""
    from thb_search.snapshot import _let_go, let_go_done

    _let_go([], [object()])
    let_go_done()
    pid = os.fork()
    if pid == 0:  # the child: closes and frees within the alarm, or is killed
        signal.alarm(10)
        closed: list[bool] = []
        _let_go([lambda: closed.append(True)], [object()])
        let_go_done()
        os._exit(0 if closed == [True] else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_replaced_snapshot_is_freed_without_the_cycle_collector(tmp_path: Path) -> None:
    """What a commit replaces (the engine, its arrays mapped from a removed
    file) is freed when it is let go, not whenever Python's cycle collector
    next runs: a kept-open catalogue that sees many commits does not grow."""
    import gc
    import weakref

    from thb_search.snapshot import let_go_done

    rng = random.Random(8)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    _write(corpus / "base.jsonl", _records(rng, range(30)))
    sync(index, [corpus])
    with Catalogue(index) as kept:
        kept.search('"border police"')  # a phrase: the engine reads its marks and scores
        engine = weakref.ref(kept._latest().engine)
        _write(corpus / "a.jsonl", _records(rng, range(100, 103), tag=" a"))
        sync(index, [corpus])
        gc.disable()
        try:
            kept.search("border")  # sees the commit: the old snapshot is let go
            let_go_done()
            assert engine() is None
        finally:
            gc.enable()


@pytest.mark.parametrize("settled", [True, False])
def test_a_search_finds_an_unchanged_index_by_two_stats_once_its_times_settled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settled: bool) -> None:
    """Each search asks whether a commit came since.  Once the index's
    ``CURRENT`` and generation folder have times older than a file system's
    clock tick, their stat answers (nothing read, nothing listed); with times
    as recent as a commit just made, the whole check runs; a commit after
    either is seen by the next search."""
    from thb_search.indexdir import IndexDir

    rng = random.Random(8)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    _write(corpus / "base.jsonl", _records(rng, range(30)))
    sync(index, [corpus])
    gen = IndexDir(index).current()
    assert gen is not None
    if settled:
        hour_ago = (os.stat(gen).st_mtime_ns - 3600 * 10**9,) * 2
        os.utime(gen, ns=hour_ago)
        os.utime(index / "CURRENT", ns=hour_ago)
    checks: list[Path | None] = []
    current = IndexDir.current
    monkeypatch.setattr(IndexDir, "current", lambda self: checks.append(current(self))
                        or checks[-1])
    with Catalogue(index) as cat:
        opened = cat.search("border")
        checks.clear()
        for _ in range(5):
            assert cat.search("border") == opened
        # The opening search checked in full once it had opened (a search
        # asks more than once) and, the times settled, kept the stat.
        assert len(checks) == (0 if settled else 5)
        _write(corpus / "more.jsonl", _records(rng, range(500, 503), tag=" zebrafinch"))
        sync(index, [corpus])
        assert sorted(h.id for h in cat.search("zebrafinch").hits) == [
            "r0500", "r0501", "r0502"]
        assert len(cat) == 33


def test_a_catalogue_asked_again_readies_the_thread_that_lets_go(bundled_index: Path) -> None:
    """A process that searches once (``thb-search QUERY``) starts no thread;
    one that searches again lives on (a server, a notebook) and starts the
    thread that lets go of what a commit replaces before it sees a commit."""
    import subprocess
    import sys

    script = ("import sys; from thb_search import Catalogue, snapshot\n"
              "c = Catalogue(sys.argv[1])\n"
              "for _ in range(int(sys.argv[2])): c.search('trafficking')\n"
              "print(snapshot._LET_GO is not None, c._refresher is not None)")
    started = [subprocess.run([sys.executable, "-c", script, str(bundled_index), str(n)],
                              capture_output=True, text=True, check=True).stdout.strip()
               for n in (1, 2)]
    assert started == ["False False", "True True"]


# ---------------------------------------------------------------------------
# The refresher: a catalogue that lives on opens each commit in a thread


def _descriptors(kind: str) -> int:
    """This process's open descriptors of ``kind`` (``inotify``, ``eventfd``)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += kind in os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed meanwhile
            pass
    return count


def _opened_by_itself(cat: Catalogue, old: object) -> bool:
    """Whether ``cat`` replaces its snapshot ``old`` without being asked
    (waiting up to 10 s for its thread)."""
    import time

    deadline = time.monotonic() + 10
    while cat._snapshot is old and time.monotonic() < deadline:
        time.sleep(0.005)
    return cat._snapshot is not old


def _sync_elsewhere(index: Path, corpus: Path, *options: str) -> None:
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", "import sys; from thb_search import sync; "
                    "sync(sys.argv[1], [sys.argv[2]], rebuild=sys.argv[3:] == ['rebuild'])",
                    str(index), str(corpus), *options], check=True)


def _built(tmp_path: Path, seed: int, count: int,
           tag: str = "") -> tuple[random.Random, Path, Path]:
    """A catalogue of ``count`` records indexed: the random source that made
    them (for more), its folder and its index."""
    rng = random.Random(seed)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    _write(corpus / "base.jsonl", _records(rng, range(count), tag=tag))
    sync(index, [corpus])
    return rng, corpus, index


needs_inotify = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                   reason="the refresher needs inotify (Linux)")


@needs_inotify
def test_a_catalogue_asked_again_opens_each_commit_before_its_next_search(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A catalogue that lives on opens a commit another process signs (an
    add, a rebuild that swaps generations, an add to the new generation) in a
    thread of its own: the next search opens nothing and answers from the new
    state.  Closing the catalogue ends the thread and closes its files."""
    from thb_search.snapshot import Snapshot

    rng, corpus, index = _built(tmp_path, 11, 20)
    watching, waking = _descriptors("inotify"), _descriptors("eventfd")
    opened: list[object] = []
    real_open = Snapshot.open.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Snapshot], *args: object, **kwargs: object) -> Snapshot:
        opened.append(threading.get_ident())
        return real_open(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Snapshot, "open", classmethod(counted))
    with Catalogue(index) as cat:
        cat.search("border")
        assert _descriptors("inotify") == watching  # asked once: no thread yet
        cat.search("border")
        assert cat._refresher is not None and cat._refresher.watching.wait(10)
        assert (_descriptors("inotify"), _descriptors("eventfd")) == (watching + 1, waking + 1)
        steps = [("add", "more.jsonl", range(500, 503), 23), ("rebuild", None, None, 23),
                 ("add", "late.jsonl", range(600, 602), 25)]
        for step, name, ids, total in steps:
            old = cat._snapshot
            opened.clear()
            if name is not None:
                _write(corpus / name, _records(rng, ids, tag=" zebrafinch"))
            _sync_elsewhere(index, corpus, *(["rebuild"] if step == "rebuild" else []))
            assert _opened_by_itself(cat, old), step
            assert opened and threading.get_ident() not in opened, step
            opened.clear()
            assert sorted(h.id for h in cat.search("zebrafinch", limit=50).hits) == [
                f"r{i:04d}" for i in (*range(500, 503), *range(600, 602))][:total - 20]
            assert len(cat) == total
            assert opened == [], step  # the search opened nothing
    assert (_descriptors("inotify"), _descriptors("eventfd")) == (watching, waking)


@needs_inotify
def test_a_search_during_the_refreshers_opening_waits_for_the_new_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A search that starts while the refresher opens a commit neither
    answers from the state before it nor opens the commit a second time: it
    waits for the opening, then answers from the new state."""
    from thb_search.snapshot import Snapshot

    rng, corpus, index = _built(tmp_path, 15, 10)
    opening, go = threading.Event(), threading.Event()
    opened_by: list[int] = []
    real_open = Snapshot.open.__func__  # type: ignore[attr-defined]

    def slow(cls: type[Snapshot], *args: object, **kwargs: object) -> Snapshot:
        opened_by.append(threading.get_ident())
        if threading.current_thread() is not threading.main_thread():
            opening.set()
            assert go.wait(10)
        return real_open(cls, *args, **kwargs)  # type: ignore[no-any-return]

    with Catalogue(index) as cat:
        cat.search("border")
        cat.search("border")
        assert cat._refresher is not None and cat._refresher.watching.wait(10)
        monkeypatch.setattr(Snapshot, "open", classmethod(slow))
        _write(corpus / "more.jsonl", _records(rng, range(500, 502), tag=" zebrafinch"))
        _sync_elsewhere(index, corpus)
        assert opening.wait(10)  # the refresher is opening the commit
        found: list[list[str]] = []
        searcher = threading.Thread(
            target=lambda: found.append(sorted(h.id for h in cat.search("zebrafinch").hits)))
        searcher.start()
        searcher.join(0.2)
        assert found == []  # waiting for the opening
        go.set()
        searcher.join(10)
        assert found == [["r0500", "r0501"]]
        assert len(opened_by) == 1  # by the refresher only


@needs_inotify
@pytest.mark.filterwarnings("ignore::ResourceWarning",
                            "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_catalogue_dropped_unclosed_ends_its_refresher(tmp_path: Path) -> None:
    """A catalogue collected without being closed: its thread ends (within
    ``LOOK_MS``) and closes its files; the thread does not keep it alive.
    (The reader's files of a catalogue left unclosed are left to the collector
    too, with a warning, as ever: ignored here.)"""
    import gc
    import time

    from thb_search.refresher import LOOK_MS

    _, _, index = _built(tmp_path, 12, 10)
    watching = _descriptors("inotify")
    cat = Catalogue(index)
    cat.search("border")
    cat.search("border")
    assert cat._refresher is not None and cat._refresher.watching.wait(10)
    assert _descriptors("inotify") == watching + 1
    del cat
    gc.collect()
    deadline = time.monotonic() + LOOK_MS / 1000 + 5
    while _descriptors("inotify") > watching and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _descriptors("inotify") == watching


@pytest.mark.parametrize("missing", ["inotify", "eventfd"])
def test_without_inotify_each_search_sees_commits_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    """Where inotify (or eventfd, which wakes the thread to end it) is
    missing or refused (its per-user limit reached), no thread watches: the
    next search opens the commit, as before."""
    from thb_search import refresher

    if missing == "inotify":
        monkeypatch.setattr(refresher, "_inotify", lambda: -1)
    else:
        monkeypatch.delattr(os, "eventfd", raising=False)
    rng, corpus, index = _built(tmp_path, 13, 10)
    with Catalogue(index) as cat:
        cat.search("border")
        cat.search("border")
        _write(corpus / "more.jsonl", _records(rng, range(500, 502), tag=" zebrafinch"))
        _sync_elsewhere(index, corpus)
        assert sorted(h.id for h in cat.search("zebrafinch").hits) == ["r0500", "r0501"]
        if missing == "eventfd":
            assert cat._refresher is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_of_a_refreshed_catalogue_searches(tmp_path: Path) -> None:
    """A process forked while a thread held its catalogue's lock (the
    refresher opening a commit, a search of another thread): the child's
    catalogue is not locked by a thread it does not have."""
    _, _, index = _built(tmp_path, 14, 10, tag=" zebrafinch")
    with Catalogue(index) as cat:
        cat.search("border")
        cat.search("border")
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with cat._lock:
                held.set()
                release.wait()

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait()
        pid = os.fork()
        if pid == 0:  # the child: searches within the alarm, or is killed
            code = 1
            try:
                signal.alarm(10)
                code = 0 if len(cat.search("zebrafinch").hits) == 10 else 1
            finally:
                os._exit(code)
        release.set()
        holder.join()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
