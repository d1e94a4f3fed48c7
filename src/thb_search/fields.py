"""How a record's text and its document become the positions of the index's
fields.

``text`` holds the title (words weighted ``title_boost``), a summary mark,
then the summary, then the record's locations (when it has any): one
positional field for ranking, phrases and the ``title:`` / ``summary:``
scopes (locations are searched as part of the summary).  ``body`` holds a
document's pages one after the other, with where each page starts.  Whoosh pickles
:class:`TextAnalyzer` into the index: it must stay a module-level name of
this module (moving it is a schema change).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import Any

from whoosh.analysis import Analyzer, Token

from .analysis import (
    COLLECTORS,
    _term_positions,
    gather_terms,
    look_up_words,
    word_tokens,
)
from .dataclass import dataclass

#: Separates title, summary and locations in the value of the combined
#: ``text`` field.
FIELD_SEPARATOR = "\x1e"
#: Positions left between title and summary (and summary and locations) so
#: that no phrase spans both.
FIELD_GAP = 100
#: A term at the start of the summary's positions in the ``text`` field (no
#: word can produce it: words never contain "_").  ``title:`` and ``summary:``
#: scopes are spans before / after it.
SUMMARY_MARK = "_summary_"


def text_value(title: str, summary: str, locations: Iterable[str] = ()) -> str:
    """The value of the ``text`` field: title, summary and (only when there
    are some) locations, separated by ``FIELD_SEPARATOR``."""
    value = title + FIELD_SEPARATOR + summary
    places = ", ".join(locations)
    return value + FIELD_SEPARATOR + places if places else value


def split_text_value(value: str) -> tuple[str, str, str]:
    """Title, summary and locations of a ``text`` field value."""
    title, _, rest = value.partition(FIELD_SEPARATOR)
    summary, _, locations = rest.partition(FIELD_SEPARATOR)
    return title, summary, locations


def text_tokens(title: str, summary: str, title_boost: float,
                locations: str = "") -> Iterator[tuple[str, int, float]]:
    """The ``text`` field's tokens: (term, position, weight).

    Title words at positions 0.., weighted ``title_boost``; the summary mark
    ``FIELD_GAP`` positions after the last title word; summary words after it;
    location words (a press statement's countries) ``FIELD_GAP`` positions
    after the last summary word, so that a plain word finds a record by its
    location.  A record without locations gets exactly the tokens it had
    before locations were read.
    """
    end = 0
    for _, term, pos in _term_positions(word_tokens(title)):
        yield term, pos, title_boost
        end = max(end, pos + 1)
    mark = end - 1 + FIELD_GAP if end else FIELD_GAP
    yield SUMMARY_MARK, mark, 1.0
    last = mark
    for _, term, pos in _term_positions(word_tokens(summary)):
        yield term, mark + 1 + pos, 1.0
        last = max(last, mark + 1 + pos)
    if locations:
        start = last + FIELD_GAP
        for _, term, pos in _term_positions(word_tokens(locations)):
            yield term, start + pos, 1.0


def text_postings(title: str, summary: str, title_boost: float, locations: str = "",
                  ) -> tuple[dict[str, list[int]], dict[str, float], int]:
    """Positions and weight of each term of the ``text`` field, and its length:
    :func:`text_tokens` gathered by term (the indexing hot spot, so made
    with :func:`~thb_search.analysis.gather_terms`; a test compares)."""
    positions: dict[str, list[int]] = {}
    weights: dict[str, float] = {}
    length, end = gather_terms(word_tokens(title), 0, positions, weights, title_boost)
    mark = end - 1 + FIELD_GAP if end else FIELD_GAP
    positions[SUMMARY_MARK] = [mark]  # no word gives this term
    weights[SUMMARY_MARK] = 1.0
    added, taken = gather_terms(word_tokens(summary), mark + 1, positions, weights)
    length += 1 + added
    if locations:
        last = mark + taken if taken else mark
        added, _ = gather_terms(word_tokens(locations), last + FIELD_GAP, positions, weights)
        length += added
    return positions, weights, length


@dataclass(frozen=True)
class BodyPostings:
    """The ``body`` field of a document's text, analysed once: each term's
    positions, where each page starts, and the length (terms in all)."""

    positions: dict[str, list[int]]
    page_starts: tuple[int, ...]
    length: int


def body_postings(pages: Iterable[str]) -> BodyPostings:
    """Analyse a document's pages as one text: positions run on from page to
    page (a phrase may continue on the next page), and ``page_starts[i]`` is
    the first position of page ``i + 1``."""
    tokens = [word_tokens(page) for page in pages]
    # A document of 100 pages has some 8,000 distinct words: those the index
    # has met are looked up in its lexicon at once, not one query (or
    # stemming) each.
    look_up_words(t for page in tokens for t in page)  # (read only if there is a source)
    positions: dict[str, list[int]] = {}
    starts: list[int] = []
    start = length = 0
    for page in tokens:
        starts.append(start)
        added, taken = gather_terms(page, start, positions)
        length += added
        start += taken
    return BodyPostings(positions, tuple(starts), length)


@dataclass(frozen=True)
class BodyTokens:
    """The ``body`` field of a document's text as its words, every page's one
    after another, with each page's number of words, for the writer to
    analyse (:class:`thb_search.postcolumns.BodyColumns`; :func:`body_postings`
    gives the same terms and positions).  The writer works out the length
    (terms in all) and where each page starts from its table of words
    (:meth:`thb_search.writer.MemoryPool.add_body`)."""

    tokens: list[str]
    page_sizes: tuple[int, ...]

    @property
    def positions(self) -> dict[str, list[int]]:
        """Each term's positions, as :func:`body_postings` gives them."""
        positions: dict[str, list[int]] = {}
        gather_terms(self.tokens, 0, positions)
        return positions


def body_tokens(pages: Iterable[str]) -> BodyTokens:
    """A document's pages as one text's words (see :func:`body_postings`),
    given to the lexicon's collectors (the writer analyses them)."""
    tokens = [word_tokens(page) for page in pages]
    look_up_words(t for page in tokens for t in page)  # (read only if there is a source)
    for collector in COLLECTORS:
        for page in tokens:
            collector.update(page)
    return BodyTokens([t for page in tokens for t in page], tuple(map(len, tokens)))


@dataclass(frozen=True)
class BodyPages:
    """A document's pages, still to be analysed: kept in the text store in
    folder ``store`` (:class:`thb_search.texts.TextStore`) under ``sha256``.
    A bulk build sends this to its worker processes, which analyse the pages
    (:func:`thb_search.schema.analysed`) in parallel, instead of analysing
    them in the process that reads the catalogue and sending the postings."""

    store: str
    sha256: str
    pages: int

    def analysed(self) -> BodyTokens:
        from .texts import TextStore

        store = TextStore(self.store)
        try:
            return body_tokens(store.pages(self.sha256))
        finally:
            store.close()


def page_of(page_starts: Iterable[int], position: int) -> int:
    """The page (from 1) of a body position."""
    return bisect_right(list(page_starts), position)


class TextAnalyzer(Analyzer):
    """The analyzer of the ``text`` field, which ranking scores (BM25F).

    Its value is ``title + FIELD_SEPARATOR + summary`` (then, for a record with
    locations, ``FIELD_SEPARATOR + locations``; see :func:`text_value` and
    :func:`text_tokens`):
    title words carry ``title_boost`` as their weight, so a term's weight in a
    document is ``title_boost * tf(title) + tf(summary)``, the pseudo-frequency
    of BM25F, saturated once by the ranking function.  The index is written
    through :class:`thb_search.schema.TextField`, which computes the same
    postings without Whoosh's token objects.
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
        title, summary, locations = split_text_value(value)
        for term, pos, weight in text_tokens(title, summary, self.title_boost, locations):
            token.text = term
            token.stopped = False
            token.boost = weight
            if positions:
                token.pos = start_pos + pos
            yield token
