"""The query language and its translation into Whoosh queries.

Grammar (operators are upper-case; juxtaposition means AND, or OR with
``match="any"``)::

    expr    := seq ("OR" seq)*
    seq     := chain chain*
    chain   := unary ("AND" unary)*
    unary   := ("NOT" | "-") unary | "+" unary | primary
    primary := "(" expr ")" | FIELD ":" primary | '"phrase"' | word | word* | word~N

Fields: ``title``, ``summary`` (text), ``office``, ``theme``, ``type``
(facet values, resolved like the filters), ``year`` (``2021`` or
``2019-2021``).  Acronyms and synonyms of ``data/synonyms.txt`` expand at
query time.  Every string either parses or raises :class:`QuerySyntaxError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from whoosh import query as wq

from .analysis import (
    analyze,
    fold,
    normalize_chars,
    query_terms,
    split_word,
    synonym_lines,
    term_for,
)
from .errors import QuerySyntaxError
from .ranking import PAIR_WEIGHT

TEXT_FIELDS = {"title": "title", "summary": "summary"}
FACET_SCOPES = {"office": "office", "offices": "office", "theme": "theme", "themes": "theme",
                "type": "type", "year": "year"}
RANK_FIELD = "text"


# ---------------------------------------------------------------------------
# Synonyms


@dataclass(frozen=True)
class SynonymGroup:
    """Equivalent expressions; ``name`` is the first one."""

    expressions: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.expressions[0]

    def term_lists(self) -> list[tuple[str, ...]]:
        return [tuple(analyze(e)) for e in self.expressions]


@lru_cache(maxsize=1)
def synonym_groups() -> tuple[SynonymGroup, ...]:
    """The groups of ``data/synonyms.txt``."""
    return tuple(SynonymGroup(expressions) for expressions in synonym_lines())


@lru_cache(maxsize=1)
def _synonym_index() -> dict[tuple[str, ...], SynonymGroup]:
    index: dict[tuple[str, ...], SynonymGroup] = {}
    for group in synonym_groups():
        for terms in group.term_lists():
            if terms:
                index[terms] = group
    return index


def acronym_expansions(value: str) -> list[str]:
    """The other expressions of the group whose member ``value`` is (any case)."""
    v = fold(value).strip()
    for group in synonym_groups():
        if any(fold(e) == v for e in group.expressions):
            return [e for e in group.expressions if fold(e) != v]
    return []


# ---------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class Word:
    text: str
    field: str | None = None  # None: title and summary (the ranking field)
    wildcard: bool = False
    fuzzy: int | None = None


@dataclass(frozen=True)
class Phrase:
    text: str
    field: str | None = None


@dataclass(frozen=True)
class FacetValue:
    facet: str  # office | theme | type | year
    value: str


@dataclass(frozen=True)
class Synonym:
    """Consecutive query words that form an expression of a synonym group."""

    words: tuple[Word, ...]
    group: SynonymGroup
    matched: str  # the expression the words matched


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]
    implicit: bool = False


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]
    implicit: bool = False


@dataclass(frozen=True)
class Not:
    item: Node


Node = Word | Phrase | FacetValue | Synonym | And | Or | Not


# ---------------------------------------------------------------------------
# Lexer and parser


_SPECIAL = '()"'
_FIELD_RE = re.compile(r"^([A-Za-z]+):(.*)$", re.S)


@dataclass
class _Tok:
    kind: str  # WORD PHRASE LP RP AND OR NOT MINUS PLUS FIELD
    text: str
    pos: int


def _lex(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
        elif c == "(":
            toks.append(_Tok("LP", c, i))
            i += 1
        elif c == ")":
            toks.append(_Tok("RP", c, i))
            i += 1
        elif c == '"':
            j = q.find('"', i + 1)
            if j < 0:
                raise QuerySyntaxError(
                    f"unclosed quote in query at character {i + 1}: add the closing \" "
                    "or remove the opening one")
            toks.append(_Tok("PHRASE", q[i + 1:j], i))
            i = j + 1
        elif c in "-+" and i + 1 < n and not q[i + 1].isspace() and (
                not toks or toks[-1].kind != "FIELD"):
            toks.append(_Tok("MINUS" if c == "-" else "PLUS", c, i))
            i += 1
        else:
            j = i
            while j < n and not q[j].isspace() and q[j] not in _SPECIAL:
                j += 1
            word = q[i:j]
            m = _FIELD_RE.match(word)
            if m and m.group(1).lower() in {**TEXT_FIELDS, **FACET_SCOPES}:
                toks.append(_Tok("FIELD", m.group(1).lower(), i))
                rest = m.group(2)
                if rest:
                    toks.append(_Tok("WORD", rest, i + len(m.group(1)) + 1))
            elif word in ("AND", "OR", "NOT"):
                toks.append(_Tok(word, word, i))
            elif word in ("&&", "||"):
                toks.append(_Tok("AND" if word == "&&" else "OR", word, i))
            else:
                toks.append(_Tok("WORD", word, i))
            i = j
    return toks


class _Parser:
    def __init__(self, q: str, implicit_or: bool) -> None:
        self.toks = _lex(q)
        self.i = 0
        self.implicit_or = implicit_or

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node | None:
        if not self.toks:
            return None
        node = self.expr()
        tok = self.peek()
        if tok is not None:  # only an unmatched ')' stops expr early
            raise QuerySyntaxError(
                f"unmatched ')' in query at character {tok.pos + 1}: remove it or add "
                "the '(' it closes")
        return node

    def expr(self) -> Node:
        items = [self.seq()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            self._need_operand("OR")
            items.append(self.seq())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def seq(self) -> Node:
        items = [self.chain()]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", "RP"):
            items.append(self.chain())
        if len(items) == 1:
            return items[0]
        return (Or if self.implicit_or else And)(tuple(items), implicit=True)

    def chain(self) -> Node:
        items = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind == "AND":
            self.take()
            self._need_operand("AND")
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _need_operand(self, op: str) -> None:
        tok = self.peek()
        if tok is None or tok.kind in ("OR", "AND", "RP"):
            raise QuerySyntaxError(
                f"'{op}' needs a word or phrase on each side: complete the query or "
                f"write '{op.lower()}' to search for the word itself")

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError("the query ends where a word was expected")
        if tok.kind in ("NOT", "MINUS"):
            self.take()
            self._need_operand("NOT" if tok.kind == "NOT" else "-")
            return Not(self.unary())
        if tok.kind == "PLUS":
            self.take()
            return self.unary()
        if tok.kind in ("AND", "OR"):
            raise QuerySyntaxError(
                f"'{tok.kind}' needs a word or phrase on each side: complete the query or "
                f"write '{tok.kind.lower()}' to search for the word itself")
        return self.primary(None)

    def primary(self, scope: str | None) -> Node:
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError("the query ends where a word was expected")
        if tok.kind == "LP":
            self.take()
            if (nxt := self.peek()) is not None and nxt.kind == "RP":
                raise QuerySyntaxError(
                    f"empty '( )' in query at character {tok.pos + 1}: put words inside")
            if nxt is None:
                raise QuerySyntaxError(
                    f"unclosed '(' in query at character {tok.pos + 1}: close it with ')'")
            saved = self._scope
            self._scope = scope
            try:
                node = self.expr()
            finally:
                self._scope = saved
            end = self.peek()
            if end is None or end.kind != "RP":
                raise QuerySyntaxError(
                    f"unclosed '(' in query at character {tok.pos + 1}: close it with ')'")
            self.take()
            return node
        if tok.kind == "FIELD":
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("WORD", "PHRASE", "LP"):
                raise QuerySyntaxError(
                    f"'{tok.text}:' needs a word, a \"phrase\" or a (group) right after it")
            return self.primary(tok.text)
        if tok.kind == "RP":
            raise QuerySyntaxError(
                f"unmatched ')' in query at character {tok.pos + 1}: remove it or add the "
                "'(' it closes")
        self.take()
        scope = scope or self._scope
        if scope in FACET_SCOPES:
            return FacetValue(FACET_SCOPES[scope], tok.text)
        fieldname = TEXT_FIELDS.get(scope) if scope else None
        if tok.kind == "PHRASE":
            return Phrase(tok.text, fieldname)
        if tok.kind == "WORD":
            return _word(tok.text, fieldname, tok.pos)
        raise QuerySyntaxError(  # NOT / AND / OR / MINUS cannot follow a field
            f"'{tok.text}' cannot follow a field name: write field:word")

    _scope: str | None = None


_FUZZY_RE = re.compile(r"^(.*?)~(\d?)$")
# What literal parsing turns into spaces: every character with a meaning in
# the query language (':' included, so no word is a field name).
_LITERAL_DROP = re.compile(r'[()"*?~:+]|&&|\|\||(?:^|(?<=\s))-')


def _word(text: str, fieldname: str | None, pos: int) -> Word:
    m = _FUZZY_RE.match(text)
    if m and m.group(1):
        dist = int(m.group(2) or 1)
        if not 1 <= dist <= 2:
            raise QuerySyntaxError(
                f"fuzzy distance must be 1 or 2 (got '{text}'): write e.g. labr~ or labr~2")
        return Word(m.group(1), fieldname, fuzzy=dist)
    if "*" in text or "?" in text:
        head = re.split(r"[*?]", text, maxsplit=1)[0]
        if len(re.findall(r"[^\W_]", head)) < 2:
            raise QuerySyntaxError(
                f"'{text}': a wildcard needs at least two letters before its first * or ?")
        return Word(text, fieldname, wildcard=True)
    return Word(text, fieldname)


def parse(q: str, match: str = "all", literal: bool = False) -> Node | None:
    """Parse a query string into a syntax tree (None for an empty query).

    With ``literal`` the string is plain words: operators, quotes, brackets,
    field names, wildcards and ``~`` are read as text (for long natural-language
    topics, as in evaluation).
    """
    if match not in ("all", "any"):
        raise ValueError(f"match must be 'all' or 'any', not {match!r}")
    text = normalize_chars(q)
    if literal:
        text = " ".join(w.lower() if w in ("AND", "OR", "NOT") else w
                        for w in _LITERAL_DROP.sub(" ", text).split())
    node = _Parser(text, implicit_or=(match == "any")).parse()
    return expand_synonyms(node) if node is not None else None


# ---------------------------------------------------------------------------
# Synonyms in the tree


def _plain(node: Node) -> bool:
    return (isinstance(node, Word) and node.field is None and not node.wildcard
            and node.fuzzy is None)


def expand_synonyms(node: Node) -> Node:
    """Replace runs of consecutive plain words that form a group expression."""
    if isinstance(node, (And, Or)):
        items = [expand_synonyms(i) for i in node.items]
        if node.implicit:
            items = _group_runs(items)
        if len(items) == 1:
            return items[0]
        return type(node)(tuple(items), node.implicit)
    if isinstance(node, Not):
        return Not(expand_synonyms(node.item))
    if _plain(node):
        found = _match_run([node])  # type: ignore[list-item]
        if found:
            return found
    return node


def _match_run(words: Sequence[Word], terms: tuple[str, ...] | None = None) -> Synonym | None:
    if terms is None:
        terms = tuple(t for w in words for t in analyze(w.text))
    group = _synonym_index().get(terms) if terms else None
    if group is None:
        return None
    matched = next(e for e, ts in zip(group.expressions, group.term_lists(), strict=True)
                   if ts == terms)
    return Synonym(tuple(words), group, matched)


@lru_cache(maxsize=1)
def _longest_expression() -> int:
    """Words in the longest synonym expression (bounds the runs tried)."""
    return max((len(e.split()) for g in synonym_groups() for e in g.expressions), default=1)


def _group_runs(items: list[Node]) -> list[Node]:
    """Replace runs of plain words that form a synonym expression, longest first."""
    out: list[Node] = []
    terms = [tuple(analyze(i.text)) if _plain(i) else None for i in items]  # type: ignore[union-attr]
    longest = _longest_expression()
    k = 0
    while k < len(items):
        found = None
        if terms[k] is not None:
            end = k
            while end < len(items) and terms[end] is not None and end - k < longest:
                end += 1
            for stop in range(end, k, -1):
                run_terms = tuple(t for ts in terms[k:stop] for t in ts)  # type: ignore[union-attr]
                found = _match_run(items[k:stop], run_terms)  # type: ignore[arg-type]
                if found:
                    out.append(found)
                    k = stop
                    break
        if not found:
            out.append(items[k])
            k += 1
    return out


# ---------------------------------------------------------------------------
# Translation to Whoosh


@dataclass
class Translation:
    """A Whoosh query plus what the user should be told about it."""

    query: wq.Query | None
    ignored: list[str] = field(default_factory=list)  # stopwords / punctuation
    expansions: list[str] = field(default_factory=list)  # "NRM -> national referral mechanism"
    words: list[Word] = field(default_factory=list)  # positive plain words, for suggestions
    pairs: list[str] = field(default_factory=list)  # adjacent word pairs scored as bigrams


ResolveFacet = Callable[[str, str], list[str]]
_FACET_FIELDS = {"office": "office", "theme": "themes", "type": "type", "year": "year"}


def translate(node: Node | None, resolve: ResolveFacet) -> Translation:
    """Turn a syntax tree into a Whoosh query on the index's fields.

    ``resolve(facet, value)`` maps a facet value as typed to the exact values
    of the index (raising for unknown ones).
    """
    tr = Translation(None)
    if node is not None:
        tr.query = _tr(node, resolve, tr, positive=True)
    return tr


class Scoped(wq.Query):
    """A word or phrase restricted to the title or to the summary.

    :mod:`thb_search.engine` evaluates it with positions: title words lie
    before the summary mark of the ``text`` field, summary words after it.
    """

    def __init__(self, q: wq.Query, scope: str) -> None:
        self.q = q
        self.scope = scope

    def children(self) -> list[wq.Query]:
        return [self.q]

    def __eq__(self, other: object) -> bool:
        return (type(other) is Scoped and other.q == self.q  # type: ignore[attr-defined]
                and other.scope == self.scope)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.scope, self.q))

    def __repr__(self) -> str:
        return f"Scoped({self.q!r}, {self.scope!r})"


def _scoped(q: wq.Query, scope: str | None) -> wq.Query:
    """Restrict a leaf query to the title or the summary (or not at all)."""
    return Scoped(q, scope) if scope else q


def _any_of(leaves: Sequence[wq.Query], scope: str | None) -> wq.Query:
    queries = [_scoped(q, scope) for q in leaves]
    return queries[0] if len(queries) == 1 else wq.Or(queries)


def _text_query(terms: Sequence[str], scope: str | None = None) -> wq.Query:
    """A word, or a phrase of several, optionally scoped."""
    leaf = (wq.Term(RANK_FIELD, terms[0]) if len(terms) == 1
            else wq.Phrase(RANK_FIELD, list(terms)))
    return _scoped(leaf, scope)


def _word_query(w: Word, tr: Translation, positive: bool) -> wq.Query | None:
    if w.wildcard:
        pattern = fold(normalize_chars(w.text))
        if pattern.endswith("*") and "*" not in pattern[:-1] and "?" not in pattern:
            # Index terms are stems: "trafficking*" must also try "traffick*".
            prefixes = dict.fromkeys([pattern[:-1], term_for(pattern[:-1]) or pattern[:-1]])
            return _any_of([wq.Prefix(RANK_FIELD, p) for p in prefixes], w.field)
        return _scoped(wq.Wildcard(RANK_FIELD, pattern), w.field)
    if w.fuzzy is not None:
        parts = split_word(w.text)
        if not parts:
            tr.ignored.append(w.text)
            return None
        term = term_for("".join(parts)) or "".join(parts)
        return _scoped(wq.FuzzyTerm(RANK_FIELD, term, maxdist=w.fuzzy, prefixlength=1), w.field)
    joined, parts = query_terms(w.text)
    if joined is None and not parts:
        tr.ignored.append(w.text)
        return None
    if positive and w.field is None:
        tr.words.append(w)
    if not parts:
        return _text_query([joined], w.field)  # type: ignore[list-item]
    if joined is None and len(parts) == 1:
        return _text_query(parts, w.field)
    alternatives = [_text_query(parts, w.field)]
    if joined is not None:
        alternatives.insert(0, _text_query([joined], w.field))
    return alternatives[0] if len(alternatives) == 1 else wq.Or(alternatives)


def _tr(node: Node, resolve: ResolveFacet, tr: Translation, positive: bool) -> wq.Query | None:
    if isinstance(node, Word):
        return _word_query(node, tr, positive)
    if isinstance(node, Phrase):
        parts = _phrase_terms(node.text)
        if not parts:
            if node.text.strip():
                tr.ignored.append(f'"{node.text}"')
            return None
        return _text_query(parts, node.field)
    if isinstance(node, FacetValue):
        values = resolve(node.facet, node.value)
        fieldname = _FACET_FIELDS[node.facet]
        terms = [wq.Term(fieldname, v) for v in values]
        if not terms:
            return wq.NullQuery()
        return terms[0] if len(terms) == 1 else wq.Or(terms)
    if isinstance(node, Synonym):
        known = len(tr.words)
        base = [_tr(w, resolve, tr, positive) for w in node.words]
        del tr.words[known:]  # expanded words are not offered spelling corrections
        base_q = [q for q in base if q is not None]
        alternatives: list[wq.Query] = []
        if base_q:
            alternatives.append(base_q[0] if len(base_q) == 1 else wq.And(base_q))
        others = [e for e in node.group.expressions if e != node.matched]
        for expr in others:
            terms = _phrase_terms(expr)
            if terms:
                alternatives.append(_text_query(terms))
        tr.expansions.append(f"{node.matched} -> {' | '.join(others)}")
        return alternatives[0] if len(alternatives) == 1 else wq.Or(alternatives)
    if isinstance(node, Not):
        inner = _tr(node.item, resolve, tr, positive=not positive)
        return wq.Not(inner) if inner is not None else None
    if isinstance(node, (And, Or)):
        subs = [q for q in (_tr(i, resolve, tr, positive) for i in node.items) if q is not None]
        if not subs:
            return None
        combined = subs[0] if len(subs) == 1 else (
            wq.And if isinstance(node, And) else wq.Or)(subs)
        pairs = _word_pairs(node.items) if node.implicit and positive else []
        if not pairs:
            return combined
        tr.pairs.extend(" ".join(p) for p in pairs)
        bigrams = [wq.Phrase(RANK_FIELD, list(p), boost=PAIR_WEIGHT) for p in pairs]
        if isinstance(node, Or):
            return wq.Or([*subs, *bigrams])
        return wq.AndMaybe(combined, bigrams[0] if len(bigrams) == 1 else wq.Or(bigrams))
    raise TypeError(f"not a query node: {node!r}")


def _word_pairs(items: Sequence[Node]) -> list[tuple[str, str]]:
    """Adjacent index terms of consecutive plain words (for pair scoring)."""
    pairs: dict[tuple[str, str], None] = {}
    run: list[str] = []
    for item in [*items, None]:
        words = item.words if isinstance(item, Synonym) else (item,)
        if item is not None and all(_plain(w) for w in words):
            for w in words:
                joined, parts = query_terms(w.text)  # type: ignore[union-attr]
                run.extend(parts or ([joined] if joined else []))
            continue
        pairs.update((p, None) for p in zip(run, run[1:], strict=False) if p[0] != p[1])
        run = []
    return list(pairs)


def _phrase_terms(text: str) -> list[str]:
    """Terms of a phrase: hyphenated words by their parts (joined forms dropped)."""
    out: list[str] = []
    for word in re.findall(r"\S+", text):
        joined, parts = query_terms(word)
        if parts:
            out.extend(parts)
        elif joined is not None:
            out.append(joined)
    return out


def leaves(node: Node | None) -> Iterator[Node]:
    """The leaf nodes of a tree, left to right (Synonym counts as one leaf)."""
    if node is None:
        return
    if isinstance(node, (And, Or)):
        for item in node.items:
            yield from leaves(item)
    elif isinstance(node, Not):
        yield from leaves(node.item)
    else:
        yield node


def top_items(node: Node | None) -> tuple[Node, ...]:
    """The implicitly joined items at the top of a tree (for partial matching)."""
    if isinstance(node, And) and node.implicit:
        return node.items
    return (node,) if node is not None else ()
