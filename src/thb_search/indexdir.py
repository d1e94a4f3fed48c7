"""The index folder: its generations, the ``CURRENT`` pointer, the writer lock.

Layout::

    index/
      CURRENT              name of the live generation ("gen-000003")
      .lock                held (flock) by the one process writing
      texts.sqlite         the text of every document read, by content (texts.py)
      gen-000003/
        SCHEMA_VERSION     the schema and analysis it was built with
        *.toc *.trm ...    a Whoosh index (see writer.py)
        thb-state.json     what each catalogue file held; each record's fingerprint
        facets-<n>.arrays  facet, sort and length arrays (facets.py)
        lexicon.sqlite     the words met, with their terms (lexicon.py)

Incremental runs write into the live generation with Whoosh's own atomic
commits; a rebuild writes a new generation and swaps ``CURRENT`` only when it
is complete, so searches keep working meanwhile and a crash leaves the old
index.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import json
import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from .errors import IndexCorruptError, IndexingError, IndexLockedError, IndexNotFoundError
from .locations import display_path
from .schema import SCHEMA_VERSION
from .trust import fsync_path, superseded, unsigned, verify

STATE_FILE = "thb-state.json"
VERSION_FILE = "SCHEMA_VERSION"
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".lock"
#: Seconds a writer waits for another writer by default.
DEFAULT_WAIT = 30.0
#: Index folders whose writer lock this process holds.
_HELD: set[Path] = set()


#: What an indexing worker's failure to start tells: a build's worker
#: processes are spawned, and each imports the script that started it.
MAIN_GUARD = ("A Python script that indexes must do so under if __name__ == \"__main__\": "
              "(worker processes import it)")


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
                not p.name.startswith((".", "gen-", "texts.sqlite"))
                for p in self.root.iterdir()
            ):
                raise IndexNotFoundError(
                    f"{self.shown} is not a thb-search index (it has no CURRENT file but "
                    "holds other files): choose another folder with --index or "
                    "THB_SEARCH_INDEX, or move that folder away") from None
            return None
        path = self.root / name
        return path if name.startswith("gen-") and path.is_dir() else None

    def stamp(self, gen: Path) -> tuple[int, int, int, int] | None:
        """What a commit to ``gen`` or a swap of generations changes: the
        inode and modification time of ``CURRENT`` and of ``gen``'s folder
        (None: one is gone)."""
        try:
            current, folder = os.stat(self.root / CURRENT_FILE), os.stat(gen)
        except OSError:
            return None
        return current.st_ino, current.st_mtime_ns, folder.st_ino, folder.st_mtime_ns

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

    def open(self, trusted: Path | None = None) -> Any:
        """Open the live generation for reading (retrying across a swap);
        ``trusted``: the generation the caller has just verified (it is not
        checked again).

        Raises :class:`IndexNotFoundError` when there is no index and
        :class:`IndexCorruptError` when its files cannot be read.
        """
        for attempt in range(3):
            gen = trusted if trusted is not None and attempt == 0 else self._trusted()
            ix, problem = _open_whoosh(gen)
            if ix is not None:
                return ix
            if problem == "files are missing" and attempt < 2:
                time.sleep(0.05)  # a rebuild swapped generations meanwhile
                continue
            raise IndexCorruptError(
                f"the index at {self.shown} cannot be read ({problem}): rebuild it from the "
                "catalogue with 'thb-search index --rebuild'")
        raise AssertionError("unreachable")

    def schema_problem(self, gen: Path | None = None) -> str | None:
        """Why the live index's schema (or generation ``gen``'s) is not this
        version's, or None."""
        gen = gen or self.current()
        try:
            version = (gen / VERSION_FILE).read_text("utf-8").strip() if gen else None
        except FileNotFoundError:
            version = None
        if version != SCHEMA_VERSION:
            return (f"the index at {self.shown} was built by another version of "
                    f"thb-search (schema {version or 'unknown'}, now {SCHEMA_VERSION})")
        return None

    def is_outdated(self) -> str | None:
        """Why the live index cannot be used as it is (another schema, or not
        signed by this user's thb-search), or None."""
        outdated = self.schema_problem()
        if outdated:
            return outdated
        gen = self.current()
        problem = verify(gen) if gen else None
        deadline = time.monotonic() + DEFAULT_WAIT
        while problem and time.monotonic() < deadline:
            # A commit being signed, or one just signed: look again (until
            # it is signed, or no writer is left to sign it).
            active = self.writer_active()
            gen = self.current()
            problem = verify(gen) if gen else None
            if problem and not active:
                break
            time.sleep(0.02)
        if problem:
            return f"the index at {self.shown} is not opened: {problem}"
        return None

    def _trusted(self) -> Path:
        """The live generation, once its signature is checked (a commit that
        another process has not signed yet is waited for)."""
        while True:
            gen = self.current()
            if gen is None:
                raise IndexNotFoundError(
                    f"no index at {self.shown}: run 'thb-search index' to build it")
            problem = verify(gen)
            if problem is None:
                return gen
            if not self.writer_active():
                if self.current() != gen or verify(gen) is None:
                    continue  # the writer finished (signed, or swapped) meanwhile
                raise IndexCorruptError(
                    f"the index at {self.shown} is not opened: {problem}: rebuild it from the "
                    "catalogue with 'thb-search index --rebuild'")
            time.sleep(0.02)  # a commit being signed: look again until it is

    @contextlib.contextmanager
    def lock(self, wait: float = DEFAULT_WAIT) -> Iterator[None]:
        """Hold the writer lock, waiting up to ``wait`` seconds for another writer
        (a process that holds it already just goes on)."""
        mp = sys.modules.get("multiprocessing")  # (not imported to look: start-up time)
        if mp is not None and getattr(mp.current_process(), "_inheriting", False):
            # A worker process of a build, spawned, importing the script that
            # started the build, which indexes unguarded: it would wait for
            # the lock its parent holds.  (multiprocessing checks so too.)
            raise IndexingError(MAIN_GUARD)
        if self.root in _HELD:
            yield
            return
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
            _HELD.add(self.root)
            yield
        finally:
            _HELD.discard(self.root)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing releases the flock

    def writer_active(self) -> bool:
        """Whether another process holds the writer lock right now."""
        if self.root in _HELD:
            return False  # this process is the writer
        try:
            fd = os.open(self.root / LOCK_FILE, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            return exc.errno in (errno.EAGAIN, errno.EACCES)
        finally:
            os.close(fd)  # closing releases the lock if it was taken
        return False

    def new_generation(self) -> Path:
        """A new, empty generation folder (not live until :meth:`swap`)."""
        numbers = [int(p.name[4:]) for p in self.root.glob("gen-*") if p.name[4:].isdigit()]
        gen = self.root / f"gen-{max(numbers, default=0) + 1:06d}"
        gen.mkdir(parents=True)
        return gen

    def swap(self, gen: Path) -> None:
        """Make ``gen`` the live generation (an atomic rename of ``CURRENT``),
        then remove the others."""
        tmp = self.root / (CURRENT_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(gen.name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / CURRENT_FILE)
        fsync_path(self.root)  # the new CURRENT, before the old generation goes
        self.remove_stale(keep=gen)

    def clean_leftovers(self) -> None:
        """Remove what a writer that was killed (or failed) may have left
        (call with the lock held): half-written files (``*.tmp``), files of a
        commit that was never signed, and generations that never went live."""
        current = self.current()
        for folder in (self.root, *([current] if current else [])):
            for path in folder.glob("*.tmp*"):
                if path.is_file():
                    path.unlink(missing_ok=True)
        if current is not None:
            # Never read: the signed state is the index (files a commit cut off
            # before its signature wrote, or that a signed commit superseded).
            for path in [*unsigned(current), *superseded(current)]:
                path.unlink(missing_ok=True)
        if current is not None:
            self.remove_stale(keep=current)

    def remove_stale(self, keep: Path | None) -> None:
        """Remove every generation but ``keep`` (leftovers of a crashed rebuild)."""
        for old in self.root.glob("gen-*"):
            if keep is None or old.name != keep.name:
                shutil.rmtree(old, ignore_errors=True)


def _open_whoosh(gen: Path) -> tuple[Any, str]:
    """(the Whoosh index in ``gen``, "") or (None, why it cannot be opened)."""
    with warnings.catch_warnings():
        # Whoosh leaves a table of contents it cannot read open.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return whoosh_index.open_dir(str(gen)), ""
        except (FileNotFoundError, whoosh_index.EmptyIndexError):
            problem = "files are missing"
        except Exception as exc:  # unpickling errors, damaged files
            problem = f"{type(exc).__name__}: {exc}".splitlines()[0]
        gc.collect()
    return None, problem
