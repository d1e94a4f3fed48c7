"""Text analysis: one chain for titles, summaries and queries.

    raw text
      -> NLTK regexp tokeniser (word spans; curly quotes and dashes normalised)
      -> NFKC, lower-case, accents folded (Dačić -> dacic)
      -> hyphenated / apostrophe words split into parts, plus the joined form
         at the first part's position (co-operation -> co, oper, cooper)
      -> stopwords dropped (shipped list, positions closed up)
      -> British spellings folded to American (labour -> labor, -ise -> -ize)
      -> protected words get a fixed stem (organization -> organiz, not organ)
      -> NLTK Snowball English stemmer

Only NLTK parts that need no downloaded data are used, and NLTK is imported
only when a word must be stemmed that this process has not met (see
:func:`term_for`).  How the fields of the index are made of these terms is
:mod:`thb_search.fields`'s.  Bump ``ANALYSIS_VERSION`` on any change that
alters the tokens produced.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence, Set
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from .dataclass import dataclass

#: Bump when the tokens produced for some text change: indexes built with
#: another version are rebuilt automatically.
ANALYSIS_VERSION = 3

# Characters normalised one-for-one before tokenising (offsets stay valid).
_CHAR_MAP = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u02bc": "'", "`": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-", "\ufe63": "-", "\uff0d": "-",
        "\u00ad": "-",
    }
)

# Letters NFKD does not decompose into base letter + mark.
_FOLD_EXTRA = str.maketrans(
    {
        "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th",
        "ł": "l", "ħ": "h", "ı": "i", "ŀ": "l", "ŧ": "t",
    }
)

#: A word: letters/digits, with internal hyphens or apostrophes.
WORD_PATTERN = r"[^\W_]+(?:['-][^\W_]+)*"
# NLTK's RegexpTokenizer compiles its pattern with the ``regex`` module (an NLTK
# dependency) and these flags; so does the fallback, so both agree exactly.  On
# ASCII text ``re`` finds exactly the same words (the same 62 letters and digits
# are word characters; a test checks every ASCII character), so ``regex``, some
# 8 ms of a new process's start, is imported only for the first text that is
# not ASCII (none of the bundled catalogue's, once quotes and dashes are
# normalised).  Spelt out as those 62 characters, the pattern runs without a
# Unicode category test a character: a benchmark summary in 20 µs against 27.
_ASCII_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*")
_UNICODE_WORD_RE: list[Any] = []
_ACRONYM_PLURAL = re.compile(r"[A-Z]{2,6}s")
_PART_SEPARATORS = re.compile(r"['-]")  # (re.split's cache look-up cost more than the split)

# NLTK is imported on first need: importing the nltk package takes 0.2-0.8 s,
# more than a whole search.  Indexing always needs it (load_nltk()); a search
# needs it only for a word the index has never met, since the index keeps the
# term of every word it met in its lexicon (see add_term_source()).
_nltk: dict[str, Any] = {}
# folded word -> index term (None for a stopword): every word this process has
# analysed or looked up.
_TERMS: dict[str, str | None] = {}
#: Words remembered at most (some 30 MB); past it, memory starts afresh.
MAX_REMEMBERED = 200_000


class TermSource(Protocol):
    """Terms computed before (an open index's lexicon, :class:`thb_search.lexicon.Lexicon`)."""

    def term(self, word: str) -> str | None:
        """The term of one folded word, if the source holds it."""

    def look_up(self, words: Iterable[str]) -> None:
        """Ask about ``words`` at once: :meth:`term` then answers them from memory."""


_TERM_SOURCES: list[TermSource] = []


def load_nltk() -> None:
    """Import the NLTK parts used here: the Snowball English stemmer and the
    regexp tokeniser (neither needs downloaded data)."""
    if not _nltk:
        from nltk import redos
        from nltk.stem.snowball import EnglishStemmer
        from nltk.tokenize import RegexpTokenizer

        tokenizer = RegexpTokenizer(WORD_PATTERN)
        # NLTK bounds each match of a caller's pattern by 5 s of wall-clock time
        # (a ReDoS backstop), which a long document's page can pass on a busy
        # machine, failing the whole run.  This pattern is this module's own and
        # matches in linear time: it is compiled as NLTK would, without the limit.
        tokenizer._regexp = redos.compile(WORD_PATTERN, tokenizer._flags, timeout=None)
        _nltk["stemmer"] = EnglishStemmer()
        _nltk["tokenizer"] = tokenizer


def add_term_source(source: TermSource) -> None:
    """Look words up in ``source`` before analysing them."""
    _TERM_SOURCES.append(source)


def remove_term_source(source: TermSource) -> None:
    if source in _TERM_SOURCES:
        _TERM_SOURCES.remove(source)


#: Sets collecting the words (tokens) analysed while they are open
#: (:func:`collecting_words`).
COLLECTORS: list[set[str]] = []


@contextmanager
def collecting_words() -> Iterator[set[str]]:
    """Collect the folded words of every text analysed meanwhile (the words of
    the documents an indexer writes, for the index's lexicon); the set is
    filled when the block ends.  Analysis adds each text's tokens to the
    open :data:`COLLECTORS` (one ``set.update``); their folded words are
    worked out once, here."""
    tokens: set[str] = set()
    words: set[str] = set()
    COLLECTORS.append(tokens)
    try:
        yield words
    finally:
        COLLECTORS.remove(tokens)
        for token in tokens:
            words.update(_word_terms(token)[2])


def lexicon_entries(words: Iterable[str]) -> dict[str, str]:
    """``word -> term`` for the words that are not stopwords."""
    return {w: t for w in words if (t := term_for(w)) is not None}


_TITLE_WORD = re.compile(r"[^\W_]+")
#: Each ASCII byte: a letter or digit lower-cased, anything else a space (on
#: ASCII text ``[^\W_]`` is the 62 letters and digits).
_TITLE_BYTES = bytes(c | 0x20 if chr(c).isalpha() else c if chr(c).isdigit() else 0x20
                     for c in range(128)) + b" " * 128


def normalized_title(text: str) -> str:
    """Title key (for ids, and sorting): folded, punctuation and spacing ignored.

    ASCII text's words are found by a byte table, not the expression (1.0
    against 3.2 µs a benchmark title; a test compares): a build sorts every
    record by title."""
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_TITLE_BYTES).decode("ascii").split())
    return " ".join(_TITLE_WORD.findall(fold(normalize_chars(text))))


