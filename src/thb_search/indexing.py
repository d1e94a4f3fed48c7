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
from collections.abc import Callable, Iterator, Sequence
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
from .documents import DOCUMENTS, Documents, attach, identify, own_id, read_texts
from .errors import (
    CorpusErrors,
    CorpusFormatError,
    DocumentError,
    ParameterError,
    ThbSearchError,
)
from .facets import save_for
from .indexdir import DEFAULT_WAIT, STATE_FILE, VERSION_FILE, IndexDir
from .lexicon import Lexicon
from .scan import documents, scan_catalogue, write_state
from .schema import SCHEMA_VERSION, build_schema, to_document
from .texts import TextStore
from .trust import sign
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
    skipped: tuple[ThbSearchError, ...] = ()
    warnings: tuple[str, ...] = ()
    documents: int = 0  # publications with a document
    documents_read: int = 0  # documents whose text was read during this run

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
            "documents": self.documents, "documents_read": self.documents_read,
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
    reading: Progress | None = None,
) -> IndexReport:
    """Bring the index in line with the catalogue files/folders ``paths``.

    Adds new records, rewrites changed ones, removes those whose source is
    gone and leaves unchanged ones alone.  With ``rebuild`` (or when there is
    no usable index) everything is written into a new generation that replaces
    the old one only once complete.  Any unreadable record stops the run
    before the index is touched (``CorpusErrors``) unless ``skip_invalid``.
    ``progress(done, total)`` follows the writing of documents, ``reading``
    the reading of PDFs' text.
    """
    ixdir = IndexDir(index_dir)
    with ixdir.lock(wait):
        return _sync_locked(ixdir, paths, rebuild, skip_invalid, notify, progress, reading)


def _sync_locked(ixdir: IndexDir, paths: Sequence[str | os.PathLike[str]], rebuild: bool,
                 skip_invalid: bool, notify: Notify | None, progress: Progress | None,
                 reading: Progress | None = None) -> IndexReport:
    gen, ix, state = _open_for_sync(ixdir, rebuild, notify)
    full = ix is None
    scan = scan_catalogue(paths, state.get("files", {}))
    resolved = {rid: resolve(c if isinstance(c, list) else (c,))
                for rid, c in scan.copies.items()}
    scan.copies.clear()
    store = TextStore(ixdir.root)
    try:
        att = attach(paths, {rid: r.winner.file for rid, r in resolved.items()}, store,
                     state.get("documents", {}), reading)
        errors = [*scan.errors, *att.found.errors]
        if errors and not skip_invalid:
            raise CorpusErrors(errors)
        fingerprints = {rid: att.fingerprint(rid, r.fingerprint) for rid, r in resolved.items()}
        fingerprints.update((rid, att.fingerprint(rid, rec.fingerprint()))
                            for rid, rec in att.own.items())
        old: dict[str, str] = state.get("records", {})
        to_add = sorted(rid for rid in fingerprints if full or rid not in old)
        to_update = [] if full else sorted(rid for rid, fp in fingerprints.items()
                                           if rid in old and old[rid] != fp)
        to_remove = [] if full else sorted(rid for rid in old if rid not in fingerprints)
        sources = [str(Path(p).expanduser().absolute()) for p in paths]

        def docs(ids: list[str]) -> Iterator[dict[str, Any]]:
            yield from documents(scan, resolved, [i for i in ids if i in resolved], att.extra)
            yield from (to_document(att.own[i], *att.extra(att.own[i])) for i in ids
                        if i in att.own)

        def remember(target: Path, index: whoosh_index.Index) -> None:
            write_state(target, sources, index.latest_generation(), scan.file_state,
                        fingerprints, att.seen_state())

        if full:
            _rebuild(ixdir, docs(to_add), len(to_add), progress, remember)
        else:
            assert ix is not None and gen is not None
            # Every document is built before the writer opens: nothing can fail
            # half-way through a commit.
            changed = list(docs([*to_add, *to_update]))
            if changed or to_remove:
                _update(ix, gen, changed, [*to_update, *to_remove], progress)
            if (changed or to_remove or sources != state.get("sources") or scan.changed
                    or state.get("generation") != ix.latest_generation()
                    or state.get("documents") != att.seen_state()):
                remember(gen, ix)
            sign(gen)
            ixdir.remove_stale(keep=gen)  # leftovers of a crashed rebuild
        store.prune(att.kept())
    finally:
        store.close()
    return IndexReport(
        index=ixdir.shown, total=len(fingerprints), added=len(to_add),
        updated=len(to_update), removed=len(to_remove),
        unchanged=len(fingerprints) - len(to_add) - len(to_update),
        merged=sum(r.merged for r in resolved.values()),
        superseded=sum(r.superseded for r in resolved.values()), files=len(scan.files),
        rebuilt=full, skipped=tuple(errors), warnings=(*scan.warnings, *att.found.warnings),
        documents=len(att.links), documents_read=att.found.read,
    )


