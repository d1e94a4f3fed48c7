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

Nothing in this module prints.  Reading and writing queries, qrels and run
files is :mod:`thb_search.trec`'s (errors there name ``path:line``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .trec import (
    DEFAULT_DEPTH,
    Qrels,
    Run,
    check_positive,
    ranked,
    read_qrels,
    read_queries,
    read_run,
    write_run,
)

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
    "run_queries",
    "DEFAULT_DEPTH",
]


# ---------------------------------------------------------------------------
# Ordering and per-query measures


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
    check_positive("k", k)
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
    check_positive("depth", depth)
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
    check_positive("k", k)
    _check_unique(ranking)
    hits = sum(1 for docid in ranking[:k] if judgments.get(docid, 0) > 0)
    return hits / k


def recall_at(ranking: Sequence[str], judgments: Mapping[str, int], k: int = 100) -> float:
    """Relevant documents among the first ``k`` / all relevant documents (``recall.k``).

    0.0 when ``judgments`` has no relevant document.
    """
    check_positive("k", k)
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
    check_positive("depth", depth)
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
    check_positive("depth", depth)
    return {qid: catalogue.ranked_ids(text, depth=depth) for qid, text in queries.items()}
