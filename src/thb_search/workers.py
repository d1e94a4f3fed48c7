"""What every worker process (indexing, reading PDFs) does first: end with
the process that started it, so that a killed command leaves no process
behind working for nothing.  And the pause of Python's cycle collector that
bulk work (reading a catalogue, indexing it) runs under.

A process reading PDFs runs :func:`pages_to_file`, which is here so that it
imports this module and the PDF reader only (``thb_search.documents``,
where it was, took such a process 64 ms more to import before reading)."""

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


def pages_to_file(path: str, target: str) -> tuple[str, str | None]:
    """In a worker process: the pages of the PDF ``path`` (as shown to the
    user) into the file ``target``, separated by form feeds; its title and
    creation date (ISO)."""
    from .pdftext import open_pdf

    with open_pdf(path) as pdf, open(target, "w", encoding="utf-8") as out:
        for n, text in enumerate(pdf.pages()):
            out.write(("\f" if n else "") + text.replace("\f", " "))
        return pdf.title or "", pdf.created_day
