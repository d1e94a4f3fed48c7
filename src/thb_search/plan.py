"""The query plan: what the engine runs, built once per query.

    query string --parse (query.py)--> syntax tree: what the user typed
                 --build (here)------> plan: index terms, what the engine runs
                 --Engine.run---------> matches and scores

Building the plan analyses every word into index terms (``labour`` ->
``labor``; ``co-operation`` -> ``cooper`` or the phrase ``co oper``), expands
wildcards and fuzzy words to the index terms they stand for (looked up in the
index's lexicon), adds each synonym group's other expressions as
alternatives, resolves facet values to the index's exact values, and adds the
adjacent word pairs that are scored as bigrams.  The plan remembers what it
was built from: the query's parts as typed with what they expanded to (for
explain), the words to check the spelling of, the terms to highlight.

Plan nodes are frozen dataclasses; :class:`thb_search.engine.Engine` walks
them once for matching and scoring.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import field
from typing import Protocol

from . import query as syntax
from .analysis import fold, normalize_chars, query_terms, split_word, term_for
from .dataclass import dataclass
from .ranking import PAIR_WEIGHT

#: Where a word or phrase must occur: anywhere (None), "title" or "summary".
Scope = str | None


@dataclass(frozen=True)
class Terms:
    """Documents holding any of ``terms`` (one word, or a wildcard's or fuzzy
    word's expansion); each term scores on its own (BM25)."""

    terms: tuple[str, ...]
    scope: Scope = None
    boost: float = 1.0


@dataclass(frozen=True)
class Phrase:
    """Documents holding ``terms`` at consecutive positions; the phrase scores
    as one term."""

    terms: tuple[str, ...]
    scope: Scope = None
    boost: float = 1.0


@dataclass(frozen=True)
class Facet:
    """Documents holding any of ``values`` in the facet ``name`` (not scored)."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class And:
    """Documents matching every item; ``bonus`` nodes (word pairs) add to the
    score where they match but are not required."""

    items: tuple[Node, ...]
    bonus: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Or:
    """Documents matching any item; every matching item adds to the score."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """Documents not matching ``item`` (scores nothing)."""

    item: Node


Node = Terms | Phrase | Facet | And | Or | Not


@dataclass(frozen=True)
class Part:
    """A positive part of the query as typed, for explain: the plan of its own
    words (``node``), the other expressions it may match through instead
    (``via``: a synonym group's), and the index terms a wildcard or fuzzy
    word was expanded to (``expanded``)."""

    text: str
    node: Node
    via: tuple[tuple[str, Node], ...] = ()
    expanded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """A query ready to run, and what it was built from."""

    root: Node | None
    items: tuple[Part, ...] = ()  # the parts joined without an operator (partial matching)
    parts: tuple[Part, ...] = ()  # positive parts as typed (explain)
    words: tuple[str, ...] = ()  # positive plain words as typed (spelling suggestions)
    highlight: frozenset[str] = frozenset()  # index terms of positive leaves
    expansions: tuple[str, ...] = ()  # "NRM -> national referral mechanism"
    ignored: tuple[str, ...] = ()  # stopwords and punctuation
    pairs: tuple[str, ...] = ()  # adjacent word pairs scored as bigrams


class TermLexicon(Protocol):
    """The index terms of the ranking field, for expanding wildcards and fuzzy
    words while the plan is built."""

    def prefixed(self, prefix: str) -> list[str]:
        """Terms starting with ``prefix``, in order."""

    def matching(self, pattern: str) -> list[str]:
        """Terms matching the glob ``pattern`` (``*``, ``?``), in order."""

    def within(self, term: str, distance: int) -> list[str]:
        """Terms within ``distance`` edits of ``term`` sharing its first letter, in order."""


#: ``resolve(facet, value)``: the index's exact values a typed value stands for.
ResolveFacet = Callable[[str, str], list[str]]


def build(node: syntax.Node | None, resolve: ResolveFacet, lexicon: TermLexicon) -> Plan:
    """The plan of a syntax tree (None: the empty query, which matches all)."""
    b = _Builder(resolve, lexicon)
    root = b.node(node, positive=True) if node is not None else None
    items = []
    for item in syntax.top_items(node):
        item_node = _Builder(resolve, lexicon).node(item, positive=True)
        if item_node is not None:
            items.append(Part(syntax.describe(item), item_node))
    return Plan(root, tuple(items) if len(items) > 1 else (), tuple(b.parts), tuple(b.words),
                frozenset(b.highlight), tuple(b.expansions), tuple(b.ignored),
                tuple(b.pairs))


def terms_plan(weighted: Sequence[tuple[str, float]]) -> Plan:
    """The plan of weighted index terms, any of which may match (for "similar")."""
    root = Or(tuple(Terms((t,), boost=w) for t, w in weighted)) if weighted else None
    return Plan(root, highlight=frozenset(t for t, _ in weighted))


@dataclass
class _Builder:
    """Builds the nodes of a plan from a syntax tree, collecting what the plan
    reports beside them (parts, words, highlighting, expansions, ignored words)."""

    resolve: ResolveFacet
    lexicon: TermLexicon
    parts: list[Part] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    highlight: set[str] = field(default_factory=set)
    expansions: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    pairs: list[str] = field(default_factory=list)

    def node(self, node: syntax.Node, positive: bool) -> Node | None:
        """The plan of a syntax node (None when nothing of it is searchable)."""
        if isinstance(node, syntax.Word):
            return self.word(node, positive)
        if isinstance(node, syntax.Phrase):
            return self.phrase(node, positive)
        if isinstance(node, syntax.FacetValue):
            return Facet(node.facet, tuple(self.resolve(node.facet, node.value)))
        if isinstance(node, syntax.Synonym):
            return self.synonym(node, positive)
        if isinstance(node, syntax.Not):
            inner = self.node(node.item, not positive)
            return Not(inner) if inner is not None else None
        return self.boolean(node, positive)

    def leaf(self, terms: Sequence[str], scope: Scope, positive: bool) -> Terms | Phrase:
        if positive:
            self.highlight.update(terms)
        return Terms(tuple(terms), scope) if len(terms) == 1 else Phrase(tuple(terms), scope)

    def part(self, part: Part, positive: bool) -> None:
        if positive:
            self.parts.append(part)

    def word(self, w: syntax.Word, positive: bool) -> Node | None:
        if w.wildcard or w.fuzzy is not None:
            return self.expansion(w, positive)
        joined, parts = query_terms(w.text)
        if joined is None and not parts:
            self.ignored.append(w.text)
            return None
        if positive and w.field is None:
            self.words.append(w.text)
        # The joined form (cooper), or the parts as a phrase (co oper).
        alternatives = []
        if joined is not None:
            alternatives.append(self.leaf([joined], w.field, positive))
        if parts:
            alternatives.append(self.leaf(parts, w.field, positive))
        node = alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives))
        self.part(Part(w.text, node), positive)
        return node

    def expansion(self, w: syntax.Word, positive: bool) -> Node | None:
        """A wildcard or fuzzy word: the index terms it stands for."""
        if w.wildcard:
            pattern = fold(normalize_chars(w.text))
            if pattern.endswith("*") and "*" not in pattern[:-1] and "?" not in pattern:
                # Index terms are stems: "trafficking*" must also try "traffick*".
                prefixes = dict.fromkeys([pattern[:-1], term_for(pattern[:-1]) or pattern[:-1]])
                groups = [self.lexicon.prefixed(p) for p in prefixes]
            else:
                groups = [self.lexicon.matching(pattern)]
        else:
            parts = split_word(w.text)
            if not parts:
                self.ignored.append(w.text)
                return None
            term = term_for("".join(parts)) or "".join(parts)
            groups = [self.lexicon.within(term, w.fuzzy or 1)]
        leaves = [Terms(tuple(g), w.field) for g in groups]
        node: Node = leaves[0] if len(leaves) == 1 else Or(tuple(leaves))
        if positive:
            self.highlight.update(t for g in groups for t in g)
        typed = w.text
        if w.fuzzy is not None:
            typed = f"{w.text}~{w.fuzzy if w.fuzzy != 1 else ''}"
        self.part(Part(typed, node, expanded=tuple(t for g in groups for t in g)), positive)
        return node

    def phrase(self, p: syntax.Phrase, positive: bool) -> Node | None:
        terms = phrase_terms(p.text)
        if not terms:
            if p.text.strip():
                self.ignored.append(f'"{p.text}"')
            return None
        node = self.leaf(terms, p.field, positive)
        self.part(Part(f'"{p.text}"', node), positive)
        return node

    def synonym(self, s: syntax.Synonym, positive: bool) -> Node | None:
        """The words themselves, or any other expression of their group."""
        inner = _Builder(self.resolve, self.lexicon)
        base = [n for n in (inner.word(w, positive) for w in s.words) if n is not None]
        self.highlight |= inner.highlight
        self.ignored += inner.ignored
        alternatives: list[Node] = []
        if base:
            alternatives.append(base[0] if len(base) == 1 else And(tuple(base)))
        via = []
        others = [e for e in s.group.expressions if e != s.matched]
        for expr in others:
            terms = phrase_terms(expr)
            if terms:
                alternatives.append(self.leaf(terms, None, positive))
                via.append((expr, alternatives[-1]))
        self.expansions.append(f"{s.matched} -> {' | '.join(others)}")
        words = " ".join(w.text for w in s.words)
        if alternatives:
            self.part(Part(words, alternatives[0] if base else Or(()), tuple(via)), positive)
        return alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives))

    def boolean(self, node: syntax.And | syntax.Or, positive: bool) -> Node | None:
        subs = [n for n in (self.node(i, positive) for i in node.items) if n is not None]
        if not subs:
            return None
        is_and = isinstance(node, syntax.And)
        pairs = word_pairs(node.items) if node.implicit and positive else []
        self.pairs += [" ".join(p) for p in pairs]
        bigrams = tuple(Phrase(p, boost=PAIR_WEIGHT) for p in pairs)
        if len(subs) == 1 and not bigrams:
            return subs[0]
        if is_and:
            return And(tuple(subs), bigrams)
        return Or((*subs, *bigrams))


def word_pairs(items: Sequence[syntax.Node]) -> list[tuple[str, str]]:
    """Adjacent index terms of consecutive plain words (for pair scoring)."""
    pairs: dict[tuple[str, str], None] = {}
    run: list[str] = []
    for item in [*items, None]:
        words = item.words if isinstance(item, syntax.Synonym) else (item,)
        if item is not None and all(syntax.is_plain(w) for w in words):
            for w in words:
                joined, parts = query_terms(w.text)  # type: ignore[union-attr]
                run.extend(parts or ([joined] if joined else []))
            continue
        pairs.update((p, None) for p in zip(run, run[1:], strict=False) if p[0] != p[1])
        run = []
    return list(pairs)


def phrase_terms(text: str) -> list[str]:
    """Terms of a phrase: hyphenated words by their parts (joined forms dropped)."""
    out: list[str] = []
    for word in re.findall(r"\S+", text):
        joined, parts = query_terms(word)
        if parts:
            out.extend(parts)
        elif joined is not None:
            out.append(joined)
    return out
