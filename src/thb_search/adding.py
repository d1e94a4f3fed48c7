"""``thb-search add``: files copied into the catalogue folder, then indexed.

Catalogue files go to the folder itself; a PDF to ``documents/ID/``.  Every
step is written down first (:mod:`thb_search.journal`), so that an add that
is interrupted is finished or undone by the next command, and one that fails
is undone at once: the catalogue folder and the index stay in step.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .corpus import DOCUMENTS, display_path, find_files, iter_file
from .documents import Documents, identify, own_id, read_texts
from .errors import (
    CorpusErrors,
    CorpusFormatError,
    DocumentError,
    ParameterError,
    ThbSearchError,
)
from .indexdir import DEFAULT_WAIT, IndexDir
from .indexing import IndexReport, Notify, Progress, full_disk_reported, sync
from .journal import Journal
from .texts import TextStore


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
    # One add (or index) at a time: the names it chooses in the folder, and
    # its journal, are its own until it is done.
    with IndexDir(index_dir).lock(wait):
        return _add_locked(Path(corpus_dir).expanduser().absolute(), index_dir, files, to,
                           skip_invalid, wait, notify, progress, reading)


def _add_locked(corpus: Path, index_dir: str | os.PathLike[str],
                files: Sequence[str | os.PathLike[str]], to: str | None, skip_invalid: bool,
                wait: float, notify: Notify | None, progress: Progress | None,
                reading: Progress | None) -> AddReport:
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
    with full_disk_reported(corpus):
        try:
            for src in sources:
                copies.catalogue_file(src)
            for src, dest in placed:
                copies.document(src, dest)
            copies.journal.copying_done()
            report = sync(index_dir, [corpus], skip_invalid=skip_invalid, wait=wait,
                          notify=notify, progress=progress, reading=reading)
        except BaseException:
            copies.journal.undo()
            raise
    copies.journal.finish()
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
    """Files one ``add`` copies into the catalogue folder, each step in its
    journal (undone if the add fails, recovered if it is interrupted)."""

    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus
        self.existing = find_files([corpus])[0] if any(corpus.iterdir()) else []
        self.copied: list[tuple[str, str]] = []
        self.present: list[tuple[str, str]] = []
        self.journal = Journal.start(corpus)

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
            self.journal.set_aside(old, aside)
            os.replace(old, aside)
        self._copy(src, dest)

    def _copy(self, src: Path, dest: Path) -> None:
        self.journal.copied(dest)  # before the copy: an undo removes what it may leave
        tmp = dest.with_name("." + dest.name + ".part")
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
        self.copied.append((display_path(src), display_path(dest)))
