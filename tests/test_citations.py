"""Citations: exact RIS, BibTeX and CSL-JSON for bundled publications, and
every export read back by the libraries reference managers' formats are
tested with (rispy, bibtexparser with pylatexenc's LaTeX decoding)."""

from __future__ import annotations

import json
import re

import bibtexparser
import pylatexenc.latex2text
import pytest
import rispy
from bibtexparser import middlewares
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec

from conftest import (
    COMMUNITIES_UKRAINE,
    INCLUSION_POSTER,
    NRM_FACTSHEET,
    NRM_HANDBOOK,
    ODIHR,
    OSR,
    SUPPLY_CHAINS,
    THREE_ACTION_AREAS,
    UKRAINE,
)
from thb_search import Catalogue, Publication
from thb_search.citations import (
    bibtex_key,
    citation_type,
    latex_escape,
    to_bibtex,
    to_csl_json,
    to_ris,
)
from thb_search.output import render_publication

OSCE = "Organization for Security and Co-operation in Europe"
THB = "Combating trafficking in human beings"
SUPPLY_TITLE = ("Combating Trafficking in Human Beings and Labour Exploitation in Supply Chains- "
                "Guidance for OSCE Procurement")
SUPPLY_SUMMARY = (
    "This procurement guidance is a key step in rolling out the implementation of "
    "anti-trafficking measures in OSCE\u2019s own procurement across its executive structures "
    "and aligning the OSCE\u2019s mandates with its own processes. The guidance\u2019s aim is to "
    "support procurement and anti-trafficking staff in the OSCE with the background knowledge to "
    "implement anti-trafficking measures in procurement activities; alongside training "
    "workshops, procurement risk analyses and local action plans. Preventing trafficking and "
    "labour exploitation in supply chains is no easy task. By taking these first steps, the OSCE "
    "is developing further expertise, and is supporting OSCE participating States and the "
    "international community in their ongoing efforts to prevent trafficking for forced labour "
    "in their supply chains.")

SUPPLY_RIS = f"""\
TY  - RPRT
ID  - {SUPPLY_CHAINS}
TI  - {SUPPLY_TITLE}
AU  - {OSR}
PY  - 2021
DA  - 2021/10/27
PB  - {OSCE}
M3  - Study / report
KW  - {THB}
AB  - {SUPPLY_SUMMARY}
ER  - 
"""  # noqa: W291 (RIS ends a reference with "ER  - ", trailing space included)

SUPPLY_BIBTEX = f"""\
@techreport{{{SUPPLY_CHAINS},
  author = {{{{{OSR}}}}},
  title = {{{{{SUPPLY_TITLE}}}}},
  institution = {{{OSCE}}},
  type = {{Study / report}},
  year = {{2021}},
  month = oct,
  abstract = {{{SUPPLY_SUMMARY}}},
  keywords = {{{THB}}}
}}
"""

SUPPLY_CSL = {
    "id": SUPPLY_CHAINS,
    "type": "report",
    "title": SUPPLY_TITLE,
    "author": [{"literal": OSR}],
    "issued": {"date-parts": [[2021, 10, 27]]},
    "publisher": OSCE,
    "genre": "Study / report",
    "abstract": SUPPLY_SUMMARY,
    "keyword": THB,
}

# Every character LaTeX or BibTeX treats specially, markup, quotes, a lone
# brace each way, non-ASCII, and line breaks (one before a line that looks
# like the end of an RIS reference).
HOSTILE_TITLE = ('<script>alert("x")</script> {Braced} & 100% #1 snake_case $5 ~tilde ^caret '
                 "\\emph{x} lone } and { \u201cquoted\u201d 'single' \u041f\u0440\u0438\u0432\u0435"
                 "\u0442 \u010d @misc{x,")
HOSTILE_SUMMARY = ("First line & 50%\nER  - \n\tTY  - JOUR\n\n}}} {{ \\\\ ~^ #_$ "
                   "\u041a\u0438\u0457\u0432 <b>bold</b>")
HOSTILE_OFFICES = ("Office \u201c\u03a9\u201d {x} & Co. 50% #_ \\ ~^ } \u041a\u0438\u0457\u0432",
                   "Office for Democratic Institutions and Human Rights")
HOSTILE = Publication(
    id="hostile 1,{x}", title=HOSTILE_TITLE, date="2020-02-29", type="Poster",
    offices=HOSTILE_OFFICES, themes=("Theme & one", "Theme_two {"),
    publisher="Pub & Sons {", summary=HOSTILE_SUMMARY,
    url="https://example.org/a_b/%7E?x=1&y=~z#frag", collections=())


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def bare(pid: str, **fields: object) -> Publication:
    values: dict[str, object] = {"title": "", "date": None, "type": "", "offices": (),
                                 "themes": (), "publisher": "", "summary": "", "url": "",
                                 "collections": ()}
    values.update(fields)
    return Publication(id=pid, **values)  # type: ignore[arg-type]


