"""TREC files: queries (``qid<TAB>text``), qrels (``qid 0 docid grade``) and
runs (``qid Q0 docid rank score tag``), read and written strictly.

File errors are :class:`~thb_search.errors.EvaluationFileError` with a
message of the form ``"path:line: what is wrong"``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import IO

from .errors import EvaluationFileError

Qrels = dict[str, dict[str, int]]
"""qid -> docid -> relevance grade (an int; 0 or negative means non-relevant)."""

Run = dict[str, list[tuple[str, float]]]
"""qid -> [(docid, score), ...] in any order."""

PathLike = str | os.PathLike

DEFAULT_DEPTH = 1000


def check_positive(what: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


def ranked(docs: Sequence[tuple[str, float]]) -> list[str]:
    """Docids of ``docs`` in trec_eval order.

    Score descending; equal scores by docid descending (string comparison,
    matching trec_eval's ``strcmp`` on UTF-8 bytes). Raises ``ValueError`` if a
    docid occurs twice (trec_eval refuses such runs) or a score is NaN.
    """
    seen: set[str] = set()
    for docid, score in docs:
        if docid in seen:
            raise ValueError(f"duplicate document {docid!r} in ranking")
        seen.add(docid)
        if isinstance(score, float) and math.isnan(score):
            raise ValueError(f"score of document {docid!r} is NaN")
    ordered = sorted(docs, key=lambda pair: (pair[1], pair[0]), reverse=True)
    return [docid for docid, _score in ordered]


def _numbered_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for a UTF-8 text file, without line ends.

    A leading byte-order mark is dropped. Bytes that are not UTF-8 raise
    ``ValueError("path:line: ...")`` naming the line.
    """
    name = os.fspath(path)
    with open(name, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise EvaluationFileError(
                    f"{name}:{number}: not valid UTF-8 ({exc.reason})") from None
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield number, line.rstrip("\r\n")


def read_queries(path: PathLike) -> dict[str, str]:
    """Read a queries file of ``qid<TAB>text`` lines into ``{qid: text}``.

    Blank (or all-whitespace) lines are skipped. The text is everything after
    the first tab, stripped of surrounding whitespace. A line without a tab, an
    empty or whitespace-containing qid, an empty text, or a qid seen before
    raises ``ValueError("path:line: ...")``.
    """
    name = os.fspath(path)
    queries: dict[str, str] = {}
    for number, line in _numbered_lines(path):
        if not line.strip():
            continue
        if "\t" not in line:
            raise EvaluationFileError(f"{name}:{number}: expected 'qid<TAB>text', found no tab")
        qid, text = line.split("\t", 1)
        qid = qid.strip()
        text = text.strip()
        if not qid:
            raise EvaluationFileError(f"{name}:{number}: empty query id")
        if any(ch.isspace() for ch in qid):
            raise EvaluationFileError(f"{name}:{number}: query id {qid!r} contains whitespace")
        if not text:
            raise EvaluationFileError(f"{name}:{number}: empty text for query {qid!r}")
        if qid in queries:
            raise EvaluationFileError(f"{name}:{number}: duplicate query id {qid!r}")
        queries[qid] = text
    return queries


def _parse_int(field: str) -> int:
    """Parse a plain base-10 integer such as ``2`` or ``-1`` (no ``1.0``, no ``_``)."""
    body = field[1:] if field[:1] in "+-" else field
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(field)
    return int(field)


def read_qrels(path: PathLike) -> Qrels:
    """Read TREC qrels (``qid iter docid rel``, whitespace separated).

    The iteration field is ignored; ``rel`` must be an integer (0 and negative
    grades are non-relevant). Blank lines are skipped. A line with other than
    four fields, a non-integer grade, or a second judgment of the same docid
    for the same qid raises ``ValueError("path:line: ...")`` (trec_eval also
    refuses duplicate judgments).
    """
    name = os.fspath(path)
    qrels: Qrels = {}
    for number, line in _numbered_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise EvaluationFileError(
                f"{name}:{number}: expected 4 fields 'qid iter docid rel', found {len(fields)}"
            )
        qid, _iteration, docid, grade_text = fields
        try:
            grade = _parse_int(grade_text)
        except ValueError:
            raise EvaluationFileError(
                f"{name}:{number}: relevance {grade_text!r} is not an integer"
            ) from None
        judged = qrels.setdefault(qid, {})
        if docid in judged:
            raise EvaluationFileError(
                f"{name}:{number}: duplicate judgment of document {docid!r} for query {qid!r}"
            )
        judged[docid] = grade
    return qrels


def read_run(path: PathLike) -> Run:
    """Read a TREC run (``qid Q0 docid rank score tag``, whitespace separated).

    Documents are kept in file order with their scores; the rank column is
    checked to be an integer but otherwise ignored (as trec_eval does: order
    comes from the scores, see :func:`ranked`). Blank lines are skipped. A line
    with other than six fields, a non-integer rank, a score that is not a
    number (or is NaN), or a docid repeated within a query raises
    ``ValueError("path:line: ...")``.
    """
    name = os.fspath(path)
    run: Run = {}
    seen: dict[str, set[str]] = {}
    for number, line in _numbered_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise EvaluationFileError(
                f"{name}:{number}: expected 6 fields 'qid Q0 docid rank score tag', "
                f"found {len(fields)}"
            )
        qid, _q0, docid, rank_text, score_text, _tag = fields
        try:
            _parse_int(rank_text)
        except ValueError:
            raise EvaluationFileError(
                f"{name}:{number}: rank {rank_text!r} is not an integer") from None
        try:
            score = float(score_text)
        except ValueError:
            raise EvaluationFileError(
                f"{name}:{number}: score {score_text!r} is not a number") from None
        if math.isnan(score):
            raise EvaluationFileError(f"{name}:{number}: score is NaN")
        docs = seen.setdefault(qid, set())
        if docid in docs:
            raise EvaluationFileError(
                f"{name}:{number}: duplicate document {docid!r} for query {qid!r}"
            )
        docs.add(docid)
        run.setdefault(qid, []).append((docid, score))
    return run


def _format_score(score: float) -> str:
    """Shortest text that reads back as exactly the same double (``repr``)."""
    return repr(float(score))


def _check_token(kind: str, value: str) -> None:
    """Refuse an id or tag that would not survive whitespace splitting."""
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        raise ValueError(f"{kind} {value!r} must be a non-empty string without whitespace")


def write_run(
    run: Run,
    path_or_file: PathLike | IO[str],
    tag: str = "thb-search",
    depth: int = DEFAULT_DEPTH,
) -> None:
    """Write ``run`` in TREC format: ``qid Q0 docid rank score tag`` lines.

    Queries are written in qid order (string order); each query's documents in
    trec_eval order (:func:`ranked`), cut to ``depth``, ranked 1..n. Scores are
    written with ``repr`` so that reading the file back (:func:`read_run`)
    yields exactly the same floats, hence the same ordering and ties.
    ``path_or_file`` is a path (written as UTF-8 with ``\\n`` line ends,
    replacing any existing file) or an open text file. Queries with no
    documents write no line. Ids or a tag that are empty or contain whitespace,
    NaN scores, duplicate docids within a query, or ``depth < 1`` raise
    ``ValueError`` before anything is written.
    """
    check_positive("depth", depth)
    _check_token("tag", tag)
    lines: list[str] = []
    for qid in sorted(run):
        _check_token("query id", qid)
        scores = dict(run[qid])
        order = ranked(run[qid])[:depth]
        for rank, docid in enumerate(order, start=1):
            _check_token("document id", docid)
            lines.append(f"{qid} Q0 {docid} {rank} {_format_score(scores[docid])} {tag}\n")
    text = "".join(lines)
    if hasattr(path_or_file, "write"):
        path_or_file.write(text)  # type: ignore[union-attr]
    else:
        with open(os.fspath(path_or_file), "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