def normalize_chars(text: str) -> str:
    """Curly quotes to straight ones, every kind of dash to ``-``.

    ASCII text (known without reading it) has only the backtick to change:
    ``translate`` looks each character up, 2.5-2.9 µs a benchmark title or
    summary against 0.16 (a 100k build normalises 300,000: each title and
    summary to tokenise it, each title again for sorting)."""
    if text.isascii():
        return text.replace("`", "'") if "`" in text else text
    return text.translate(_CHAR_MAP)


def fold(word: str) -> str:
    """Lower-case, NFKC and strip accents: ``Dačić`` -> ``dacic``.

    ASCII text is its own NFKC form and has none of ``_FOLD_EXTRA``'s
    letters: lower-casing is all (a benchmark title 1.6-1.8 -> 0.13 µs)."""
    if word.isascii():
        return word.lower()
    word = unicodedata.normalize("NFKC", word).lower().translate(_FOLD_EXTRA)
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


#: The package's data files (read as files: ``importlib.resources`` would cost
#: a new process the import of ``zipfile`` and ``tempfile``, some 3 ms).
_DATA = Path(__file__).with_name("data")


def _data_lines(name: str) -> Iterator[str]:
    text = (_DATA / name).read_text("utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            yield line


def synonym_lines() -> list[tuple[str, ...]]:
    """The groups of ``data/synonyms.txt``: equivalent expressions, one tuple each."""
    return [tuple(e.strip() for e in line.split(" = ")) for line in _data_lines("synonyms.txt")]


def words_of(texts: Iterable[str]) -> set[str]:
    """The folded words of ``texts`` (parts and joined forms), as analysis meets them."""
    words: set[str] = set()
    for text in texts:
        for start, end in word_spans(text):
            words.update(_word_terms(text[start:end])[2])
    return words


def _load_stopwords() -> frozenset[str]:
    return frozenset(_data_lines("stopwords.txt"))


def _load_spelling() -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str], dict[str, str]]:
    sections: dict[str, list[str]] = {"our": [], "ise": [], "ise-except": [], "words": []}
    current = None
    for line in _data_lines("spelling.txt"):
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        if current is None:
            raise ValueError(f"spelling.txt: line {line!r} before any [section]")
        sections[current].append(line)
    words = dict(line.split() for line in sections["words"])
    return (
        tuple(sections["our"]),
        tuple(sections["ise"]),
        frozenset(sections["ise-except"]),
        words,
    )


