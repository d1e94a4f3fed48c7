"""The command line: output, exit codes and one-line errors (CliRunner)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import bibtexparser
import pytest
import rispy
from click.testing import CliRunner

from conftest import (
    BUNDLED,
    NRM_FACTSHEET,
    NRM_HANDBOOK,
    ODIHR,
    OSR,
    SUPPLY_CHAINS,
    THREE_ACTION_AREAS,
    lock_held_elsewhere,
)
from thb_search import Catalogue
from thb_search.citations import to_bibtex, to_csl_json, to_ris
from thb_search.cli import cli
from thb_search.indexing import IndexDir

SUPPLY_TITLE = ("Combating Trafficking in Human Beings and Labour Exploitation in Supply Chains- "
                "Guidance for OSCE Procurement")


@pytest.fixture
def where(tmp_path: Path, corpus_copy: Path) -> list[str]:
    """--index/--corpus options pointing at a private corpus and index."""
    return ["--index", str(tmp_path / "index"), "--corpus", str(corpus_copy)]


def run(runner: CliRunner, *args: str) -> object:
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_bare_command_prints_help(runner: CliRunner) -> None:
    result = run(runner)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: thb-search [OPTIONS] [COMMAND] [ARGS]...")


def test_query_is_the_default_command(runner: CliRunner, where: list[str],
                                      tmp_path: Path) -> None:
    result = run(runner, "forced labour supply chains", *where)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f" 1. {SUPPLY_TITLE}\n    27 October 2021 \u00b7 Study / "
                                    f"report \u00b7 {OSR}\n")
    assert " 2. Three Action Areas" in result.stdout
    assert "\nType: Brochure (1) \u00b7 Study / report (1)\nYear: 2021 (1) \u00b7 2022 (1)\n" in (
        result.stdout)
    # The index did not exist: it was built first, and that was said on stderr.
    assert result.stderr == (f"No index at {tmp_path / 'index'}/ yet: building it from "
                             f"{tmp_path / 'corpus'}/.\n2 of 2 publications\n")
    again = run(runner, "search", "forced", "labor", "supply", "chain", *where)
    assert again.stderr == "2 of 2 publications\n"
    assert again.stdout.startswith(f" 1. {SUPPLY_TITLE}")


def test_json_output(runner: CliRunner, where: list[str]) -> None:
    result = run(runner, "national referral mechanisms", "--office", "ODIHR", "--json", *where)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [h["id"] for h in data["hits"]] == [NRM_HANDBOOK, NRM_FACTSHEET]
    assert data["facets"]["office"] == [{"value": ODIHR, "count": 2}]
    assert data["total"] == 2 and data["sort"] == "relevance"


def test_browse_by_type_json(runner: CliRunner, where: list[str]) -> None:
    data = json.loads(run(runner, "--type", "Factsheet", "--json", *where).stdout)
    assert data["total"] == 1 and data["query"] == ""
    assert {"value": "Study / report", "count": 5} in data["facets"]["type"]
    assert data["facets"]["office"] == [{"value": ODIHR, "count": 1}]


def test_jsonl_and_csv(runner: CliRunner, where: list[str]) -> None:
    lines = run(runner, "supply chains", "--format", "jsonl", *where).stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [SUPPLY_CHAINS, THREE_ACTION_AREAS]
    csv_out = run(runner, "supply chains", "--format", "csv", *where).stdout.splitlines()
    assert csv_out[0] == "id,rank,score,title,date,type,offices,themes,publisher,url,summary"
    assert csv_out[1].startswith(f"{SUPPLY_CHAINS},1,")
    assert len(csv_out) == 3


def test_zero_hits_exit_zero_with_suggestion(runner: CliRunner, where: list[str]) -> None:
    result = run(runner, "trafiking", *where)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.endswith("Did you mean: trafficking (or: training)\n0 publications\n")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["title:("], 2, "Error: unclosed '(' in query at character 7: close it with ')'\n"),
    (['"unclosed'], 2, "Error: unclosed quote in query at character 1: add the closing \" or "
                       "remove the opening one\n"),
    (["--year", "20x1"], 2, "Error: invalid year '20x1': give a year such as 2021 or a range "
                            "such as 2019-2021\n"),
    (["--office", "osce"], 2, "Error: --office 'osce' is ambiguous: it matches 'OSCE Mission to "
                              "Bosnia and Herzegovina', 'OSCE Office for Democratic Institutions"
                              " and Human Rights', 'OSCE Project Co-ordinator in Ukraine "
                              "(closed)'; give more of the name\n"),
    (["show", "nope"], 1, "Error: no publication has id 'nope': ids are shown in search results "
                          "(e.g. thb-search QUERY --format jsonl)\n"),
])
def test_errors_are_one_line(runner: CliRunner, where: list[str], args: list[str], code: int,
                             message: str) -> None:
    run(runner, "index", *where)
    result = run(runner, *args, *where)
    assert result.exit_code == code
    assert result.stderr == message
    assert result.stdout == ""


def test_unknown_office_lists_closest(runner: CliRunner, where: list[str]) -> None:
    run(runner, "index", *where)
    result = run(runner, "--office", "Nowhere", *where)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no office matches 'Nowhere'; closest: ")
    assert result.stderr.count("\n") == 1


def test_click_rejects_bad_options(runner: CliRunner, where: list[str]) -> None:
    assert run(runner, "x", "--limit", "0", *where).exit_code == 2
    assert run(runner, "x", "--sort", "size", *where).exit_code == 2


def test_index_reports_counts(runner: CliRunner, where: list[str], tmp_path: Path,
                              corpus_copy: Path) -> None:
    first = run(runner, "index", *where)
    assert first.exit_code == 0
    assert first.stderr == (f"{tmp_path / 'index'}/ rebuilt: 10 publications from 1 file\n"
                            "  added 10, updated 0, removed 0, unchanged 0; duplicates merged "
                            "0, superseded 0\n")
    new = tmp_path / "new.jsonl"
    new.write_text("\n".join(json.dumps(x) for x in [
        {"title": "Fresh one", "date": "2023-01-01"}, {"title": "Fresh two"},
        {"title": "Three Action Areas for Parliaments to Combat Trafficking in Human Beings",
         "date": "2022-02-25", "summary": "Changed."}]) + "\n", encoding="utf-8")
    added = run(runner, "add", str(new), *where)
    assert added.exit_code == 0, added.output
    assert added.stderr == (f"Copied {new} to {corpus_copy / 'new.jsonl'}\n"
                            f"{tmp_path / 'index'}/ updated: 12 publications from 2 files\n"
                            "  added 2, updated 1, removed 0, unchanged 9; duplicates merged "
                            "0, superseded 1\n")
    again = run(runner, "index", *where)
    assert again.stderr == (f"{tmp_path / 'index'}/: 12 publications from 2 files; nothing "
                            "changed\n  added 0, updated 0, removed 0, unchanged 12; duplicates "
                            "merged 0, superseded 1\n")
    (corpus_copy / "new.jsonl").unlink()
    removed = run(runner, "index", "--json", *where)
    report = json.loads(removed.stdout)
    assert (report["added"], report["updated"], report["removed"], report["total"]) == (
        0, 1, 2, 10)


def test_location_options_before_a_command_are_the_commands(
        runner: CliRunner, where: list[str], tmp_path: Path, corpus_copy: Path) -> None:
    # ``thb-search --index DIR index`` indexes; it used to search for "index".
    first = run(runner, *where, "index")
    assert first.exit_code == 0, first.output
    assert first.stderr == (f"{tmp_path / 'index'}/ rebuilt: 10 publications from 1 file\n"
                            "  added 10, updated 0, removed 0, unchanged 0; duplicates merged "
                            "0, superseded 0\n")
    facets = run(runner, f"--index={tmp_path / 'index'}", f"--corpus={corpus_copy}", "facets")
    assert facets.stdout.startswith(f"Office:\n  5  {OSR}\n")
    shown = run(runner, "--corpus", str(corpus_copy), "--index", str(tmp_path / "index"),
                "show", SUPPLY_CHAINS, "--json")
    assert json.loads(shown.stdout)["id"] == SUPPLY_CHAINS
    # Before a word that is not a command they stay a search's options.
    hits = run(runner, *where, "supply", "chains", "--json")
    assert [h["id"] for h in json.loads(hits.stdout)["hits"]] == [SUPPLY_CHAINS, THREE_ACTION_AREAS]
    # A command without the option says so, as it does when it follows.
    wrong = run(runner, "--corpus", str(corpus_copy), "eval", "q", "r")
    assert wrong.exit_code == 2
    last = wrong.stderr.splitlines()[-1]  # (click's wording differs between versions)
    assert last.startswith("Error: No such option") and "--corpus" in last


def test_malformed_file_error_and_index_unchanged(runner: CliRunner, where: list[str],
                                                  tmp_path: Path) -> None:
    run(runner, "index", *where)
    before = run(runner, "trafficking", "--json", *where).stdout
    bad = tmp_path / "new.txt"
    bad.write_text("A title\nPublishing date: 31 Febuary 2022\n", encoding="utf-8")
    result = run(runner, "add", str(bad), *where)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {bad}:2: unreadable date '31 Febuary 2022' (expected e.g. "
                             "25 February 2022 or 2022-02-25)\n")
    assert run(runner, "trafficking", "--json", *where).stdout == before


def test_index_given_files_only(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "cran.jsonl"
    data.write_text('{"id": "1", "title": "", "summary": "wing slipstream"}\n'
                    '{"id": "2", "title": "", "summary": ""}\n', encoding="utf-8")
    env = {"THB_SEARCH_INDEX": str(tmp_path / "cran")}
    result = runner.invoke(cli, ["index", str(data)], env=env)
    assert result.exit_code == 0, result.output
    assert "2 publications from 1 file" in result.stderr
    assert f"warning: {data}:2: record '2' has no title or summary" in result.stderr
    hits = runner.invoke(cli, ["slipstream", "--format", "jsonl"], env=env)
    assert [json.loads(x)["id"] for x in hits.stdout.splitlines()] == ["1"]


def test_locked_index_fails_after_wait(runner: CliRunner, where: list[str],
                                       tmp_path: Path) -> None:
    run(runner, "index", *where)
    with lock_held_elsewhere(tmp_path / "index"):
        result = run(runner, "index", "--wait", "0.2", *where)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: the index at {tmp_path / 'index'}/ is being written "
                                    "by another thb-search process")


def test_show_similar_facets(runner: CliRunner, where: list[str]) -> None:
    shown = run(runner, "show", SUPPLY_CHAINS[:5], *where)
    assert shown.exit_code == 0
    assert shown.stdout.startswith(f"{SUPPLY_TITLE}\n  id:          {SUPPLY_CHAINS}\n"
                                   "  date:        27 October 2021\n")
    data = json.loads(run(runner, "show", SUPPLY_CHAINS, "--json", *where).stdout)
    assert data["date"] == "2021-10-27" and data["offices"] == [OSR]
    similar = json.loads(run(runner, "similar", NRM_HANDBOOK, "--json", *where).stdout)
    assert similar["hits"][0]["id"] == NRM_FACTSHEET
    facets = run(runner, "facets", *where).stdout
    assert facets.startswith(f"Office:\n  5  {OSR}\n  3  {ODIHR}\n")
    assert facets.endswith("Year:\n  7  2021\n  3  2022\n")


def test_explain_text(runner: CliRunner, where: list[str]) -> None:
    out = run(runner, "NRM handbook", "--explain", *where).stdout
    assert "    explain: NRM: summary; handbook: title, summary\n" in out
    assert "expansions: NRM -> national referral mechanism\n" in out


def test_paging_summary(runner: CliRunner, where: list[str]) -> None:
    result = run(runner, "--limit", "4", "--page", "2", *where)
    assert result.stderr.endswith("5-8 of 10 publications (page 2 of 3; --page 3 for more)\n")


def test_default_locations_in_a_checkout(runner: CliRunner, tmp_path: Path, corpus_copy: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THB_SEARCH_INDEX", raising=False)
    monkeypatch.delenv("THB_SEARCH_CORPUS", raising=False)
    result = run(runner, "supply chains")
    assert result.exit_code == 0
    assert result.stderr.startswith("No index at index/ yet: building it from corpus/.\n")
    assert IndexDir(tmp_path / "index").exists()


def test_default_locations_without_a_checkout(runner: CliRunner, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("THB_SEARCH_INDEX", raising=False)
    monkeypatch.delenv("THB_SEARCH_CORPUS", raising=False)
    result = run(runner, "supply chains", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == [
        SUPPLY_CHAINS, THREE_ACTION_AREAS]
    corpus = tmp_path / "data" / "thb-search" / "corpus"
    assert sorted(p.name for p in corpus.iterdir()) == ["osce-thb-publications.txt"]
    assert (corpus / "osce-thb-publications.txt").read_bytes() == (
        BUNDLED / "osce-thb-publications.txt").read_bytes()
    assert IndexDir(tmp_path / "data" / "thb-search" / "index").exists()


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from thb_search.output import use_color

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(Tty()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty()) is False
    monkeypatch.delenv("NO_COLOR")
    assert use_color(io.StringIO()) is False


def test_python_dash_m(tmp_path: Path, corpus_copy: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "thb_search", "supply chains", "--format", "jsonl",
         "--index", str(tmp_path / "index"), "--corpus", str(corpus_copy)],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, check=False)
    assert result.returncode == 0, result.stderr
    assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == [
        SUPPLY_CHAINS, THREE_ACTION_AREAS]


def test_related_results_under_their_heading(runner: CliRunner, tmp_path: Path) -> None:
    records = [
        {"id": "all-four", "title": "Police training on trafficking victims", "date": "2021-05-01"},
        {"id": "three", "title": "Training for judges", "summary": "Trafficking victims.",
         "date": "2020-01-01"},
        {"id": "none", "title": "Budget report", "date": "2018-01-01"},
    ]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    where = ["--index", str(tmp_path / "index"), "--corpus", str(tmp_path)]
    run(runner, "index", *where)
    result = run(runner, "police training trafficking victims", *where)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        " 1. Police training on trafficking victims\n    1 May 2021\n"
        "    Police training on trafficking victims\n    id all-four \u00b7 score 3.472\n\n"
        "Also matching some of your words:\n\n"
        "  - Training for judges\n    1 January 2020\n    Trafficking victims.\n"
        "    id three \u00b7 score 1.548\n\n"
        "Year: 2021 (1)\n")
    data = json.loads(run(runner, "police training trafficking victims", "--json",
                          *where).stdout)
    assert [h["id"] for h in data["hits"]] == ["all-four"]
    assert [h["id"] for h in data["related"]] == ["three"]


def test_another_whoosh_version_is_a_one_line_error(tmp_path: Path, corpus_copy: Path) -> None:
    script = ("import sys, whoosh; whoosh.versionstring = lambda: '2.7.4'\n"
              "from thb_search.cli import main\n"
              "sys.argv = ['thb-search', 'labour', '--index', sys.argv[1], '--corpus', "
              "sys.argv[2]]\nmain()\n")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "ix"),
                             str(corpus_copy)], capture_output=True, text=True, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: thb-search needs Whoosh 3.54.0 (the whoosh3==3.54.0 package) but Whoosh 2.7.4 "
        "is installed: run pip install 'whoosh3==3.54.0' (and uninstall any other package "
        "that provides 'whoosh')\n")


def test_show_as_citations(runner: CliRunner, where: list[str]) -> None:
    run(runner, "index", *where)
    bib = run(runner, "show", SUPPLY_CHAINS, "--format", "bibtex", *where)
    assert bib.exit_code == 0, bib.output
    assert bib.stdout.startswith(f"@techreport{{{SUPPLY_CHAINS},\n  author = {{{{{OSR}}}}},\n"
                                 f"  title = {{{{{SUPPLY_TITLE}}}}},\n")
    [entry] = bibtexparser.parse_string(bib.stdout).entries
    assert (entry["year"], entry["month"], entry["author"]) == ("2021", "oct", f"{{{OSR}}}")
    ris = run(runner, "show", SUPPLY_CHAINS[:5], "--format", "ris", *where)
    assert ris.exit_code == 0, ris.output
    assert ris.stdout.startswith(f"TY  - RPRT\nID  - {SUPPLY_CHAINS}\nTI  - {SUPPLY_TITLE}\n"
                                 f"AU  - {OSR}\nPY  - 2021\nDA  - 2021/10/27\n")
    assert ris.stdout.endswith("\nER  - \n")
    [ref] = rispy.loads(ris.stdout)
    assert ref["authors"] == [OSR] and ref["title"] == SUPPLY_TITLE
    csl = run(runner, "show", NRM_HANDBOOK, "--format", "csl-json", *where)
    assert csl.exit_code == 0, csl.output
    [item] = json.loads(csl.stdout)
    assert (item["id"], item["type"], item["author"], item["issued"]) == (
        NRM_HANDBOOK, "report", [{"literal": ODIHR}], {"date-parts": [[2022, 1, 24]]})
    assert bib.stderr == ris.stderr == csl.stderr == ""
    # Exactly the library's export (whose text tests/test_citations.py fixes).
    with Catalogue(where[1]) as catalogue:
        supply, handbook = catalogue.get(SUPPLY_CHAINS), catalogue.get(NRM_HANDBOOK)
    assert (bib.stdout, ris.stdout) == (to_bibtex([supply]), to_ris([supply]))
    assert csl.stdout == json.dumps(to_csl_json([handbook]), ensure_ascii=False, indent=2) + "\n"


def test_search_and_similar_as_citations(runner: CliRunner, where: list[str]) -> None:
    run(runner, "index", *where)
    ris = run(runner, "supply chains", "--format", "ris", *where)
    assert ris.exit_code == 0, ris.output
    assert [(r["type_of_reference"], r["id"]) for r in rispy.loads(ris.stdout)] == [
        ("RPRT", SUPPLY_CHAINS), ("PAMP", THREE_ACTION_AREAS)]
    assert ris.stdout.count("\nER  - \n") == 2 and "\nER  - \n\nTY  - PAMP\n" in ris.stdout
    assert ris.stderr == ""  # no summary line, as with --json
    page = run(runner, "--limit", "3", "--page", "2", "--format", "bibtex", *where)
    browsed = json.loads(run(runner, "--limit", "3", "--page", "2", "--json", *where).stdout)
    assert [e.key for e in bibtexparser.parse_string(page.stdout).entries] == [
        h["id"] for h in browsed["hits"]]
    similar = run(runner, "similar", NRM_HANDBOOK, "--format", "csl-json", *where)
    assert json.loads(similar.stdout)[0]["id"] == NRM_FACTSHEET
    none = run(runner, "trafiking", "--format", "ris", *where)
    assert (none.exit_code, none.stdout) == (0, "")
    assert none.stderr == "Did you mean: trafficking (or: training)\n"


def test_citations_leave_out_related_results(runner: CliRunner, tmp_path: Path) -> None:
    records = [
        {"id": "all-four", "title": "Police training on trafficking victims", "date": "2021-05-01"},
        {"id": "three", "title": "Training for judges", "summary": "Trafficking victims.",
         "date": "2020-01-01"},
    ]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    where = ["--index", str(tmp_path / "index"), "--corpus", str(tmp_path)]
    run(runner, "index", *where)
    result = run(runner, "police training trafficking victims", "--format", "csl-json", *where)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{
        "id": "all-four", "type": "document", "title": "Police training on trafficking victims",
        "issued": {"date-parts": [[2021, 5, 1]]}}]


def test_text_and_json_unchanged_beside_citation_formats(runner: CliRunner,
                                                         where: list[str]) -> None:
    text = run(runner, "show", SUPPLY_CHAINS, *where)
    assert text.stdout.startswith(
        f"{SUPPLY_TITLE}\n  id:          {SUPPLY_CHAINS}\n  date:        27 October 2021\n"
        f"  type:        Study / report\n  offices:     {OSR}\n"
        "  themes:      Combating trafficking in human beings\n"
        "  publisher:   Organization for Security and Co-operation in Europe\n\n"
        "This procurement guidance is a key step in rolling out the implementation of "
        "anti-trafficking\nmeasures in OSCE\u2019s own procurement")
    assert text.stdout.endswith("forced labour in\ntheir supply chains.\n")
    record = json.loads(run(runner, "show", SUPPLY_CHAINS, "--json", *where).stdout)
    assert list(record) == ["id", "title", "date", "type", "offices", "themes", "publisher",
                            "summary", "url", "collections"]
    result = run(runner, "supply chains", "--json", *where)
    data = json.loads(result.stdout)
    assert list(data) == ["query", "total", "page", "limit", "sort", "filters", "hits", "facets",
                          "suggestions", "notice"]
    assert list(data["hits"][0]) == ["id", "rank", "score", "title", "date", "type", "offices",
                                     "themes", "publisher", "summary", "snippet", "url"]
    assert result.stderr == ""
    searched = run(runner, "supply chains", *where)
    assert searched.stdout.startswith(f" 1. {SUPPLY_TITLE}\n")
    assert searched.stderr == "2 of 2 publications\n"
    # Facet counts are no publications: no citation formats there.
    facets = run(runner, "facets", "--format", "ris", *where)
    assert facets.exit_code == 2
    assert "'ris' is not one of 'text', 'json', 'jsonl', 'csv'" in facets.stderr


def test_serve_prints_the_url_answers_and_stops_on_ctrl_c(tmp_path: Path,
                                                          corpus_copy: Path) -> None:
    import signal
    import urllib.request

    server = subprocess.Popen(
        [sys.executable, "-m", "thb_search", "serve", "--port", "0", "--index",
         str(tmp_path / "index"), "--corpus", str(corpus_copy)],
        stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert server.stderr.readline() == "No index at index/ yet: building it from corpus/.\n"
        line = server.stderr.readline()
        assert line.startswith("Serving the catalogue at http://127.0.0.1:")
        assert line.endswith("/ (Ctrl-C to stop).\n")
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(url + "api/search?q=national+referral+mechanisms"
                                    "&office=ODIHR") as response:
            data = json.load(response)
        assert [h["id"] for h in data["hits"]] == [NRM_HANDBOOK, NRM_FACTSHEET]
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=20)
        rest = server.stderr.read()
        server.stderr.close()
    assert (code, rest) == (0, "Stopped.\n")


def test_serve_on_a_port_in_use_is_a_clear_error(runner: CliRunner, tmp_path: Path,
                                                 corpus_copy: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(cli, ["serve", "--port", str(port), "--index",
                                     str(tmp_path / "index"), "--corpus", str(corpus_copy)])
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"Error: port {port} on 127.0.0.1 is in use: stop what uses it, or choose another "
        "port with --port\n")
    bad = runner.invoke(cli, ["serve", "--host", "no.such.host.invalid", "--index",
                              str(tmp_path / "index"), "--corpus", str(corpus_copy)])
    assert bad.exit_code == 1
    assert bad.stderr == ("Error: cannot listen on host 'no.such.host.invalid': no such "
                          "address (use e.g. 127.0.0.1, or 0.0.0.0 for every network "
                          "interface)\n")


#: What a plain search must not import (a new process pays for every module):
#: the writer side and PDF reading (the index exists and is current), NLTK
#: (the index's lexicon knows the words), ``regex`` (the texts are ASCII once
#: quotes and dashes are normalised), worker processes, the web server and its
#: templates, the catalogue readers, and what only other commands, formats or
#: error messages use.
NOT_IMPORTED_BY_A_SEARCH = (
    "nltk", "regex", "thb_search.indexing", "thb_search.adding", "thb_search.documents",
    "thb_search.corpus", "thb_search.records", "thb_search.formats", "thb_search.listing",
    "thb_search.scan", "thb_search.writer", "thb_search.journal", "thb_search.pdftext",
    "pypdfium2", "multiprocessing", "concurrent.futures", "thb_search.web", "starlette",
    "jinja2", "uvicorn", "thb_search.citations", "rispy", "bibtexparser",
    "thb_search.evaluation", "difflib", "html",
)
_IMPORTS_OF_A_SEARCH = """\
import json, os, sys
report = sys.argv.pop(1)
import thb_search.cli
loaded_by_the_cli_module = sorted(m for m in ("numpy", "thb_search.searching") if m in sys.modules)
sys.argv[0] = "thb-search"
try:
    thb_search.cli.main()
