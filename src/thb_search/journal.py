"""What an ``add`` has done to the catalogue folder, so that an interrupted
one (a killed process, a power cut) is finished or undone by the next command.

``add`` writes ``.thb-add-PID.json`` in the catalogue folder before it
copies anything, and keeps it up to date (each write flushed to disk):

* stage ``copying``: the files copied so far, and the documents it set aside
  (a PDF it replaces is renamed ``.NAME.replaced`` until the add is done);
* stage ``indexing``: every copy is complete; only indexing was left.

The journal is removed when the add is done, or undone after a failure.  A
journal left by a process that no longer runs is recovered by the next
command that indexes the folder (:func:`recover`): an add interrupted while
copying is undone (its copies removed, set-aside documents put back); one
interrupted while indexing is finished (the copies stay and are indexed by
this very run).  Half-written copies (``.NAME.part``) are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .corpus import display_path

PREFIX = ".thb-add-"


@dataclass
class Journal:
    """The journal of one ``add`` in progress."""

    path: Path
    stage: str = "copying"
    copies: list[str] = field(default_factory=list)
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (document, set aside as)

    @classmethod
    def start(cls, corpus: Path) -> Journal:
        journal = cls(corpus / f"{PREFIX}{os.getpid()}.json")
        journal.save()
        return journal

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"pid": os.getpid(), "stage": self.stage, "copies": self.copies,
                       "replaced": self.replaced}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def copied(self, dest: Path) -> None:
        self.copies.append(str(dest))
        self.save()

    def set_aside(self, document: Path, aside: Path) -> None:
        self.replaced.append((str(document), str(aside)))
        self.save()

    def copying_done(self) -> None:
        self.stage = "indexing"
        self.save()

    def finish(self) -> None:
        """The add is done: drop the set-aside documents and the journal."""
        for _, aside in self.replaced:
            with contextlib.suppress(OSError):
                Path(aside).unlink()
        self.path.unlink(missing_ok=True)

    def undo(self) -> None:
        """Take the add back: remove its copies, put set-aside documents back."""
        for dest in map(Path, self.copies):
            with contextlib.suppress(OSError):
                dest.unlink()
            with contextlib.suppress(OSError):
                dest.with_name("." + dest.name + ".part").unlink()
        for document, aside in self.replaced:
            with contextlib.suppress(OSError):
                os.replace(aside, document)
        for dest in map(Path, self.copies):  # an empty documents/ID/ folder of this add
            with contextlib.suppress(OSError):
                dest.parent.rmdir()
        self.path.unlink(missing_ok=True)


def recover(corpus: Path) -> list[str]:
    """Finish or undo the adds to ``corpus`` that were interrupted; returns
    what was done, to tell the user."""
    if not corpus.is_dir():
        return []
    messages = []
    running = False
    for path in sorted(corpus.glob(PREFIX + "*.json")):
        data = _read(path)
        if data is None:
            path.unlink(missing_ok=True)  # cut off before its first write
            continue
        if _alive(data.get("pid")):
            running = True  # an add still running: its files are its own
            continue
        journal = Journal(path, data.get("stage", "copying"), list(data.get("copies", [])),
                          [tuple(r) for r in data.get("replaced", [])])
        names = ", ".join(display_path(Path(c)) for c in journal.copies) or "nothing"
        if journal.stage == "indexing":
            journal.finish()
            messages.append(f"an add that was interrupted was finished: {names} indexed now")
        else:
            journal.undo()
            messages.append(f"an add that was interrupted while copying was undone: {names} "
                            "removed (add the files again)")
    if not running:
        for part in corpus.rglob(".*.part"):
            part.unlink(missing_ok=True)
    return messages


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid == os.getpid():
        return pid == os.getpid()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
