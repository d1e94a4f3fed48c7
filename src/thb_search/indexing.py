"""Building the index and keeping it in line with the catalogue: ``sync``
(incremental, or a rebuild into a new generation), ``ensure_index`` (build on
first use), ``add_files`` (copy into the catalogue folder, then sync).

The index folder and its generations are :mod:`thb_search.indexdir`'s; what
is remembered of the catalogue between runs is :mod:`thb_search.scan`'s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from .analysis import (
    add_term_source,
    collecting_words,
    lexicon_entries,
    remove_term_source,
    synonym_lines,
    words_of,
)
from .corpus import display_path, find_files, iter_file, resolve
from .errors import CorpusErrors, CorpusFormatError
from .facets import save_for
from .indexdir import DEFAULT_WAIT, STATE_FILE, VERSION_FILE, IndexDir
from .lexicon import Lexicon
from .scan import documents, scan_catalogue, write_state
from .schema import SCHEMA_VERSION, build_schema, to_document
from .whoosh_internals import fast_writer
from .writer import write_new_index

__all__ = ["DEFAULT_WAIT", "STATE_FILE", "VERSION_FILE", "AddReport", "IndexDir", "IndexReport",
           "add_files", "ensure_index", "sync", "to_document"]

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

    scan = scan_catalogue(paths, state.get("files", {}))
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
        target = ixdir.new_generation()
        try:
            (target / VERSION_FILE).write_text(SCHEMA_VERSION + "\n", encoding="utf-8")
            ix = whoosh_index.create_in(str(target), build_schema())
            lexicon = write_new_index(ix, documents(scan, resolved, to_add), len(to_add),
                                      progress=progress)
            _after_commit(ix, target, lexicon)
            write_state(target, sources, ix.latest_generation(), scan.file_state, resolved)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        ixdir.swap(target)
    else:
        assert ix is not None and gen is not None
        # Every document is built before the writer opens: nothing can fail
        # half-way through a commit.
        docs = list(documents(scan, resolved, [*to_add, *to_update]))
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
            write_state(gen, sources, ix.latest_generation(), scan.file_state, resolved)
        ixdir.remove_stale(keep=gen)  # leftovers of a crashed rebuild
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