finally:
    with open(report, "w", encoding="utf-8") as f:
        json.dump({"modules": sorted(sys.modules), "early": loaded_by_the_cli_module,
                   "openblas": os.environ.get("OPENBLAS_NUM_THREADS")}, f)
"""


_COLLECTOR_OF_A_COMMAND = """\
import atexit, gc, json, sys
from thb_search.__main__ import main
sys.argv = ["thb-search", "--version"]
atexit.register(lambda: print(json.dumps([gc.isenabled(), gc.get_freeze_count()])))
main()
"""


def test_the_command_runs_with_the_garbage_collector_on(tmp_path: Path) -> None:
    """The script pauses the collector while it imports and then freezes what
    the imports made; the command itself (a long ``index`` or ``serve``) must
    run with the collector on, or its cyclic garbage would never be freed."""
    result = subprocess.run([sys.executable, "-c", _COLLECTOR_OF_A_COMMAND],
                            capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("thb-search, version ")
    enabled, frozen = json.loads(result.stdout.splitlines()[-1])
    assert enabled is True
    assert frozen > 10_000  # click's and the command's modules, out of the collector's walks


def test_a_new_process_ends_with_its_whole_output_and_its_exit_status(
        tmp_path: Path, bundled_index: Path) -> None:
    """The command ends its process without Python's teardown (``_end``):
    what it printed (block-buffered into a pipe) still arrives whole, and the
    exit status is the command's."""
    base = [sys.executable, "-m", "thb_search", "--index", str(bundled_index),
            "--corpus", str(BUNDLED)]
    found = subprocess.run([*base, "forced labour supply chains", "--format", "jsonl"],
                           capture_output=True, text=True, cwd=tmp_path, check=False)
    assert (found.returncode, found.stderr) == (0, "")
    assert [json.loads(x)["id"] for x in found.stdout.splitlines()] == [
        SUPPLY_CHAINS, THREE_ACTION_AREAS]
    bad = subprocess.run([*base, "title:(labour"], capture_output=True, text=True,
                         cwd=tmp_path, check=False)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("Error: ") and bad.stderr.count("\n") == 1
    with open("/dev/full", "w", encoding="utf-8") as full:  # a full disk under `> file`
        lost = subprocess.run([*base, "forced labour"], stdout=full, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path, check=False)
    assert lost.returncode == 1
    assert lost.stderr.startswith("Error: ") and lost.stderr.count("\n") == 1
    assert "No space left on device" in lost.stderr


