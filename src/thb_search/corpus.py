"""Catalogue files: finding them, reading them a line at a time, duplicates.

Formats are chosen by file extension (:data:`FORMATS`; the readers are in
:mod:`thb_search.listing` and :mod:`thb_search.formats`) and yield the same
:class:`~thb_search.records.Record`.
A publication met in several files is resolved to one record
(:func:`resolve`).  Nothing here touches the index.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from .errors import CorpusFormatError, CorpusNotFoundError
from .formats import FileResult, read_csv, read_jsonl
from .listing import read_listing
from .locations import display_path
from .records import (
    MAX_RECORD_BYTES,
    LongLine,
    Record,
    derive_id,
    fingerprint,
    human_size,
    normalized_title,
    parse_date,
)

__all__ = ["DOCUMENTS", "FORMATS", "MAX_FILE_BYTES", "MAX_RECORD_BYTES", "Copy", "FileResult",
           "Record", "Resolved", "copy_of", "derive_id", "display_path", "find_files",
           "fingerprint", "hashed", "iter_file", "merged_record", "normalized_title",
           "parse_date", "read_file", "read_records", "resolve"]

#: File extensions read as catalogue files, and their format.
FORMATS = {".txt": "listing", ".jsonl": "jsonl", ".csv": "csv"}
READERS = {"listing": read_listing, "jsonl": read_jsonl, "csv": read_csv}
#: The folder of a catalogue folder that holds publications' documents
#: (see :mod:`thb_search.documents`), not catalogue files.
DOCUMENTS = "documents"
#: The largest catalogue file read (bytes): some two million records of the
#: OSCE listing's size.  Every format is read a few lines at a time, so this
#: bounds the time a run takes on a runaway file (a log, a dump), not memory.
MAX_FILE_BYTES = 2_000_000_000

_CHUNK = 1 << 16


# ---------------------------------------------------------------------------
# Reading files


class _Undecodable(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _TooLarge(Exception):
    def __init__(self, size: int | None = None) -> None:
        self.size = size  # None: found while reading (a file that grows, a device)


def _raw_lines(handle: BinaryIO, limit: int = MAX_RECORD_BYTES,
               chunk_size: int = _CHUNK) -> Iterator[bytes | int]:
    """The lines of a binary file, each with its line end (``\\n``, ``\\r\\n``
    or a lone ``\\r``), read in chunks of 64 KB: a line longer than ``limit``
    bytes is never held; its length (an int) stands for it."""
    part = bytearray()  # the start of a line the chunks so far did not finish
    size = 0  # its length (part is kept only while that is at most `limit`)
    total = 0
    cr = False  # the last chunk ended in "\r": "\r\n" or a lone "\r"?
    while True:
        chunk = handle.read(chunk_size)
        if not chunk:
            break
        total += len(chunk)
        if total > MAX_FILE_BYTES:
            raise _TooLarge()
        if cr:
            cr = False
            end = b"\r\n" if chunk[:1] == b"\n" else b"\r"
            chunk = chunk[len(end) - 1:]
            yield bytes(part) + end if size <= limit else size
            part.clear()
            size = 0
        if chunk[-1:] == b"\r":
            cr = True
            chunk = chunk[:-1]
        pieces = chunk.splitlines(keepends=True)  # at \n, \r\n and \r only
        rest = pieces.pop() if pieces and pieces[-1][-1:] not in (b"\n", b"\r") else b""
        for piece in pieces:
            if size:  # the end of the line the last chunk began
                size += len(piece.rstrip(b"\r\n"))
                yield bytes(part) + piece if size <= limit else size
                part.clear()
                size = 0
            elif len(piece) > limit and len(piece.rstrip(b"\r\n")) > limit:
                yield len(piece.rstrip(b"\r\n"))
            else:
                yield piece
        if rest:
            size += len(rest)
            if size <= limit:
                part += rest
            else:
                part.clear()
    if cr:
        yield bytes(part) + b"\r" if size <= limit else size
    elif size:
        yield bytes(part) if size <= limit else size


def _decoded_lines(handle: BinaryIO | _Range, first: int = 1) -> Iterator[str | LongLine]:
    """The lines of a binary file as text, line ends kept; BOM dropped; a
    :class:`LongLine` in place of a line too long to read.  ``first``: the
    number of the first line (a part of a file, see :func:`read_split`)."""
    for number, raw in enumerate(_raw_lines(handle), start=first):
        if isinstance(raw, int):
            yield LongLine(raw)
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Undecodable(number) from None
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        yield line


def read_file(path: str | os.PathLike[str]) -> FileResult:
    """Read one catalogue file of any supported format."""
    result = FileResult(Path(path))
    for item in iter_file(path):
        if isinstance(item, Record):
            result.records.append(item)
        elif isinstance(item, CorpusFormatError):
            result.errors.append(item)
        else:
            result.warnings.append(item)
    return result


def iter_file(path: str | os.PathLike[str], only: Collection[int] | None = None,
              ) -> Iterator[Record | CorpusFormatError | str]:
    """The records, errors and warnings (str) of one catalogue file, in file
    order, a few lines at a time: no file is held in memory whole, nor any
    line longer than :data:`MAX_RECORD_BYTES`; a file larger than
    :data:`MAX_FILE_BYTES` is refused.

    ``only``: the lines where the records wanted start (the indexer writing
    a few records of a file it read before).  Reading stops after the last
    of them, and in a JSON Lines file no other line is parsed, nor any line
    before the first of them decoded (reading goes straight to it):
    attaching a PDF to one record of a 10,000-record file no longer parses
    all of them again (0.4 s), nor splits and decodes those before it (12.1
    ms for the record at line 7,002, now 2.8).
    What else is read is given as usual."""
    return _items(Path(path), only)


def _items(path: Path, only: Collection[int] | None = None, start: int = 0,
           end: int | None = None, first: int = 1, stopped: list[bool] | None = None,
           ) -> Iterator[Record | CorpusFormatError | str]:
    """:func:`iter_file`, of the bytes from ``start`` to ``end`` (None: the
    file's end), whose first line is line ``first`` (a part of a JSON Lines
    file: ``start`` is where a line begins).  ``stopped`` gets True when
    reading stopped before the end (a line not UTF-8, a file too large, an
    error reading it): reading the whole file would have stopped there too."""
    kind = FORMATS.get(path.suffix.lower())
    shown = display_path(path)
    if kind is None:
        yield CorpusFormatError(
            shown, None,
            f"unsupported file type {path.suffix or '(none)'!r}: "
            "catalogue files end in .txt (OSCE listing), .jsonl or .csv")
        return
    reader = READERS[kind]
    buffer = FileResult(path)
    early = True  # until the reader reaches the end
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise _TooLarge(size)
            if start:
                handle.seek(start)
            last = None if only is None else max(only, default=0)
            wanted = 1 if only is None else min(only, default=1)
            if kind == "jsonl" and start == 0 and end is None and wanted > 1:
                # (a record a line) Straight to the first line wanted: its
                # line ends counted a megabyte at a time, no line before it
                # split or decoded.
                offset = _line_offset(handle, wanted)
                handle.seek(size if offset is None else offset)
                first = wanted
            lines: Iterable[str | LongLine] = _decoded_lines(
                handle if end is None else _Range(handle, end - start), first)
            if only is not None and kind == "jsonl":
                lines = _only(lines, only, last, first)
            for _ in (reader(lines, shown, buffer) if first == 1
                      else read_jsonl(lines, shown, buffer, first)):
                done = last is not None and any(r.line >= last for r in buffer.records)
                yield from _drain(buffer)
                if done:
                    return
            early = False
    except _Undecodable as exc:
        buffer.errors.append(CorpusFormatError(
            shown, exc.line, "not valid UTF-8 text: save the file as UTF-8"))
    except _TooLarge as exc:
        size_text = (f"is {human_size(exc.size, MAX_FILE_BYTES)}" if exc.size is not None
                     else f"holds more than {human_size(MAX_FILE_BYTES)}")
        buffer.errors.append(CorpusFormatError(
            shown, None, f"the file {size_text}: a catalogue file may be at most "
            f"{human_size(MAX_FILE_BYTES)}; split it into several files"))
    except OSError as exc:
        buffer.errors.append(CorpusFormatError(shown, None, f"cannot read file: {exc.strerror}"))
    if early and stopped is not None:
        stopped.append(True)
    yield from _drain(buffer)


class _Range:
    """A binary file read from where it is for ``left`` bytes at most."""

    def __init__(self, handle: BinaryIO, left: int) -> None:
        self._handle = handle
        self._left = left

    def read(self, n: int) -> bytes:
        data = self._handle.read(min(n, self._left)) if self._left > 0 else b""
        self._left -= len(data)
        return data


# ---------------------------------------------------------------------------
# A large JSON Lines file on two cores

#: A JSON Lines file at least this large (some 20,000 records) is read on two
#: cores (see :func:`read_split`): below it, starting the process that reads
#: the second part costs about what it saves ...
SPLIT_MIN_BYTES = 32_000_000
#: ... and at most this large: the other process's part is held here until
#: this one has read its own, which for a file whose records the indexer
#: keeps anyway (see :data:`thb_search.scan.RETAIN_RECORDS`) costs no memory,
#: but for a larger one (a million records, 1 GB) would hold some 700 MB of
#: records that reading it in one streams.
SPLIT_MAX_BYTES = 200_000_000
#: A file larger than this (too many records for the indexer to keep them:
#: 150,000 records take this many bytes only at 2.7 KB each) is read on two
#: cores too, the other process sending of each record only what planning
#: needs (its copy's :meth:`Copy.compact` form, some 300 bytes in memory
#: against 1.5 KB); the
#: indexer keeps none of its records and reads the file again to write it,
#: as it does a file that large read in one.
SPLIT_BRIEF_BYTES = 400_000_000
#: The part of such a file this process reads: a little more than half, as
#: the other process first starts, then sends what it read.
SPLIT_AT = 0.55
#: (record, its core hash, its fingerprint): what the indexer needs of a record.
Hashed = tuple[Record, str, str]


def splits(path: str | os.PathLike[str], size: int) -> str | None:
    """How :func:`read_split` reads the file on two cores: ``"records"``,
    ``"copies"`` (the second part's records as their copies'
    :meth:`Copy.compact` form), or None when it is read in one."""
    if (size < SPLIT_MIN_BYTES or SPLIT_MAX_BYTES < size <= SPLIT_BRIEF_BYTES
            or Path(path).suffix.lower() != ".jsonl" or (os.cpu_count() or 1) < 2):
        return None
    return "records" if size <= SPLIT_MAX_BYTES else "copies"


def read_split(path: str | os.PathLike[str], copies: bool = False) -> Iterator[Item]:
    """:func:`iter_file`'s items of a JSON Lines file, each record with its
    core hash and fingerprint, the same in the same order; the file's second
    part is read (and hashed) meanwhile by a process of its own, which sends
    its items in batches that this one takes as it reads its own part (with
    ``copies``, its records as their copies' :meth:`Copy.compact` form).
    Should that process fail, this one reads the part itself.  (100,000
    records, 98 MB: 3.5-3.7 s read and hashed in one process, 2.9-3.1 s so;
    the indexer's planning of a build, 5.2-6.0 s, takes 4.3-4.5 s.)"""
    path = Path(path)
    split = _split_point(path)
    if split is None:
        yield from hashed(_items(path))
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    helper = ctx.Process(target=_read_part, args=(str(path), split, send, copies),
                         name="thb-read", daemon=True)
    received: list[Item] = []
    state = {"done": False, "failed": False}

    def take(wait: bool) -> None:
        """Take the batches sent so far (``wait``: all of them)."""
        try:
            while not state["done"] and (wait or receive.poll()):
                batch = receive.recv()
                if batch is None:
                    state["done"] = True
                else:
                    received.extend(batch)
        except (EOFError, OSError):  # the helper died without finishing
            state["failed"] = True

    try:
        try:
            helper.start()
        except OSError:  # no process to be had: this one reads it all
            state["failed"] = True
        send.close()
        stopped: list[bool] = []
        for n, item in enumerate(hashed(_items(path, None, 0, split, 1, stopped))):
            yield item
            if n % 1024 == 1023 and not state["failed"]:
                take(wait=False)
        if stopped:
            return  # the whole file's reading stops there too
        if not state["failed"]:
            take(wait=True)
        if state["failed"]:
            received = list(hashed(_items(path, None, split, None,
                                          _first_line(path, split)), copies))
        yield from received
    finally:
        receive.close()
        if helper.is_alive():
            helper.terminate()
        if helper.pid is not None:
            helper.join()


#: Items a batch the helper process sends (some 2 MB).
_BATCH = 2048


def _read_part(path: str, start: int, send: Any, copies: bool = False) -> None:
    """In the helper process: send the items of the file from ``start``,
    hashed, in batches, then None.  A helper that fails sends no None and
    ends without a word (the indexer reads the part itself, and says what
    is wrong if it is the file); one whose indexer stopped reading (it met
    a line that ends the file's reading, or was interrupted: Ctrl-C, which
    this process leaves to it) finds the pipe closed and ends so too."""
    import signal

    from .workers import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    try:
        batch = []
        first = _first_line(Path(path), start)
        for item in hashed(_items(Path(path), None, start, None, first), copies):
            batch.append(item)
            if len(batch) == _BATCH:
                send.send(batch)
                batch = []
        send.send(batch)
        send.send(None)
        send.close()
    except BaseException:
        os._exit(1)


def hashed(items: Iterable[Record | CorpusFormatError | str], copies: bool = False,
           ) -> Iterator[Item]:
    """:func:`iter_file`'s ``items`` with each record's core hash and
    fingerprint (with ``copies``, each record as its copy's
    :meth:`Copy.compact` form, equal office and theme lists one tuple)."""
    lists: dict[tuple[str, ...], tuple[str, ...]] = {}
    for item in items:
        if isinstance(item, Record):
            core = item.core_hash()
            fp = fingerprint(core, item.offices, item.themes)
            if copies:  # (Copy.compact's list, without making the copy)
                yield [item.id, item.line, core, lists.setdefault(item.offices, item.offices),
                       lists.setdefault(item.themes, item.themes), fp, item.file]
            else:
                yield item, core, fp
        else:
            yield item


def _split_point(path: Path) -> int | None:
    """Where the second part of the file starts: the first line that starts
    after :data:`SPLIT_AT` of its bytes (None when no line does)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        at = int(size * SPLIT_AT)
        handle.seek(at)
        while chunk := handle.read(_CHUNK):
            found = chunk.find(b"\n")
            if found >= 0:
                split = at + found + 1
                break
            at += len(chunk)
        else:
            return None
        return split if split < size else None


def _first_line(path: Path, split: int) -> int:
    """The number of the line that starts at ``split`` (counted by the
    process that reads from there: 0.1 s at 100,000 records, 1.1 s at a
    million, which the other process spends reading its own part)."""
    with open(path, "rb") as handle:
        return _lines_in(_Range(handle, split)) + 1


def _lines_in(handle: _Range) -> int:
    """The lines of bytes that end with a line end, as :func:`_raw_lines`
    counts them (``\n``, ``\r\n`` and a lone ``\r`` each end one)."""
    lines = 0
    cr = False  # the last chunk ended in "\r"
    while chunk := handle.read(1 << 20):
        if cr and chunk[:1] == b"\n":
            lines -= 1  # that "\r" and this "\n" are one line end, counted twice
        lines += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        cr = chunk[-1:] == b"\r"
    return lines


#: A line end as :func:`_raw_lines` finds them.
_LINE_END = re.compile(rb"\r\n|\r|\n")


def _line_offset(handle: BinaryIO, line: int, chunk_size: int = 1 << 20) -> int | None:
    """Where line ``line`` (from 1) of the file ``handle`` reads from its start
    begins, counting line ends as :func:`_raw_lines` does (``\\n``, ``\\r\\n``,
    a lone ``\\r``); None: the file has fewer lines.  A chunk without ``\\r``
    (most) is passed a ``find`` a line: 2.5 ms for the 7,001 lines (6.8 MB)
    before a record of the benchmark's 10,000, against 12 ms split into
    lines and decoded."""
    need = line - 1  # line ends to pass
    base = 0  # where `data` starts in the file
    carry = b""  # a CR that ended the last chunk: of a CR LF, or a lone CR?
    while need > 0:
        chunk = handle.read(chunk_size)
        data = carry + chunk
        if not chunk:
            return base + 1 if data == b"\r" and need == 1 else None
        carry = b"\r" if data.endswith(b"\r") else b""
        if carry:
            data = data[:-1]
        if b"\r" not in data:
            find, pos = data.find, 0
            while need and (end := find(b"\n", pos)) >= 0:
                pos = end + 1
                need -= 1
            if not need:
                return base + pos
        else:
            ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
            if ends >= need:
                for k, end_ in enumerate(_LINE_END.finditer(data), start=1):
                    if k == need:
                        return base + end_.end()
            need -= ends
        base += len(data)
    return 0


def _only(lines: Iterable[str | LongLine], only: Collection[int], last: int,
          first: int = 1) -> Iterator[str | LongLine]:
    """``lines`` (the first numbered ``first``) up to ``last``, those not in
    ``only`` blank."""
    for number, line in enumerate(lines, start=first):
        yield line if number in only else ""
        if number >= last:
            return


def _drain(buffer: FileResult) -> Iterator[Record | CorpusFormatError | str]:
    yield from buffer.warnings
    yield from buffer.errors
    yield from buffer.records
    buffer.warnings.clear()
    buffer.errors.clear()
    buffer.records.clear()


def find_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """The catalogue files under ``paths`` (files or folders, searched recursively).

    Returns the files (sorted, absolute) and warnings for files in folders that
    are not catalogue files.  A path that does not exist, a file of another
    type named explicitly, or nothing found at all raises CorpusNotFoundError.
    """
    files: dict[Path, None] = {}
    warnings: list[str] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for sub in _walk(path):
                if sub.suffix.lower() in FORMATS:
                    files[sub.resolve()] = None
                elif sub.name.lower() not in ("readme", "readme.md", "readme.txt"):
                    warnings.append(f"{display_path(sub)} is not a catalogue file (.txt, "
                                    ".jsonl or .csv) and was not read")
        elif path.is_file():
            if path.suffix.lower() not in FORMATS:
                raise CorpusNotFoundError(
                    f"{display_path(path)}: unsupported file type {path.suffix or '(none)'!r}:"
                    " catalogue files end in .txt (OSCE listing), .jsonl or .csv")
            files[path.resolve()] = None
        else:
            raise CorpusNotFoundError(f"{raw}: no such file or folder")
    return list(files), warnings


def _walk(folder: Path) -> list[Path]:
    """The files of ``folder`` and its subfolders, sorted; hidden files and
    folders, and the documents folder (PDFs, walked by the indexer apart),
    are not entered."""
    found = []
    for root, dirs, names in os.walk(folder):
        top = root == str(folder)
        dirs[:] = [d for d in dirs if not d.startswith(".") and not (top and d == DOCUMENTS)]
        found.extend(Path(root, n) for n in names
                     if not n.startswith(".") and not (top and n == DOCUMENTS))
    return sorted(p for p in found if p.is_file())


def read_records(paths: Sequence[str | os.PathLike[str]]) -> Iterator[Record]:
    """Every record of the given files/folders, in file order (no duplicate merging).

    Raises the first CorpusFormatError met.
    """
    files, _ = find_files(paths)
    for path in files:
        result = read_file(path)
        if result.errors:
            raise result.errors[0]
        yield from result.records


# ---------------------------------------------------------------------------
# Duplicates


@dataclass(frozen=True, slots=True)
class Copy:
    """One copy of a record met in a file: enough to resolve duplicates.

    Slotted and small: an indexer holds one for every record of the catalogue.
    """

    id: str
    path: str  # absolute path of the file
    line: int
    mtime_ns: int  # of the file: the copy of the newest file wins
    core_hash: str
    offices: tuple[str, ...]
    themes: tuple[str, ...]
    fingerprint: str
    file: str = ""  # the record's document, when its catalogue file names one

    @property
    def order(self) -> tuple[int, str, int]:
        """Later wins: (file mtime, path, line)."""
        return (self.mtime_ns, self.path, self.line)

    # A copy with no duplicate is its own resolution (see Resolved).
    @property
    def winner(self) -> Copy:
        return self

    merged = property(lambda self: 0)
    superseded = property(lambda self: 0)

    def compact(self) -> list[Any]:
        """``[id, line, core hash, offices, themes, fingerprint, file]``: the
        copy without its catalogue file and that file's time, as a file's
        state holds it (:mod:`thb_search.state`) and as the process reading
        part of a large file sends it (:func:`read_split`); see :func:`copy_of`."""
        return [self.id, self.line, self.core_hash, self.offices, self.themes,
                self.fingerprint, self.file]


def copy_of(compact: Sequence[Any], path: str, mtime_ns: int,
            values: dict[tuple[str, ...], tuple[str, ...]]) -> Copy:
    """The copy of :meth:`Copy.compact`'s form, in the file ``path`` modified
    at ``mtime_ns``; its offices and themes shared through ``values`` (a
    catalogue repeats them: a big one holds a few hundred distinct lists)."""
    rid, line, core, offices, themes, fp, file = compact
    offices = values.setdefault(tuple(offices), tuple(offices))
    themes = values.setdefault(tuple(themes), tuple(themes))
    return Copy(rid, path, line, mtime_ns, core, offices, themes, fp, file)


#: What :func:`read_split` gives (a list: a copy's :meth:`Copy.compact` form).
Item = Hashed | list[Any] | CorpusFormatError | str


@dataclass(frozen=True, slots=True)
class Resolved:
    """The one record an id stands for after its copies are merged."""

    winner: Copy
    offices: tuple[str, ...]
    themes: tuple[str, ...]
    fingerprint: str
    merged: int = 0  # copies folded in (same content but offices/themes)
    superseded: int = 0  # copies that lost to a newer, different copy

    @property
    def id(self) -> str:
        return self.winner.id


def resolve(copies: Sequence[Copy]) -> Resolved | Copy:
    """Merge the copies of one id (a single copy stands for itself).

    The copy from the most recently modified file (then the later line) wins;
    copies that differ from it only in offices or themes are merged into it
    (union, winner's values first); copies that differ otherwise are superseded.
    """
    if len(copies) == 1:
        return copies[0]
    ordered = sorted(copies, key=lambda c: c.order)
    winner = ordered[-1]
    offices: dict[str, None] = dict.fromkeys(winner.offices)
    themes: dict[str, None] = dict.fromkeys(winner.themes)
    merged = superseded = 0
    for c in reversed(ordered[:-1]):
        if c.core_hash == winner.core_hash:
            offices.update(dict.fromkeys(c.offices))
            themes.update(dict.fromkeys(c.themes))
            merged += 1
        else:
            superseded += 1
    offs, ths = tuple(offices), tuple(themes)
    return Resolved(winner, offs, ths, fingerprint(winner.core_hash, offs, ths), merged,
                    superseded)


def merged_record(record: Record, resolved: Resolved | Copy) -> Record:
    """The winning copy's record with the merged offices and themes."""
    if record.offices == resolved.offices and record.themes == resolved.themes:
        return record  # nothing merged (dataclasses.replace: some 10 µs)
    return replace(record, offices=resolved.offices, themes=resolved.themes)
