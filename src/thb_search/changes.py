"""What a run has to write: the records added, changed and removed since the
index was last brought in line with its catalogue.

Work is proportional to what changed.  Files whose size and modification
time are those remembered (:mod:`thb_search.state`) are neither read nor
their state loaded; the records of changed, new and removed files are the
*affected* ids.  Each affected id is resolved from all its copies (those of
unchanged files come from their remembered state, found through the ids that
span files), its fingerprint (with its document's content) compared with the
one the index holds, and it is added, updated, removed or left alone.
Records whose document changed are affected too.  With no usable state
(a rebuild, or a run cut off before it wrote one) every file counts as
changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .corpus import Copy, Resolved, find_files, resolve
from .documents import Attachment, attach
from .scan import Progress, Scan
from .schema import live_docnum
from .state import CatalogueState, FileEntry, file_state_name, write_copies
from .texts import TextStore

#: Affected ids above which the index's fingerprints are read all at once.
BULK_LOOKUP = 2_000


class IndexedIds:
    """The ids an index holds and their fingerprints (a reader of its latest
    commit; None: there is no index yet)."""

    def __init__(self, ix: Any | None) -> None:
        self._reader = ix.reader() if ix is not None else None
        self._all: dict[str, str] | None = None
        self._docnums: dict[str, int | None] = {}  # ids looked up one by one

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def detach(self) -> Any | None:
        """The reader, which the caller now closes (a commit's reader takes
        over its segments: :func:`thb_search.whoosh_internals.reopened`)."""
        reader, self._reader = self._reader, None
        return reader

    def _everything(self) -> dict[str, str]:
        if self._all is None:
            self._all = {}
            if self._reader is not None:
                for _, fields in self._reader.iter_docs():
                    self._all[fields["id"]] = fields.get("fingerprint", "")
        return self._all

    def all_ids(self) -> set[str]:
        return set(self._everything())

    def indexed(self, rid: str) -> bool:
        if self._all is not None:
            return rid in self._all
        return self._reader is not None and self._docnum(rid) is not None

    def _docnum(self, rid: str) -> int | None:
        """``rid``'s live document, looked up once (a new record is asked
        whether it is indexed, then for its fingerprint)."""
        try:
            return self._docnums[rid]
        except KeyError:
            assert self._reader is not None
            found = self._docnums[rid] = live_docnum(self._reader, rid)
            return found

    def fingerprints(self, ids: Iterable[str]) -> dict[str, str]:
        """Fingerprints of those of ``ids`` the index holds."""
        ids = list(ids)
        if self._reader is None:
            return {}
        if len(ids) > BULK_LOOKUP or self._all is not None:
            everything = self._everything()
            return {rid: everything[rid] for rid in ids if rid in everything}
        out = {}
        for rid in ids:
            docnum = self._docnum(rid)
            if docnum is not None:
                out[rid] = self._reader.stored_fields(docnum).get("fingerprint", "")
        return out


@dataclass
class Changes:
    """What one run writes, and the state to remember after it."""

    scan: Scan
    resolved: dict[str, Resolved | Copy]  # affected catalogue records, by id
    att: Attachment
    fingerprints: dict[str, str]  # of the affected that exist (catalogue and own records)
    to_add: list[str]
    to_update: list[str]
    to_remove: list[str]
    state: CatalogueState  # to write once the commit is made
    new_states: dict[str, list[Copy]] = field(default_factory=dict)  # file -> its copies
    superseded_states: list[str] = field(default_factory=list)
    files: int = 0
    # The generation whose folder has the per-file states (write_file_states).
    file_states_in: Path | None = field(default=None, init=False)

    def write_file_states(self, gen: Path) -> None:
        """Write into ``gen`` the per-file states of the files read (they do
        not depend on the commit: a rebuild writes them while it indexes)."""
        for path, copies in self.new_states.items():
            entry = self.state.files[path]
            entry.state = file_state_name(path)
            write_copies(gen / entry.state, path, copies)
        self.file_states_in = gen

    def write_states(self, gen: Path, generation: int) -> None:
        """Write into ``gen`` the per-file states of the files read (unless
        written there already), then the state naming them, as of Whoosh's
        commit ``generation``."""
        if self.file_states_in != gen:
            self.write_file_states(gen)
        self.state.gen = gen
        self.state.generation = generation
        self.state.write()


def plan(paths: Sequence[str | os.PathLike[str]], state: CatalogueState | None,
         indexed: IndexedIds, target: CatalogueState, store: TextStore,
         reading: Progress | None = None,
         on_read: Callable[[int], object] | None = None) -> Changes:
    """Read what changed in the catalogue ``paths`` since ``state`` (None: no
    state, every file is read) and decide what to write; ``target`` is the
    state to fill for the generation written to.  ``on_read(n)`` is called
    once the files are read (``n`` records)."""
    files, warnings = find_files(paths)
    scan = Scan(files, warnings=list(warnings))
    remembered = state.files if state is not None else {}
    unchanged: dict[str, FileEntry] = {}
    new_copies: dict[str, list[Copy]] = {}
    read: dict[str, list[Copy]] = {}
    for path in files:
        key = str(path)
        st = path.stat()
        entry = remembered.get(key)
        if entry is not None and entry.matches(st):
            unchanged[key] = entry
            continue
        copies = scan.read(key, st.st_mtime_ns, st.st_size)
        read[key] = copies
        target.files[key] = FileEntry(st.st_size, st.st_mtime_ns, "", len(copies),
                                      errors=key not in scan.file_state)
        for c in copies:
            new_copies.setdefault(c.id, []).append(c)
    if on_read:
        on_read(sum(map(len, read.values())))
    target.files.update(unchanged)
    gone = [p for p in remembered if p not in unchanged and p not in read]
    old_ids: set[str] = set()
    for path in (*read, *gone):
        if state is not None and path in remembered:
            old_ids.update(c.id for c in state.copies(path))
    if state is None:
        old_ids |= indexed.all_ids()
    own_before = set(state.own) if state is not None else set()

    finder = _Finder(state, unchanged, indexed, own_before)
    affected = old_ids | set(new_copies)
    resolved: dict[str, Resolved | Copy] = {}
    shared = dict(state.shared) if state is not None else {}
    for rid in affected:
        copies = new_copies.get(rid, []) + finder.unchanged_copies(rid, rid in old_ids)
        _settle(rid, copies, resolved, shared)

    named = dict(state.named) if state is not None else {}
    for rid in affected:
        named.pop(rid, None)
        r = resolved.get(rid)
        if r is not None and r.winner.file:
            named[rid] = r.winner.file

    before = state.linked if state is not None else {}

    def has_record(rid: str) -> bool:
        if rid in affected:
            return rid in resolved
        if rid in own_before:
            return False
        # A document linked to a catalogue record last time, whose record did
        # not change: it still has it (no lookup in the index for each of
        # the catalogue's documents).
        return rid in before or indexed.indexed(rid)

    att = attach(paths, named, has_record, store, state.documents if state else {}, reading)
    linked = {rid: att.found.seen[str(p)].sha256 for rid, p in att.links.items()}
    by_document = {rid for rid in {*linked, *before} if linked.get(rid) != before.get(rid)}
    for rid in sorted((by_document | set(att.own) | own_before) - affected):
        if rid not in att.own and has_record(rid):
            _settle(rid, finder.unchanged_copies(rid, False), resolved, shared)
        affected.add(rid)

    fingerprints = {rid: att.fingerprint(rid, r.fingerprint) for rid, r in resolved.items()}
    fingerprints.update((rid, att.fingerprint(rid, rec.fingerprint()))
                        for rid, rec in att.own.items())
    old = indexed.fingerprints(affected)
    target.sources = [str(os.path.abspath(os.path.expanduser(p))) for p in paths]
    target.shared = shared
    target.named = named
    target.own = sorted(att.own)
    target.linked = linked
    target.documents = att.seen_state()
    return Changes(
        scan=scan, resolved=resolved, att=att, fingerprints=fingerprints,
        to_add=sorted(rid for rid in fingerprints if rid not in old),
        to_update=sorted(rid for rid, fp in fingerprints.items() if rid in old and old[rid] != fp),
        to_remove=sorted(rid for rid in old if rid not in fingerprints),
        state=target, new_states=read,
        superseded_states=[remembered[p].state for p in (*read, *gone) if p in remembered],
        files=len(files))


def _settle(rid: str, copies: list[Copy], resolved: dict[str, Resolved | Copy],
            shared: dict[str, list[Any]]) -> None:
    """Resolve an id's copies, and remember whether it has several."""
    shared.pop(rid, None)
    if not copies:
        resolved.pop(rid, None)
        return
    r = resolved[rid] = resolve(copies)
    if len(copies) > 1:
        assert isinstance(r, Resolved)
        shared[rid] = [r.merged, r.superseded, *dict.fromkeys(c.path for c in copies)]


