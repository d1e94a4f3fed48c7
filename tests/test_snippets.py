"""Snippets and highlights: the fast path gives exactly what analysing every
word gave (the reference functions below are the former implementation)."""

from __future__ import annotations

import html
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thb_search import analysis
from thb_search.analysis import (
    analyze,
    analyze_pieces,
    load_nltk,
    marked_words,
    normalize_chars,
)
from thb_search.results import escape_html
from thb_search.snippets import SNIPPET_CHARS, highlight, snippet


def reference_snippet(text: str, terms: set[str],
                      width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    spans: list[tuple[int, int]] = []
    found: list[str] = []
    if terms:
        for piece in analyze_pieces(text):
            if piece.term in terms:
                if spans and piece.start < spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], piece.end))
                else:
                    spans.append((piece.start, piece.end))
                    found.append(piece.term)
    if len(text) <= width:
        start, end = 0, len(text)
    else:
        best: tuple[int, int] = (-1, -1)
        start = 0
        for i, (s, _) in enumerate(spans):
            inside = [t for (_, e2), t in zip(spans[i:], found[i:], strict=True)
                      if e2 <= s + width - 30]
            score = (len(set(inside)), len(inside))
            if score > best:
                best, start = score, s
        start = max(0, start - 30) if spans else 0
        if start:
            space = text.rfind(" ", 0, start)
            start = space + 1 if space >= 0 else 0
        end = min(len(text), start + width)
        if end < len(text):
            space = text.rfind(" ", start, end)
            end = space if space > start else end
    parts: list[tuple[str, bool]] = []
    if start > 0:
        parts.append(("\u2026", False))
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if s > pos:
            parts.append((text[pos:s], False))
        parts.append((text[s:e], True))
        pos = e
    if pos < end:
        parts.append((text[pos:end], False))
    if end < len(text):
        parts.append(("\u2026", False))
    return parts


def reference_highlight(text: str, terms: set[str]) -> list[tuple[str, bool]]:
    parts: list[tuple[str, bool]] = []
    pos = 0
    for piece in analyze_pieces(text) if terms else ():
        if piece.term in terms and piece.start >= pos:
            if piece.start > pos:
                parts.append((text[pos:piece.start], False))
            parts.append((text[piece.start:piece.end], True))
            pos = piece.end
    if pos < len(text):
        parts.append((text[pos:], False))
    return parts


# Words that take every branch of the chain: hyphens and apostrophes (parts and
# joined form), stopword parts, curly quotes and dashes, possessives, acronym
# plurals, British spellings, accents, digits, underscores, a soft hyphen.
VOCABULARY = (
    "co-operation", "Co-operation", "co\u2011operation", "co\u00adoperation",
    "gender-sensitive", "Gender-Sensitive", "gendersensitive", "sensitive", "gender",
    "labour", "Labour", "labor", "labours", "organisation", "organization", "organ",
    "NGOs", "NGO", "ngos", "OSCE", "OSCE's", "OSCE\u2019s", "osce", "the", "The", "of",
    "and", "to-the", "of-the", "a-b", "don't", "don\u2019t", "rock'n'roll", "Dačić",
    "dacic", "Müller", "muller", "ß", "straße", "2004", "2004-2005", "1st", "x_y",
    "e-mail", "email", "mail", "human", "rights", "human-rights", "trafficking",
    "traffick", "trafficked", "victims", "victim", "border", "management", "police",
    "policing", "election", "elections", "Elections", "observation", "mission",
    "Mission", "Kosovo", "Skopje", "re-election", "anti-trafficking", "anti",
    "\u0434\u0435\u043c\u043e\u043a\u0440\u0430\u0442\u0438\u044f", "\u00e9t\u00e9",
    "na\u00efve", "caf\u00e9", "word", "words", "wording", "long" * 30,
)
SEPARATORS = (" ", " ", " ", ", ", ". ", " - ", " \u2014 ", "-", "'", " (", ") ", "\n", "  ",
              " \u201c", "\u201d ", "/", ": ", "_")


ASCII_VOCABULARY = tuple(w for w in VOCABULARY if normalize_chars(w).isascii())
ASCII_SEPARATORS = tuple(s for s in SEPARATORS if normalize_chars(s).isascii())


def generated_text(rng: random.Random, ascii_only: bool = False) -> str:
    """Words and separators; ASCII ones only (once quotes and dashes are
    normalised) for the half of the texts that takes the ASCII path."""
    n = rng.choice((0, 1, 3, 10, 40, 80, 160))
    words, separators = ((ASCII_VOCABULARY, ASCII_SEPARATORS) if ascii_only
                         else (VOCABULARY, SEPARATORS))
    out = []
    for _ in range(n):
        out.append(rng.choice(words))
        out.append(rng.choice(separators))
    return "".join(out).strip(" ") if rng.random() < 0.8 else "".join(out)


