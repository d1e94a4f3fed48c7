"""The query language (query.py) and the plan built from it (plan.py), without
an index: every syntax form, every error message, every kind of plan node."""

from __future__ import annotations

import pytest

from thb_search.errors import QuerySyntaxError
from thb_search.plan import And, Facet, Not, Or, Part, Phrase, Plan, Terms, build, terms_plan
from thb_search.query import And as SAnd
from thb_search.query import FacetValue, Synonym, Word, describe, parse, top_items
from thb_search.query import Not as SNot
from thb_search.query import Or as SOr
from thb_search.query import Phrase as SPhrase
from thb_search.ranking import PAIR_WEIGHT

# -- parsing ---------------------------------------------------------------


def w(text: str, field: str | None = None, **kw: object) -> Word:
    return Word(text, field, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "tree"), [
    ("labour", w("labour")),
    ("forced labour", SAnd((w("forced"), w("labour")), implicit=True)),
    ("a AND b", SAnd((w("a"), w("b")))),
    ("a && b", SAnd((w("a"), w("b")))),
    ("a OR b", SOr((w("a"), w("b")))),
    ("a || b", SOr((w("a"), w("b")))),
    ("NOT a", SNot(w("a"))),
    ("-a b", SAnd((SNot(w("a")), w("b")), implicit=True)),
    ("+a", w("a")),
    ("a b OR c", SOr((SAnd((w("a"), w("b")), implicit=True), w("c")))),
    ("a AND b c", SAnd((SAnd((w("a"), w("b"))), w("c")), implicit=True)),
    ("(a OR b) c", SAnd((SOr((w("a"), w("b"))), w("c")), implicit=True)),
    ('"supply chains"', SPhrase("supply chains")),
    ("title:terrorism", w("terrorism", "title")),
    ('summary:"human beings"', SPhrase("human beings", "summary")),
    ("title:(a OR b)", SOr((w("a", "title"), w("b", "title")))),
    ("office:bosnia", FacetValue("office", "bosnia")),
    ("offices:bosnia", FacetValue("office", "bosnia")),
    ("themes:law", FacetValue("theme", "law")),
    ('theme:"rule of law"', FacetValue("theme", "rule of law")),
    ("type:factsheet", FacetValue("type", "factsheet")),
    ("year:2019-2021", FacetValue("year", "2019-2021")),
    ("TITLE:x", w("x", "title")),
    ("traffick*", w("traffick*", wildcard=True)),
    ("te?ror", w("te?ror", wildcard=True)),
    ("labr~", w("labr", fuzzy=1)),
    ("labr~2", w("labr", fuzzy=2)),
    ("factsheet:", w("factsheet:")),  # not a field name: a word
    ("https://www.osce.org", w("https://www.osce.org")),
    ("title:AND", w("AND", "title")),
    ("-", w("-")),
    ("a-b", w("a-b")),
])
def test_syntax_forms(query: str, tree: object) -> None:
    assert parse(query) == tree


def test_curly_quotes_and_dashes_are_normalised() -> None:
    assert parse("\u201csupply chains\u201d") == SPhrase("supply chains")
    assert parse("\u2013a b") == SAnd((SNot(w("a")), w("b")), implicit=True)


def test_match_any_joins_words_with_or() -> None:
    assert parse("a b", "any") == SOr((w("a"), w("b")), implicit=True)
    assert parse("a AND b", "any") == SAnd((w("a"), w("b")))
    with pytest.raises(ValueError, match="match must be 'all' or 'any'"):
        parse("a", "some")


def test_empty_queries_parse_to_nothing() -> None:
    assert parse("") is None
    assert parse("   ") is None


def test_synonyms_group_consecutive_plain_words() -> None:
    nrm = parse("NRM handbook")
    assert isinstance(nrm, SAnd) and nrm.items[1] == w("handbook")
    synonym = nrm.items[0]
    assert isinstance(synonym, Synonym)
    assert (synonym.words, synonym.matched) == ((w("NRM"),), "NRM")
    assert synonym.group.expressions == ("NRM", "national referral mechanism")
    thb = parse("human trafficking victims").items[0]  # type: ignore[union-attr]
    assert isinstance(thb, Synonym) and thb.matched == "human trafficking"
    assert thb.group.expressions == ("THB", "trafficking in human beings", "human trafficking")
    # Longest expression first; scoped, quoted or wildcard words never group.
    assert isinstance(parse("national referral mechanisms"), Synonym)
    assert parse("title:NRM") == w("NRM", "title")
    assert parse('"NRM"') == SPhrase("NRM")