def _open_for_sync(ixdir: IndexDir, rebuild: bool, notify: Notify | None
                   ) -> tuple[Path | None, whoosh_index.Index | None, dict[str, Any]]:
    """(live generation, its index, its state); no index (and no state) when
    the run must build a new generation."""
    gen = ixdir.current()
    outdated = ixdir.is_outdated() if gen else None
    if gen is not None and outdated and notify:
        notify(f"{outdated}; rebuilding it")
    if rebuild or gen is None or outdated is not None:
        return gen, None, {}
    state = ixdir.read_state(gen)
    try:
        ix = ixdir.open()
    except Exception as exc:  # unpicklable schema, damaged files
        if notify:
            notify(f"the index at {ixdir.shown} cannot be read ({exc}); rebuilding it")
        return gen, None, {}
    if state.get("generation") != ix.latest_generation():
        # A crash between a commit and the state write: trust the index itself.
        state = {"files": {}, "records": _fingerprints_from_index(ix),
                 "documents": state.get("documents", {})}
    return gen, ix, state


def _rebuild(ixdir: IndexDir, docs: Iterator[dict[str, Any]], total: int,
             progress: Progress | None,
             remember: Callable[[Path, whoosh_index.Index], None]) -> None:
    """Write everything into a new generation, swapped in only once complete:
    any failure leaves the index as it was."""
    target = ixdir.new_generation()
    try:
        (target / VERSION_FILE).write_text(SCHEMA_VERSION + "\n", encoding="utf-8")
        ix = whoosh_index.create_in(str(target), build_schema())
        lexicon = write_new_index(ix, docs, total, progress=progress)
        _after_commit(ix, target, lexicon)
        remember(target, ix)
        sign(target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    ixdir.swap(target)


def _update(ix: whoosh_index.Index, gen: Path, docs: list[dict[str, Any]],
            delete_ids: list[str], progress: Progress | None) -> None:
    """Commit changes into the live generation."""
    # Words the index has met need no stemming (nor NLTK's import).
    known = Lexicon(gen)
    add_term_source(known.term)
    try:
        lexicon = _write(ix, docs, delete_ids, progress)
    finally:
        remove_term_source(known.term)
        known.close()
    _after_commit(ix, gen, lexicon)


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
    to: str | None = None,
    skip_invalid: bool = False,
    wait: float = DEFAULT_WAIT,
    notify: Notify | None = None,
    progress: Progress | None = None,
    reading: Progress | None = None,
) -> AddReport:
    """Validate ``files``, copy them into the corpus folder, index incrementally.

    Catalogue files (.txt, .jsonl, .csv) are copied into the folder; a PDF
    goes to ``documents/ID/`` as the document of record ``to`` (an id or a
    unique start of one), or, without ``to``, as a publication of its own
    (its id derived from its title and date), replacing the document that
    record had.  Nothing is copied when a file has an unreadable record or a
    PDF cannot be read (unless ``skip_invalid``); a file whose exact bytes the
    corpus already holds is not copied again; a different catalogue file of
    the same name is copied under a new name (``name-2.jsonl``), never over
    another.  If indexing fails, the copies are removed and replaced
    documents put back, so corpus and index stay in step.
    """
    corpus = Path(corpus_dir).expanduser().absolute()
    pdfs = [Path(f).expanduser() for f in files if Path(f).suffix.lower() == ".pdf"]
    others = [f for f in files if Path(f).suffix.lower() != ".pdf"]
    if to is not None and (len(pdfs) != 1 or others):
        raise ParameterError("to", "--to attaches one PDF to a record: give exactly one .pdf "
                                   "file with it")
    sources = find_files(others)[0] if others else []
    errors: list[ThbSearchError] = [e for path in sources for e in iter_file(path)
                                    if isinstance(e, CorpusFormatError)]
    placed = _place_documents(corpus, Path(index_dir), pdfs, to, errors, wait, notify, reading)
    if errors and not skip_invalid:
        raise CorpusErrors(errors)
    corpus.mkdir(parents=True, exist_ok=True)
    copies = _Copies(corpus)
    try:
        for src in sources:
            copies.catalogue_file(src)
        for src, dest in placed:
            copies.document(src, dest)
        report = sync(index_dir, [corpus], skip_invalid=skip_invalid, wait=wait,
                      notify=notify, progress=progress, reading=reading)
    except BaseException:
        copies.undo()
        raise
    copies.done()
    return AddReport(tuple(copies.copied), tuple(copies.present), report)


