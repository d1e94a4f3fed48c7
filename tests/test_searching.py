"""The query layer on the bundled catalogue: exact ids, counts and messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import (
    ALL_IDS,
    BIH,
    COMMUNITIES_UKRAINE,
    DISCOURAGING_DEMAND,
    GENDER_BRIEF,
    INCLUSION_POSTER,
    JUSTICE_BIH,
    NRM_FACTSHEET,
    NRM_HANDBOOK,
    ODIHR,
    OSR,
    SUPPLY_CHAINS,
    TERRORISM,
    THREE_ACTION_AREAS,
    UKRAINE,
)
from thb_search import Catalogue
from thb_search.errors import (
    InvalidFilterError,
    QuerySyntaxError,
    RecordNotFoundError,
    UnknownFilterValueError,
)


def top(catalogue: Catalogue, query: str, **kw: object) -> list[str]:
    return [h.id for h in catalogue.search(query, **kw).hits]


def facet(result, name: str) -> list[tuple[object, int]]:  # noqa: ANN001
    return [(c.value, c.count) for c in result.facets[name]]


# -- ranking ---------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "forced labour supply chains", "forced labor supply chain", "Forced Labour, Supply-Chains",
])
def test_supply_chain_guidance_comes_first(catalogue: Catalogue, query: str) -> None:
    assert top(catalogue, query) == [SUPPLY_CHAINS, THREE_ACTION_AREAS]


def test_national_referral_mechanisms_at_odihr(catalogue: Catalogue) -> None:
    result = catalogue.search("national referral mechanisms", office=["ODIHR"])
    assert {h.id for h in result.hits} == {NRM_HANDBOOK, NRM_FACTSHEET}
    assert result.total == 2
    assert facet(result, "office") == [(ODIHR, 2)]
    assert result.filters.office == (ODIHR,)


def test_gender_sensitive_with_and_without_hyphen(catalogue: Catalogue) -> None:
    for query in ("gender-sensitive", "gender sensitive", '"gender sensitive"'):
        assert top(catalogue, query) == [GENDER_BRIEF]


def test_hyphenated_words_are_findable_both_ways(catalogue: Catalogue) -> None:
    expected = {JUSTICE_BIH, GENDER_BRIEF, SUPPLY_CHAINS, INCLUSION_POSTER, TERRORISM}
    for query in ("anti-trafficking", "antitrafficking", '"anti trafficking"'):
        assert set(top(catalogue, query)) == expected, query
    assert set(top(catalogue, "co-ordinated")) == set(top(catalogue, "coordinated"))


def test_organ_removal_does_not_match_organization(catalogue: Catalogue) -> None:
    assert catalogue.search("organ removal").total == 0
    assert catalogue.search("organ").total == 0
    assert catalogue.search("organ", match="any").total == 0
    assert catalogue.search("organisation").total == 0  # publisher is not searched


def test_curly_and_straight_quotes_alike(catalogue: Catalogue) -> None:
    assert top(catalogue, "survivors’ voices") == top(catalogue, "survivors' voices") == [
        INCLUSION_POSTER, GENDER_BRIEF]


def test_phrases(catalogue: Catalogue) -> None:
    assert set(top(catalogue, '"supply chains"')) == {SUPPLY_CHAINS, THREE_ACTION_AREAS}
    assert top(catalogue, '"chains supply"') == []


def test_boolean_operators(catalogue: Catalogue) -> None:
    assert set(top(catalogue, "terrorism OR procurement")) == {TERRORISM, SUPPLY_CHAINS}
    assert set(top(catalogue, "referral -factsheet")) == {NRM_HANDBOOK}
    assert set(top(catalogue, "referral NOT factsheet")) == {NRM_HANDBOOK}
    assert set(top(catalogue, "(terrorism OR procurement) AND OSCE")) == {
        TERRORISM, SUPPLY_CHAINS}
    assert catalogue.search("NOT trafficking").total == 0


def test_field_scopes(catalogue: Catalogue) -> None:
    assert set(top(catalogue, "title:terrorism")) == {TERRORISM}
    assert set(top(catalogue, 'title:"national referral"')) == {NRM_HANDBOOK, NRM_FACTSHEET}
    assert set(top(catalogue, "summary:handbook")) == {NRM_HANDBOOK, NRM_FACTSHEET}
    assert set(top(catalogue, "title:handbook")) == {NRM_HANDBOOK}
    assert set(top(catalogue, "office:bosnia")) == {JUSTICE_BIH}
    assert set(top(catalogue, "type:factsheet")) == {NRM_FACTSHEET}
    assert set(top(catalogue, "theme:\"rule of law\"")) == {JUSTICE_BIH}
    assert set(top(catalogue, "year:2022 parliaments")) == {THREE_ACTION_AREAS}
    assert catalogue.search("year:2019-2021").total == 7


def test_wildcards_and_fuzzy(catalogue: Catalogue) -> None:
    assert catalogue.search("traffick*").total == 10
    assert catalogue.search("trafficking*").total == 10
    assert set(top(catalogue, "terror*")) == {TERRORISM}
    assert set(top(catalogue, "labr~")) == {SUPPLY_CHAINS, THREE_ACTION_AREAS}
    assert set(top(catalogue, "procurment~")) == {SUPPLY_CHAINS}


def test_acronyms_and_synonyms_expand(catalogue: Catalogue) -> None:
    result = catalogue.search("NRM")
    assert {h.id for h in result.hits} == {NRM_HANDBOOK, NRM_FACTSHEET}
    assert result.expansions == ("NRM -> national referral mechanism",)
    assert result.suggestions == ()
    # "THB" appears in no text: it finds the records saying "human trafficking"
    # or "trafficking in human beings".
    assert set(top(catalogue, "THB")) == ALL_IDS - {
        DISCOURAGING_DEMAND, INCLUSION_POSTER, NRM_FACTSHEET}
    assert catalogue.search("THB terrorism").hits[0].id == TERRORISM
    assert catalogue.search("human trafficking").expansions == (
        "human trafficking -> THB | trafficking in human beings",)
    assert top(catalogue, "ODIHR factsheet") == [NRM_FACTSHEET]


@pytest.mark.parametrize(("query", "message"), [
    ("title:(", "unclosed '(' in query at character 7: close it with ')'"),
    ('"unclosed', 'unclosed quote in query at character 1: add the closing " or remove the '
                  "opening one"),
    ("a)", "unmatched ')' in query at character 2: remove it or add the '(' it closes"),
    ("()", "empty '( )' in query at character 1: put words inside"),
    ("labour AND", "'AND' needs a word or phrase on each side: complete the query or write "
                   "'and' to search for the word itself"),
    ("OR", "'OR' needs a word or phrase on each side: complete the query or write 'or' to "
           "search for the word itself"),
    ("NOT", "'NOT' needs a word or phrase on each side: complete the query or write 'not' to "
            "search for the word itself"),
    ("title:", "'title:' needs a word, a \"phrase\" or a (group) right after it"),
    ("*", "'*': a wildcard needs at least two letters before its first * or ?"),
    ("labour~3", "fuzzy distance must be 1 or 2 (got 'labour~3'): write e.g. labr~ or labr~2"),
])
def test_query_syntax_errors(catalogue: Catalogue, query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        catalogue.search(query)
    assert str(err.value) == message


def test_colon_words_that_are_not_fields_are_words(catalogue: Catalogue) -> None:
    assert catalogue.search("https://www.osce.org").notice is None
    assert set(top(catalogue, "factsheet:")) == {NRM_FACTSHEET}


def test_stopword_only_query_browses_with_a_notice(catalogue: Catalogue) -> None:
    result = catalogue.search("the of")
    assert result.total == 10 and result.sort == "date"
    assert result.notice == ("the query has no searchable words (stopwords such as 'the' and "
                             "punctuation are ignored); showing every publication")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
       | st.lists(st.sampled_from(['"', "(", ")", "AND", "OR", "NOT", "-", "+", "title:",
                                   "office:", "year:", "*", "~", "labour", "traffick*",
                                   "x~2", ":", "  "]), max_size=8).map(" ".join))
def test_any_query_gives_results_or_a_clear_error(catalogue: Catalogue, query: str) -> None:
    try:
        result = catalogue.search(query)
    except (QuerySyntaxError, InvalidFilterError) as err:
        assert str(err) and "\n" not in str(err)
    else:
        # A first page: as many hits as the total allows, ranked 1, 2, ...
        assert len(result.hits) == min(result.limit, result.total)
        assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))


# -- filters and facets ----------------------------------------------------


def test_browse_by_type_keeps_other_types_counted(catalogue: Catalogue) -> None:
    result = catalogue.search(type=["Factsheet"])
    assert [h.id for h in result.hits] == [NRM_FACTSHEET]
    assert result.total == 1 and result.sort == "date"
    assert facet(result, "type") == [("Study / report", 5), ("Guide / manual / handbook", 2),
                                      ("Brochure", 1), ("Factsheet", 1), ("Poster", 1)]
    assert facet(result, "office") == [(ODIHR, 1)]
    assert facet(result, "year") == [(2021, 1)]


def test_disjunctive_counts_and_or_within_a_facet(catalogue: Catalogue) -> None:
    result = catalogue.search(office=["ODIHR", "bosnia"], type=["Study / report"])
    assert [h.id for h in result.hits] == [JUSTICE_BIH]
    # office counts honour the type filter but not the office filter
    assert facet(result, "office") == [(OSR, 4), (BIH, 1), (ODIHR, 0)]
    # type counts honour the office filter but not the type filter
    assert facet(result, "type") == [("Factsheet", 1), ("Guide / manual / handbook", 1),
                                      ("Poster", 1), ("Study / report", 1)]
    assert facet(result, "theme") == [("Combating trafficking in human beings", 1),
                                       ("Human rights", 1), ("Rule of law", 1)]


def test_filter_value_forms(catalogue: Catalogue) -> None:
    assert catalogue.resolve_value("office", "ODIHR") == [ODIHR]
    assert catalogue.resolve_value("office", "CTHB") == [OSR]
    assert catalogue.resolve_value("office", "osr") == [OSR]
    assert catalogue.resolve_value("office", "bosnia") == [BIH]
    assert catalogue.resolve_value("office", "osce mission to bosnia and herzegovina") == [BIH]
    assert catalogue.resolve_value("type", "report") == ["Study / report"]
    assert catalogue.resolve_value("theme", "RULE OF LAW") == ["Rule of law"]
    assert catalogue.resolve_value("year", "2019-2021") == ["2019", "2020", "2021"]


def test_unknown_and_ambiguous_filter_values(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownFilterValueError) as err:
        catalogue.search(office=["Nowhere"])
    assert str(err.value).startswith("no office matches 'Nowhere'; closest: ")
    assert str(err.value).endswith("(all values: thb-search facets)")
    with pytest.raises(UnknownFilterValueError) as err:
        catalogue.search(office=["osce"])
    assert str(err.value) == (
        f"--office 'osce' is ambiguous: it matches '{BIH}', '{ODIHR}', '{UKRAINE}'; give more "
        "of the name")
    assert err.value.candidates == [BIH, ODIHR, UKRAINE]


@pytest.mark.parametrize(("year", "message"), [
    ("20x1", "invalid year '20x1': give a year such as 2021 or a range such as 2019-2021"),
    ("2022-2019", "invalid year range '2022-2019': the first year must not be after the second "
                  "(write 2019-2022)"),
])
def test_bad_years(catalogue: Catalogue, year: str, message: str) -> None:
    with pytest.raises(InvalidFilterError) as err:
        catalogue.search(year=[year])
    assert str(err.value) == message


def test_years_and_dates(catalogue: Catalogue) -> None:
    result = catalogue.search(year=["2022"])
    assert [h.id for h in result.hits] == [THREE_ACTION_AREAS, NRM_HANDBOOK, DISCOURAGING_DEMAND]
    assert facet(result, "year") == [(2021, 7), (2022, 3)]
    assert catalogue.search(year=["2023"]).total == 0
    assert facet(catalogue.search(year=["2023"]), "year") == [(2021, 7), (2022, 3), (2023, 0)]
    since = catalogue.search(since="2021-12", until="2022-01-20")
    assert [h.id for h in since.hits] == [DISCOURAGING_DEMAND, JUSTICE_BIH, GENDER_BRIEF]
    with pytest.raises(InvalidFilterError, match="invalid date 'soon'"):
        catalogue.search(since="soon")
    with pytest.raises(InvalidFilterError, match="is after --until"):
        catalogue.search(since="2022", until="2021")


def test_facets_can_be_left_out(catalogue: Catalogue) -> None:
    with_counts = catalogue.search("trafficking", type=["Study / report"])
    without = catalogue.search("trafficking", type=["Study / report"], facets=False)
    assert without.facets == {} and without.to_dict()["facets"] == {}
    assert (without.total, without.hits) == (with_counts.total, with_counts.hits)


def test_browse_theme_newest_first(catalogue: Catalogue) -> None:
    result = catalogue.search(theme=["Human rights"])
    assert [h.id for h in result.hits] == [NRM_HANDBOOK, JUSTICE_BIH, NRM_FACTSHEET,
                                           INCLUSION_POSTER]
    assert all(h.score is None for h in result.hits)


# -- partial matches, suggestions, sorting, paging -------------------------


def test_partial_matches_when_no_record_has_every_word(catalogue: Catalogue) -> None:
    result = catalogue.search("terrorism procurement ukraine")
    assert result.match == "partial"
    assert result.notice == ("no publication contains all of terrorism, procurement, ukraine; "
                             "showing partial matches")
    assert {h.id for h in result.hits} == {TERRORISM, SUPPLY_CHAINS}
    assert result.total == 2


def test_partial_matches_rank_by_how_much_they_match(catalogue: Catalogue) -> None:
    result = catalogue.search("national referral mechanisms terrorism")
    assert result.match == "partial"
    # Three of four words beat one word, whatever the scores.
    assert [h.id for h in result.hits] == [NRM_HANDBOOK, NRM_FACTSHEET, TERRORISM]


def test_match_any(catalogue: Catalogue) -> None:
    result = catalogue.search("terrorism procurement", match="any")
    assert (result.match, result.notice) == ("any", None)
    assert {h.id for h in result.hits} == {TERRORISM, SUPPLY_CHAINS}


def test_did_you_mean(catalogue: Catalogue) -> None:
    result = catalogue.search("trafiking")
    assert result.total == 0
    assert result.suggestions == ("trafficking", "training")
    assert catalogue.search("forced labr").suggestions == ("forced labour", "forced law")
    assert catalogue.search("trafficking").suggestions == ()


def test_sort_and_paging(catalogue: Catalogue) -> None:
    by_title = catalogue.search("trafficking", sort="title", limit=3)
    assert [h.title[:20] for h in by_title.hits] == [
        "Combating Traffickin", "Discouraging the dem", "Ensuring Inclusion o"]
    page2 = catalogue.search(sort="date", limit=4, page=2)
    assert [h.id for h in page2.hits] == [GENDER_BRIEF, COMMUNITIES_UKRAINE, SUPPLY_CHAINS,
                                          NRM_FACTSHEET]
    assert [h.rank for h in page2.hits] == [5, 6, 7, 8]
    assert catalogue.search(limit=4, page=4).hits == ()
    relevance = catalogue.search("trafficking", limit=10)
    scores = [h.score for h in relevance.hits]
    assert scores == sorted(scores, reverse=True) and len(scores) == 10


# -- hits, snippets, explain, JSON -----------------------------------------


def test_json_contract(catalogue: Catalogue) -> None:
    d = catalogue.search("national referral mechanisms", office=["ODIHR"]).to_dict()
    assert list(d) == ["query", "total", "page", "limit", "sort", "filters", "hits", "facets",
                       "suggestions", "notice"]
    assert d["filters"] == {"office": [ODIHR], "theme": [], "type": [], "year": [],
                            "since": None, "until": None}
    hit = d["hits"][0]
    assert list(hit) == ["id", "rank", "score", "title", "date", "type", "offices", "themes",
                         "publisher", "summary", "snippet", "url"]
    assert hit["id"] == NRM_HANDBOOK and hit["rank"] == 1 and hit["date"] == "2022-01-24"
    assert hit["snippet"] == (
        "<mark>National</mark> <mark>referral</mark> <mark>mechanisms</mark> (<mark>NRMs</mark>) "
        "are the institutional <mark>mechanisms</mark> that help states identify human "
        "trafficking victims and ensure their protection. This handbook provides a guidance "
        "model which all OSCE participating\u2026")
    assert list(d["facets"]) == ["office", "theme", "type", "year"]
    assert d["facets"]["office"] == [{"value": ODIHR, "count": 2}]


def test_snippet_is_html_escaped(tmp_path) -> None:  # noqa: ANN001
    from thb_search import sync

    (tmp_path / "a.jsonl").write_text(
        '{"title": "T", "summary": "Use <b>bold</b> & trafficking data"}\n', encoding="utf-8")
    sync(tmp_path / "ix", [tmp_path / "a.jsonl"])
    with Catalogue(tmp_path / "ix") as cat:
        (hit,) = cat.search("trafficking").hits
    assert hit.snippet == "Use &lt;b&gt;bold&lt;/b&gt; &amp; <mark>trafficking</mark> data"


def test_long_snippet_is_the_best_window(catalogue: Catalogue) -> None:
    (hit,) = catalogue.search("procurement risk analyses").hits
    text = "".join(t for t, _ in hit.snippet_parts)
    assert text == ("\u2026implement anti-trafficking measures in procurement activities; "
                    "alongside training workshops, procurement risk analyses and local action "
                    "plans. Preventing trafficking and labour exploitation in supply chains is "
                    "no easy\u2026")
    assert [t for t, m in hit.snippet_parts if m] == [
        "procurement", "procurement", "risk", "analyses"]


def test_explain(catalogue: Catalogue) -> None:
    result = catalogue.search("NRM handbook", explain=True)
    assert [h.id for h in result.hits] == [NRM_HANDBOOK, NRM_FACTSHEET]
    assert [m.to_dict() for m in result.hits[0].matches] == [
        {"query": "NRM", "fields": ["summary"], "via": None},
        {"query": "handbook", "fields": ["title", "summary"], "via": None},
    ]
    assert [m.to_dict() for m in result.hits[1].matches] == [
        {"query": "NRM", "fields": ["title", "summary"], "via": "national referral mechanism"},
        {"query": "handbook", "fields": ["summary"], "via": None},
    ]
    d = result.to_dict()
    assert d["explain"] == {"match": "all", "expansions": ["NRM -> national referral mechanism"],
                            "pairs": ["nrm handbook"], "ignored": []}
    assert d["hits"][0]["explain"]["score"] == d["hits"][0]["score"]


# -- records ---------------------------------------------------------------


def test_get_by_id_and_unique_prefix(catalogue: Catalogue) -> None:
    pub = catalogue.get(SUPPLY_CHAINS)
    assert pub.title.startswith("Combating Trafficking in Human Beings and Labour Exploitation")
    assert catalogue.get(SUPPLY_CHAINS[:4]) == pub
    assert pub.to_dict()["collections"] == []
    with pytest.raises(RecordNotFoundError) as err:
        catalogue.get("zzzz")
    assert str(err.value) == ("no publication has id 'zzzz': ids are shown in search results "
                              "(e.g. thb-search QUERY --format jsonl)")


def test_similar(catalogue: Catalogue) -> None:
    result = catalogue.similar(NRM_HANDBOOK, limit=3)
    assert result.hits[0].id == NRM_FACTSHEET
    assert NRM_HANDBOOK not in {h.id for h in catalogue.similar(NRM_HANDBOOK, limit=20).hits}
    with pytest.raises(RecordNotFoundError):
        catalogue.similar("nope")


def test_every_record_round_trips(catalogue: Catalogue) -> None:
    from conftest import BUNDLED
    from thb_search import read_records

    for record in read_records([BUNDLED]):
        pub = catalogue.get(record.id)
        assert (pub.title, pub.date, pub.type, pub.offices, pub.themes, pub.publisher,
                pub.summary) == (record.title, record.date.isoformat(), record.type,
                                 record.offices, record.themes, record.publisher,
                                 record.summary)
    assert {h.id for h in catalogue.search(limit=100).hits} == ALL_IDS


# -- related results -------------------------------------------------------

POLICE = [
    {"id": "all-four", "title": "Police training on trafficking victims",
     "summary": "A course for officers.", "date": "2021-05-01"},
    {"id": "three-a", "title": "Police training on exploitation",
     "summary": "Identifying victims early.", "date": "2022-01-01"},
    {"id": "three-b", "title": "Training for judges", "summary": "Trafficking victims in court.",
     "date": "2020-01-01"},
    {"id": "one", "title": "Police reform", "summary": "Community policing.",
     "date": "2019-01-01"},
    {"id": "none", "title": "Budget report", "summary": "Annual figures.", "date": "2018-01-01"},
]


@pytest.fixture(scope="module")
def police(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    import json

    from thb_search import sync

    folder = tmp_path_factory.mktemp("police")
    (folder / "police.jsonl").write_text("".join(json.dumps(r) + "\n" for r in POLICE),
                                         encoding="utf-8")
    sync(folder / "index", [folder / "police.jsonl"])
    with Catalogue(folder / "index") as cat:
        yield cat


def test_related_results_follow_when_few_contain_every_word(police: Catalogue) -> None:
    result = police.search("police training trafficking victims")
    assert [h.id for h in result.hits] == ["all-four"]
    # Three of the four words before one; then by score.
    assert [(h.id, h.rank) for h in result.related] == [("three-b", 1), ("three-a", 2),
                                                        ("one", 3)]
    # Total, paging and facet counts are those of the hits.
    assert (result.total, result.match, result.notice) == (1, "all", None)
    assert facet(result, "year") == [(2021, 1)]
    d = result.to_dict()
    assert [h["id"] for h in d["related"]] == ["three-b", "three-a", "one"]
    assert list(d["related"][0]) == list(d["hits"][0])  # the same hit shape


def test_related_results_only_when_the_page_is_not_full(police: Catalogue) -> None:
    assert police.search("police training trafficking victims", limit=1).related == ()
    assert police.search("police training trafficking victims", page=2).related == ()
    assert police.search("police training trafficking victims", match="any").related == ()
    assert police.search("police").related == ()  # one word: nothing partial to add
    assert "related" not in police.search("police", limit=1).to_dict()
    # Filters apply to related results too.
    filtered = police.search("police training trafficking victims", year=["2020-2022"])
    assert [h.id for h in filtered.related] == ["three-b", "three-a"]
    # When no publication holds every word, partial matches are the hits.
    partial = police.search("police training trafficking victims", year=["2019-2020"])
    assert ([h.id for h in partial.hits], partial.match, partial.related) == (
        ["three-b", "one"], "partial", ())


def test_related_results_are_limited_to_five(tmp_path) -> None:  # noqa: ANN001
    import json

    from thb_search import sync

    records = [{"id": f"p{i}", "title": f"Shelter report {i}", "summary": "Shelter."}
               for i in range(8)] + [{"id": "both", "title": "Shelter audit", "summary": ""}]
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    sync(tmp_path / "ix", [tmp_path / "r.jsonl"])
    with Catalogue(tmp_path / "ix") as cat:
        result = cat.search("shelter audit")
    assert [h.id for h in result.hits] == ["both"]
    assert len(result.related) == 5


def test_a_catalogue_kept_open_follows_removals_and_merges(tmp_path) -> None:  # noqa: ANN001
    """Whoosh's own Searcher.refresh() keeps segments a merge has replaced:
    a long-lived catalogue must see exactly what each commit holds."""
    import json

    from thb_search import sync

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for k in range(4):  # several commits: several segments, merged later
        (corpus / f"f{k}.jsonl").write_text("".join(
            json.dumps({"id": f"r{k}-{i}", "title": f"Shelter report {k} {i}"}) + "\n"
            for i in range(30)), encoding="utf-8")
        sync(tmp_path / "ix", [corpus])
    with Catalogue(tmp_path / "ix") as cat:
        assert cat.search("shelter").total == 120
        for cycle in range(6):
            moved = corpus / "f1.jsonl"
            kept = tmp_path / "f1.jsonl"
            moved.rename(kept)
            sync(tmp_path / "ix", [corpus])
            assert (cycle, cat.search("shelter").total, len(cat)) == (cycle, 90, 90)
            with pytest.raises(RecordNotFoundError):
                cat.get("r1-0")
            kept.rename(moved)
            sync(tmp_path / "ix", [corpus])
            assert (cycle, cat.search("shelter").total, len(cat)) == (cycle, 120, 120)
            assert cat.get("r1-0").title == "Shelter report 1 0"


def test_words_no_publication_has_do_not_grow_a_long_lived_catalogue(
        bundled_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's catalogue meets words without end (typos, probes): what it
    remembers of them stays bounded."""
    import thb_search.analysis as analysis
    import thb_search.engine as engine

    monkeypatch.setattr(engine, "CACHE_BYTES", 64 * engine.ENTRY_BYTES)
    monkeypatch.setattr(analysis, "MAX_REMEMBERED", 500)
    with Catalogue(bundled_index) as cat:
        for n in range(1500):
            assert cat.search(f"zqx{n}vk", facets=False).total == 0
        cache = cat._latest().engine._cache
        assert 0 < len(cache) <= 64
    assert len(analysis._TERMS) <= 500
