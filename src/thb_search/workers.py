"""What every worker process (indexing, reading PDFs) does first: end with
the process that started it, so that a killed command leaves no process
behind working for nothing."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys

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
