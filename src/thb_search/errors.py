"""The one exception hierarchy of thb-search.

The library never prints: it raises these, and the CLI turns each into a
one-line ``Error: ...`` message (the web layer into an HTTP status).
"""

from __future__ import annotations

from typing import Any


class ThbSearchError(Exception):
    """Base class of every foreseeable thb-search failure.

    Pickled with its message and attributes, not by calling its class again
    (which Python's own pickling of an exception does, with its message
    only): a worker process reading PDFs or a part of a catalogue sends its
    errors, and an error that did not come back whole broke the whole run
    (``DocumentError``: ``BrokenProcessPool`` in place of the file's
    problem)."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _rebuilt, (type(self), self.args, dict(self.__dict__))


def _rebuilt(cls: type[ThbSearchError], args: tuple[Any, ...],
             state: dict[str, Any]) -> ThbSearchError:
    """An error as it was pickled: its message and attributes, no ``__init__``."""
    err = cls.__new__(cls, *args)
    err.args = args
    err.__dict__.update(state)
    return err


class CorpusFormatError(ThbSearchError):
    """A record of a catalogue file cannot be read.

    ``path`` and ``line`` say where; ``problem`` says what is wrong and how to
    fix it.  ``str(err)`` is ``"path:line: problem"``.
    """

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {problem}")


class CorpusErrors(ThbSearchError):
    """Several records could not be read; ``errors`` lists every one."""

    def __init__(self, errors: list[CorpusFormatError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        more = len(self.errors) - 1
        tail = (
            f" (and {more} more problem{'s' if more > 1 else ''}; fix them, "
            "or pass --skip-invalid to index the rest)"
            if more
            else ""
        )
        super().__init__(f"{first}{tail}")


class CorpusNotFoundError(ThbSearchError):
    """A catalogue file or folder does not exist or holds no catalogue files."""


class QuerySyntaxError(ThbSearchError):
    """The query string cannot be parsed."""


class InvalidFilterError(ThbSearchError):
    """A filter value cannot be understood (a usage error: exit code 2)."""


class UnknownFilterValueError(InvalidFilterError):
    """A filter names a facet value the index does not hold, or several."""

    def __init__(self, facet: str, value: str, message: str, candidates: list[str]) -> None:
        self.facet = facet
        self.value = value
        self.candidates = list(candidates)
        super().__init__(message)


class ParameterError(ThbSearchError):
    """A request parameter of the web API is missing, unknown or out of range
    (``parameter`` names it)."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(message)


class IndexNotFoundError(ThbSearchError):
    """There is no index where one was expected."""


class IndexCorruptError(ThbSearchError):
    """The index's files cannot be read (damaged, or not written by thb-search)."""


class IndexOutdatedError(ThbSearchError):
    """The index was built by another version of thb-search and must be rebuilt."""


class IndexLockedError(ThbSearchError):
    """Another process kept the index locked for longer than we may wait."""


class IndexingError(ThbSearchError):
    """Writing the index failed (a worker process crashed, the index cannot be
    read); ``details`` keeps the technical account (a traceback), if any."""

    def __init__(self, message: str, details: str = "") -> None:
        self.details = details
        super().__init__(message)


class DiskFullError(ThbSearchError):
    """A write failed for want of space (or past the file size limit); what was
    being written was dropped and the index is as it was."""


class RecordNotFoundError(ThbSearchError):
    """No publication has the given id."""


class EvaluationFileError(ThbSearchError, ValueError):
    """A queries, qrels or run file cannot be read (``path:line: problem``)."""


class DocumentError(ThbSearchError):
    """A publication's document (its PDF) cannot be read.

    ``path`` is the file as given; ``page`` the page (1-based) where reading
    failed, or ``None`` when the file does not open; ``kind`` one of
    ``"encrypted"``, ``"not-pdf"``, ``"truncated"``, ``"damaged"``,
    ``"unreadable"``; ``problem`` says what is wrong and how to fix it.
    ``str(err)`` is ``"path: problem"``, e.g. ``corpus/documents/x.pdf:
    encrypted PDF (it needs a password): save an unprotected copy``.
    """

    def __init__(self, path: str, problem: str, *, page: int | None = None,
                 kind: str = "damaged") -> None:
        self.path = str(path)
        self.page = page
        self.kind = kind
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
