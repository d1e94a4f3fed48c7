"""The analysis chain: golden token lists for every rule."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thb_search.analysis import (
    _FOLD_EXTRA,
    PROTECTED,
    STOPWORDS,
    american,
    analyze,
    analyze_pieces,
    fold,
    load_nltk,
    normalize_chars,
    normalized_title,
    query_terms,
    word_spans,
    word_tokens,
)
from thb_search.fields import text_postings


def test_golden_title() -> None:
    assert analyze("Three Action Areas for Parliaments to Combat Trafficking in Human Beings") == [
        "three", "action", "area", "parliament", "combat", "traffick", "human", "be"]


def test_lowercase_and_stopwords() -> None:
    assert analyze("The Rights OF the Victims") == ["right", "victim"]
    assert "the" in STOPWORDS and "of" in STOPWORDS


def test_accents_folded() -> None:
    assert analyze("Dačić") == analyze("Dacic") == ["dacic"]
    assert analyze("Straße Øresund Łódź") == ["strass", "oresund", "lodz"]


def test_curly_quotes_and_possessives() -> None:
    assert analyze("OSCE’s victims’ ‘safe’") == ["osc", "victim", "safe"]
    assert analyze("OSCE's") == analyze("OSCE’s")


def test_dashes_normalised() -> None:
    # An en dash between spaces separates words; inside a word it is a hyphen.
    assert analyze("crimes – human trafficking") == ["crime", "human", "traffick"]
    assert analyze("co–operation") == analyze("co-operation")


def test_hyphenated_words_yield_parts_and_joined_form() -> None:
    pieces = list(analyze_pieces("gender-sensitive approaches"))
    assert [(p.term, p.pos) for p in pieces] == [
        ("gender", 0), ("sensit", 1), ("gendersensit", 0), ("approach", 2)]
    assert analyze("co-operation") == ["co", "oper", "cooper"]
    assert "cooper" in analyze("cooperation")


def test_hyphen_spans_cover_the_whole_word() -> None:
    text = "a gender-sensitive view"
    spans = {p.term: text[p.start:p.end] for p in analyze_pieces(text)}
    assert spans == {"gender": "gender-sensitive", "sensit": "gender-sensitive",
                     "gendersensit": "gender-sensitive", "view": "view"}


@pytest.mark.parametrize(("british", "american_form"), [
    ("labour", "labor"), ("labourers", "laborers"), ("behaviour", "behavior"),
    ("behavioural", "behavioral"), ("neighbouring", "neighboring"),
    ("organisation", "organization"), ("organisations", "organizations"),
    ("criminalise", "criminalize"), ("criminalised", "criminalized"),
    ("criminalisation", "criminalization"), ("recognise", "recognize"),
    ("prioritising", "prioritizing"), ("programme", "program"), ("programmes", "programs"),
    ("centre", "center"), ("centres", "centers"), ("defence", "defense"),
    ("offences", "offenses"), ("analyse", "analyze"), ("judgement", "judgment"),
])
def test_british_spellings_fold_to_american(british: str, american_form: str) -> None:
    assert american(british) == american_form
    assert american(american_form) == american_form
    assert analyze(british) == analyze(american_form)


@pytest.mark.parametrize("word", [
    "arise", "promise", "treatise", "exercise", "advertise", "surprise", "expertise",
    "enterprise", "franchise", "supervised", "four", "hour", "crises", "premises"])
def test_words_that_only_look_british_are_left_alone(word: str) -> None:
    assert american(word) == word


def test_organization_is_not_organ() -> None:
    assert analyze("Organization organizations organisational organized") == [
        "organiz", "organiz", "organiz", "organiz"]
    assert analyze("organ organs") == ["organ", "organ"]
    assert set(analyze("organisation")).isdisjoint(analyze("organ removal"))


def test_protected_words() -> None:
    assert PROTECTED["minority"] == "minorit"
    assert analyze("minorities minors") == ["minorit", "minor"]
    assert analyze("informal information") == ["informal", "inform"]
    assert analyze("university universal") == ["universit", "univers"]
    assert analyze("children child women woman") == ["child", "child", "woman", "woman"]


def test_acronym_plurals() -> None:
    assert analyze("NRMs NGOs") == analyze("NRM NGO") == ["nrm", "ngo"]
    assert analyze("bus gas") == ["bus", "gas"]


def test_query_terms() -> None:
    assert query_terms("labour") == ("labor", [])
    assert query_terms("co-operation") == ("cooper", ["co", "oper"])
    assert query_terms("the") == (None, [])


def test_text_field_tokens() -> None:
    positions, weights, length = text_postings("Forced labour", "Labour in supply chains", 2.0)
    assert positions == {"forc": [0], "labor": [1, 102], "_summary_": [101], "suppli": [103],
                         "chain": [104]}
    assert weights == {"forc": 2.0, "labor": 3.0, "_summary_": 1.0, "suppli": 1.0,
                       "chain": 1.0}
    assert length == 6


@given(st.text(max_size=200))
def test_analysis_is_deterministic_and_never_fails(text: str) -> None:
    first = list(analyze_pieces(text))
    assert first == list(analyze_pieces(text))
    for piece in first:
        assert piece.term and piece.term == piece.term.lower()
        assert 0 <= piece.start < piece.end <= len(text)


@given(st.text(max_size=200) | st.text(st.characters(max_codepoint=127), max_size=200))
def test_regexp_spans_equal_nltk_tokeniser_spans(text: str) -> None:
    from nltk.tokenize import RegexpTokenizer

    from thb_search.analysis import WORD_PATTERN, _word_re, normalize_chars

    normal = normalize_chars(text)
    expected = list(RegexpTokenizer(WORD_PATTERN).span_tokenize(normal))
    assert [(m.start(), m.end()) for m in _word_re(normal).finditer(normal)] == expected
    load_nltk()
    assert list(word_spans(text)) == expected
    # The words an indexer reads (``re`` on ASCII text, NLTK's tokeniser else).
    assert word_tokens(text) == RegexpTokenizer(WORD_PATTERN).tokenize(normal)


@given(st.text(max_size=200) | st.text(st.characters(max_codepoint=127), max_size=200))
def test_normalize_chars_maps_each_character(text: str) -> None:
    from thb_search.analysis import _CHAR_MAP, normalize_chars

    assert normalize_chars(text) == text.translate(_CHAR_MAP)
    assert normalize_chars(text + "`\u2019") == (text + "''").translate(_CHAR_MAP)


@given(st.text(max_size=60) | st.text(st.characters(max_codepoint=127), max_size=60))
def test_fold_of_ascii_text_is_the_full_folding(text: str) -> None:
    """fold's shortcut for ASCII text gives what its full steps give."""
    full = unicodedata.normalize("NFKC", text).lower().translate(_FOLD_EXTRA)
    if not full.isascii():
        full = "".join(c for c in unicodedata.normalize("NFKD", full)
                       if not unicodedata.combining(c))
    assert fold(text) == full