def _place_documents(corpus: Path, index_dir: Path, pdfs: list[Path], to: str | None,
                     errors: list[ThbSearchError], wait: float, notify: Notify | None,
                     reading: Progress | None) -> list[tuple[Path, Path]]:
    """Where each PDF goes (``corpus/documents/ID/NAME.pdf``), its text read
    into the index's text store on the way (failures go to ``errors``)."""
    if not pdfs:
        return []
    target = None
    if to is not None:
        from .searching import Catalogue

        with Catalogue(index_dir, corpus=[corpus], notify=notify, wait=wait) as catalogue:
            target = catalogue.get(to).id
    store = TextStore(IndexDir(index_dir).root)
    found = Documents()
    try:
        identify(pdfs, {}, found)
        read_texts(pdfs, found, store, reading)  # in worker processes for a batch
        errors.extend(found.errors)
        failed = {e.path for e in found.errors if isinstance(e, DocumentError)}
        placed = []
        for pdf in pdfs:
            info = store.info(found.seen[str(pdf)].sha256)
            if display_path(pdf) in failed or info is None:
                continue
            rid = target or own_id(info, store)
            placed.append((pdf, corpus / DOCUMENTS / rid / pdf.name))
    finally:
        store.close()
    return placed


class _Copies:
    """Files copied into the corpus folder by one ``add``, undone if it fails."""

    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus
        self.existing = find_files([corpus])[0] if any(corpus.iterdir()) else []
        self.copied: list[tuple[str, str]] = []
        self.present: list[tuple[str, str]] = []
        self.made: list[Path] = []
        self.replaced: list[tuple[Path, Path]] = []  # (the old document, kept aside as)

    def catalogue_file(self, src: Path) -> None:
        if src.is_relative_to(self.corpus.resolve()):
            self.present.append((display_path(src), display_path(src)))
            return
        twin = next((e for e in self.existing if _same_bytes(src, e)), None)
        if twin is not None:
            self.present.append((display_path(src), display_path(twin)))
            return
        dest = self.corpus / src.name
        n = 2
        while dest.exists():
            dest = self.corpus / f"{src.stem}-{n}{src.suffix}"
            n += 1
        self._copy(src, dest)
        self.existing.append(dest)

    def document(self, src: Path, dest: Path) -> None:
        """Put ``src`` as ``dest``, the one PDF of its record's folder."""
        folder = dest.parent
        others = sorted(p for p in folder.glob("*.pdf")) if folder.is_dir() else []
        same = next((p for p in others if _same_bytes(src, p)), None)
        if same is not None:
            self.present.append((display_path(src), display_path(same)))
            return
        folder.mkdir(parents=True, exist_ok=True)
        for old in others:  # the record's earlier document: set aside until indexed
            aside = old.with_name("." + old.name + ".replaced")
            os.replace(old, aside)
            self.replaced.append((old, aside))
        self._copy(src, dest)

    def _copy(self, src: Path, dest: Path) -> None:
        tmp = dest.with_name("." + dest.name + ".part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
        self.made.append(dest)
        self.copied.append((display_path(src), display_path(dest)))

    def undo(self) -> None:
        for path in self.made:
            with contextlib.suppress(OSError):
                path.unlink()
        for old, aside in self.replaced:
            with contextlib.suppress(OSError):
                os.replace(aside, old)
        for path in self.made:  # an empty documents/ID/ folder of this add
            with contextlib.suppress(OSError):
                path.parent.rmdir()

    def done(self) -> None:
        for _, aside in self.replaced:
            with contextlib.suppress(OSError):
                aside.unlink()