def _load_protected() -> dict[str, str]:
    return dict(line.split() for line in _data_lines("protected.txt"))


STOPWORDS: frozenset[str] = _load_stopwords()
_OUR_STEMS, _ISE_PAIRS, _ISE_EXCEPT, _SPELLING_WORDS = _load_spelling()
#: word -> stem for words the Snowball stemmer would confuse (organization vs organ).
PROTECTED: dict[str, str] = _load_protected()

_OUR_RE = re.compile("^(" + "|".join(sorted(_OUR_STEMS, key=len, reverse=True)) + ")")
_ISE_RE = re.compile(
    r"^(?P<stem>.{2,}(?:" + "|".join(_ISE_PAIRS) + r"))is"
    r"(?P<end>e|es|ed|ing|ation|ations|ational|ationally|er|ers|able)$"
)


def american(word: str) -> str:
    """Fold a (lower-case, accent-free) British spelling to the American one.

    American spellings, and words with no variant, come back unchanged.
    """
    mapped = _SPELLING_WORDS.get(word)
    if mapped:
        return mapped
    m = _OUR_RE.match(word)
    if m:
        stem = m.group(1)
        return stem[:-2] + "r" + word[len(stem):]
    if "is" in word and word not in _ISE_EXCEPT:
        m = _ISE_RE.match(word)
        if m and len(m.group("stem")) >= 4:
            return m.group("stem") + "iz" + m.group("end")
    return word


def term_for(word: str) -> str | None:
    """The index term of one folded word, or None for a stopword.

    Remembered: the same few thousand words make up most text.
    """
    try:
        return _TERMS[word]
    except KeyError:
        pass
    term: str | None = None
    if word not in STOPWORDS:
        for source in _TERM_SOURCES:
            term = source.term(word)
            if term is not None:
                break
        else:
            term = english_term(word) or _compute_term(word)
    if len(_TERMS) >= MAX_REMEMBERED:  # a long-lived process meets words without end
        _TERMS.clear()
    _TERMS[word] = term
    return term


_ENGLISH: list[str] = []


def english_term(word: str) -> str | None:
    """The term of a common English word, from the shipped table (no NLTK).

    ``data/english-terms.txt.gz`` lists the words of SCOWL's large American
    and British word lists with their terms (``word`` alone when the term is
    the word, else ``word term``), as this chain computes them; a test keeps
    it true.  It spares a search NLTK's import for an everyday word that the
    index has never met.
    """
    if not _ENGLISH:
        data = (_DATA / "english-terms.txt.gz").read_bytes()
        _ENGLISH.extend(gzip.decompress(data).decode("ascii").splitlines())
    i = bisect_left(_ENGLISH, word)
    if i < len(_ENGLISH):
        line = _ENGLISH[i]
        if line == word:
            return word
        if line.startswith(word + " "):
            return line[len(word) + 1:]
    return None


def _compute_term(word: str) -> str:
    word = american(word)
    protected = PROTECTED.get(word)
    if protected is not None:
        return protected
    if word.endswith("'s"):
        word = word[:-2]
    load_nltk()
    return _nltk["stemmer"].stem(word)


@dataclass(frozen=True)
class Piece:
    """One indexed term with its position and the character span it came from."""

    term: str
    pos: int
    start: int
    end: int


