""""Did you mean": the closest words the index holds, for words it does not."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .analysis import split_word, term_for
from .plan import TermLexicon

#: Suggestions offered at most.
SUGGESTIONS = 3


def suggestions(query: str, words: Sequence[str], terms: TermLexicon,
                df: Callable[[str], int], words_of: Callable[[str], list[str]]) -> list[str]:
    """Up to three corrections of ``query``.

    For each query word (``words``, as typed) whose term no live publication
    holds: the index terms within two edits of it (one for words of three
    letters or fewer), turned back into the words met while indexing
    (``words_of(term)``), closest to what was typed first, then most
    frequent (``df``).  The i-th suggestion replaces each unknown word by its
    i-th candidate.
    """
    replacements: list[tuple[str, list[str]]] = []
    for text in words:
        candidates = _candidates(text, terms, df, words_of)
        if candidates:
            replacements.append((text, candidates[:SUGGESTIONS]))
    out: list[str] = []
    for i in range(SUGGESTIONS):
        q = query
        for original, cands in replacements:
            cand = cands[min(i, len(cands) - 1)]
            q = re.sub(r"(?<![\w-])" + re.escape(original) + r"(?![\w-])",
                       lambda _m, c=cand: c, q, count=1)
        if replacements and q != query and q not in out:
            out.append(q)
    return out


def _candidates(text: str, terms: TermLexicon, df: Callable[[str], int],
                words_of: Callable[[str], list[str]]) -> list[str]:
    """The words to offer instead of ``text``, best first (none when the
    index knows it)."""
    parts = split_word(text)
    if not parts:
        return []
    part_terms = [t for t in (term_for(p) for p in parts) if t]
    joined = term_for("".join(parts))
    known = (joined and df(joined)) or (part_terms and all(df(t) for t in part_terms))
    if known or not joined:
        return []
    word = "".join(parts)
    maxdist = 1 if len(word) <= 3 else 2
    candidates: dict[str, tuple[int, int]] = {}
    for stem in terms.within(joined, maxdist):
        frequency = df(stem)
        if not frequency:
            continue  # only in deleted publications
        for cand in words_of(stem):
            dist = edit_distance(word, cand)
            if cand != word and dist <= maxdist + 1:
                candidates[cand] = min(candidates.get(cand, (99, 0)), (dist, -frequency))
    return sorted(candidates, key=lambda c: (*candidates[c], c))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
