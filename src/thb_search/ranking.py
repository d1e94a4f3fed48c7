"""The ranking function: BM25F on the combined title+summary field.

The ``text`` field holds title words with weight ``TITLE_BOOST`` and summary
words with weight 1, so a term's weight in a document is the BM25F
pseudo-frequency ``TITLE_BOOST * tf(title) + tf(summary)``, saturated once
with ``k1`` and normalised by the document's length with ``b``.  Whoosh's own
``BM25F`` uses the tf-idf weight ``log(N / (df + 1)) + 1``; this model uses
BM25's ``log(1 + (N - df + 0.5) / (df + 0.5))``.  :mod:`thb_search.engine`
computes it with numpy for every matching publication at once.

A publication's document (its PDF) is a third field, ``body``: a term's
occurrences there count ``BODY_WEIGHT`` each, normalised by the body's own
length, and are added to the record's before saturation (BM25F); a record
without a document scores exactly BM25 on its text.

Adjacent query words also score as word pairs (``PAIR_WEIGHT`` times a
bigram's score), which rewards publications that keep the words together.

Measured with ``thb-search eval`` on Cranfield and CISI (see the README);
the same settings serve every collection.
"""

from __future__ import annotations

import math

import numpy as np

K1 = 1.2
B = 0.75
#: Weight of an adjacent-word-pair (bigram) match relative to a word match.
PAIR_WEIGHT = 0.1


def idf(df: int, n: int) -> float:
    """BM25's inverse document frequency of a term in ``df`` of ``n`` documents."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def length_norm(lengths: np.ndarray, avg_length: float) -> np.ndarray:
    """BM25's length normalisation of documents (or fields) of ``lengths``."""
    return (1.0 - B) + B * lengths / avg_length


def saturate(pseudo: np.ndarray, term_idf: float) -> np.ndarray:
    """BM25 of length-normalised (pseudo-)frequencies: how BM25F combines
    fields (``bm25(tf, ...) == saturate(tf / length_norm(...), ...)``)."""
    return term_idf * (pseudo * (K1 + 1.0)) / (pseudo + K1)


def bm25(tf: np.ndarray, lengths: np.ndarray, avg_length: float, term_idf: float) -> np.ndarray:
    """BM25 of term (pseudo-)frequencies ``tf`` in documents of ``lengths``."""
    norm = K1 * ((1.0 - B) + B * lengths / avg_length)
    return term_idf * (tf * (K1 + 1.0)) / (tf + norm)
