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

Only NLTK parts that need no downloaded data are used.  Whoosh pickles the
analyzer into the index, so :class:`ThbAnalyzer` and :class:`ValueTokenizer`
must stay module-level names of this module; bump ``ANALYSIS_VERSION`` on any
change that alters the tokens produced.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from nltk.stem.snowball import EnglishStemmer
from nltk.tokenize import RegexpTokenizer
from whoosh.analysis import Analyzer, Token

#: Bump when the tokens produced for some text change: indexes built with
#: another version are rebuilt automatically.
ANALYSIS_VERSION = 2

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
_tokenizer = RegexpTokenizer(WORD_PATTERN)
_ACRONYM_PLURAL = re.compile(r"[A-Z]{2,6}s")
_stemmer = EnglishStemmer()


def normalize_chars(text: str) -> str:
    """Curly quotes to straight ones, every kind of dash to ``-``."""
    return text.translate(_CHAR_MAP)


def fold(word: str) -> str:
    """Lower-case, NFKC and strip accents: ``Dačić`` -> ``dacic``."""
    word = unicodedata.normalize("NFKC", word).lower().translate(_FOLD_EXTRA)
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _data_lines(name: str) -> Iterator[str]:
    text = resources.files("thb_search").joinpath("data").joinpath(name).read_text("utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            yield line


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
_YSE_RE = re.compile(r"^(?P<stem>.*[^aeiou]y)s(?P<end>e|es|ed|ing|er|ers)$")


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


@lru_cache(maxsize=262144)
def term_for(word: str) -> str | None:
    """The index term of one folded word, or None for a stopword.

    Cached: the same few thousand words make up most text.
    """
    if word in STOPWORDS:
        return None
    word = american(word)
    protected = PROTECTED.get(word)
    if protected is not None:
        return protected
    if word.endswith("'s"):
        word = word[:-2]
    return _stemmer.stem(word)


@dataclass(frozen=True)
class Piece:
    """One indexed term with its position and the character span it came from."""

    term: str
    pos: int
    start: int
    end: int


def word_spans(text: str) -> Iterator[tuple[int, int]]:
    """Character spans of the words of ``text`` (NLTK regexp tokeniser)."""
    return _tokenizer.span_tokenize(normalize_chars(text))


def split_word(raw: str) -> list[str]:
    """The folded parts of one raw word: ``Co-operation`` -> ``['co', 'operation']``.

    A possessive ``'s`` is dropped, as is the plural ``s`` of an upper-case
    acronym (``NGOs`` -> ``ngo``, which Snowball leaves as ``ngos``); other
    apostrophes and hyphens split parts.
    """
    if _ACRONYM_PLURAL.fullmatch(raw):
        raw = raw[:-1]
    word = fold(normalize_chars(raw))
    if word.endswith("'s"):
        word = word[:-2]
    return [p for p in re.split(r"['-]", word) if p]


def analyze_pieces(text: str, start_pos: int = 0) -> Iterator[Piece]:
    """The terms of ``text`` with positions and character spans.

    A hyphenated word yields its parts at consecutive positions and the joined
    form at the first part's position, so ``gender-sensitive`` matches both
    ``gender sensitive`` (a phrase) and ``gendersensitive``.
    """
    pos = start_pos
    for start, end in word_spans(text):
        parts = split_word(text[start:end])
        if len(parts) > 1:
            first = pos
            joined = term_for("".join(parts))
            for part in parts:
                term = term_for(part)
                if term is not None:
                    yield Piece(term, pos, start, end)
                    pos += 1
            if joined is not None:
                yield Piece(joined, first, start, end)
                if pos == first:  # every part was a stopword
                    pos += 1
        elif parts:
            term = term_for(parts[0])
            if term is not None:
                yield Piece(term, pos, start, end)
                pos += 1


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


def vocabulary_words(text: str) -> Iterator[str]:
    """Folded, unstemmed words of ``text`` (for "did you mean" suggestions)."""
    for start, end in word_spans(text):
        parts = split_word(text[start:end])
        if len(parts) > 1:
            yield "".join(parts)
        for part in parts:
            if part not in STOPWORDS and not part.isdigit():
                yield part


#: Separates title and summary in the value of the combined ``text`` field.
FIELD_SEPARATOR = "\x1e"
#: Positions left between title and summary so that no phrase spans both.
FIELD_GAP = 100


@lru_cache(maxsize=8)
def _pieces(text: str) -> tuple[Piece, ...]:
    # Each title and summary is analysed for its own field and again for the
    # combined field: this small cache makes the second time free.
    return tuple(analyze_pieces(text))


def _fill(token: Token, piece: Piece, pos: int, value: str, kw: dict[str, Any]) -> Token:
    token.text = piece.term
    token.stopped = False
    if kw["keeporiginal"]:
        token.original = value[piece.start:piece.end]
    if kw["positions"]:
        token.pos = pos
    if kw["chars"]:
        token.startchar = kw["start_char"] + piece.start
        token.endchar = kw["start_char"] + piece.end
    return token


class ThbAnalyzer(Analyzer):
    """The Whoosh analyzer of the ``title`` and ``summary`` fields: :func:`analyze_pieces`."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        kw = {"keeporiginal": keeporiginal, "positions": positions, "chars": chars,
              "start_char": start_char}
        if not tokenize:
            yield _fill(token, Piece(value, start_pos, 0, len(value)), start_pos, value, kw)
            return
        for piece in _pieces(value):
            yield _fill(token, piece, start_pos + piece.pos, value, kw)


class TextAnalyzer(Analyzer):
    """The analyzer of the combined ``text`` field that ranking uses (BM25F).

    Its value is ``title + FIELD_SEPARATOR + summary``: title words carry
    ``title_boost`` as their weight, so a term's weight in a document is
    ``title_boost * tf(title) + tf(summary)``, the pseudo-frequency of BM25F,
    saturated once by the ranking function.
    """

    def __init__(self, title_boost: float = 2.0) -> None:
        self.title_boost = float(title_boost)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        kw = {"keeporiginal": keeporiginal, "positions": positions, "chars": False,
              "start_char": 0}
        title, _, summary = value.partition(FIELD_SEPARATOR)
        pos = start_pos
        for text, boost in ((title, self.title_boost), (summary, 1.0)):
            last = pos
            for piece in _pieces(text):
                token.boost = boost
                yield _fill(token, piece, pos + piece.pos, text, kw)
                last = pos + piece.pos
            pos = last + FIELD_GAP


class VocabularyAnalyzer(Analyzer):
    """The Whoosh analyzer of the ``vocab`` field: :func:`vocabulary_words`."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __call__(self, value: str, **kwargs: Any) -> Iterator[Token]:
        token = Token(**{k: v for k, v in kwargs.items() if k in ("positions", "chars", "mode")})
        for word in vocabulary_words(value):
            token.text = word
            token.stopped = False
            token.boost = 1.0
            yield token
