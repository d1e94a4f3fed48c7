"""What the index remembers of its catalogue between runs, a file at a time.

``thb-state.json`` (in the index generation) is small: the sources, the
commit it describes, and per catalogue file its size, modification time and
the name of the file that holds what it held (``state-<key>-<token>.json``:
each record's id, line, content hash, offices, themes, fingerprint and named
document).  Beside that it keeps only what spans files: the ids that have
copies in several files, the ids whose record names a document file, the ids
of PDFs that are records of their own, and which document each record had.

So adding a file of ten records to a catalogue of a million reads and writes
the state of that file only: unchanged files are compared by size and time,
and neither read nor rewritten.  A per-file state is never rewritten in
place: a changed file gets a new one (under a new name) and the old one
is removed once the commit is signed, so a cut-off run leaves the last
complete state as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .corpus import Copy, copy_of
from .indexdir import STATE_FILE

#: Per-file states: ``state-<hash of the path>-<random token>.json``.
FILE_STATE_PREFIX = "state-"
#: Bump when the layout changes: an older state is then read as no state
#: (the next run reads every file once and writes the new layout).
STATE_FORMAT = 2


@dataclass
class FileEntry:
    """One catalogue file as last read."""

    size: int
    mtime_ns: int
    state: str  # the file holding its copies
    records: int
    errors: bool = False  # it had errors: read again on every run until fixed

    def to_json(self) -> list[Any]:
        return [self.size, self.mtime_ns, self.state, self.records, self.errors]

    @classmethod
    def from_json(cls, value: list[Any]) -> FileEntry:
        size, mtime_ns, state, records, errors = value
        return cls(int(size), int(mtime_ns), str(state), int(records), bool(errors))

    def matches(self, st: os.stat_result) -> bool:
        return not self.errors and self.size == st.st_size and self.mtime_ns == st.st_mtime_ns


@dataclass
class CatalogueState:
    """The remembered catalogue of one index generation."""

    gen: Path
    sources: list[str] = field(default_factory=list)
    generation: int = -1
    files: dict[str, FileEntry] = field(default_factory=dict)
    #: ids with copies in more than one file -> [merged, superseded, paths...]
    shared: dict[str, list[Any]] = field(default_factory=dict)
    named: dict[str, str] = field(default_factory=dict)  # id -> the document its record names
    own: list[str] = field(default_factory=list)  # PDFs that are records of their own
    linked: dict[str, str] = field(default_factory=dict)  # id -> its document's SHA-256
    documents: dict[str, Any] = field(default_factory=dict)  # document files as last seen
    _copies: dict[str, list[Copy]] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, gen: Path) -> CatalogueState | None:
        """The state of ``gen``, or None when it has none (or an older layout)."""
        try:
            data = json.loads((gen / STATE_FILE).read_text("utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            return None
        if any(not (gen / e[2]).is_file() for e in data["files"].values()):
            return None  # a per-file state went missing: read every file again
        return cls(gen, list(data["sources"]), int(data["generation"]),
                   {p: FileEntry.from_json(e) for p, e in data["files"].items()},
                   dict(data["shared"]), dict(data["named"]), list(data["own"]),
                   dict(data["linked"]), dict(data["documents"]))

    def copies(self, path: str) -> list[Copy]:
        """The copies a file held when last read (its state file is read once)."""
        found = self._copies.get(path)
        if found is None:
            entry = self.files[path]
            found = self._copies[path] = list(read_copies(self.gen / entry.state, path,
                                                          entry.mtime_ns))
        return found

    def copies_of(self, path: str, rid: str) -> list[Copy]:
        """The copies of ``rid`` a file held when last read, found in the text
        of its state rather than by reading every copy (attaching a PDF to a
        record of a 10,000-record file: 55-80 -> 4.5 ms; both grow with the
        file)."""
        held = self._copies.get(path)
        if held is not None:
            return [c for c in held if c.id == rid]
        entry = self.files[path]
        text = (self.gen / entry.state).read_text("utf-8")
        # A copy is [id,line,core,[offices],[themes],fingerprint,file] (write_copies).
        needle = "[" + json.dumps(rid, ensure_ascii=False) + ","
        decoder = json.JSONDecoder()
        found = []
        at = text.find(needle)
        while at >= 0:
            value, _ = decoder.raw_decode(text, at)
            if (len(value) == 7 and value[0] == rid and isinstance(value[1], int)
                    and isinstance(value[3], list) and isinstance(value[4], list)):
                found.append(copy_of(value, path, entry.mtime_ns, {}))
            at = text.find(needle, at + 1)
        return found

    def merged_counts(self) -> tuple[int, int]:
        """Copies merged into and superseded by others, over the catalogue."""
        return (sum(v[0] for v in self.shared.values()),
                sum(v[1] for v in self.shared.values()))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT, "sources": self.sources, "generation": self.generation,
            "files": {p: e.to_json() for p, e in self.files.items()},
            "shared": self.shared, "named": self.named, "own": sorted(self.own),
            "linked": self.linked, "documents": self.documents,
        }

    def write(self) -> None:
        """Write the top-level state (after every per-file state it names)."""
        _write_json(self.gen / STATE_FILE, self.to_json())


def file_state_name(path: str) -> str:
    """A new name for a file's state (never one in use: states are not rewritten)."""
    key = hashlib.sha1(path.encode("utf-8")).hexdigest()[:16]
    return f"{FILE_STATE_PREFIX}{key}-{secrets.token_hex(4)}.json"


#: ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` without
#: making an encoder a call (a state holds a copy of every record).
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def write_copies(target: Path, path: str, copies: list[Copy]) -> None:
    """Write one file's copies (a piece at a time: no one string of it all)."""
    dump = _COMPACT_JSON
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f'{{"path":{dump(path)},"copies":[')
        for start in range(0, len(copies), 10_000):
            f.write(("," if start else "") + ",".join(
                dump(c.compact())
                for c in copies[start:start + 10_000]))
        f.write("]}")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def read_copies(source: Path, path: str, mtime_ns: int) -> Iterator[Copy]:
    data = json.loads(source.read_text("utf-8"))
    values: dict[tuple[str, ...], tuple[str, ...]] = {}
    for value in data["copies"]:
        yield copy_of(value, path, mtime_ns, values)


def _write_json(target: Path, data: Any) -> None:
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        # (one string, one write: json.dump writes each of its pieces, 3.0
        # ms instead of 1.5 for the top-level state of 1,000 documents)
        f.write(_COMPACT_JSON(data))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