def _word_re(text: str) -> Any:
    """The word pattern compiled for ``text`` (``re`` for ASCII text, else ``regex``)."""
    if text.isascii():
        return _ASCII_WORD_RE
    if not _UNICODE_WORD_RE:
        import regex

        _UNICODE_WORD_RE.append(
            regex.compile(WORD_PATTERN, regex.UNICODE | regex.MULTILINE | regex.DOTALL))
    return _UNICODE_WORD_RE[0]


def word_spans(text: str) -> Iterator[tuple[int, int]]:
    """Character spans of the words of ``text``.

    NLTK's regexp tokeniser once NLTK is loaded (always when indexing); before
    that, the same pattern compiled as that tokeniser compiles it (with ``re``
    for ASCII text; a test checks that all give the same spans).
    """
    text = normalize_chars(text)
    tokenizer = _nltk.get("tokenizer")
    if tokenizer is not None:
        return tokenizer.span_tokenize(text)
    return ((m.start(), m.end()) for m in _word_re(text).finditer(text))


def split_word(raw: str) -> list[str]:
    """The folded parts of one raw word: ``Co-operation`` -> ``['co', 'operation']``.

    A possessive ``'s`` is dropped, as is the plural ``s`` of an upper-case
    acronym (``NGOs`` -> ``ngo``, which Snowball leaves as ``ngos``); other
    apostrophes and hyphens split parts.
    """
    if raw.isascii() and raw.isalnum() and (raw.islower() or raw.isdigit()):
        return [raw]  # (most words: each step below leaves them as they are)
    if _ACRONYM_PLURAL.fullmatch(raw):
        raw = raw[:-1]
    word = fold(normalize_chars(raw))
    if word.endswith("'s"):
        word = word[:-2]
    return [p for p in _PART_SEPARATORS.split(word) if p]


@lru_cache(maxsize=262144)
def _split(raw: str) -> tuple[str, ...]:
    """:func:`split_word`, remembered (an indexer splits a word before its
    analysis, to look its parts up at once: :func:`unknown_words`)."""
    return tuple(split_word(raw))


def unknown_words(texts: Iterable[str]) -> set[str]:
    """The folded words of ``texts`` (parts and joined forms) that are not
    stopwords and whose terms this process does not remember: those
    analysing ``texts`` will look up in the term sources, which an indexer
    asks about all at once (see :meth:`thb_search.lexicon.Lexicon.look_up`)."""
    raws: set[str] = set()
    for text in texts:
        raws.update(word_tokens(text))
    return _unknown(raws)


def look_up_words(raws: Iterable[str]) -> None:
    """Ask the term sources (an open index's lexicon) at once about the raw
    words ``raws`` (tokens) this process has not analysed: analysing them
    then queries none of them one word at a time."""
    if _TERM_SOURCES:
        # (each word once: a document's words come one occurrence at a time)
        unknown = _unknown(raws if isinstance(raws, (set, frozenset)) else set(raws))
        for source in _TERM_SOURCES:
            source.look_up(unknown)


def _unknown(raws: Iterable[str]) -> set[str]:
    """The folded words of the raw words ``raws`` that analysing them looks up."""
    words: set[str] = set()
    for raw in raws:
        parts = _split(raw)
        words.update(parts)
        if len(parts) > 1:
            words.add("".join(parts))
    return {w for w in words if w not in _TERMS and w not in STOPWORDS}


#: A word's terms: each with its position from the word's first one, in
#: analysis order.
Terms = tuple[tuple[str, int], ...]


@lru_cache(maxsize=262144)
def _word_terms(raw: str) -> tuple[Terms, int, tuple[str, ...]]:
    """The terms of one raw word (a token) with their offsets, the positions it
    takes, and the folded words looked up: the terms of its parts at
    consecutive positions, then, for a word of several parts, the joined
    form at the first part's position (taking one position when every part
    is a stopword).  ``co-operation`` -> ``((co, 0), (oper, 1), (cooper, 0))``, 2."""
    parts = _split(raw)
    terms = [(t, i) for i, t in enumerate(t for t in map(term_for, parts) if t is not None)]
    taken = len(terms)
    if len(parts) > 1:
        joined = "".join(parts)
        term = term_for(joined)
        if term is not None:
            terms.append((term, 0))
            taken = taken or 1
        return tuple(terms), taken, (*parts, joined)
    return tuple(terms), taken, tuple(parts)


