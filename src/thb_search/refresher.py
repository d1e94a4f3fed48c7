"""Keeping a long-lived catalogue current between its searches.

A :class:`~thb_search.Catalogue` asked more than once (a server, a notebook, a
script searching in a loop) opens each new commit as soon as it is signed, in
a thread of its own, so that the next search does not wait for the opening
(measured in the thread, on adds of 10 records while a search ran every
10 ms: 1.5-2.4 ms at 100k records, 3.7-6.8 ms at a million).  The thread
sleeps until the kernel reports (inotify) the rename that completes a commit
(``MANIFEST`` in the live generation's folder) or a swap of generations
(``CURRENT``), then calls the catalogue's refresh, which holds the
catalogue's lock: a search that starts meanwhile waits for the rest of that
opening and answers from the new state, exactly as it would had it opened
the state itself.  A search never answers from a state older than the last
commit signed before it started.

Where inotify or eventfd (which wakes the thread to end it) is missing (not
Linux) or refused (the per-user limit of inotify instances,
``fs.inotify.max_user_instances``, reached), no thread runs and every search
sees a commit itself, as a catalogue asked once always does.
"""

from __future__ import annotations

import os
import select
import struct
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

from .indexdir import CURRENT_FILE
from .trust import MANIFEST

# inotify(7): the events asked for, and the struct each event starts with
# (watch, mask, cookie, length of the name that follows).
_IN_MOVED_TO = 0x00000080
_IN_Q_OVERFLOW = 0x00004000
_EVENT = struct.Struct("iIII")
#: The names whose arrival means there is a new state to open.
_COMPLETING = {CURRENT_FILE.encode(), MANIFEST.encode()}
#: Milliseconds between looks at whether the catalogue is still there (when
#: it is collected without being closed, the thread ends within this).
LOOK_MS = 1000
#: Seconds :meth:`Refresher.stop` waits for the thread to end.
STOP_WAIT = 5.0


class Refresher:
    """The thread keeping one catalogue current (see the module's doc).

    ``refresh(owner)`` (``owner`` held weakly: the thread does not keep the
    catalogue alive) brings the catalogue to the latest state and returns
    the live generation's folder, the one to watch next.
    """

    def __init__(self, wake: int) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._ended = threading.Event()
        #: Set once the thread watches (or has found it cannot).
        self.watching = threading.Event()
        self._stopping = False

    @classmethod
    def start(cls, owner: object, refresh: Callable[[object], Path | None],
              root: Path, gen: Path) -> Refresher | None:
        """The thread started (without waiting for it to run: the search that
        starts it does not wait), or None where it cannot be (no eventfd,
        out of descriptors or threads)."""
        import _thread  # (threading.Thread.start waits for the thread to run)

        try:
            wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        except (AttributeError, OSError):  # not Linux, or no descriptor left
            return None
        refresher = cls(wake)
        try:
            _thread.start_new_thread(refresher._run, (weakref.ref(owner), refresh, root, gen))
        except RuntimeError:  # no thread to be had
            os.close(wake)
            return None
        return refresher

    def stop(self) -> None:
        """End the thread and wait for it (its files are closed on return)."""
        with self._lock:
            self._stopping = True
            if not self._ended.is_set():
                os.eventfd_write(self._wake, 1)
        self._ended.wait(STOP_WAIT)

    def _run(self, owner: weakref.ref[object], refresh: Callable[[object], Path | None],
             root: Path, gen: Path) -> None:
        inotify = -1
        try:
            inotify = _inotify()
            if inotify < 0:
                return
            _watch(inotify, root)
            watched = gen if _watch(inotify, gen) else None
            poller = select.poll()
            poller.register(inotify, select.POLLIN)
            poller.register(self._wake, select.POLLIN)
            self.watching.set()
            while not self._stopping:
                ready = poller.poll(LOOK_MS)
                if self._stopping:
                    break
                if not ready:
                    if owner() is None:
                        break
                    continue
                if not _completed(inotify):
                    continue
                catalogue = owner()
                if catalogue is None:
                    break
                live = refresh(catalogue)
                del catalogue
                if live is not None and live != watched and _watch(inotify, live):
                    watched = live  # (the old folder's watch ends when it is removed)
        except Exception:  # noqa: BLE001, S110 - the searches see commits themselves
            pass
        finally:
            with self._lock:
                if inotify >= 0:
                    os.close(inotify)
                os.close(self._wake)
                self._ended.set()
            self.watching.set()


_libc = None


def _inotify() -> int:
    """A new inotify instance's descriptor, or -1 when there is none to have."""
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    try:
        init = _libc.inotify_init1
    except AttributeError:  # not Linux
        return -1
    return int(init(os.O_NONBLOCK | os.O_CLOEXEC))  # -1 at the limit of instances


def _watch(inotify: int, folder: Path) -> bool:
    """Watch ``folder`` for names renamed into it (False: it is gone)."""
    assert _libc is not None
    return int(_libc.inotify_add_watch(inotify, os.fsencode(folder), _IN_MOVED_TO)) >= 0


def _completed(inotify: int) -> bool:
    """Read every event waiting; whether one completes a commit or a swap
    (or events were lost, so one may have)."""
    completed = False
    while True:
        try:
            data = os.read(inotify, 65536)
        except BlockingIOError:
            return completed
        offset = 0
        while offset < len(data):
            _, mask, _, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            name = data[offset:offset + length].rstrip(b"\0")
            offset += length
            if mask & _IN_Q_OVERFLOW or name in _COMPLETING:
                completed = True
