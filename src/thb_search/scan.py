"""Reading catalogue files for the indexer: :class:`Scan` reads the files
that changed (what is remembered of the others is :mod:`thb_search.state`'s,
what to write :mod:`thb_search.changes`'); :func:`documents` then yields the
index documents of the records to write, a file at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .corpus import (
    Copy,
    Record,
    Resolved,
    copy_of,
    display_path,
    hashed,
    iter_file,
    merged_record,
    read_split,
    splits,
)
from .errors import CorpusFormatError, ThbSearchError
from .schema import to_document
from .workers import no_cycle_collection

#: ``extra(record, its fingerprint)``: (fingerprint with its document's,
#: analysed body or None, document description or None).
Extra = Callable[[Record, str], tuple[str, Any, Any]]
#: ``progress(done, total)``.
Progress = Callable[[int, int], None]


@dataclass
class FileState:
    """What one catalogue file held when last read."""

    size: int
    mtime_ns: int
    copies: list[Copy]


#: Records of a file wanted at most for reading only their lines (more: the
#: whole file is read, without a set of every line it has).
READ_ONLY_AT_MOST = 10_000

#: Parsed records kept in memory between reading the catalogue and writing
#: the index (files read again when written beyond this: bounds memory, some
#: 1.7 KB a record).  A build of 100,000 records read its file twice (3.3 s
#: a read: the second in the process that feeds the workers, on their cores).
RETAIN_RECORDS = 150_000


@dataclass
class Scan:
    """The catalogue as the indexer sees it: copies of records by id, what
    each file held, the records kept from reading it."""

    files: list[Path]
    kept: dict[str, list[Record]] = field(default_factory=dict)
    copies: dict[str, Copy | list[Copy]] = field(default_factory=dict)  # a list: duplicates
    values: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    errors: list[CorpusFormatError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    file_state: dict[str, FileState] = field(default_factory=dict)
    retained: int = 0
    changed: bool = False  # a file was read, or one is gone, since the last state

    def read(self, path: str, mtime_ns: int, size: int) -> list[Copy]:
        """Read a file: its copies; its records are kept while few."""
        with no_cycle_collection():
            return self._read(path, mtime_ns, size)

    def _read(self, path: str, mtime_ns: int, size: int) -> list[Copy]:
        copies: list[Copy] = []
        records: list[Record] | None = []
        errors_before = len(self.errors)
        # A large JSON Lines file is read on two cores; of one too large to
        # keep its records, the other process's part comes as copies (the
        # file is read again when written).
        how = splits(path, size)
        if how == "copies":
            records = None
        for item in (read_split(path, how == "copies") if how else hashed(iter_file(path))):
            if type(item) is tuple:
                record, core, fp = item
                copies.append(self.copy(record.id, path, record.line, mtime_ns, core,
                                        record.offices, record.themes, fp, record.file))
                if records is not None:
                    records.append(record)
                    if self.retained + len(records) > RETAIN_RECORDS:
                        records = None
            elif type(item) is list:
                copies.append(copy_of(item, path, mtime_ns, self.values))
            elif isinstance(item, CorpusFormatError):
                self.errors.append(item)
            else:
                self.warnings.append(item)
        if records is not None:
            self.kept[path] = records
            self.retained += len(records)
        if len(self.errors) == errors_before:
            self.file_state[path] = FileState(size, mtime_ns, copies)
        return copies

    def copy(self, rid: str, path: str, line: int, mtime_ns: int, core: str,
             offices: Sequence[str], themes: Sequence[str], fp: str, file: str = "") -> Copy:
        # (equal office and theme lists one tuple)
        return copy_of([rid, line, core, offices, themes, fp, file], path, mtime_ns,
                       self.values)

    def records(self, path: str, lines: Collection[int] | None = None) -> Iterator[Record]:
        """The records of a file: those kept, or read again (``lines``: only
        those starting there are wanted; see :func:`~thb_search.corpus.iter_file`)."""
        kept = self.kept.pop(path, None)
        if kept is not None:
            self.retained -= len(kept)
            kept.reverse()  # each let go once given (the writer holds the documents)
            while kept:
                yield kept.pop()
        else:
            yield from (item for item in iter_file(path, lines) if isinstance(item, Record))


def documents(scan: Scan, resolved: dict[str, Resolved | Copy], ids: list[str],
              extra: Extra | None = None) -> Iterator[dict[str, Any]]:
    """The index documents of ``ids``, file by file (each file read once, then
    let go); ``extra(record)`` gives each one's fingerprint, analysed body and
    document description."""
    wanted = sorted((resolved[rid].winner.path, resolved[rid].winner.line, rid) for rid in ids)
    i = 0
    while i < len(wanted):
        path = wanted[i][0]
        end = i  # the file's records are together (sorted by path)
        while end < len(wanted) and wanted[end][0] == path:
            end += 1
        lines = ({line for _, line, _ in wanted[i:end]} if end - i <= READ_ONLY_AT_MOST
                 else None)
        for record in scan.records(path, lines):
            if i < len(wanted) and wanted[i][0] == path and wanted[i][1] == record.line:
                r = resolved[wanted[i][2]]
                if record.id != r.id:
                    break
                merged = merged_record(record, r)
                fp, body, description = (r.fingerprint, None, None) if extra is None else (
                    extra(merged, r.fingerprint))
                if body is None and description is None:
                    yield to_document(merged, fp)
                else:
                    yield to_document(merged, fp, body, description)
                i += 1
        if i < len(wanted) and wanted[i][0] == path:  # the file changed meanwhile
            raise ThbSearchError(
                f"{display_path(Path(path))} changed while it was being indexed: run the "
                "command again")