def word_tokens(text: str) -> list[str]:
    """The words of ``text`` (what :func:`word_spans` spans), as strings.

    ASCII text is tokenised with ``re`` even once NLTK is loaded: the same
    words as NLTK's tokeniser (see :data:`_ASCII_WORD_RE`) in under half its
    time (a 100k build tokenises 200,000 titles and summaries)."""
    text = normalize_chars(text)
    if text.isascii():
        return _ASCII_WORD_RE.findall(text)
    tokenizer = _nltk.get("tokenizer")
    if tokenizer is not None:
        return tokenizer.tokenize(text)
    return _word_re(text).findall(text)


def _term_positions(tokens: Sequence[str]) -> Iterator[tuple[int, str, int]]:
    """(token index, term, position) for each term of a sequence of words:
    see :func:`analyze_pieces`."""
    for collector in COLLECTORS:
        collector.update(tokens)
    pos = 0
    for i, token in enumerate(tokens):
        terms, taken, _ = _word_terms(token)
        for term, offset in terms:
            yield i, term, pos + offset
        pos += taken


def gather_terms(tokens: Sequence[str], start: int, positions: dict[str, list[int]],
                 weights: dict[str, float] | None = None, weight: float = 1.0) -> tuple[int, int]:
    """Add the terms of ``tokens`` (a text's words) to ``positions`` (term ->
    its positions, in the order :func:`_term_positions` yields them), from
    position ``start``, and ``weight`` a term to ``weights`` if given.
    Returns (terms added, positions taken): one cached look-up a token and a
    few operations a term, no generator.  (The writer adds records' and
    documents' words as token numbers instead:
    :mod:`thb_search.postcolumns`, which a test compares with this.)"""
    for collector in COLLECTORS:
        collector.update(tokens)
    pos = start
    added = 0
    for token in tokens:
        terms, taken, _ = _word_terms(token)
        for term, offset in terms:
            found = positions.get(term)
            if found is None:
                positions[term] = [pos + offset]
                if weights is not None:
                    weights[term] = weight
            else:
                found.append(pos + offset)
                if weights is not None:
                    weights[term] += weight
        added += len(terms)
        pos += taken
    return added, pos - start


def analyze_pieces(text: str) -> Iterator[Piece]:
    """The terms of ``text`` with positions and character spans.

    A hyphenated word yields its parts at consecutive positions and the joined
    form at the first part's position, so ``gender-sensitive`` matches both
    ``gender sensitive`` (a phrase) and ``gendersensitive``.
    """
    spans = list(word_spans(text))
    for i, term, pos in _term_positions([text[s:e] for s, e in spans]):
        yield Piece(term, pos, *spans[i])


class _WordTerms:
    """Words met by :func:`marked_words` (characters normalised) with their
    terms, and each term's words: which words of a text can be marked is then
    a few set intersections, not a lookup per word.  At most
    ``MAX_REMEMBERED`` words (some 28 MB if each had a term of its own, 7 MB
    for the 74,000 words of 30,000 catalogue records).  Only grows (a full
    one is replaced, not cleared), and a word is entered under its terms
    before it is entered itself, so a thread reading it meanwhile never
    misses a word."""

    def __init__(self) -> None:
        self.terms: dict[str, tuple[str, ...]] = {}  # word -> its terms, in analysis order
        # term -> the words that have it (lists: a third of a set's memory, and
        # another thread may append while one is read)
        self.words: dict[str, list[str]] = {}

    def add(self, words: set[str]) -> None:
        # Their words asked about at once: one lexicon query, not one a word
        # (a hit's summary has some 60 words the process may not have met:
        # the benchmark's queries asked for the first time at 100k records,
        # p50 4.2-4.4 -> 3.6 ms).
        look_up_words(words)
        for word in words:
            terms = tuple(term for term, _ in _word_terms(word)[0])
            for term in terms:
                known = self.words.get(term)
                if known is None:
                    self.words[term] = [word]
                else:
                    known.append(word)
            self.terms[word] = terms


