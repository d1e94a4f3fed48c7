"""``thb-search`` and ``python -m thb_search``: start the command, and end it.

Starting, a new process imports about 30,000 objects that live until it exits
(modules, classes, functions, click's parameters, Whoosh's schema classes).
Python's cyclic garbage collector runs every few hundred allocations and, in
its full passes, walks every one of them again, all to free nothing: 25-30 ms
of a 0.2 s ``thb-search QUERY`` on the bundled catalogue.  So the collector is
paused while the command's modules are imported, and what they made is then
moved out of its sight (``gc.freeze``) before it resumes: the command runs with
the collector on, and its collections walk only what the command allocates.

Ending, Python would tear all of them down again, one by one (numpy's and
Whoosh's modules, the index's readers): 12-17 ms of a search's new process at
100,000 records.  Nothing of it is needed: whatever the command writes is
written, synced and closed before it returns (the index is crash-safe: a
process cut off at any point loses nothing), so once its output is flushed and
the exit handlers have run, the process ends at once (:func:`_end`).
"""

from __future__ import annotations

import gc


def main() -> None:
    """Entry point of the ``thb-search`` script."""
    gc.disable()
    try:
        from .cli import main as command
    finally:
        gc.freeze()
        gc.enable()
    try:
        command()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            _end(exc.code or 0)
        raise
    _end(0)


def _end(code: int) -> None:
    """End the process with exit status ``code`` as Python's own exit would,
    less the teardown of every object: the exit handlers run (``atexit``) and
    the output is flushed.  A thread other than daemons still running (which
    Python's exit would wait for) gets Python's own exit instead."""
    import atexit
    import contextlib
    import os
    import sys
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and not stream.closed:
                stream.flush()
        except BrokenPipeError:  # `thb-search ... | head`: as the command itself ends then
            pass
        except OSError as exc:  # (a full disk under `thb-search ... > file`)
            with contextlib.suppress(OSError):
                os.write(2, f"Error: the output could not be written: {exc.strerror or exc}: "
                            "free some space or write it elsewhere, then run the command "
                            "again\n".encode())
            code = code or 1
    os._exit(code)


if __name__ == "__main__":  # not when a worker process re-imports this module
    main()
