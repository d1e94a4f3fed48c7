"""The query language: a query string parsed into a syntax tree of what the
user typed (words, phrases, field scopes, facet values, synonyms, boolean
nodes).  :mod:`thb_search.plan` turns the tree into the plan the engine runs.

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
from collections.abc import Iterator, Sequence
from functools import lru_cache

from .analysis import analyze, fold, normalize_chars, synonym_lines
from .dataclass import dataclass
from .errors import QuerySyntaxError

TEXT_FIELDS = {"title": "title", "summary": "summary", "body": "body"}
FACET_SCOPES = {"office": "office", "offices": "office", "theme": "theme", "themes": "theme",
                "type": "type", "year": "year"}


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
    """A query word: looked for in ``field``, as a pattern when ``wildcard``
    (``traffick*``), or within ``fuzzy`` edits (1 or 2) of its stem (``labr~``)."""

    text: str
    field: str | None = None  # None: title and summary (the ranking field)
    wildcard: bool = False
    fuzzy: int | None = None


@dataclass(frozen=True)
class Phrase:
    """Words in a row (``"national referral mechanism"``), in ``field``."""

    text: str
    field: str | None = None


@dataclass(frozen=True)
class FacetValue:
    """A facet filter written in the query (``office:ODIHR``, ``year:2019-2021``)."""

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
    """All of ``items``: joined by ``AND``, or by a space (``implicit``) when a
    query matches all its words."""

    items: tuple[Node, ...]
    implicit: bool = False


@dataclass(frozen=True)
class Or:
    """Any of ``items``: joined by ``OR``, or by a space (``implicit``) when a
    query matches any of its words."""

    items: tuple[Node, ...]
    implicit: bool = False


@dataclass(frozen=True)
class Not:
    """Anything but ``item`` (``NOT`` or ``-``)."""

    item: Node


Node = Word | Phrase | FacetValue | Synonym | And | Or | Not


# ---------------------------------------------------------------------------
# Lexer and parser


_SPECIAL = '()"'
_FIELD_RE = re.compile(r"^([A-Za-z]+):(.*)$", re.S)


@dataclass
class _Tok:
    """A token of the query text, at character ``pos``."""

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


#: Lone surrogates: what Python makes of bytes that are not UTF-8 (a command
#: line typed in another encoding); no index or database can hold them.
_NOT_TEXT = re.compile("[\ud800-\udfff]")


def parse(q: str, match: str = "all", literal: bool = False) -> Node | None:
    """Parse a query string into a syntax tree (None for an empty query).

    With ``literal`` the string is plain words: operators, quotes, brackets,
    field names, wildcards and ``~`` are read as text (for long natural-language
    topics, as in evaluation).
    """
    if match not in ("all", "any"):
        raise ValueError(f"match must be 'all' or 'any', not {match!r}")
    bad = _NOT_TEXT.search(q)
    if bad:
        raise QuerySyntaxError(
            f"the query is not UTF-8 text (character {bad.start() + 1} is a byte that no "
            "character has): type it again, with the terminal set to UTF-8")
    text = normalize_chars(q)
    if literal:
        text = " ".join(w.lower() if w in ("AND", "OR", "NOT") else w
                        for w in _LITERAL_DROP.sub(" ", text).split())
    node = _Parser(text, implicit_or=(match == "any")).parse()
    return expand_synonyms(node) if node is not None else None


# ---------------------------------------------------------------------------
# Synonyms in the tree


def is_plain(node: Node) -> bool:
    """A word with no field, wildcard or fuzziness (synonyms and word pairs
    are formed of these)."""
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
    if is_plain(node):
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
    terms = [tuple(analyze(i.text)) if is_plain(i) else None for i in items]  # type: ignore[union-attr]
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


def describe(node: Node) -> str:
    """A node as the user typed it (roughly): for notices."""
    if isinstance(node, Word):
        return node.text
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, Synonym):
        return " ".join(w.text for w in node.words)
    if isinstance(node, FacetValue):
        return f"{node.facet}:{node.value}"
    return "(" + " ".join(describe(leaf) for leaf in leaves(node)) + ")"
