"""Publications' documents (PDFs): where they are, which record each belongs
to, and reading their text once.

A catalogue folder holds its documents beside its catalogue files, one
folder per record, named by the record's id::

    corpus/
      osce-publications.txt        catalogue files (.txt listing, .jsonl, .csv)
      new-publications.jsonl
      documents/
        3lbbdk7dim/
          thb-and-terrorism.pdf    the document of record 3lbbdk7dim

``thb-search add report.pdf --to ID`` puts a PDF there.  A record in JSON
Lines or CSV may instead name its document with a ``file`` key (a path
relative to the catalogue file).  A PDF in ``documents/ID/`` whose id no
catalogue file holds is a publication of its own: its record is made from
the PDF's metadata (title, creation date) and first page, until a catalogue
record with that id describes it.

A document is identified by the SHA-256 of its bytes: its text is extracted
once (:mod:`thb_search.pdftext`, in worker processes for a batch) into the
index's text store (:mod:`thb_search.texts`); an unchanged file (same size
and modification time as last seen) is not even read again.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .corpus import DOCUMENTS, display_path

__all__ = ["DOCUMENTS", "Attachment", "Documents", "attach", "extract_into", "find_documents",
           "identify", "own_id", "own_record", "read_texts", "sha256_of"]
from .errors import CorpusFormatError, DocumentError
from .fields import BodyPages
from .records import Record, clean_text
from .texts import DocumentText, TextStore
from .workers import die_with_parent, pages_to_file

#: Documents read in this process below this many (worker processes above).
PARALLEL_MIN = 4
#: Characters of a PDF's first page that make the summary of its own record.
SUMMARY_CHARS = 400

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Seen:
    """A document file as last seen: size, modification time, content hash."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass
class Documents:
    """The documents of a catalogue as one indexing run finds them."""

    by_id: dict[str, Path] = field(default_factory=dict)  # in documents/ID/ folders
    errors: list[CorpusFormatError | DocumentError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seen: dict[str, Seen] = field(default_factory=dict)  # by absolute path
    read: int = 0  # extracted during this run


def find_documents(paths: Sequence[str | os.PathLike[str]]) -> Documents:
    """The documents in the ``documents/`` folder of each catalogue folder of ``paths``."""
    found = Documents()
    for raw in paths:
        folder = Path(raw).expanduser() / DOCUMENTS
        if not folder.is_dir():
            continue
        # (os.scandir: a folder's entries without a stat each, and the paths
        # resolved once: 1,000 documents' folders, 0.06-0.1 -> 0.02 s)
        root = folder.resolve()
        for sub in _entries(folder, lambda e: e.is_dir()):
            pdfs = _entries(sub.path, lambda e: e.name.lower().endswith(".pdf") and e.is_file())
            if len(pdfs) > 1:
                found.errors.append(CorpusFormatError(
                    display_path(folder / sub.name), None,
                    f"{len(pdfs)} documents for record {sub.name!r} "
                    f"({', '.join(p.name for p in pdfs)}): a record has one; keep one"))
            elif pdfs:
                pdf = pdfs[0]
                found.by_id[sub.name] = (Path(pdf.path).resolve()
                                         if sub.is_symlink() or pdf.is_symlink()
                                         else root / sub.name / pdf.name)
    return found


def _entries(folder: str | Path, keep: Callable[[os.DirEntry[str]], bool]
             ) -> list[os.DirEntry[str]]:
    """The entries of ``folder`` that are not hidden and that ``keep``, by name."""
    with os.scandir(folder) as it:
        return sorted((e for e in it if not e.name.startswith(".") and keep(e)),
                      key=lambda e: e.name)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def identify(paths: Sequence[Path], known: dict[str, Any], found: Documents) -> None:
    """Fill ``found.seen`` for ``paths``: a file whose size and modification
    time are those last seen (``known``, from the index's state) keeps its
    hash without being read; others are hashed."""
    for path in paths:
        key = str(path)
        st = path.stat()
        last = known.get(key)
        if last and last[0] == st.st_size and last[1] == st.st_mtime_ns:
            found.seen[key] = Seen(st.st_size, st.st_mtime_ns, last[2])
        else:
            found.seen[key] = Seen(st.st_size, st.st_mtime_ns, sha256_of(path))


def read_texts(paths: Sequence[Path], found: Documents, store: TextStore,
               progress: Progress | None = None) -> None:
    """Extract into ``store`` the text of every document whose content it
    does not hold yet (worker processes for a batch); failures go to
    ``found.errors``."""
    todo: dict[str, Path] = {}
    for path in paths:
        sha = found.seen[str(path)].sha256
        if sha not in todo and store.info(sha) is None:
            todo[sha] = path
    if not todo:
        return
    done = 0
    if len(todo) < PARALLEL_MIN:
        for sha, path in todo.items():
            try:
                extract_into(path, sha, store)
                found.read += 1
            except DocumentError as exc:
                found.errors.append(exc)
            done += 1
            if progress:
                progress(done, len(todo))
        return
    with tempfile.TemporaryDirectory(prefix="thb-texts-") as tmp, \
            concurrent.futures.ProcessPoolExecutor(
                max_workers=min(os.cpu_count() or 1, 4), initializer=die_with_parent,
                mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(pages_to_file, display_path(path), str(Path(tmp) / sha)):
                   (sha, path) for sha, path in todo.items()}
        for future in concurrent.futures.as_completed(futures):
            sha, path = futures[future]
            try:
                title, created = future.result()
                store.put(sha, _read_pages_file(Path(tmp) / sha), title, created)
                found.read += 1
            except DocumentError as exc:
                found.errors.append(exc)
            done += 1
            if progress:
                progress(done, len(todo))


def extract_into(path: Path, sha: str, store: TextStore) -> DocumentText:
    """Read a PDF's pages into the store (all or nothing)."""
    from .pdftext import open_pdf

    with open_pdf(display_path(path)) as pdf:
        return store.put(sha, pdf.pages(), pdf.title or "", pdf.created_day)


def _read_pages_file(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        buffer = ""
        while chunk := handle.read(1 << 20):
            buffer += chunk
            *pages, buffer = buffer.split("\f")
            yield from pages
        yield buffer


def own_record(rid: str, path: Path, info: DocumentText, store: TextStore) -> Record:
    """The record of a PDF that no catalogue record describes: its title (or
    the start of its first page), creation date, and first page as summary."""
    import datetime as dt

    first = next((t for t in store.pages(info.sha256) if t.strip()), "")
    summary = _start(first, SUMMARY_CHARS)
    title = clean_text(info.title) or _start(first, 100) or path.stem
    date = dt.date.fromisoformat(info.created) if info.created else None
    return Record(id=rid, title=title, date=date, summary=summary, file=str(path),
                  source=display_path(path), line=0)


def own_id(info: DocumentText, store: TextStore) -> str:
    """The id of a PDF that is a publication of its own: derived, as a record's,
    from the title and date its own record has."""
    from .records import derive_id

    first = next((t for t in store.pages(info.sha256) if t.strip()), "")
    title = clean_text(info.title) or _start(first, 100)
    import datetime as dt

    date = dt.date.fromisoformat(info.created) if info.created else None
    return derive_id(title, date, _start(first, SUMMARY_CHARS) or info.sha256)


def _start(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text``, cut at a word (with "…")."""
    text = clean_text(text)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    sentence = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    if sentence > limit // 2:
        return cut[:sentence + 1]
    return re.sub(r"\s+\S*$", "", cut) + "\u2026"


@dataclass
class Attachment:
    """Which record has which document, and what the index is to hold of it."""

    store: TextStore
    found: Documents
    links: dict[str, Path] = field(default_factory=dict)  # record id -> its document
    own: dict[str, Record] = field(default_factory=dict)  # PDFs that are their own record

    def info(self, rid: str) -> DocumentText | None:
        path = self.links.get(rid)
        if path is None:
            return None
        return self.store.info(self.found.seen[str(path)].sha256)

    def fingerprint(self, rid: str, record_fingerprint: str) -> str:
        """A record's fingerprint with its document's content in it: a new PDF
        (or none any more) is a changed record."""
        info = self.info(rid)
        if info is None:
            return record_fingerprint
        return hashlib.sha1(f"{record_fingerprint}|{info.sha256}".encode()).hexdigest()

    def extra(self, record: Record, record_fingerprint: str | None = None,
              ) -> tuple[str, Any, dict[str, Any] | None]:
        """(fingerprint, body, description) of a record's document: the body
        as :class:`~thb_search.fields.BodyPages`, analysed where it is
        written (:func:`thb_search.schema.analysed`); ``record_fingerprint``:
        the record's, when known (worked out again otherwise: a hash of its
        JSON, some 10 µs)."""
        if record_fingerprint is None:
            record_fingerprint = record.fingerprint()
        info = self.info(record.id)
        if info is None:
            return record_fingerprint, None, None
        path = self.links[record.id]
        body = BodyPages(str(self.store.path.parent), info.sha256, info.pages)
        description = {"file": str(path), "sha256": info.sha256, "pages": info.pages,
                       "empty_pages": info.empty_pages}
        return self.fingerprint(record.id, record_fingerprint), body, description

    def seen_state(self) -> dict[str, list[Any]]:
        """What to remember of each document file (size, time, hash)."""
        return {key: [s.size, s.mtime_ns, s.sha256] for key, s in self.found.seen.items()}

    def kept(self) -> set[str]:
        """The contents still referred to (texts of others can go)."""
        return {self.found.seen[str(p)].sha256 for p in self.links.values()}


def attach(paths: Sequence[str | os.PathLike[str]], named: dict[str, str],
           has_record: Callable[[str], bool], store: TextStore, known: dict[str, Any],
           progress: Progress | None = None) -> Attachment:
    """Link records to documents and make sure the text of each is in the store.

    ``named`` maps the id of each catalogue record that names its document
    (a ``file`` key) to that file; ``has_record(id)`` tells whether the
    catalogue holds a record of that id (a PDF in ``documents/ID/`` with none
    is a publication of its own); ``known`` is what the index remembers of
    each document file.  Problems (two documents for a record, unreadable
    PDFs) are in ``attachment.found.errors``; such records keep no document.
    """
    found = find_documents(paths)
    att = Attachment(store, found)
    for rid, file in named.items():
        folder = found.by_id.get(rid)
        if folder and Path(file) != folder:
            found.errors.append(CorpusFormatError(
                display_path(Path(file)), None,
                f"record {rid!r} has two documents, this one and {display_path(folder)}: "
                "keep one (remove the file key, or the folder)"))
        else:
            att.links[rid] = Path(file)
    own: set[str] = set()
    for rid, path in found.by_id.items():
        if rid not in named:
            att.links[rid] = path
            if not has_record(rid):
                own.add(rid)
    paths_ = sorted(set(att.links.values()))
    identify(paths_, known, found)
    read_texts(paths_, found, store, progress)
    failed = {e.path for e in found.errors if isinstance(e, DocumentError)}
    for rid, path in list(att.links.items()):
        info = att.info(rid)
        if info is None or (failed and display_path(path) in failed):
            del att.links[rid]
            continue
        if not info.has_text:
            found.warnings.append(
                f"{display_path(path)}: no text layer (a scan?): publication {rid!r} is "
                "indexed with its record's metadata only")
        if rid in own:
            att.own[rid] = own_record(rid, path, info, store)
    return att
