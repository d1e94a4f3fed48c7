"""The fixed, seeded query mix of the benchmark.

Queries are drawn from the first records of the synthetic catalogue (the
same records at every catalogue size, see ``generate.py``), so every query
matches at least the record it came from and multi-word queries have words
that really occur together:

* ``words``    (45%) 1-4 words of a record, mid-frequency or THB words;
* ``phrase``   (15%) a quoted THB phrase (or two adjacent words) of a record,
  sometimes with one more word;
* ``filtered`` (25%) 1-3 words plus one or two of the record's facet values
  (office, theme, type, year) as filters;
* ``browse``   (15%) no words, one facet value as a filter (newest first).
"""

from __future__ import annotations

import random
import re

from engines.base import Query
from generate import (
    DEFAULT_SEED,
    FUNCTION_WORDS,
    THB_PHRASES,
    THB_WORDS,
    build_vocabulary,
    generate_records,
)

QUERY_COUNT = 200
#: Queries come from the first POOL records (all of them in a smaller catalogue).
POOL = 10_000
#: Ranks of the pseudo-words a query may use: neither stopword-like nor hapax.
MID_RANKS = range(150, 12_000)
KINDS = {"words": 0.45, "phrase": 0.15, "filtered": 0.25, "browse": 0.15}
WORD_COUNTS = {1: 0.3, 2: 0.35, 3: 0.2, 4: 0.15}
_WORD = re.compile(r"[\w-]+")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text)


class _Picker:
    """Draws query parts from records."""

    def __init__(self, records: list[dict[str, object]], rng: random.Random, seed: int):
        self.records = records
        self.rng = rng
        vocabulary = build_vocabulary(seed)
        thb = set(THB_WORDS)
        self.wanted = {w for w in vocabulary.words
                       if w in thb or vocabulary.rank[w] in MID_RANKS}

    def record(self) -> dict[str, object]:
        return self.rng.choice(self.records)

    def words(self, record: dict[str, object], k: int) -> tuple[str, ...]:
        """Up to ``k`` distinct wanted words of the record, in text order
        (frequent ones more likely: each occurrence is a candidate)."""
        tokens = _tokens(f"{record['title']} {record['summary']}")
        # Titles and sentence starts are capitalised; acronyms (OSCE) stay as they are.
        candidates = [w for w in (t.lower() if t.lower() in self.wanted else t for t in tokens)
                      if w in self.wanted]
        chosen: list[str] = []
        for _ in range(8 * k):
            if len(chosen) == k or not candidates:
                break
            word = self.rng.choice(candidates)
            if word not in chosen:
                chosen.append(word)
        order = {w: i for i, w in reversed(list(enumerate(candidates)))}
        return tuple(sorted(chosen, key=order.__getitem__))

    def word_count(self, most: int = 4) -> int:
        counts = [k for k in WORD_COUNTS if k <= most]
        return self.rng.choices(counts, weights=[WORD_COUNTS[k] for k in counts])[0]

    def phrase(self, record: dict[str, object]) -> tuple[str, ...]:
        """A THB phrase the record's summary contains, else two adjacent content words."""
        text = " ".join(_tokens(str(record["summary"])))
        present = [p for p in THB_PHRASES if f" {' '.join(p)} " in f" {text} "]
        if present:
            return tuple(self.rng.choice(present))
        function = set(FUNCTION_WORDS)
        sentence = self.rng.choice(str(record["summary"]).split(". "))
        tokens = sentence.replace(",", " ,").split()
        pairs = [(a, b) for a, b in zip(tokens, tokens[1:], strict=False)
                 if a != "," and b != "," and a.lower() not in function
                 and b.lower() not in function]
        return tuple(w.rstrip(".") for w in self.rng.choice(pairs)) if pairs else ()

    def filters(self, record: dict[str, object], k: int) -> tuple[tuple[str, str], ...]:
        """``k`` facet values of the record, each of another facet."""
        facets = self.rng.sample(["office", "theme", "type", "year"], k)
        values = {
            "office": lambda: self.rng.choice(record["office"]),
            "theme": lambda: self.rng.choice(record["themes"]),
            "type": lambda: record["type"],
            "year": lambda: str(record["date"])[:4],
        }
        return tuple((f, values[f]()) for f in sorted(facets))


def _query(kind: str, pick: _Picker) -> Query:
    record = pick.record()
    if kind == "words":
        return Query(words=pick.words(record, pick.word_count()), kind=kind)
    if kind == "phrase":
        phrase = pick.phrase(record)
        extra = pick.words(record, 1) if pick.rng.random() < 0.3 else ()
        lowered = {w.lower() for w in phrase}
        return Query(words=tuple(w for w in extra if w.lower() not in lowered),
                     phrase=phrase, kind=kind)
    if kind == "filtered":
        k = 2 if pick.rng.random() < 0.25 else 1
        return Query(words=pick.words(record, pick.word_count(3)),
                     filters=pick.filters(record, k), kind=kind)
    return Query(filters=pick.filters(record, 1), kind=kind)


def make_queries(size: int, count: int = QUERY_COUNT, seed: int = DEFAULT_SEED) -> list[Query]:
    """The query mix for a catalogue of ``size`` records (the same for every
    size of at least ``POOL``)."""
    records = list(generate_records(min(size, POOL), seed))
    rng = random.Random(f"queries-{seed}")
    pick = _Picker(records, rng, seed)
    kinds = list(KINDS)
    queries = []
    while len(queries) < count:
        q = _query(rng.choices(kinds, weights=list(KINDS.values()))[0], pick)
        if q.kind == "browse" or q.words or q.phrase:
            queries.append(q)
    return queries


def cold_queries(queries: list[Query]) -> list[Query]:
    """A few queries for the new-process figures: the first two-word query, the
    first phrase query, the first filtered query and the first browse."""
    wanted = [
        lambda q: q.kind == "words" and len(q.words) == 2,
        lambda q: q.kind == "phrase",
        lambda q: q.kind == "filtered",
        lambda q: q.kind == "browse",
    ]
    return [next(q for q in queries if test(q)) for test in wanted]
