"""The ranking function: BM25F on the combined title+summary field.

The ``text`` field holds title words with weight ``TITLE_BOOST`` and summary
words with weight 1, so a term's weight in a document is the BM25F
pseudo-frequency ``TITLE_BOOST * tf(title) + tf(summary)``, saturated once
with ``k1`` and normalised by the document's length with ``b``.  Whoosh's own
``BM25F`` uses the tf-idf weight ``log(N / (df + 1)) + 1``; this model uses
BM25's ``log(1 + (N - df + 0.5) / (df + 0.5))``.

Adjacent query words also score as word pairs (``PAIR_WEIGHT`` times a
bigram's score), which rewards publications that keep the words together.

Measured with ``thb-search eval`` on Cranfield and CISI (see the README);
the same settings serve every collection.
"""

from __future__ import annotations

import math
from typing import Any

from whoosh import scoring

K1 = 1.2
B = 0.75
#: Weight of an adjacent-word-pair (bigram) match relative to a word match.
PAIR_WEIGHT = 0.1


class ThbBM25F(scoring.BM25F):
    """Whoosh's BM25F scorer with the BM25 (Robertson-Sparck Jones) idf."""

    def __init__(self, B: float = B, K1: float = K1) -> None:  # noqa: N803 (Whoosh's names)
        super().__init__(B=B, K1=K1)

    def idf(self, searcher: Any, fieldname: str, text: str) -> float:
        parent = searcher.get_parent()
        df = parent.doc_frequency(fieldname, text)
        n = parent.doc_count_all()
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))
