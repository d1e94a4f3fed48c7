"""Building the index and keeping it in line with the catalogue.

Layout of an index folder::

    index/
      CURRENT              name of the live generation ("gen-000003")
      .lock                held (flock) by the one process writing
      gen-000003/
        SCHEMA_VERSION     the schema and analysis it was built with
        *.toc *.trm ...    a Whoosh index (see writer.py)
        thb-state.json     what each catalogue file held; each record's fingerprint
        facets-<n>.npz     facet, date, title-order and length arrays (facets.py)
        lexicon.sqlite     the words met, with their terms (lexicon.py)

Incremental runs write into the live generation with Whoosh's own atomic
commits; a rebuild writes a new generation and swaps ``CURRENT`` only when it
is complete, so searches keep working meanwhile and a crash leaves the old
index.  ``thb-state.json`` remembers, per catalogue file, what it held (so
unchanged files are not read again) and, per record, its fingerprint (so
unchanged records are not written again).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from .analysis import (
    FIELD_SEPARATOR,
    add_term_source,
    collecting_words,
    lexicon_entries,
    remove_term_source,
    synonym_lines,
    words_of,
)
from .corpus import (
    Copy,
    Record,
    Resolved,
    display_path,
    find_files,
    fingerprint,
    iter_file,
    merged_record,
    normalized_title,
    resolve,
)
from .errors import (
    CorpusErrors,
    CorpusFormatError,
    IndexLockedError,
    IndexNotFoundError,
    ThbSearchError,
)
from .facets import save_for
from .lexicon import Lexicon
from .schema import SCHEMA_VERSION, build_schema
from .writer import fast_writer, write_new_index

STATE_FILE = "thb-state.json"
VERSION_FILE = "SCHEMA_VERSION"
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".lock"
#: Seconds a writer waits for another writer by default.
DEFAULT_WAIT = 30.0

Notify = Callable[[str], None]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IndexReport:
    """What an indexing run did."""

    index: str
    total: int
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    merged: int = 0
    superseded: int = 0
    files: int = 0
    rebuilt: bool = False
    skipped: tuple[CorpusFormatError, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "total": self.total, "added": self.added,
            "updated": self.updated, "removed": self.removed, "unchanged": self.unchanged,
            "duplicates_merged": self.merged, "duplicates_superseded": self.superseded,
            "files": self.files, "rebuilt": self.rebuilt,
            "skipped": [str(e) for e in self.skipped], "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------
# The index folder


class IndexDir:
    """An index folder: its live generation, its lock, its state."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()

    @property
    def shown(self) -> str:
        shown = display_path(self.root)
        return shown if shown.endswith("/") else shown + "/"

    def current(self) -> Path | None:
        """The live generation's folder, or None when there is no index yet."""
        try:
            name = (self.root / CURRENT_FILE).read_text("utf-8").strip()
        except FileNotFoundError:
            if self.root.is_dir() and any(
                not p.name.startswith(".") and not p.name.startswith("gen-")
                for p in self.root.iterdir()
            ):
                raise IndexNotFoundError(
                    f"{self.shown} is not a thb-search index (it has no CURRENT file but "
                    "holds other files): choose another folder with --index or "
                    "THB_SEARCH_INDEX, or move that folder away") from None
            return None
        path = self.root / name
        return path if name.startswith("gen-") and path.is_dir() else None

    def exists(self) -> bool:
        return self.current() is not None

    def read_state(self, gen: Path | None = None) -> dict[str, Any]:
        gen = gen or self.current()
        if gen is None:
            return {}
        try:
            return json.loads((gen / STATE_FILE).read_text("utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def open(self) -> whoosh_index.Index:
        """Open the live generation for reading (retrying once across a swap)."""
        for attempt in range(3):
            gen = self.current()
            if gen is None:
                raise IndexNotFoundError(
                    f"no index at {self.shown}: run 'thb-search index' to build it")
            try:
                return whoosh_index.open_dir(str(gen))
            except (FileNotFoundError, whoosh_index.EmptyIndexError):
                if attempt == 2:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def is_outdated(self) -> str | None:
        """Why the live index cannot be used as it is (another schema), or None."""
        gen = self.current()
        try:
            version = (gen / VERSION_FILE).read_text("utf-8").strip() if gen else None
        except FileNotFoundError:
            version = None
        if version != SCHEMA_VERSION:
            return (f"the index at {self.shown} was built by another version of "
                    f"thb-search (schema {version or 'unknown'}, now {SCHEMA_VERSION})")
        return None

    @contextlib.contextmanager
    def lock(self, wait: float = DEFAULT_WAIT) -> Iterator[None]:
        """Hold the writer lock, waiting up to ``wait`` seconds for another writer."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + max(wait, 0.0)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
                        who = f" (process {holder})" if holder.isdigit() else ""
                        raise IndexLockedError(
                            f"the index at {self.shown} is being written by another "
                            f"thb-search process{who}; waited {wait:g} s. Try again when "
                            "it has finished, or wait longer with --wait SECONDS") from None
                    time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing releases the flock

    def _new_generation(self) -> Path:
        numbers = [int(p.name[4:]) for p in self.root.glob("gen-*") if p.name[4:].isdigit()]
        gen = self.root / f"gen-{max(numbers, default=0) + 1:06d}"
        gen.mkdir(parents=True)
        return gen

    def _swap(self, gen: Path) -> None:
        tmp = self.root / (CURRENT_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(gen.name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / CURRENT_FILE)
        self._remove_stale(keep=gen)

    def _remove_stale(self, keep: Path | None) -> None:
        for old in self.root.glob("gen-*"):
            if keep is None or old.name != keep.name:
                shutil.rmtree(old, ignore_errors=True)


def _write_state(gen: Path, sources: list[str], generation: int,
                 files: dict[str, _FileState], records: dict[str, Any]) -> None:
    """Write the state a piece at a time (no one string of it all in memory)."""
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    tmp = gen / (STATE_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f'{{"sources":{dump(sources)},"generation":{generation},"files":{{')
        for n, (path, entry) in enumerate(files.items()):
            f.write(("," if n else "") + f'{dump(path)}:{{"size":{entry.size},'
                    f'"mtime_ns":{entry.mtime_ns},"copies":[')
            for start in range(0, len(entry.copies), 10_000):
                f.write(("," if start else "") + ",".join(
                    dump([c.id, c.line, c.core_hash, c.offices, c.themes, c.fingerprint])
                    for c in entry.copies[start:start + 10_000]))
            f.write("]}")
        f.write('},"records":{')
        ids = list(records)
        for start in range(0, len(ids), 10_000):
            f.write(("," if start else "") + ",".join(
                f"{dump(rid)}:{dump(records[rid].fingerprint)}"
                for rid in ids[start:start + 10_000]))
        f.write("}}")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, gen / STATE_FILE)


@dataclass
class _FileState:
    """What one catalogue file held when last read."""

    size: int
    mtime_ns: int
    copies: list[Copy]


# ---------------------------------------------------------------------------
# Records to documents


def to_document(record: Record, fp: str) -> dict[str, Any]:
    """The Whoosh document of a record."""
    doc: dict[str, Any] = {
        "id": record.id,
        "text": record.title + FIELD_SEPARATOR + record.summary,
        "office": list(record.offices),
        "themes": list(record.themes),
        "type": [record.type] if record.type else [],
        "year": [str(record.year)] if record.date else [],
        "datenum": int(record.date.strftime("%Y%m%d")) if record.date else 0,
        "title_sort": (normalized_title(record.title or record.summary)[:200]
                       or record.id).encode("utf-8"),
        "title": record.title,
        "summary": record.summary,
        "date": record.date.isoformat() if record.date else "",
        "publisher": record.publisher,
        "url": record.url,
        "collections": list(record.collections),
        "fingerprint": fp,
    }
    return {k: v for k, v in doc.items() if v != "" or k in ("title", "summary")}


# ---------------------------------------------------------------------------
# Reading the catalogue


#: Parsed records kept in memory between reading the catalogue and writing
#: the index (files read again when written beyond this: bounds memory).
RETAIN_RECORDS = 20_000


@dataclass
class _Scan:
    """The catalogue as the indexer sees it: copies of records by id, what
    each file held, the records kept from reading it."""

    files: list[Path]
    kept: dict[str, list[Record]] = field(default_factory=dict)
    copies: dict[str, Copy | list[Copy]] = field(default_factory=dict)  # a list: duplicates
    values: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    errors: list[CorpusFormatError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    file_state: dict[str, _FileState] = field(default_factory=dict)
    retained: int = 0
    changed: bool = False  # a file was read, or one is gone, since the last state

    def read(self, path: str, mtime_ns: int, size: int) -> list[Copy]:
        """Read a file: its copies; its records are kept while few."""
        copies: list[Copy] = []
        records: list[Record] | None = []
        errors_before = len(self.errors)
        for item in iter_file(path):
            if isinstance(item, Record):
                core = item.core_hash()
                copies.append(self.copy(item.id, path, item.line, mtime_ns, core, item.offices,
                                        item.themes,
                                        fingerprint(core, item.offices, item.themes)))
                if records is not None:
                    records.append(item)
                    if self.retained + len(records) > RETAIN_RECORDS:
                        records = None
            elif isinstance(item, CorpusFormatError):
                self.errors.append(item)
            else:
                self.warnings.append(item)
        if records is not None:
            self.kept[path] = records
            self.retained += len(records)
        if len(self.errors) == errors_before:
            self.file_state[path] = _FileState(size, mtime_ns, copies)
        return copies

    def copy(self, rid: str, path: str, line: int, mtime_ns: int, core: str,
             offices: Sequence[str], themes: Sequence[str], fp: str) -> Copy:
        # Equal office and theme lists share one tuple: a big catalogue holds
        # a few hundred distinct ones.
        offices = self.values.setdefault(tuple(offices), tuple(offices))
        themes = self.values.setdefault(tuple(themes), tuple(themes))
        return Copy(rid, path, line, mtime_ns, core, offices, themes, fp)

    def records(self, path: str) -> Iterator[Record]:
        """The records of a file: those kept, or read again."""
        kept = self.kept.pop(path, None)
        if kept is not None:
            self.retained -= len(kept)
            yield from kept
        else:
            yield from (item for item in iter_file(path) if isinstance(item, Record))


def _scan(paths: Sequence[str | os.PathLike[str]], cache: dict[str, Any]) -> _Scan:
    """Read the catalogue: changed files are parsed, unchanged ones taken
    from ``cache`` (the ``files`` of the last state)."""
    files, warnings = find_files(paths)
    scan = _Scan(files, warnings=list(warnings))
    for path in files:
        key = str(path)
        st = path.stat()
        cached = cache.pop(key, None)
        if cached and cached["size"] == st.st_size and cached["mtime_ns"] == st.st_mtime_ns:
            copies = [scan.copy(rid, key, line, st.st_mtime_ns, core, offices, themes, fp)
                      for rid, line, core, offices, themes, fp in cached["copies"]]
            scan.file_state[key] = _FileState(st.st_size, st.st_mtime_ns, copies)
        else:
            # A file with errors is not remembered: it is read (and its errors
            # reported) again on each run until it is fixed.
            copies = scan.read(key, st.st_mtime_ns, st.st_size)
            scan.changed = True
        for copy in copies:
            found = scan.copies.get(copy.id)
            if found is None:
                scan.copies[copy.id] = copy
            elif isinstance(found, list):
                found.append(copy)
            else:
                scan.copies[copy.id] = [found, copy]
    scan.changed = scan.changed or bool(cache)  # files the last run read are gone
    return scan


def _documents(scan: _Scan, resolved: dict[str, Resolved | Copy],
               ids: list[str]) -> Iterator[dict[str, Any]]:
    """The documents of ``ids``, file by file (each file read once, then let go)."""
    wanted = sorted((resolved[rid].winner.path, resolved[rid].winner.line, rid) for rid in ids)
    i = 0
    while i < len(wanted):
        path = wanted[i][0]
        for record in scan.records(path):
            if i < len(wanted) and wanted[i][0] == path and wanted[i][1] == record.line:
                r = resolved[wanted[i][2]]
                if record.id != r.id:
                    break
                yield to_document(merged_record(record, r), r.fingerprint)
                i += 1
        if i < len(wanted) and wanted[i][0] == path:  # the file changed meanwhile
            raise ThbSearchError(
                f"{display_path(Path(path))} changed while it was being indexed: run the "
                "command again")


# ---------------------------------------------------------------------------
# Indexing


def sync(
    index_dir: str | os.PathLike[str],
    paths: Sequence[str | os.PathLike[str]],
    *,
    rebuild: bool = False,
    skip_invalid: bool = False,
    wait: float = DEFAULT_WAIT,
    notify: Notify | None = None,
    progress: Progress | None = None,
) -> IndexReport:
    """Bring the index in line with the catalogue files/folders ``paths``.

    Adds new records, rewrites changed ones, removes those whose source is
    gone and leaves unchanged ones alone.  With ``rebuild`` (or when there is
    no usable index) everything is written into a new generation that replaces
    the old one only once complete.  Any unreadable record stops the run
    before the index is touched (``CorpusErrors``) unless ``skip_invalid``.
    """
    ixdir = IndexDir(index_dir)
    with ixdir.lock(wait):
        return _sync_locked(ixdir, paths, rebuild, skip_invalid, notify, progress)


def _sync_locked(ixdir: IndexDir, paths: Sequence[str | os.PathLike[str]], rebuild: bool,
                 skip_invalid: bool, notify: Notify | None,
                 progress: Progress | None) -> IndexReport:
    gen = ixdir.current()
    outdated = ixdir.is_outdated() if gen else None
    if gen is not None and outdated and notify:
        notify(f"{outdated}; rebuilding it")
    full = rebuild or gen is None or outdated is not None
    state: dict[str, Any] = {} if full else ixdir.read_state(gen)
    ix = None
    if not full:
        try:
            ix = ixdir.open()
        except Exception as exc:  # unpicklable schema, damaged files
            if notify:
                notify(f"the index at {ixdir.shown} cannot be read ({exc}); rebuilding it")
            full, state = True, {}
    if ix is not None and state.get("generation") != ix.latest_generation():
        # A crash between a commit and the state write: trust the index itself.
        state = {"files": {}, "records": _fingerprints_from_index(ix)}

    scan = _scan(paths, state.get("files", {}))
    if scan.errors and not skip_invalid:
        raise CorpusErrors(scan.errors)

    resolved = {rid: resolve(c if isinstance(c, list) else (c,))
                for rid, c in scan.copies.items()}
    scan.copies.clear()
    merged = sum(r.merged for r in resolved.values())
    superseded = sum(r.superseded for r in resolved.values())
    old: dict[str, str] = state.get("records", {})
    if full:
        to_add, to_update, to_remove = sorted(resolved), [], []
    else:
        to_add = sorted(rid for rid in resolved if rid not in old)
        to_update = sorted(rid for rid, r in resolved.items()
                           if rid in old and old[rid] != r.fingerprint)
        to_remove = sorted(rid for rid in old if rid not in resolved)
    sources = [str(Path(p).expanduser().absolute()) for p in paths]
    if full:
        # Written into a new generation, swapped in only once complete: any
        # failure leaves the index as it was.
        target = ixdir._new_generation()
        try:
            (target / VERSION_FILE).write_text(SCHEMA_VERSION + "\n", encoding="utf-8")
            ix = whoosh_index.create_in(str(target), build_schema())
            lexicon = write_new_index(ix, _documents(scan, resolved, to_add), len(to_add),
                                      progress=progress)
            _after_commit(ix, target, lexicon)
            _write_state(target, sources, ix.latest_generation(), scan.file_state, resolved)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        ixdir._swap(target)
    else:
        assert ix is not None and gen is not None
        # Every document is built before the writer opens: nothing can fail
        # half-way through a commit.
        docs = list(_documents(scan, resolved, [*to_add, *to_update]))
        if docs or to_remove:
            # Words the index has met need no stemming (nor NLTK's import).
            known = Lexicon(gen)
            add_term_source(known.term)
            try:
                lexicon = _write(ix, docs, [*to_update, *to_remove], progress)
            finally:
                remove_term_source(known.term)
                known.close()
            _after_commit(ix, gen, lexicon)
        if (docs or to_remove or sources != state.get("sources")
                or state.get("generation") != ix.latest_generation() or scan.changed):
            _write_state(gen, sources, ix.latest_generation(), scan.file_state, resolved)
        ixdir._remove_stale(keep=gen)  # leftovers of a crashed rebuild
    return IndexReport(
        index=ixdir.shown, total=len(resolved), added=len(to_add), updated=len(to_update),
        removed=len(to_remove), unchanged=len(resolved) - len(to_add) - len(to_update),
        merged=merged, superseded=superseded, files=len(scan.files), rebuilt=full,
        skipped=tuple(scan.errors), warnings=tuple(scan.warnings),
    )


def _write(ix: whoosh_index.Index, docs: list[dict[str, Any]], delete_ids: list[str],
           progress: Progress | None) -> dict[str, str]:
    """Delete and add documents in one commit; returns the lexicon of the added."""
    writer = fast_writer(ix)
    try:
        for rid in delete_ids:
            writer.delete_by_term("id", rid)
        total = len(docs)
        with collecting_words() as words:
            for n, doc in enumerate(docs, start=1):
                writer.add_document(**doc)
                if progress and (n % 1000 == 0 or n == total):
                    progress(n, total)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    return lexicon_entries(words)


def _after_commit(ix: whoosh_index.Index, folder: Path, words: dict[str, str]) -> None:
    """Save what searches load fast: facet arrays and the lexicon (the words
    of the documents, and those of the synonyms every query is checked against)."""
    save_for(ix, folder)
    lexicon = Lexicon(folder)
    try:
        lexicon.add({**lexicon_entries(words_of(e for g in synonym_lines() for e in g)),
                     **words})
    finally:
        lexicon.close()


def _fingerprints_from_index(ix: whoosh_index.Index) -> dict[str, str]:
    with ix.searcher() as s:
        return {d["id"]: d.get("fingerprint", "") for d in s.all_stored_fields()}


def ensure_index(
    index_dir: str | os.PathLike[str],
    corpus: Sequence[str | os.PathLike[str]],
    *,
    wait: float = DEFAULT_WAIT,
    notify: Notify | None = None,
) -> IndexReport | None:
    """Make sure a usable index exists: build it from ``corpus`` when missing,
    rebuild it (from the sources it was built from) when its schema is outdated.

    Returns the report of the build, or None when the index was fine.
    """
    ixdir = IndexDir(index_dir)
    if ixdir.exists() and not ixdir.is_outdated():
        return None
    with ixdir.lock(wait):
        if ixdir.exists():
            reason = ixdir.is_outdated()
            if reason is None:
                return None  # another process built it meanwhile
            sources = [s for s in ixdir.read_state().get("sources", []) if Path(s).exists()]
            if notify:
                notify(f"{reason}; rebuilding it")
            return _sync_locked(ixdir, sources or corpus, True, False, None, None)
        if notify:
            shown = ", ".join(display_path(Path(p).absolute()) for p in corpus)
            notify(f"no index at {ixdir.shown} yet: building it from {shown}")
        return _sync_locked(ixdir, corpus, True, False, None, None)


# ---------------------------------------------------------------------------
# Adding files to the catalogue


@dataclass(frozen=True)
class AddReport:
    """What ``add_files`` did: files copied into the corpus, files it already
    held, and the indexing run that followed."""

    copied: tuple[tuple[str, str], ...]
    present: tuple[tuple[str, str], ...]
    index: IndexReport

    def to_dict(self) -> dict[str, Any]:
        return {
            "copied": [{"file": s, "to": d} for s, d in self.copied],
            "already_in_corpus": [{"file": s, "as": d} for s, d in self.present],
            "index": self.index.to_dict(),
        }


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


def add_files(
    corpus_dir: str | os.PathLike[str],
    index_dir: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    *,
    skip_invalid: bool = False,
    wait: float = DEFAULT_WAIT,
    notify: Notify | None = None,
    progress: Progress | None = None,
) -> AddReport:
    """Validate ``files``, copy them into the corpus folder, index incrementally.

    Nothing is copied when a file has an unreadable record (unless
    ``skip_invalid``); a file whose exact bytes the corpus already holds is
    not copied again; a different file of the same name is copied under a new
    name (``name-2.jsonl``), never over another.  If indexing fails, the copies
    are removed again, so corpus and index stay in step.
    """
    corpus = Path(corpus_dir).expanduser().absolute()
    sources, _ = find_files(files)
    errors = [e for path in sources for e in iter_file(path)
              if isinstance(e, CorpusFormatError)]
    if errors and not skip_invalid:
        raise CorpusErrors(errors)
    corpus.mkdir(parents=True, exist_ok=True)
    existing, _ = find_files([corpus])
    copied: list[tuple[str, str]] = []
    present: list[tuple[str, str]] = []
    made: list[Path] = []
    try:
        for src in sources:
            if src.is_relative_to(corpus.resolve()):
                present.append((display_path(src), display_path(src)))
                continue
            twin = next((e for e in existing if _same_bytes(src, e)), None)
            if twin is not None:
                present.append((display_path(src), display_path(twin)))
                continue
            dest = corpus / src.name
            n = 2
            while dest.exists():
                dest = corpus / f"{src.stem}-{n}{src.suffix}"
                n += 1
            tmp = dest.with_name("." + dest.name + ".part")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
            made.append(dest)
            existing.append(dest)
            copied.append((display_path(src), display_path(dest)))
        report = sync(index_dir, [corpus], skip_invalid=skip_invalid, wait=wait,
                      notify=notify, progress=progress)
    except BaseException:
        for path in made:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    return AddReport(tuple(copied), tuple(present), report)