class _Finder:
    """Copies of an id in the files that did not change."""

    #: Ids looked up in a file's state's text before all its copies are read.
    LOOK_UPS = 8

    def __init__(self, state: CatalogueState | None, unchanged: dict[str, FileEntry],
                 indexed: IndexedIds, own_before: set[str]) -> None:
        self.state = state
        self.unchanged = unchanged
        self.indexed = indexed
        self.own_before = own_before
        self._by_id: dict[str, dict[str, list[Copy]]] = {}
        self._looked_up: dict[str, int] = {}  # path -> ids found in its text

    def _of(self, path: str) -> dict[str, list[Copy]]:
        found = self._by_id.get(path)
        if found is None:
            assert self.state is not None
            found = self._by_id[path] = {}
            for c in self.state.copies(path):
                found.setdefault(c.id, []).append(c)
        return found

    def unchanged_copies(self, rid: str, in_changed: bool) -> list[Copy]:
        """``rid``'s copies in unchanged files; ``in_changed``: it had a copy
        in a file that changed or is gone."""
        if self.state is None or not self.unchanged:
            return []
        spans = self.state.shared.get(rid)
        if spans is not None:
            paths = [p for p in spans[2:] if p in self.unchanged]
        elif in_changed or rid in self.own_before or not self.indexed.indexed(rid):
            return []  # its one file is the changed one, or it is in none
        else:
            paths = list(self.unchanged)  # in one unchanged file: which one is not remembered
        out: list[Copy] = []
        for path in paths:
            if path in self._by_id or self._looked_up.get(path, 0) >= self.LOOK_UPS:
                out.extend(self._of(path).get(rid, ()))
            else:  # the first few ids of a file are found in its state's text
                self._looked_up[path] = self._looked_up.get(path, 0) + 1
                out.extend(self.state.copies_of(path, rid))
            if out and spans is None:
                break
        return out
