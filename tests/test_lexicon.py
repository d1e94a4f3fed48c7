"""The index's lexicon: words looked up at once answer as one at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from thb_search import analysis
from thb_search.analysis import add_term_source, remove_term_source, unknown_words
from thb_search.lexicon import Lexicon

TEXTS = ["Co-operation with NGOs on trafficking in the OSCE region's elections",
         "Dačić's visit: anti-corruption reforms, and the Mission's report (2003)",
         "Gender-sensitive policing; the children's rights; no-one"]


def test_words_looked_up_at_once_answer_as_one_at_a_time(tmp_path: Path) -> None:
    pairs = {f"word{i}": f"term{i % 7}" for i in range(1_200)}  # more than one query
    writer = Lexicon(tmp_path)
    writer.add(pairs)
    writer.close()
    asked = [*pairs, "absent", "another"]
    one = Lexicon(tmp_path)
    batch = Lexicon(tmp_path)
    batch.look_up(asked)
    try:
        assert [batch.term(w) for w in asked] == [one.term(w) for w in asked]
        assert batch.holds("word5", "term5") and not batch.holds("word5", "term4")
        assert not batch.holds("absent", "absent") and not one.holds("word5", "term5")
    finally:
        one.close()
        batch.close()


def test_look_up_without_a_lexicon_file(tmp_path: Path) -> None:
    lexicon = Lexicon(tmp_path)
    lexicon.look_up(["word"])
    assert lexicon.term("word") is None
    assert not (tmp_path / "lexicon.sqlite").exists()


def test_unknown_words_are_every_word_analysis_looks_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis, "_TERMS", {})
    analysis._word_terms.cache_clear()
    expected = unknown_words(TEXTS)
    asked: list[str] = []

    class Source:
        def term(self, word: str) -> str | None:
            asked.append(word)
            return None

        def look_up(self, words: object) -> None:
            pass

    source = Source()
    monkeypatch.setattr(analysis, "_TERM_SOURCES", [])  # none but this one
    add_term_source(source)
    try:
        for text in TEXTS:
            list(analysis.analyze_pieces(text))
    finally:
        remove_term_source(source)
        analysis._word_terms.cache_clear()
    assert set(asked) == expected
    assert {"co", "operation", "cooperation", "ngo", "dacic", "gendersensitive"} <= expected
    assert "the" not in expected


def test_marking_a_text_asks_its_unknown_words_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Highlighting a text asks the index's lexicon about its new words in one
    look-up, and the terms then come from that answer (no query a word)."""
    monkeypatch.setattr(analysis, "_TERMS", {})
    monkeypatch.setattr(analysis, "_MARKED", [analysis._WordTerms()])
    analysis._word_terms.cache_clear()
    looked_up: list[set[str]] = []
    asked_one: list[str] = []

    class Source:
        def look_up(self, words: set[str]) -> None:
            looked_up.append(set(words))

        def term(self, word: str) -> str | None:
            asked_one.append(word)
            return {"cooperation": "cooper", "ngo": "ngo"}.get(word)

    expected = unknown_words([TEXTS[0]])
    monkeypatch.setattr(analysis, "_TERM_SOURCES", [Source()])
    try:
        marked = analysis.marked_words(TEXTS[0], {"cooper", "ngo"})
    finally:
        analysis._word_terms.cache_clear()
    assert looked_up == [expected]
    assert sorted(asked_one) == sorted(expected)  # each once, from the answer
    assert [(TEXTS[0][s:e], t) for s, e, t in marked] == [
        ("Co-operation", "cooper"), ("NGOs", "ngo")]


def test_a_lexicon_asked_about_more_words_than_it_keeps_still_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from thb_search import lexicon

    monkeypatch.setattr(lexicon, "ASKED_AT_MOST", 3)
    writer = Lexicon(tmp_path)
    writer.add({"alpha": "a", "beta": "b", "gamma": "g", "delta": "d"})
    writer.close()
    known = Lexicon(tmp_path)
    try:
        known.look_up(["alpha", "beta"])
        known.look_up(["gamma", "delta"])  # past 3: the first two are forgotten
        assert len(known._asked) == 2
        assert [known.term(w) for w in ("alpha", "beta", "gamma", "delta", "zeta")] == [
            "a", "b", "g", "d", None]
    finally:
        known.close()