def latex_decoder() -> LatexNodes2Text:
    """pylatexenc's decoder as bibtexparser's LatexDecodingMiddleware builds it,
    taught the three text-mode macros it lacks (it drops \\textbraceleft and
    \\textbraceright and reads \\textasciicircum as U+02C6)."""
    context = pylatexenc.latex2text.get_default_latex_context_db()
    context.add_context_category("thb-search-test", prepend=True, macros=[
        MacroTextSpec("url", simplify_repl="%s"),
        MacroTextSpec("textbraceleft", simplify_repl="{"),
        MacroTextSpec("textbraceright", simplify_repl="}"),
        MacroTextSpec("textasciicircum", simplify_repl="^"),
    ])
    return LatexNodes2Text(latex_context=context, math_mode="verbatim")


def parse_bibtex(text: str, decode: bool = True) -> list[dict[str, object]]:
    """Entries as {field: value} (plus ENTRYTYPE and ID), authors split into
    (first, von, last, jr) names; with ``decode``, LaTeX decoded."""
    decoder = latex_decoder()
    stack: list[middlewares.Middleware] = [middlewares.SeparateCoAuthors(),
                                           middlewares.SplitNameParts()]
    if decode:  # (the middleware leaves lists of names alone: decoded below)
        stack.append(middlewares.LatexDecodingMiddleware(decoder=decoder))
    library = bibtexparser.parse_string(text, append_middleware=stack)
    assert library.failed_blocks == []
    assert [type(b).__name__ for b in library.blocks] == ["Entry"] * len(library.entries)

    def name(part: list[str]) -> list[str]:
        return [decoder.latex_to_text(p) for p in part] if decode else part

    out = []
    for entry in library.entries:
        d: dict[str, object] = {"ENTRYTYPE": entry.entry_type, "ID": entry.key}
        for field in entry.fields:
            d[field.key] = field.value
        if "author" in d:
            d["author"] = [(name(n.first), name(n.von), name(n.last), name(n.jr))
                           for n in d["author"]]  # type: ignore[attr-defined]
        out.append(d)
    return out


def corporate(*names: str) -> list[tuple[list[str], list[str], list[str], list[str]]]:
    """Names as bibtexparser splits corporate authors: all of it the last name."""
    return [([], [], [n], []) for n in names]


# ---------------------------------------------------------------------------
# Exact output for a bundled publication


def test_ris_of_a_bundled_publication(catalogue: Catalogue) -> None:
    assert to_ris([catalogue.get(SUPPLY_CHAINS)]) == SUPPLY_RIS


def test_bibtex_of_a_bundled_publication(catalogue: Catalogue) -> None:
    assert to_bibtex([catalogue.get(SUPPLY_CHAINS)]) == SUPPLY_BIBTEX


def test_csl_json_of_a_bundled_publication(catalogue: Catalogue) -> None:
    assert to_csl_json([catalogue.get(SUPPLY_CHAINS)]) == [SUPPLY_CSL]


def test_render_publication_in_citation_formats(catalogue: Catalogue) -> None:
    pub = catalogue.get(SUPPLY_CHAINS)
    assert render_publication(pub, "ris") == SUPPLY_RIS
    assert render_publication(pub, "bibtex") == SUPPLY_BIBTEX
    out = render_publication(pub, "csl-json")
    assert json.loads(out) == [SUPPLY_CSL]
    assert out.endswith('"\n  }\n]\n') and "OSCE\u2019s" in out  # UTF-8, not \\u2019


def test_several_publications_in_order(catalogue: Catalogue) -> None:
    pubs = [catalogue.get(i) for i in (SUPPLY_CHAINS, NRM_HANDBOOK, THREE_ACTION_AREAS)]
    ris = to_ris(pubs)
    assert ris.startswith(SUPPLY_RIS + "\nTY  - RPRT\nID  - " + NRM_HANDBOOK + "\n")
    assert [r["id"] for r in rispy.loads(ris)] == [SUPPLY_CHAINS, NRM_HANDBOOK,
                                                   THREE_ACTION_AREAS]
    bib = to_bibtex(pubs)
    assert bib.startswith(SUPPLY_BIBTEX + "\n@techreport{" + NRM_HANDBOOK + ",\n")
    assert [(e["ENTRYTYPE"], e["ID"]) for e in parse_bibtex(bib)] == [
        ("techreport", SUPPLY_CHAINS), ("techreport", NRM_HANDBOOK),
        ("misc", THREE_ACTION_AREAS)]
    assert [c["id"] for c in to_csl_json(pubs)] == [SUPPLY_CHAINS, NRM_HANDBOOK,
                                                    THREE_ACTION_AREAS]


