"""The error hierarchy: every error survives pickling whole (worker processes
send theirs to the process that started them)."""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import pytest

from thb_search import errors as E

EXAMPLES: list[E.ThbSearchError] = [
    E.CorpusFormatError("corpus/a.jsonl", 3, "invalid JSON: each line must be one JSON object"),
    E.CorpusFormatError("corpus/a.jsonl", None, "the file is 2.5 GB: split it"),
    E.CorpusErrors([E.CorpusFormatError("a.jsonl", 1, "x"), E.CorpusFormatError("b.csv", 2, "y")]),
    E.CorpusNotFoundError("corpus/missing: no such file or folder"),
    E.QuerySyntaxError("unbalanced quotes"),
    E.InvalidFilterError("--year 20x: a year is four digits"),
    E.UnknownFilterValueError("office", "odhir", "no office 'odhir'", ["OSCE ODIHR"]),
    E.ParameterError("limit", "limit must be between 1 and 100"),
    E.IndexNotFoundError("no index at ./index"),
    E.IndexCorruptError("the index is damaged: rebuild it"),
    E.IndexOutdatedError("the index was built by an older version: rebuild it"),
    E.IndexLockedError("another process is writing the index"),
    E.IndexingError("an indexing worker process failed", "Traceback ..."),
    E.DiskFullError("the disk is full: free some space"),
    E.RecordNotFoundError("no publication has id 'x'"),
    E.EvaluationFileError("qrels.txt:4: expected four columns"),
    E.DocumentError("documents/x/a.pdf", "truncated PDF: copy it again", page=7,
                    kind="truncated"),
]


def _state(err: BaseException) -> tuple[Any, ...]:
    state = {k: ([str(e) for e in v] if k == "errors" else v) for k, v in vars(err).items()}
    return type(err), err.args, str(err), state


@pytest.mark.parametrize("err", EXAMPLES, ids=lambda e: type(e).__name__)
def test_an_error_is_pickled_whole(err: E.ThbSearchError) -> None:
    copy = pickle.loads(pickle.dumps(err))
    assert _state(copy) == _state(err)
    assert isinstance(copy, E.ThbSearchError)


def test_every_error_class_has_an_example() -> None:
    classes = {c for _, c in inspect.getmembers(E, inspect.isclass)
               if issubclass(c, E.ThbSearchError) and c is not E.ThbSearchError}
    assert classes == {type(e) for e in EXAMPLES}