_EXIT_HANDLERS_AND_THREADS = """\
import atexit, sys, threading, time
from pathlib import Path
from thb_search.__main__ import main
atexit.register(lambda: print("the exit handlers ran"))
if len(sys.argv) > 1:
    def late(path):
        time.sleep(0.3)
        Path(path).write_text("written", encoding="utf-8")
    threading.Thread(target=late, args=(sys.argv[1],)).start()
sys.argv[1:] = ["--version"]
main()
"""


@pytest.mark.parametrize("thread", [False, True])
def test_a_new_process_runs_its_exit_handlers_and_waits_for_its_threads(
        tmp_path: Path, thread: bool) -> None:
    done = tmp_path / "written.txt"
    result = subprocess.run(
        [sys.executable, "-c", _EXIT_HANDLERS_AND_THREADS, *([str(done)] if thread else [])],
        capture_output=True, text=True, cwd=tmp_path, check=False)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("thb-search, version ")
    assert result.stdout.endswith("\nthe exit handlers ran\n")
    assert done.exists() is thread
    if thread:
        assert done.read_text(encoding="utf-8") == "written"


def test_a_search_imports_only_what_it_needs(tmp_path: Path, bundled_index: Path) -> None:
    """``thb-search QUERY`` starts fast because it imports little; this keeps
    it so (no timing here: the modules themselves are checked)."""
    report = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTS_OF_A_SEARCH, str(report), "forced labour supply chains",
         "--format", "jsonl", "--index", str(bundled_index), "--corpus", str(BUNDLED)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == [
        SUPPLY_CHAINS, THREE_ACTION_AREAS]
    seen = json.loads(report.read_text("utf-8"))
    modules = set(seen["modules"])
    assert "thb_search.retrieval" in modules  # the search did run here
    assert sorted(m for m in modules if m in NOT_IMPORTED_BY_A_SEARCH
                  or m.startswith(tuple(f"{n}." for n in NOT_IMPORTED_BY_A_SEARCH))) == []
    # Importing the command imports no numpy, so that main() can keep OpenBLAS
    # from starting a thread pool that nothing uses.
    assert seen["early"] == []
    assert seen["openblas"] == "1"
