"""Retrieval evaluation with trec_eval's definitions, in pure Python.

The measures are those of ``trec_eval -c -M 1000 -m ndcg_cut.10 -m map -m P.10
-m recall.100`` (trec_eval 9.x), computed with the same arithmetic in the same
order, so per-query figures agree with trec_eval to the last bit or so:

* A document is *relevant* when its grade is > 0; grades 0 and below are
  non-relevant (trec_eval's default ``-l 1``).
* A query's run is put in **trec_eval order** -- score descending, ties broken
  by docid descending (byte-wise, like C's ``strcmp``; for ``str`` this is
  code-point order, which is the same order as UTF-8 bytes) -- and then cut to
  ``depth`` documents (``-M``). The ranks written in a run file are ignored,
  exactly as trec_eval ignores them.
* ``map``: sum, over the relevant retrieved documents, of the precision at
  their rank, divided by the number of relevant documents of the query.
* ``P@10``: relevant documents in the top 10, divided by 10 (always 10).
* ``recall@100``: relevant documents in the top 100 / relevant documents.
* ``nDCG@10`` (``ndcg_cut.10``): gain is the grade itself (grades > 0 only),
  discount ``1/log2(rank + 1)``; the ideal DCG ranks all judged grades > 0 of
  the query in descending order, cut at 10.

Two conventions differ from the trec_eval binary and are deliberate:

* **Queries without a relevant document are skipped** (listed in
  :attr:`Evaluation.skipped`), and averages are taken over the queries of the
  qrels that have at least one relevant document; such a query absent from the
  run scores 0 on every measure (the ``-c`` convention). trec_eval 8 and 9 with
  ``-c`` instead average over *every* query of the qrels, so a query judged
  only 0 contributes zeros to its averages (very old trec_eval versions
  skipped them, as this module does).
* **Scores are compared as Python floats (IEEE doubles)**, as trec_eval's
  current source does. Released trec_eval up to 9.0.8 (and the
  ``pytrec_eval``/``pytrec_eval-terrier`` builds of it) store scores as C
  ``float`` (32 bits), so two scores that differ only beyond float32
  precision tie there and are ordered by docid instead.

Duplicate documents within one query of a run, or duplicate judgments within
one query of the qrels, are errors here as they are in trec_eval.

Nothing in this module prints; file errors are :class:`ValueError` with a
message of the form ``"path:line: what is wrong"``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from .errors import EvaluationFileError

if TYPE_CHECKING:
    from .searching import Catalogue

__all__ = [
    "Qrels",
    "Run",
    "QueryScores",
    "Evaluation",
    "read_queries",
    "read_qrels",
    "read_run",
    "write_run",
    "ranked",
    "ndcg_at",
    "average_precision",
    "precision_at",
    "recall_at",
    "evaluate",
]

Qrels = dict[str, dict[str, int]]
"""qid -> docid -> relevance grade (an int; 0 or negative means non-relevant)."""

Run = dict[str, list[tuple[str, float]]]
"""qid -> [(docid, score), ...] in any order."""

PathLike = str | os.PathLike

DEFAULT_DEPTH = 1000


# ---------------------------------------------------------------------------
# File reading and writing


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
    _check_positive("depth", depth)
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


# ---------------------------------------------------------------------------
# Ordering and per-query measures


def _check_positive(what: str, value: int) -> None:
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


def _check_unique(ranking: Sequence[str]) -> None:
    if len(set(ranking)) != len(ranking):
        raise ValueError("ranking contains a document more than once")


def _num_relevant(judgments: Mapping[str, int]) -> int:
    return sum(1 for grade in judgments.values() if grade > 0)


def ndcg_at(ranking: Sequence[str], judgments: Mapping[str, int], k: int = 10) -> float:
    """nDCG at cutoff ``k`` as trec_eval's ``ndcg_cut.k``.

    ``ranking`` is already in rank order (see :func:`ranked`). DCG sums
    ``grade / log2(rank + 1)`` over ranks 1..k for grades > 0; the ideal DCG
    does the same for all grades > 0 of ``judgments`` sorted descending. A query
    without a relevant document scores 0.0.
    """
    _check_positive("k", k)
    _check_unique(ranking)
    dcg = 0.0
    for index, docid in enumerate(ranking[:k]):
        gain = judgments.get(docid, 0)
        if gain > 0:
            dcg += gain / math.log2(index + 2)
    ideal_gains = sorted((grade for grade in judgments.values() if grade > 0), reverse=True)
    ideal = 0.0
    for index, gain in enumerate(ideal_gains[:k]):
        ideal += gain / math.log2(index + 2)
    if ideal <= 0.0:
        return 0.0
    return dcg / ideal


def average_precision(
    ranking: Sequence[str], judgments: Mapping[str, int], depth: int = DEFAULT_DEPTH
) -> float:
    """Average precision of ``ranking`` cut to ``depth``, as trec_eval's ``map``.

    Sum of precision at the rank of each relevant retrieved document, divided
    by the number of relevant documents in ``judgments`` (0.0 if there is none).
    """
    _check_positive("depth", depth)
    _check_unique(ranking)
    relevant = _num_relevant(judgments)
    if relevant == 0:
        return 0.0
    found = 0
    total = 0.0
    for index, docid in enumerate(ranking[:depth]):
        if judgments.get(docid, 0) > 0:
            found += 1
            total += found / (index + 1)
    return total / relevant


def precision_at(ranking: Sequence[str], judgments: Mapping[str, int], k: int = 10) -> float:
    """Relevant documents among the first ``k`` of ``ranking``, divided by ``k``.

    Always divided by ``k``, even when fewer than ``k`` are retrieved (``P.k``).
    """
    _check_positive("k", k)
    _check_unique(ranking)
    hits = sum(1 for docid in ranking[:k] if judgments.get(docid, 0) > 0)
    return hits / k


def recall_at(ranking: Sequence[str], judgments: Mapping[str, int], k: int = 100) -> float:
    """Relevant documents among the first ``k`` / all relevant documents (``recall.k``).

    0.0 when ``judgments`` has no relevant document.
    """
    _check_positive("k", k)
    _check_unique(ranking)
    relevant = _num_relevant(judgments)
    if relevant == 0:
        return 0.0
    hits = sum(1 for docid in ranking[:k] if judgments.get(docid, 0) > 0)
    return hits / relevant


# ---------------------------------------------------------------------------
# Whole-run evaluation


@dataclass(frozen=True)
class QueryScores:
    """The four measures for one query, with its relevant and retrieved counts.

    ``relevant`` counts the query's documents with grade > 0 in the qrels;
    ``retrieved`` counts the run's documents for it after the depth cut (0 when
    the query is missing from the run).
    """

    qid: str
    ndcg_10: float
    map: float
    p_10: float
    recall_100: float
    relevant: int
    retrieved: int

    def to_dict(self) -> dict[str, Any]:
        """``{"qid", "ndcg@10", "map", "p@10", "recall@100", "relevant", "retrieved"}``."""
        return {
            "qid": self.qid,
            "ndcg@10": self.ndcg_10,
            "map": self.map,
            "p@10": self.p_10,
            "recall@100": self.recall_100,
            "relevant": self.relevant,
            "retrieved": self.retrieved,
        }


@dataclass(frozen=True)
class Evaluation:
    """Averages of the four measures over the evaluated queries.

    ``queries`` holds one :class:`QueryScores` per evaluated query, in qid
    order; ``evaluated`` is their number (the averages' denominator, 0 giving
    averages of 0.0); ``skipped`` lists, in qid order, the qids of the qrels or
    the run that have no relevant document and so were not evaluated.
    """

    queries: tuple[QueryScores, ...]
    ndcg_10: float
    map: float
    p_10: float
    recall_100: float
    evaluated: int
    skipped: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"measures": {...}, "queries_evaluated": n, "per_query": [...]}``."""
        return {
            "measures": {
                "ndcg@10": self.ndcg_10,
                "map": self.map,
                "p@10": self.p_10,
                "recall@100": self.recall_100,
            },
            "queries_evaluated": self.evaluated,
            "per_query": [query.to_dict() for query in self.queries],
        }


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def evaluate(run: Run, qrels: Qrels, depth: int = DEFAULT_DEPTH) -> Evaluation:
    """Evaluate ``run`` against ``qrels`` (see the module docstring).

    Each query of ``qrels`` with at least one relevant document is evaluated on
    its run cut to ``depth`` in trec_eval order (all zeros if the run lacks it);
    the averages are over those queries. Qids of the qrels or the run with no
    relevant document are listed in ``skipped``. Raises ``ValueError`` for
    ``depth < 1`` or a run with a duplicate docid or NaN score in a query.
    """
    _check_positive("depth", depth)
    scores: list[QueryScores] = []
    skipped: list[str] = []
    for qid in sorted(set(qrels) | set(run)):
        judgments = qrels.get(qid, {})
        relevant = _num_relevant(judgments)
        if relevant == 0:
            skipped.append(qid)
            continue
        ranking = ranked(run.get(qid, []))[:depth]
        scores.append(
            QueryScores(
                qid=qid,
                ndcg_10=ndcg_at(ranking, judgments, 10),
                map=average_precision(ranking, judgments, depth),
                p_10=precision_at(ranking, judgments, 10),
                recall_100=recall_at(ranking, judgments, 100),
                relevant=relevant,
                retrieved=len(ranking),
            )
        )
    return Evaluation(
        queries=tuple(scores),
        ndcg_10=_mean([q.ndcg_10 for q in scores]),
        map=_mean([q.map for q in scores]),
        p_10=_mean([q.p_10 for q in scores]),
        recall_100=_mean([q.recall_100 for q in scores]),
        evaluated=len(scores),
        skipped=tuple(skipped),
    )


def run_queries(
    catalogue: Catalogue, queries: Mapping[str, str], depth: int = DEFAULT_DEPTH
) -> Run:
    """Rank the catalogue for every query: ``{qid: [(docid, score), ...]}``.

    Each query text is taken literally (operators and punctuation are plain
    text) and matched with ``match="any"``, with exactly the analysis and
    ranking of a normal search; the top ``depth`` publications are kept.
    """
    _check_positive("depth", depth)
    return {qid: catalogue.ranked_ids(text, depth=depth) for qid, text in queries.items()}
