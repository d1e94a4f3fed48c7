"""The web pages and the JSON API through Starlette's test client: every
route, every error status, the same JSON as the command line, Atom as XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from conftest import (
    ALL_IDS,
    INCLUSION_POSTER,
    NRM_FACTSHEET,
    NRM_HANDBOOK,
    ODIHR,
    SUPPLY_CHAINS,
    TERRORISM,
    THREE_ACTION_AREAS,
)
from thb_search.cli import cli
from thb_search.web import create_app
from thb_search.web.app import CSP

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def client(bundled_index: Path):  # noqa: ANN201
    with TestClient(create_app(bundled_index)) as client:
        yield client


def cli_json(runner: CliRunner, index: Path, *args: str) -> dict:
    result = runner.invoke(cli, [*args, "--json", "--index", str(index)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- the API ---------------------------------------------------------------


@pytest.mark.parametrize(("url", "args"), [
    ("/api/search?q=national+referral+mechanisms&office=ODIHR",
     ["national referral mechanisms", "--office", "ODIHR"]),
    ("/api/search?q=forced+labour+supply+chains", ["forced labour supply chains"]),
    ("/api/search?type=Factsheet", ["--type", "Factsheet"]),
    ("/api/search?office=ODIHR&office=bosnia&type=report",
     ["--office", "ODIHR", "--office", "bosnia", "--type", "report"]),
    ("/api/search?q=trafficking&sort=title&limit=3&page=2",
     ["trafficking", "--sort", "title", "--limit", "3", "--page", "2"]),
    ("/api/search?q=terrorism+procurement&match=any", ["terrorism procurement", "--match",
                                                       "any"]),
    ("/api/search?q=trafiking", ["trafiking"]),
    ("/api/search?q=police+training+trafficking+victims",
     ["police training trafficking victims"]),
    ("/api/search?year=2019-2021&since=2021-06&until=2021-12",
     ["--year", "2019-2021", "--since", "2021-06", "--until", "2021-12"]),
])
def test_api_search_is_the_command_line_json(client: TestClient, runner: CliRunner,
                                             bundled_index: Path, url: str,
                                             args: list[str]) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == cli_json(runner, bundled_index, *args)


def test_api_publication_similar_and_facets(client: TestClient, runner: CliRunner,
                                            bundled_index: Path) -> None:
    assert client.get(f"/api/publications/{SUPPLY_CHAINS}").json() == cli_json(
        runner, bundled_index, "show", SUPPLY_CHAINS)
    assert client.get(f"/api/publications/{SUPPLY_CHAINS[:4]}").json()["id"] == SUPPLY_CHAINS
    similar = client.get(f"/api/publications/{NRM_HANDBOOK}/similar?limit=3").json()
    assert similar == cli_json(runner, bundled_index, "similar", NRM_HANDBOOK, "--limit", "3")
    assert similar["hits"][0]["id"] == NRM_FACTSHEET
    assert client.get("/api/facets").json() == cli_json(runner, bundled_index, "facets")


@pytest.mark.parametrize(("url", "status", "code", "message"), [
    ("/api/search?q=title:(", 400, "invalid_query",
     "unclosed '(' in query at character 7: close it with ')'"),
    ("/api/search?office=Nowhere", 400, "invalid_filter", None),
    ("/api/search?year=20x1", 400, "invalid_filter",
     "invalid year '20x1': give a year such as 2021 or a range such as 2019-2021"),
    ("/api/search?since=soon", 400, "invalid_filter",
     "invalid date 'soon': give e.g. 2021, 2021-06, 2021-06-30 or 30 June 2021"),
    ("/api/search?limit=100000", 400, "invalid_parameter",
     "parameter 'limit' must be a whole number from 1 to 100 (got '100000')"),
    ("/api/search?limit=0", 400, "invalid_parameter",
     "parameter 'limit' must be a whole number from 1 to 100 (got '0')"),
    ("/api/search?page=x", 400, "invalid_parameter",
     "parameter 'page' must be a whole number of at least 1 (got 'x')"),
    ("/api/search?sort=price", 400, "invalid_parameter",
     "parameter 'sort' must be one of relevance, date, title (got 'price')"),
    ("/api/search?match=some", 400, "invalid_parameter",
     "parameter 'match' must be all or any (got 'some')"),
    ("/api/search?q=a&q=b", 400, "invalid_parameter",
     "parameter 'q' is given 2 times: give it once"),
    ("/api/search?qq=labour", 400, "invalid_parameter",
     "unknown parameter 'qq': the parameters are q, office, theme, type, year, since, "
     "until, sort, page, limit, match"),
    ("/api/facets?x=1", 400, "invalid_parameter",
     "unknown parameter 'x': it takes no parameters"),
    ("/api/publications/nope", 404, "not_found",
     "no publication has id 'nope': ids are shown in search results (e.g. thb-search QUERY "
     "--format jsonl)"),
    ("/api/publications/nope/similar", 404, "not_found", None),
    ("/api/nothing", 404, "not_found", "there is no page at /api/nothing"),
])
def test_api_errors(client: TestClient, url: str, status: int, code: str,
                    message: str | None) -> None:
    response = client.get(url)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    if message is not None:
        assert error["message"] == message
    assert list(response.json()) == ["error"] and "\n" not in error["message"]


def test_api_errors_say_what_the_command_line_says(client: TestClient, runner: CliRunner,
                                                   bundled_index: Path) -> None:
    result = runner.invoke(cli, ["--office", "Nowhere", "--index", str(bundled_index)])
    assert result.exit_code == 2
    message = client.get("/api/search?office=Nowhere").json()["error"]["message"]
    assert result.stderr == f"Error: {message}\n"


def test_query_length_limit(client: TestClient) -> None:
    assert client.get("/api/search", params={"q": "a " * 500}).status_code == 200
    response = client.get("/api/search", params={"q": "ab" * 501})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "parameter 'q' is 1,002 characters long: a query may have at most 1,000")


def test_only_get(client: TestClient) -> None:
    response = client.post("/api/search")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_openapi_describes_every_api_route(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    assert sorted(spec["paths"]) == ["/api/facets", "/api/publications/{rid}",
                                     "/api/publications/{rid}/similar", "/api/search"]
    names = [p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]]
    assert names == ["q", "office", "theme", "type", "year", "since", "until", "sort", "page",
                     "limit", "match"]
    assert client.get("/api/openapi.json").headers["content-type"] == "application/json"


# -- pages -----------------------------------------------------------------


class Page(HTMLParser):
    """What a test looks at in a page: title, links, controls and their labels."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.title = ""
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.controls: list[dict[str, str]] = []
        self.labels: set[str] = set()
        self.text: list[str] = []
        self._in: list[str] = []
        self._link: dict[str, str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self._in.append(tag)
        if tag == "a":
            self._link = {"href": a.get("href", ""), "text": a.get("aria-label", "")}
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({"tag": tag, **a})
        if tag == "label" and "for" in a:
            self.labels.add(a["for"])
        if tag in ("input", "meta", "link", "br", "img"):
            self._in.pop()  # void elements have no end tag

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.links.append((self._link["href"], self._link["text"].strip()))
            self._link = None
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "title" and "svg" not in self._in:
            self.title += data
        if self._link is not None and not self._link["text"]:
            self._link["text"] += data
        self.text.append(data)

    def link(self, text: str) -> str:
        (href,) = [h for h, t in self.links if t == text]
        return href

    def unlabelled(self) -> list[dict[str, str]]:
        return [c for c in self.controls if c.get("id") not in self.labels
                and not c.get("aria-label")]


def page(client: TestClient, url: str, status: int = 200) -> Page:
    response = client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CSP
    parsed = Page(response.text)
    assert parsed.unlabelled() == []
    return parsed


def hit_links(p: Page) -> list[str]:
    return [h.rsplit("/", 1)[1] for h, _ in p.links if h.startswith("/publications/")
            and "." not in h.rsplit("/", 1)[1]]


def test_search_page(client: TestClient) -> None:
    p = page(client, "/search?q=forced+labour+supply+chains")
    assert p.title == "forced labour supply chains \u2013 thb-search"
    assert hit_links(p) == [SUPPLY_CHAINS, THREE_ACTION_AREAS]
    text = " ".join(" ".join(p.text).split())
    assert "2 publications for \u201cforced labour supply chains\u201d" in text
    # The facets, each value a checkbox with its count.
    boxes = [(c["name"], c["value"], "checked" in c) for c in p.controls
             if c.get("type") == "checkbox"]
    assert ("type", "Brochure", False) in boxes and ("type", "Study / report", False) in boxes
    assert p.link("2021: 1 publication") == (
        "/search?q=forced+labour+supply+chains&year=2021")


def test_browse_is_newest_first(client: TestClient) -> None:
    p = page(client, "/")
    assert p.title == "Publications \u2013 thb-search"
    assert hit_links(p)[:3] == [THREE_ACTION_AREAS, NRM_HANDBOOK, "ogor6gjydz"]
    assert set(hit_links(page(client, "/search?limit=20"))) == ALL_IDS


def test_facet_filters_chips_and_disjunctive_counts(client: TestClient) -> None:
    p = page(client, "/search?q=trafficking&office=ODIHR")
    # The three ODIHR publications; the office typed as an acronym is shown,
    # checked and removed by its full name.
    assert set(hit_links(p)) == {NRM_HANDBOOK, NRM_FACTSHEET, INCLUSION_POSTER}
    checked = [(c["name"], c["value"]) for c in p.controls if "checked" in c]
    assert checked == [("office", ODIHR)]
    # The chip removes the filter again.
    assert p.link(f"Remove filter Office: {ODIHR}") == "/search?q=trafficking"
    # Other offices stay listed with their counts (disjunctive), to add to the selection.
    text = " ".join(p.text)
    assert "OSCE Mission to Bosnia and Herzegovina" in text


def test_paging_and_sort(client: TestClient) -> None:
    p = page(client, "/search?q=trafficking&limit=3&page=2")
    assert p.link("Page 1") == "/search?q=trafficking&limit=3"
    assert p.link("Page 4") == "/search?q=trafficking&limit=3&page=4"
    (sort,) = [c for c in p.controls if c["tag"] == "select"]
    assert sort["name"] == "sort"


def test_did_you_mean_notice_and_related(client: TestClient) -> None:
    p = page(client, "/search?q=trafiking")
    assert p.link("trafficking") == "/search?q=trafficking"
    p = page(client, "/search?q=terrorism+procurement+ukraine")
    assert ("No publication contains all of terrorism, procurement, ukraine; showing partial "
            "matches.") in p.text
    p = page(client, "/search?q=trafficking+terrorism")
    assert hit_links(p)[0] == TERRORISM
    assert "Also matching some of your words" in p.text
    assert len(hit_links(p)) == 1 + 5


def test_bad_query_shows_the_page_with_the_error(client: TestClient) -> None:
    p = page(client, "/search?q=title:(", status=400)
    assert "unclosed '(' in query at character 7: close it with ')'" in p.text
    assert p.title == "title:( \u2013 thb-search"
    p = page(client, "/search?office=Nowhere", status=400)
    assert any(t.startswith("no office matches 'Nowhere'") for t in p.text)


def test_publication_page(client: TestClient) -> None:
    p = page(client, f"/publications/{NRM_HANDBOOK}")
    assert p.title.startswith("National Referral Mechanisms")
    assert hit_links(p)[0] == NRM_FACTSHEET  # the most similar
    assert p.link("RIS") == f"/publications/{NRM_HANDBOOK}.ris"
    assert p.link("BibTeX") == f"/publications/{NRM_HANDBOOK}.bib"
    response = client.get(f"/publications/{NRM_HANDBOOK[:5]}", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (
        308, f"/publications/{NRM_HANDBOOK}")


def test_not_found_pages(client: TestClient) -> None:
    p = page(client, "/publications/nope", status=404)
    assert p.title == "Not found \u2013 thb-search"
    assert "No publication has id 'nope': ids are shown in search results (e.g. thb-search " \
           "QUERY --format jsonl)." in p.text
    page(client, "/no/such/page", status=404)


def test_static_assets_ship_in_the_package(client: TestClient) -> None:
    for name, kind in [("style.css", "text/css"), ("app.js", "text/javascript"),
                       ("favicon.svg", "image/svg+xml")]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(kind)


# -- the Atom feed ---------------------------------------------------------


def test_atom_feed_of_a_search(client: TestClient) -> None:
    response = client.get("/search.atom?q=trafficking&office=ODIHR")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == (
        "tag:thb-search,2026:search?q=trafficking&office=OSCE+Office+for+Democratic+"
        "Institutions+and+Human+Rights")
    assert feed.findtext(f"{ATOM}title") == f"thb-search: trafficking (Office: {ODIHR})"
    entries = feed.findall(f"{ATOM}entry")
    # Newest first, one entry per hit, ids made of the publication ids.
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        f"tag:thb-search,2026:publication/{rid}" for rid in (NRM_HANDBOOK, NRM_FACTSHEET,
                                                            INCLUSION_POSTER)]
    assert [e.findtext(f"{ATOM}updated") for e in entries] == [
        "2022-01-24T00:00:00Z", "2021-07-30T00:00:00Z", "2021-07-21T00:00:00Z"]
    assert feed.findtext(f"{ATOM}updated") == "2022-01-24T00:00:00Z"
    first = entries[0]
    assert first.find(f"{ATOM}link").get("href") == (
        f"http://testserver/publications/{NRM_HANDBOOK}")
    assert first.find(f"{ATOM}author").findtext(f"{ATOM}name") == ODIHR
    self_link = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link[0].get("href") == "http://testserver/search.atom?q=trafficking&office=ODIHR"


def test_atom_feed_of_everything_has_every_hit(client: TestClient) -> None:
    feed = ET.fromstring(client.get("/search.atom").content)
    assert len(feed.findall(f"{ATOM}entry")) == 10
    assert feed.findtext(f"{ATOM}title") == "thb-search: all publications"


# -- escaping, and a running server seeing new publications ---------------


HOSTILE = {
    "id": "hostile", "title": "<script>alert('t')</script> \"Quotes\" & {braces}",
    "summary": "Summary <img src=x onerror=alert(1)> & trafficking \"q\" {x} 100%",
    "office": ["Office <b>bold</b> & \"Co\""], "themes": ["<i>Theme</i>"],
    "type": "Report", "date": "2023-01-02", "url": "javascript:alert(1)",
}


def test_catalogue_values_are_escaped_everywhere(tmp_path: Path) -> None:
    (tmp_path / "h.jsonl").write_text(json.dumps(HOSTILE) + "\n", encoding="utf-8")
    with TestClient(create_app(tmp_path / "index", corpus=[tmp_path])) as client:
        for url in ("/search?q=trafficking", "/publications/hostile", "/"):
            html = client.get(url).text
            assert "<script>alert" not in html and "<img src=x" not in html
            assert "<b>bold</b>" not in html and "<i>Theme</i>" not in html
            assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt; &#34;Quotes&#34; &amp; " \
                   "{braces}" in html
        atom = client.get("/search.atom?q=trafficking").content
        entry = ET.fromstring(atom).find(f"{ATOM}entry")
        assert entry.findtext(f"{ATOM}title") == HOSTILE["title"]
        assert entry.findtext(f"{ATOM}summary") == HOSTILE["summary"]
        assert entry.find(f"{ATOM}author").findtext(f"{ATOM}name") == HOSTILE["office"][0]
        # Only http(s) links to a publication's source.
        assert 'href="javascript:' not in client.get("/publications/hostile").text


def test_a_running_server_sees_what_another_process_adds(tmp_path: Path,
                                                        corpus_copy: Path) -> None:
    import subprocess
    import sys

    index = tmp_path / "index"
    where = ["--index", str(index), "--corpus", str(corpus_copy)]
    with TestClient(create_app(index, corpus=[corpus_copy])) as client:
        assert client.get("/api/search").json()["total"] == 10
        new = tmp_path / "new.jsonl"
        new.write_text(json.dumps({"title": "Debt bondage in domestic work",
                                   "date": "2024-01-01"}) + "\n", encoding="utf-8")
        added = subprocess.run([sys.executable, "-m", "thb_search", "add", str(new), *where],
                               capture_output=True, text=True)
        assert added.returncode == 0, added.stderr
        result = client.get("/api/search?q=debt+bondage").json()
        assert (result["total"], result["hits"][0]["title"]) == (
            1, "Debt bondage in domestic work")
        assert client.get("/api/search").json()["total"] == 11
        # A rebuild swaps in a new generation of the index: seen as well.
        (corpus_copy / "new.jsonl").unlink()
        rebuilt = subprocess.run([sys.executable, "-m", "thb_search", "index", "--rebuild",
                                  *where], capture_output=True, text=True)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert client.get("/api/search?q=debt+bondage").json()["total"] == 0
        assert client.get("/").status_code == 200


# -- citation exports ------------------------------------------------------


def test_publication_citations(client: TestClient, runner: CliRunner,
                               bundled_index: Path) -> None:
    import bibtexparser
    import rispy

    for suffix, fmt, media in [(".ris", "ris", "application/x-research-info-systems"),
                               (".bib", "bibtex", "application/x-bibtex"),
                               (".csl.json", "csl-json",
                                "application/vnd.citationstyles.csl+json")]:
        response = client.get(f"/publications/{SUPPLY_CHAINS}{suffix}")
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{media}; charset=utf-8"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="{SUPPLY_CHAINS}{suffix}"')
        shown = runner.invoke(cli, ["show", SUPPLY_CHAINS, "--format", fmt, "--index",
                                    str(bundled_index)])
        assert response.text == shown.stdout
    (entry,) = rispy.loads(client.get(f"/publications/{SUPPLY_CHAINS}.ris").text)
    assert entry["year"] == "2021" and entry["title"].startswith("Combating Trafficking")
    library = bibtexparser.parse_string(client.get(f"/publications/{NRM_HANDBOOK}.bib").text)
    (bib,) = library.entries
    assert bib["year"] == "2022"
    assert bib["author"] == "{OSCE Office for Democratic Institutions and Human Rights}"
    # A unique start of an id exports too.
    assert client.get(f"/publications/{SUPPLY_CHAINS[:5]}.ris").text.startswith("TY  - ")
    assert client.get("/publications/nope.bib").status_code == 404


def test_search_citations_are_the_page_of_hits(client: TestClient) -> None:
    import rispy

    entries = rispy.loads(client.get("/search.ris?q=national+referral+mechanisms").text)
    assert [e["id"] for e in entries] == [NRM_HANDBOOK, NRM_FACTSHEET]
    items = client.get("/search.csl.json?type=Factsheet").json()
    assert [i["id"] for i in items] == [NRM_FACTSHEET]
    bib = client.get("/search.bib?q=trafficking&limit=3").text
    assert bib.count("@") == 3
    error = client.get("/search.bib?q=title:(")
    assert error.status_code == 400 and error.json()["error"]["code"] == "invalid_query"
