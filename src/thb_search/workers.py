"""What every worker process (indexing, reading PDFs) does first: end with
the process that started it, so that a killed command leaves no process
behind working for nothing.  And the pause of Python's cycle collector that
bulk work (reading a catalogue, indexing it) runs under."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (Linux); where
    that is not possible, workers notice a dead parent when they next wait."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = multiprocessing.parent_process()
    if parent is not None and not parent.is_alive():  # died before the call above
        os._exit(1)


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off meanwhile (back on after, if it was).

    Bulk work makes no reference cycles worth collecting, and the collector
    would walk what it keeps (records read, a worker's tables) again and
    again: 0.4-0.6 s of a 3.5-4 s read of 100,000 records; of a 100k
    rebuild, 1.6 s of the indexing process's 8.7 CPU-s and 0.86 s of each
    worker's 13.5."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