def test_exports_are_deterministic(catalogue: Catalogue) -> None:
    pubs = [catalogue.get(i) for i in (NRM_FACTSHEET, COMMUNITIES_UKRAINE)] + [HOSTILE]
    assert to_ris(pubs) == to_ris(list(pubs))
    assert to_bibtex(pubs) == to_bibtex(list(pubs))
    assert (json.dumps(to_csl_json(pubs), ensure_ascii=False)
            == json.dumps(to_csl_json(list(pubs)), ensure_ascii=False))


def test_nothing_to_export() -> None:
    assert (to_ris([]), to_bibtex([]), to_csl_json([])) == ("", "", [])


# ---------------------------------------------------------------------------
# Read back by the parsers


@pytest.mark.parametrize(("pid", "office", "ris_type", "entry_type", "csl_type"), [
    (SUPPLY_CHAINS, OSR, "RPRT", "techreport", "report"),
    (NRM_HANDBOOK, ODIHR, "RPRT", "techreport", "report"),
    (COMMUNITIES_UKRAINE, UKRAINE, "RPRT", "techreport", "report"),
    (THREE_ACTION_AREAS, OSR, "PAMP", "misc", "pamphlet"),
    (NRM_FACTSHEET, ODIHR, "PAMP", "misc", "pamphlet"),
    (INCLUSION_POSTER, ODIHR, "GEN", "misc", "document"),
])
def test_bundled_publications_read_back(catalogue: Catalogue, pid: str, office: str,
                                        ris_type: str, entry_type: str, csl_type: str) -> None:
    pub = catalogue.get(pid)
    year = int(pub.date[:4])  # type: ignore[index]

    [ris] = rispy.loads(to_ris([pub]))
    assert ris["type_of_reference"] == ris_type and ris["id"] == pid
    assert ris["title"] == pub.title
    assert ris["authors"] == [office]  # one name, "and" and "(closed)" included
    assert ris["year"] == str(year) and ris["date"] == pub.date.replace("-", "/")  # type: ignore
    assert ris["publisher"] == OSCE and ris["type_of_work"] == pub.type
    assert ris["keywords"] == list(pub.themes)

    [bib] = parse_bibtex(to_bibtex([pub]))
    assert (bib["ENTRYTYPE"], bib["ID"]) == (entry_type, pid)
    assert bib["title"] == pub.title
    assert bib["author"] == corporate(office)
    assert bib["year"] == str(year)
    assert bib["institution" if entry_type == "techreport" else "organization"] == OSCE

    [csl] = to_csl_json([pub])
    assert csl["type"] == csl_type and csl["author"] == [{"literal": office}]
    assert csl["issued"]["date-parts"][0][0] == year


def test_hostile_record_round_trips_through_rispy() -> None:
    text = to_ris([HOSTILE])
    [ris] = rispy.loads(text)
    assert ris == {
        "type_of_reference": "GEN", "id": "hostile 1,{x}", "title": HOSTILE_TITLE,
        "authors": list(HOSTILE_OFFICES), "year": "2020", "date": "2020/02/29",
        "publisher": "Pub & Sons {", "type_of_work": "Poster",
        "keywords": ["Theme & one", "Theme_two {"], "abstract": one_line(HOSTILE_SUMMARY),
        "urls": ["https://example.org/a_b/%7E?x=1&y=~z#frag"]}
    # One line per value: the summary's "ER  - " and "TY  - JOUR" start no line.
    assert [line[:6] for line in text.splitlines()] == [
        "TY  - ", "ID  - ", "TI  - ", "AU  - ", "AU  - ", "PY  - ", "DA  - ", "PB  - ",
        "M3  - ", "KW  - ", "KW  - ", "AB  - ", "UR  - ", "ER  - "]


def test_hostile_record_round_trips_through_bibtexparser() -> None:
    text = to_bibtex([HOSTILE])
    [bib] = parse_bibtex(text)
    del bib["url"]  # a verbatim field, not LaTeX: compared undecoded below
    assert bib == {
        "ENTRYTYPE": "misc", "ID": "hostile_1__x_",
        "author": corporate(*HOSTILE_OFFICES),
        "title": HOSTILE_TITLE, "organization": "Pub & Sons {", "howpublished": "Poster",
        "year": "2020", "month": "feb", "abstract": one_line(HOSTILE_SUMMARY),
        "keywords": "Theme & one, Theme_two {"}
    [raw] = parse_bibtex(text, decode=False)
    assert raw["url"] == "https://example.org/a_b/%7E?x=1&y=~z#frag"
    assert raw["title"] == "{" + latex_escape(HOSTILE_TITLE) + "}"
    # Braces balance in every field, so neither BibTeX nor biber loses the
    # field's end; no brace is escaped with a backslash (BibTeX counts those).
    lines = text.splitlines()
    assert (lines[0], lines[-1]) == ("@misc{hostile_1__x_,", "}")
    for line in lines[1:-1]:
        assert line.startswith("  ") and line.count("{") == line.count("}"), line
    assert "\\{" not in text and "\\}" not in text
    assert "\u041f\u0440\u0438\u0432\u0435\u0442 \u010d" in text  # UTF-8 kept