def test_literal_parsing_reads_operators_as_words() -> None:
    node = parse('what (is) "the" AND title: x* y~ -z a-b', "any", literal=True)
    assert [i.text for i in node.items] == [  # type: ignore[union-attr]
        "what", "is", "the", "and", "title", "x", "y", "z", "a-b"]


@pytest.mark.parametrize(("query", "message"), [
    ('"unclosed', 'unclosed quote in query at character 1: add the closing " or remove the '
                  "opening one"),
    ('a "b', 'unclosed quote in query at character 3: add the closing " or remove the '
             "opening one"),
    ("a)", "unmatched ')' in query at character 2: remove it or add the '(' it closes"),
    (")", "unmatched ')' in query at character 1: remove it or add the '(' it closes"),
    ("()", "empty '( )' in query at character 1: put words inside"),
    ("(a", "unclosed '(' in query at character 1: close it with ')'"),
    ("(", "unclosed '(' in query at character 1: close it with ')'"),
    ("title:(", "unclosed '(' in query at character 7: close it with ')'"),
    ("labour AND", "'AND' needs a word or phrase on each side: complete the query or write "
                   "'and' to search for the word itself"),
    ("AND labour", "'AND' needs a word or phrase on each side: complete the query or write "
                   "'and' to search for the word itself"),
    ("a OR", "'OR' needs a word or phrase on each side: complete the query or write 'or' to "
             "search for the word itself"),
    ("OR", "'OR' needs a word or phrase on each side: complete the query or write 'or' to "
           "search for the word itself"),
    ("a OR OR b", "'OR' needs a word or phrase on each side: complete the query or write "
                  "'or' to search for the word itself"),
    ("NOT", "'NOT' needs a word or phrase on each side: complete the query or write 'not' to "
            "search for the word itself"),
    ("a -)", "'-' needs a word or phrase on each side: complete the query or write '-' to "
             "search for the word itself"),
    ("title:", "'title:' needs a word, a \"phrase\" or a (group) right after it"),
    ("x office:", "'office:' needs a word, a \"phrase\" or a (group) right after it"),
    ("title:)", "'title:' needs a word, a \"phrase\" or a (group) right after it"),
    ("*", "'*': a wildcard needs at least two letters before its first * or ?"),
    ("t*", "'t*': a wildcard needs at least two letters before its first * or ?"),
    ("labour~3", "fuzzy distance must be 1 or 2 (got 'labour~3'): write e.g. labr~ or labr~2"),
    ("labour~0", "fuzzy distance must be 1 or 2 (got 'labour~0'): write e.g. labr~ or labr~2"),
])
def test_syntax_errors(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        parse(query)
    assert str(err.value) == message


def test_top_items_and_describe() -> None:
    node = parse('NRM "supply chains" (a OR b) office:x')
    assert [describe(i) for i in top_items(node)] == [
        "NRM", '"supply chains"', "(a b)", "office:x"]
    assert top_items(parse("a OR b")) == (parse("a OR b"),)
    assert top_items(None) == ()


# -- plans -----------------------------------------------------------------


class FakeTerms:
    """An index lexicon of a few terms."""

    TERMS = ["labor", "laborat", "lobbi", "traffick", "trafficker", "trafficking"]

    def prefixed(self, prefix: str) -> list[str]:
        return [t for t in self.TERMS if t.startswith(prefix)]

    def matching(self, pattern: str) -> list[str]:
        import fnmatch

        return [t for t in self.TERMS if fnmatch.fnmatchcase(t, pattern)]

    def within(self, term: str, distance: int) -> list[str]:
        return {("labr", 1): ["labor"], ("labr", 2): ["labor", "lobbi"]}.get((term, distance), [])


def resolve(facet: str, value: str) -> list[str]:
    if facet == "year":
        return ["2019", "2020"]
    return {"bosnia": ["OSCE Mission to Bosnia and Herzegovina"]}.get(value, [value.title()])


def plan(query: str, match: str = "all") -> Plan:
    return build(parse(query, match), resolve, FakeTerms())


def test_a_word_is_its_term() -> None:
    p = plan("labour")
    assert p.root == Terms(("labor",))
    assert p.parts == (Part("labour", Terms(("labor",))),)
    assert (p.words, p.highlight, p.items, p.pairs) == (("labour",), {"labor"}, (), ())


def test_a_hyphenated_word_is_its_joined_form_or_its_parts() -> None:
    p = plan("co-operation")
    assert p.root == Or((Terms(("cooper",)), Phrase(("co", "oper"))))
    assert p.highlight == {"cooper", "co", "oper"}


def test_phrases_and_scopes() -> None:
    assert plan('"supply chains"').root == Phrase(("suppli", "chain"))
    assert plan('"labour"').root == Terms(("labor",))
    assert plan("title:labour").root == Terms(("labor",), "title")
    assert plan('summary:"forced labour"').root == Phrase(("forc", "labor"), "summary")


def test_stopwords_are_ignored() -> None:
    p = plan("the")
    assert (p.root, p.ignored, p.parts) == (None, ("the",), ())
    assert plan('"of the"').ignored == ('"of the"',)
    assert plan("the labour").root == Terms(("labor",))


def test_adjacent_words_add_pairs_scored_as_bigrams() -> None:
    p = plan("forced labour supply")
    assert p.root == And(
        (Terms(("forc",)), Terms(("labor",)), Terms(("suppli",))),
        (Phrase(("forc", "labor"), boost=PAIR_WEIGHT), Phrase(("labor", "suppli"),
                                                             boost=PAIR_WEIGHT)))
    assert p.pairs == ("forc labor", "labor suppli")
    assert [i.text for i in p.items] == ["forced", "labour", "supply"]
    any_words = plan("forced labour", "any")
    assert any_words.root == Or((Terms(("forc",)), Terms(("labor",)),
                                 Phrase(("forc", "labor"), boost=PAIR_WEIGHT)))
    # No pairs across a scope, a phrase or a negation.
    assert plan('title:labour "supply chains" -terrorism').pairs == ()


def test_boolean_nodes() -> None:
    assert plan("labour OR trafficking").root == Or((Terms(("labor",)), Terms(("traffick",))))
    assert plan("labour AND trafficking").root == And((Terms(("labor",)), Terms(("traffick",))))
    p = plan("labour -trafficking")
    assert p.root == And((Terms(("labor",)), Not(Terms(("traffick",)))))
    # Negated words are neither highlighted, explained nor spell-checked.
    assert (p.highlight, [x.text for x in p.parts], p.words) == ({"labor"}, ["labour"],
                                                                 ("labour",))


def test_facet_values_are_resolved() -> None:
    assert plan("office:bosnia").root == Facet("office", (
        "OSCE Mission to Bosnia and Herzegovina",))
    assert plan("year:2019-2020").root == Facet("year", ("2019", "2020"))


def test_wildcards_and_fuzzy_words_expand_to_index_terms() -> None:
    # A trailing * tries the word and its stem as prefixes.
    p = plan("trafficking*")
    assert p.root == Or((Terms(("trafficking",)), Terms(("traffick", "trafficker",
                                                         "trafficking"))))
    assert p.parts[0].expanded == ("trafficking", "traffick", "trafficker", "trafficking")
    assert plan("labor*").root == Terms(("labor", "laborat"))
    assert plan("traffick?r").root == Terms(("trafficker",))
    assert plan("title:lab*").root == Terms(("labor", "laborat"), "title")
    assert plan("labr~").root == Terms(("labor",))
    assert plan("labr~2").root == Terms(("labor", "lobbi"))
    assert plan("labr~2").parts == (Part("labr~2", Terms(("labor", "lobbi")),
                                         expanded=("labor", "lobbi")),)
    assert plan("zzz*").root == Terms(())  # matches nothing
    assert plan("trafficking*").words == ()  # not spell-checked


def test_synonyms_add_their_other_expressions() -> None:
    p = plan("NRM")
    national = Phrase(("nation", "referr", "mechan"))
    assert p.root == Or((Terms(("nrm",)), national))
    assert p.expansions == ("NRM -> national referral mechanism",)
    assert p.parts == (Part("NRM", Terms(("nrm",)), (("national referral mechanism",
                                                      national),)),)
    assert p.words == ()  # expanded words are not offered corrections
    thb = plan("human trafficking")
    assert thb.root == Or((And((Terms(("human",)), Terms(("traffick",)))), Terms(("thb",)),
                           Phrase(("traffick", "human", "be"))))
    assert thb.expansions == ("human trafficking -> THB | trafficking in human beings",)


def test_terms_plan_for_similar() -> None:
    p = terms_plan([("traffick", 2.5), ("labor", 1.0)])
    assert p.root == Or((Terms(("traffick",), boost=2.5), Terms(("labor",), boost=1.0)))
    assert p.highlight == {"traffick", "labor"}
    assert terms_plan([]).root is None
