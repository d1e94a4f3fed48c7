"""``thb-search`` and ``python -m thb_search``: start the command.

Starting, a new process imports about 30,000 objects that live until it exits
(modules, classes, functions, click's parameters, Whoosh's schema classes).
Python's cyclic garbage collector runs every few hundred allocations and, in
its full passes, walks every one of them again, all to free nothing: 25-30 ms
of a 0.2 s ``thb-search QUERY`` on the bundled catalogue.  So the collector is
paused while the command's modules are imported, and what they made is then
moved out of its sight (``gc.freeze``) before it resumes: the command runs with
the collector on, and its collections walk only what the command allocates.
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
    command()


if __name__ == "__main__":  # not when a worker process re-imports this module
    main()