def test_hostile_record_in_csl_json_is_kept_exactly() -> None:
    [csl] = to_csl_json([HOSTILE])
    assert csl == {
        "id": "hostile 1,{x}", "type": "document", "title": HOSTILE_TITLE,
        "author": [{"literal": o} for o in HOSTILE_OFFICES],
        "issued": {"date-parts": [[2020, 2, 29]]}, "publisher": "Pub & Sons {",
        "genre": "Poster", "URL": HOSTILE.url, "abstract": HOSTILE_SUMMARY,
        "keyword": "Theme & one, Theme_two {"}
    assert json.loads(json.dumps([csl], ensure_ascii=False)) == [csl]


# ---------------------------------------------------------------------------
# Missing values


def test_without_date_and_offices_the_publisher_is_the_author() -> None:
    pub = bare("nodate", title="A guide", type="Guide / manual / handbook", publisher=OSCE,
               url="https://www.osce.org/x y{z}")
    assert to_ris([pub]) == (
        "TY  - RPRT\nID  - nodate\nTI  - A guide\nAU  - " + OSCE + "\nPB  - " + OSCE + "\n"
        "M3  - Guide / manual / handbook\nUR  - https://www.osce.org/x y{z}\nER  - \n")
    assert to_bibtex([pub]) == (
        "@techreport{nodate,\n  author = {{" + OSCE + "}},\n  title = {{A guide}},\n"
        "  institution = {" + OSCE + "},\n  type = {Guide / manual / handbook},\n"
        "  url = {https://www.osce.org/x%20y%7Bz%7D}\n}\n")
    assert to_csl_json([pub]) == [{
        "id": "nodate", "type": "report", "title": "A guide", "author": [{"literal": OSCE}],
        "publisher": OSCE, "genre": "Guide / manual / handbook",
        "URL": "https://www.osce.org/x y{z}"}]


def test_without_offices_or_publisher_there_is_no_author() -> None:
    pub = bare("1", summary="Wing slipstream.")
    assert to_ris([pub]) == "TY  - GEN\nID  - 1\nAB  - Wing slipstream.\nER  - \n"
    assert to_bibtex([pub]) == "@misc{1,\n  abstract = {Wing slipstream.}\n}\n"
    assert to_csl_json([pub]) == [{"id": "1", "type": "document",
                                   "abstract": "Wing slipstream."}]
    assert parse_bibtex(to_bibtex([pub])) == [
        {"ENTRYTYPE": "misc", "ID": "1", "abstract": "Wing slipstream."}]


# ---------------------------------------------------------------------------
# The pieces


@pytest.mark.parametrize(("content_type", "expected"), [
    ("Study / report", ("RPRT", "techreport", "report")),
    ("Guide / manual / handbook", ("RPRT", "techreport", "report")),
    ("Brochure", ("PAMP", "misc", "pamphlet")),
    ("factsheet", ("PAMP", "misc", "pamphlet")),
    ("Poster", ("GEN", "misc", "document")),
    ("Speech", ("GEN", "misc", "document")),
    ("", ("GEN", "misc", "document")),
])
def test_citation_types(content_type: str, expected: tuple[str, str, str]) -> None:
    t = citation_type(content_type)
    assert (t.ris, t.bibtex, t.csl) == expected


def test_latex_escape() -> None:
    assert latex_escape("a&b%c$d#e_f{g}h~i^j\\k \u010d \u201cq\u201d <p>") == (
        "a\\&b\\%c\\$d\\#e\\_f\\textbraceleft{}g\\textbraceright{}h\\textasciitilde{}i"
        "\\textasciicircum{}j\\textbackslash{}k \u010d \u201cq\u201d <p>")


def test_bibtex_keys_are_valid_and_unique() -> None:
    assert bibtex_key("kj3aasqbxs") == "kj3aasqbxs"
    assert bibtex_key("a b,c{d}%\u010d") == "a_b_c_d___"
    pubs = [bare("a b", title="One"), bare("a_b", title="Two"), bare("a b", title="Three")]
    entries = parse_bibtex(to_bibtex(pubs))
    assert [(e["ID"], e["title"]) for e in entries] == [
        ("a_b", "One"), ("a_b-2", "Two"), ("a_b-3", "Three")]