def generated_terms(rng: random.Random, text: str) -> set[str]:
    own = sorted(set(analyze(text)))
    others = sorted(set(analyze(" ".join(rng.sample(VOCABULARY, 5)))))
    terms = set(rng.sample(own, min(len(own), rng.choice((0, 1, 2, 3, 5)))))
    terms.update(rng.sample(others, rng.choice((0, 1, 2))))
    return terms


def check(text: str, terms: set[str]) -> None:
    for width in (SNIPPET_CHARS, 60, 31, 10):
        assert snippet(text, terms, width) == reference_snippet(text, terms, width), (
            text, terms, width)
    assert highlight(text, terms) == reference_highlight(text, terms), (text, terms)


def test_snippet_and_highlight_equal_the_reference_on_generated_texts() -> None:
    rng = random.Random(12)
    for i in range(1500):
        text = generated_text(rng, ascii_only=i % 2 == 0)
        check(text, generated_terms(rng, text))


def test_snippet_equals_the_reference_on_catalogue_like_records() -> None:
    """Summaries of ~600 characters, queries of 1-4 of their words."""
    rng = random.Random(42)
    for i in range(500):
        vocabulary = ASCII_VOCABULARY if i % 2 else VOCABULARY
        words = [w for w in vocabulary if len(w) < 30] + [f"w{i}" for i in range(60)]
        text = " ".join(rng.choice(words) for _ in range(rng.randint(60, 120))) + "."
        query = " ".join(rng.sample(text.split(), rng.randint(1, 4)))
        check(text, set(analyze(query)))


@given(st.text(max_size=300), st.lists(st.text(max_size=12), max_size=4))
@settings(max_examples=300)
def test_snippet_equals_the_reference_on_any_text(text: str, words: list[str]) -> None:
    terms = set(analyze(" ".join(words))) | set(analyze(text)[:2])
    check(text, terms)


@given(st.text(st.sampled_from("aAbB1-'_ .\u2019\u00e9s"), max_size=80),
       st.lists(st.text(st.sampled_from("aAbB1-'s"), max_size=6), max_size=4))
@settings(max_examples=500)
def test_snippet_equals_the_reference_on_word_boundaries(text: str, words: list[str]) -> None:
    """Hyphens, apostrophes and underscores next to letters, digits and each
    other: where the ASCII path decides that a word starts and ends."""
    terms = set(analyze(" ".join(words))) | set(analyze(text)[::3])
    check(text, terms)


def test_marked_words_with_more_terms_than_words_and_a_full_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Many terms (a wildcard's expansions) are checked word by word; the
    memory of words starts afresh when full, and marks the same."""
    monkeypatch.setattr(analysis, "MAX_REMEMBERED", 50)
    rng = random.Random(3)
    many = set(analyze(" ".join(VOCABULARY)))
    for i in range(300):
        text = generated_text(rng, ascii_only=i % 2 == 0)
        check(text, many if i % 3 == 0 else generated_terms(rng, text))
    assert len(analysis._MARKED[0].terms) <= 200


def test_marked_words_in_threads_with_a_memory_filling_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads meeting new words at once (the web server's) each mark every
    word, while the memory of words is filled and replaced under them."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(analysis, "MAX_REMEMBERED", 300)
    monkeypatch.setattr(analysis, "_MARKED", [analysis._WordTerms()])
    rng = random.Random(5)
    cases = []
    for i in range(400):
        text = generated_text(rng, ascii_only=i % 2 == 0) + f" w{i} w{i}-x{i}"
        terms = generated_terms(rng, text) | set(analyze(f"w{i} x{i}"))
        cases.append((text, terms, reference_snippet(text, terms)))
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda case: snippet(case[0], case[1]), cases))
    assert got == [expected for _, _, expected in cases]


def test_marked_words_with_nltk_loaded() -> None:
    """Once NLTK is loaded, ``analyze_pieces`` tokenises with NLTK's tokeniser;
    ``marked_words`` still finds the same words."""
    load_nltk()
    rng = random.Random(7)
    for _ in range(500):
        text = generated_text(rng)
        check(text, generated_terms(rng, text))


def test_marked_words_gives_each_word_once_with_its_first_matching_term() -> None:
    text = "Co-operation of the OSCE's co-operation, a gender-sensitive approach"
    assert marked_words(text, {"oper", "cooper"}) == [(0, 12, "oper"), (27, 39, "oper")]
    assert marked_words(text, {"cooper"}) == [(0, 12, "cooper"), (27, 39, "cooper")]
    assert marked_words(text, {"osc", "gendersensit"}) == [(20, 26, "osc"),
                                                           (43, 59, "gendersensit")]
    assert marked_words(text, set()) == []


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("&<>\"'a; \u00e9#x27amp") | st.characters()))
def test_snippet_html_is_escaped_as_the_standard_library_escapes(text: str) -> None:
    assert escape_html(text) == html.escape(text)


def test_snippet_html_escapes_exactly() -> None:
    assert escape_html('<b>"R&D" & O\'Brien</b> &amp;') == (
        "&lt;b&gt;&quot;R&amp;D&quot; &amp; O&#x27;Brien&lt;/b&gt; &amp;amp;")