_MARKED = [_WordTerms()]


def marked_words(text: str, terms: Set[str]) -> list[tuple[int, int, str]]:
    """``(start, end, term)`` of each word of ``text`` that has a term in
    ``terms``, in order: the word's first such term as :func:`analyze_pieces`
    yields them (its parts' terms, then the joined form).  For highlighting:
    the same words and spans as ``analyze_pieces`` filtered on ``terms``, one
    span a word, without analysing the text word by word: its distinct words
    are found by the tokeniser's own pattern (so they are :func:`word_spans`'s
    words; a test checks) and the words of ``terms`` among them by set
    intersections (:class:`_WordTerms`); only those are then looked for in
    the text.  Collects no words for a lexicon: it is not part of indexing.
    Some 4 µs on a 600-character summary once its words were met, against
    250 µs for ``analyze_pieces``."""
    normal = normalize_chars(text)
    pattern = _word_re(normal)
    words = set(pattern.findall(normal))
    known = _MARKED[0]
    new = words.difference(known.terms)
    if new:
        if len(known.terms) + len(new) > MAX_REMEMBERED:
            known = _MARKED[0] = _WordTerms()
            new = words
        known.add(new)
    hits: set[str] = set()
    if len(terms) <= len(words):
        for term in terms:
            having = known.words.get(term)
            if having is not None:
                hits.update(words.intersection(having))
    else:
        hits.update(w for w in words if not terms.isdisjoint(known.terms[w]))
    if not hits:
        return []
    # The word's first term in terms (a word of parts may have several).
    first = {w: next(t for t in known.terms[w] if t in terms) for w in hits}
    if not normal.isascii():
        return [(m.start(), m.end(), term) for m in pattern.finditer(normal)
                if (term := first.get(m.group())) is not None]
    return sorted(_ascii_occurrences(normal, first))


def _ascii_occurrences(text: str, words: dict[str, str]) -> Iterator[tuple[int, int, str]]:
    r"""``(start, end, term)`` where ``text`` (ASCII) has one of ``words`` as a
    whole word of the tokeniser's, as ``_ASCII_WORD_RE.finditer`` finds them:
    a word starts at a letter or digit not preceded by one, nor by ``'`` or
    ``-`` following one (the word before would go on through it), and ends
    where the next character is neither a letter or digit nor ``'`` or ``-``
    before one.  (On ASCII, ``[^\W_]`` is ``str.isalnum``.)"""
    size = len(text)
    for word, term in words.items():
        n = len(word)
        start = text.find(word)
        while start >= 0:
            end = start + n
            if (start == 0 or not (text[start - 1].isalnum() or (
                    text[start - 1] in "'-" and start >= 2 and text[start - 2].isalnum()))) and (
                    end == size or not (text[end].isalnum() or (
                        text[end] in "'-" and end + 1 < size and text[end + 1].isalnum()))):
                yield start, end, term
            start = text.find(word, start + 1)


def analyze(text: str) -> list[str]:
    """The index terms of ``text`` in order (the golden-list view of the chain)."""
    return [p.term for p in analyze_pieces(text)]


def query_terms(word: str) -> tuple[str | None, list[str]]:
    """How a query word is looked up: (joined term, part terms).

    ``labour`` -> ``('labor', [])``; ``co-operation`` -> ``('cooper', ['co', 'oper'])``.
    The joined term is None when the word is a stopword.  Punctuation around
    the word is ignored; a "word" of several words (``www.osce.org``) is
    looked up as a phrase of their terms, with no joined term.
    """
    spans = list(word_spans(word))
    if len(spans) > 1:
        return None, analyze(word)
    if not spans:
        return None, []
    parts = split_word(word[spans[0][0]:spans[0][1]])
    if not parts:
        return None, []
    joined = term_for("".join(parts))
    if len(parts) == 1:
        return joined, []
    return joined, [t for t in (term_for(p) for p in parts) if t is not None]