def test_re_and_regex_agree_on_every_ascii_character() -> None:
    """Why ASCII text may be tokenised with ``re`` (no ``regex`` import): each
    ASCII character is a word character for both or for neither, and the
    pattern then matches alike."""
    import regex

    from thb_search.analysis import WORD_PATTERN, _word_re

    ascii_chars = [chr(i) for i in range(128)]
    word = [c for c in ascii_chars if re.fullmatch(r"[^\W_]", c)]
    assert word == [c for c in ascii_chars if regex.fullmatch(r"[^\W_]", c)]
    assert "".join(word) == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    text = "".join(ascii_chars) + " co-operation's -x- a--b 'quoted' it's"
    assert isinstance(_word_re(text), re.Pattern)
    # (spelt out as those characters: the same pattern for ASCII text)
    assert _word_re(text).pattern.replace("A-Za-z0-9", "^\\W_") == WORD_PATTERN
    assert _word_re(text).findall(text) == regex.findall(
        WORD_PATTERN, text, regex.UNICODE | regex.MULTILINE | regex.DOTALL)
    assert not isinstance(_word_re("Dačić"), re.Pattern)  # regex beyond ASCII


def _english_table() -> list[str]:
    import gzip
    from importlib import resources

    data = resources.files("thb_search").joinpath("data").joinpath(
        "english-terms.txt.gz").read_bytes()
    return gzip.decompress(data).decode("ascii").splitlines()


def _check_english(lines: list[str]) -> None:
    from thb_search.analysis import _compute_term

    for line in lines:
        word, _, term = line.partition(" ")
        assert _compute_term(word) == (term or word), line


def test_english_table_gives_the_chain_s_terms() -> None:
    from thb_search.analysis import english_term

    lines = _english_table()
    assert len(lines) > 130_000 and lines == sorted(lines)
    _check_english(lines[::40])  # a sample here; all of them in the slow test
    assert english_term("organisations") == "organiz"
    assert english_term("labour") == english_term("labor") == "labor"
    assert english_term("trafiking") is None


@pytest.mark.slow
def test_english_table_gives_the_chain_s_terms_for_every_word() -> None:
    """After a change to the analysis, regenerate the table with
    ``python scripts/update_english_terms.py``; this test only compares."""
    _check_english(_english_table())


def test_tokenising_is_never_cut_off_by_nltks_time_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """NLTK limits each match of a pattern by wall-clock time (5 s by default),
    which a long page can pass on a busy machine: indexing would fail."""
    import nltk.redos

    from thb_search.analysis import load_nltk, word_spans

    load_nltk()
    monkeypatch.setattr(nltk.redos, "DEFAULT_TIMEOUT", 1e-9)
    text = "Forced labour in supply chains. " * 20_000
    assert len(list(word_spans(text))) == 100_000


def _title_by_expression(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", fold(normalize_chars(text))))


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_an_ascii_title_s_key_is_the_expression_s(text: str) -> None:
    """An ASCII title's sort and id key (found by a byte table) is what the
    expression finds in the folded title: letters and digits, lower-cased."""
    assert normalized_title(text) == _title_by_expression(text)


def test_title_keys_of_every_ascii_character_and_of_other_text() -> None:
    for c in map(chr, range(128)):
        for text in (c, f"a{c}B", c * 3, f"{c}9_x{c}"):
            assert normalized_title(text) == _title_by_expression(text), repr(text)
    assert normalized_title("National Referral Mechanisms- Joining_Efforts (2022)") == (
        "national referral mechanisms joining efforts 2022")
    assert normalized_title("Dačić’s “co-operation” – Ⅻ") == "dacic s co operation xii"
