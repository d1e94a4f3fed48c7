"""Publications' documents: attaching PDFs, searching their text, landing on
the page; reading each PDF once; bad PDFs; keeping the index in step."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

import pdfs
from conftest import (
    GENDER_BRIEF,
    JUSTICE_BIH,
    NRM_HANDBOOK,
    SUPPLY_CHAINS,
    TERRORISM,
    THREE_ACTION_AREAS,
)
from thb_search import Catalogue, add_files, sync
from thb_search.cli import cli
from thb_search.errors import CorpusErrors, ParameterError
from thb_search.indexdir import IndexDir

FILLER = ("policy report border police cooperation training victims shelter funding "
          "evaluation budget council mission office review").split()
PHRASE = "Cases of debt bondage in domestic work were reported in three regions."


def forty_pages(path: Path, phrase_page: int = 27, seed: int = 3) -> Path:
    """A 40-page PDF of filler lines; page ``phrase_page`` also says PHRASE."""
    rng = random.Random(seed)
    pages = []
    for number in range(1, 41):
        lines = [" ".join(rng.choices(FILLER, k=9)) for _ in range(12)]
        if number == phrase_page:
            lines.insert(5, PHRASE)
        pages.append(lines)
    return pdfs.pages_pdf(path, pages)


@pytest.fixture
def attached(tmp_path: Path, corpus_copy: Path) -> tuple[Path, Path]:
    """The bundled catalogue with a 40-page PDF attached to the terrorism record."""
    index = tmp_path / "index"
    report = add_files(corpus_copy, index, [forty_pages(tmp_path / "thb-terrorism.pdf")],
                       to=TERRORISM[:5])
    assert [dest for _, dest in report.copied] == [
        str(corpus_copy / "documents" / TERRORISM / "thb-terrorism.pdf")]
    assert (report.index.documents, report.index.documents_read) == (1, 0)  # read by add
    return corpus_copy, index


def test_a_search_lands_on_the_page(attached: tuple[Path, Path]) -> None:
    _, index = attached
    with Catalogue(index) as cat:
        result = cat.search("debt bondage domestic work")
        (hit,) = result.hits
        assert (hit.id, hit.pages, hit.snippet_page) == (TERRORISM, (27,), 27)
        assert ("Cases of <mark>debt</mark> <mark>bondage</mark> in <mark>domestic</mark> "
                "<mark>work</mark> were reported in three regions.") in hit.snippet
        d = hit.to_dict()
        assert (d["snippet_page"], d["pages"]) == (27, [27])
        assert cat.get(TERRORISM).to_dict()["document"] == {
            "file": str(index.parent / "corpus" / "documents" / TERRORISM / "thb-terrorism.pdf"),
            "pages": 40}
        # The record's own text still matches as before, without a page.
        other = cat.search("terrorism").hits[0]
        assert (other.id, other.snippet_page) == (TERRORISM, None)
        # Fields: the phrase is only in the document.
        assert cat.search("bondage", fields=["title", "summary"]).total == 0
        assert cat.search("body:bondage").total == 1
        assert cat.search("title:bondage").total == 0
        page = cat.page(TERRORISM, 27, "debt bondage")
        assert [t for t, m in page.parts if m] == ["debt", "bondage"]
        assert PHRASE in page.text


def test_a_full_text_search_in_a_new_process_imports_no_masked_arrays(
        attached: tuple[Path, Path]) -> None:
    """A word in both records and a document merges their postings; numpy's
    own union (through ``np.unique``) would import ``numpy.ma`` in every new
    process, 15-20 ms of its first search (numpy 2 imports it only when used;
    numpy 1 on its own import, where the search adds nothing)."""
    import subprocess
    import sys

    _, index = attached
    search = ("import sys, numpy, thb_search\n"
              "before = 'numpy.ma' in sys.modules\n"
              f"cat = thb_search.Catalogue({str(index)!r})\n"
              "hits = cat.search('debt bondage work trafficking').hits\n"
              "print([(h.id, h.pages) for h in hits[:1]], len(hits),\n"
              "      'numpy.ma' in sys.modules and not before)\n")
    done = subprocess.run([sys.executable, "-c", search], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"[({TERRORISM!r}, (27,))] 1 False\n"


def test_the_command_line_shows_the_page(attached: tuple[Path, Path],
                                         runner: CliRunner) -> None:
    corpus, index = attached
    where = ["--index", str(index), "--corpus", str(corpus)]
    result = runner.invoke(cli, ["debt bondage domestic work", *where])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == " 1. Trafficking in Human Beings and Terrorism: Where and How They Intersect"
    assert lines[2].startswith("    p. 27: \u2026") and "debt bondage in domestic work" in lines[2]
    assert "    matched on 1 of 40 pages of thb-terrorism.pdf: 27" in lines
    data = json.loads(runner.invoke(cli, ["debt bondage domestic work", "--json",
                                          *where]).stdout)
    assert data["hits"][0]["snippet_page"] == 27
    page = runner.invoke(cli, ["show", TERRORISM, "--page", "27", "--query", "debt bondage",
                               *where])
    assert page.exit_code == 0, page.output
    assert page.stdout.splitlines()[1] == (
        f"corpus/documents/{TERRORISM}/thb-terrorism.pdf, page 27 of 40".replace(
            "corpus/", str(corpus) + "/"))
    assert "Cases of [debt] [bondage] in domestic work" in " ".join(page.stdout.split())
    missing = runner.invoke(cli, ["show", TERRORISM, "--page", "41", *where])
    assert missing.exit_code == 1
    assert missing.stderr.endswith("thb-terrorism.pdf has 40 pages: there is no page 41\n")
    none = runner.invoke(cli, ["show", SUPPLY_CHAINS, "--page", "1", *where])
    assert none.stderr == (f"Error: publication {SUPPLY_CHAINS!r} has no document: attach "
                           f"one with thb-search add FILE.pdf --to {SUPPLY_CHAINS}\n")


def test_unchanged_pdfs_are_not_read_again(attached: tuple[Path, Path],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import thb_search.documents as documents

    corpus, index = attached
    read: list[str] = []
    hashed: list[str] = []
    original_hash, original_extract = documents.sha256_of, documents.extract_into
    monkeypatch.setattr(documents, "sha256_of", lambda p: hashed.append(p.name) or
                        original_hash(p))
    monkeypatch.setattr(documents, "extract_into", lambda p, *a: read.append(p.name) or
                        original_extract(p, *a))
    report = sync(index, [corpus])
    assert (report.changed, read, hashed) == (False, [], [])
    # New bytes: read again, alone, and the record updated.
    pdf = corpus / "documents" / TERRORISM / "thb-terrorism.pdf"
    forty_pages(pdf, phrase_page=12, seed=4)
    report = sync(index, [corpus])
    assert (report.updated, report.added, read, hashed) == (1, 0, ["thb-terrorism.pdf"],
                                                            ["thb-terrorism.pdf"])
    with Catalogue(index) as cat:
        assert cat.search("debt bondage domestic work").hits[0].snippet_page == 12
    # A rebuild reads no PDF either: the texts are kept beside the generations.
    read.clear()
    assert sync(index, [corpus], rebuild=True).documents == 1
    assert read == []


def test_a_removed_pdf_removes_its_text(attached: tuple[Path, Path]) -> None:
    corpus, index = attached
    (corpus / "documents" / TERRORISM / "thb-terrorism.pdf").unlink()
    report = sync(index, [corpus])
    assert (report.updated, report.documents) == (1, 0)
    with Catalogue(index) as cat:
        assert cat.search('"debt bondage"').total == 0
        assert "document" not in cat.get(TERRORISM).to_dict()


def test_an_encrypted_pdf_is_a_clear_error_and_changes_nothing(
        tmp_path: Path, corpus_copy: Path, runner: CliRunner) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    state = (IndexDir(index).current() / "thb-state.json").read_bytes()
    secret = pdfs.encrypted_pdf(tmp_path / "secret.pdf")
    where = ["--index", str(index), "--corpus", str(corpus_copy)]
    result = runner.invoke(cli, ["add", str(secret), "--to", NRM_HANDBOOK, *where])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {secret}: encrypted PDF (it needs a password): save an "
                             "unprotected copy\n")
    assert not (corpus_copy / "documents").exists()
    assert (IndexDir(index).current() / "thb-state.json").read_bytes() == state
    # With --skip-invalid it is listed and skipped.
    skipped = runner.invoke(cli, ["add", str(secret), "--skip-invalid", *where])
    assert skipped.exit_code == 0, skipped.output
    assert not (corpus_copy / "documents").exists()


def test_an_unreadable_pdf_in_the_catalogue_stops_the_run(tmp_path: Path,
                                                          corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    folder = corpus_copy / "documents" / TERRORISM
    folder.mkdir(parents=True)
    good = pdfs.sample_pdf(tmp_path / "good.pdf")
    pdfs.truncated_pdf(folder / "cut.pdf", good)
    with pytest.raises(CorpusErrors) as err:
        sync(index, [corpus_copy])
    assert str(err.value).startswith(f"{folder / 'cut.pdf'}: ")
    report = sync(index, [corpus_copy], skip_invalid=True)
    assert [str(e).split(":")[0] for e in report.skipped] == [str(folder / "cut.pdf")]
    with Catalogue(index) as cat:  # the record itself stays, without a document
        assert "document" not in cat.get(TERRORISM).to_dict()


def test_several_pdfs_are_read_by_worker_processes_and_land_on_their_pages(
        tmp_path: Path, corpus_copy: Path) -> None:
    """A run with several PDFs to read reads them in worker processes
    (``documents.PARALLEL_MIN`` and more): each one's text lands in its
    record, on its page; one that cannot be read is named, and with
    ``skip_invalid`` the others are indexed."""
    from thb_search import documents

    index = tmp_path / "index"
    sync(index, [corpus_copy])
    owners = [TERRORISM, NRM_HANDBOOK, SUPPLY_CHAINS, THREE_ACTION_AREAS, GENDER_BRIEF]
    assert len(owners) > documents.PARALLEL_MIN
    for k, rid in enumerate(owners):
        folder = corpus_copy / "documents" / rid
        folder.mkdir(parents=True)
        forty_pages(folder / f"doc-{k}.pdf", phrase_page=3 + k, seed=20 + k)
    cut = corpus_copy / "documents" / JUSTICE_BIH / "cut.pdf"
    cut.parent.mkdir()
    pdfs.truncated_pdf(cut, pdfs.sample_pdf(tmp_path / "good.pdf"))
    with pytest.raises(CorpusErrors) as err:
        sync(index, [corpus_copy])
    assert str(err.value).startswith(f"{cut}: ")
    report = sync(index, [corpus_copy], skip_invalid=True)
    assert [str(e).split(":")[0] for e in report.skipped] == [str(cut)]
    # (read by the run that stopped: the text store keeps what it read)
    assert (report.documents, report.documents_read) == (5, 0)
    with Catalogue(index) as cat:
        hits = cat.search("debt bondage domestic work", limit=10).hits
        assert sorted((h.id, h.pages, h.snippet_page) for h in hits) == sorted(
            (rid, (3 + k,), 3 + k) for k, rid in enumerate(owners))


def test_a_scan_is_indexed_with_its_record_and_a_warning(tmp_path: Path,
                                                         corpus_copy: Path) -> None:
    folder = corpus_copy / "documents" / TERRORISM
    folder.mkdir(parents=True)
    pdfs.pages_pdf(folder / "scan.pdf", [[], []])
    report = sync(tmp_path / "index", [corpus_copy])
    assert report.warnings == (
        f"{folder / 'scan.pdf'}: no text layer (a scan?): publication {TERRORISM!r} is indexed "
        "with its record's metadata only",)
    with Catalogue(tmp_path / "index") as cat:
        assert cat.search("terrorism").hits[0].id == TERRORISM


def test_a_pdf_on_its_own_is_a_publication_until_a_record_describes_it(
        tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    sync(index, [corpus_copy])
    pdf = pdfs.sample_pdf(tmp_path / "handbook.pdf")
    report = add_files(corpus_copy, index, [pdf])
    (dest,) = [Path(d) for _, d in report.copied]
    rid = dest.parent.name
    assert dest == corpus_copy / "documents" / rid / "handbook.pdf"
    assert (report.index.total, report.index.added) == (11, 1)
    with Catalogue(index) as cat:
        pub = cat.get(rid)
        assert (pub.title, pub.date) == (pdfs.TITLE, "2023-05-17")
        assert cat.search("financial investigations").hits[0].id == rid
    # A catalogue record with that id describes it from then on.
    (corpus_copy / "more.jsonl").write_text(json.dumps(
        {"id": rid, "title": "Handbook, described", "date": "2023-06-01"}) + "\n")
    sync(index, [corpus_copy])
    with Catalogue(index) as cat:
        assert cat.get(rid).title == "Handbook, described"
        assert cat.get(rid).document_pages == pdfs.SAMPLE_PAGES
        assert cat.search("financial investigations").hits[0].id == rid


def test_a_file_key_names_a_record_s_document(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    forty_pages(tmp_path / "docs" / "report.pdf")
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"id": "r1", "title": "A report", "file": "docs/report.pdf"}) + "\n"
        + json.dumps({"id": "r2", "title": "Another", "file": "docs/missing.pdf"}) + "\n")
    with pytest.raises(CorpusErrors) as err:
        sync(tmp_path / "index", [tmp_path / "c.jsonl"])
    assert str(err.value) == (f"{tmp_path / 'c.jsonl'}:2: file 'docs/missing.pdf' does not "
                              "exist (a path relative to the folder of c.jsonl, or an "
                              "absolute one)")
    report = sync(tmp_path / "index", [tmp_path / "c.jsonl"], skip_invalid=True)
    assert (report.total, report.documents) == (1, 1)
    with Catalogue(tmp_path / "index") as cat:
        assert cat.search("bondage").hits[0].snippet_page == 27


def test_two_documents_for_one_record_is_an_error(tmp_path: Path, corpus_copy: Path) -> None:
    folder = corpus_copy / "documents" / TERRORISM
    folder.mkdir(parents=True)
    pdfs.pages_pdf(folder / "a.pdf", [["one"]])
    pdfs.pages_pdf(folder / "b.pdf", [["two"]])
    with pytest.raises(CorpusErrors) as err:
        sync(tmp_path / "index", [corpus_copy])
    assert str(err.value) == (f"{folder}/: 2 documents for record {TERRORISM!r} (a.pdf, "
                              "b.pdf): a record has one; keep one")


def test_attaching_replaces_the_document_and_add_checks_its_arguments(
        attached: tuple[Path, Path]) -> None:
    corpus, index = attached
    new = pdfs.pages_pdf(corpus.parent / "second.pdf", [["Forced labour in supply chains."]])
    add_files(corpus, index, [new], to=TERRORISM)
    folder = corpus / "documents" / TERRORISM
    assert sorted(p.name for p in folder.iterdir()) == ["second.pdf"]
    with Catalogue(index) as cat:
        assert cat.search('"debt bondage"').total == 0
        assert cat.get(TERRORISM).document_pages == 1
    with pytest.raises(ParameterError) as err:
        add_files(corpus, index, [new, new], to=TERRORISM)
    assert str(err.value) == ("--to attaches one PDF to a record: give exactly one .pdf file "
                              "with it")


def test_a_document_of_words_the_index_has_met_is_analysed_from_its_lexicon(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attaching a document looks its words up in the index's lexicon at once:
    when the index has met them all (words no English word list holds), the
    new process never imports NLTK (0.3 s) to stem them; the document is then
    found by its words."""
    import subprocess
    import sys

    from thb_search import writer

    coined = "zorblath quexantic vrimmeldorf plonquist skaverine drublitz".split()
    rng = random.Random(5)

    def pdf(path: Path, marked_page: int) -> Path:
        pages = [[" ".join(rng.choices(coined, k=8)) for _ in range(6)] for _ in range(4)]
        pages[marked_page - 1].append("glimmerwort fennoscandic")
        return pdfs.pages_pdf(path, pages)

    index = tmp_path / "index"
    add_files(corpus_copy, index, [pdf(tmp_path / "a.pdf", 2)], to=TERRORISM[:5])
    script = ("import sys, thb_search\n"
              f"thb_search.add_files({str(corpus_copy)!r}, {str(index)!r}, "
              f"[{str(pdf(tmp_path / 'b.pdf', 4))!r}], to={NRM_HANDBOOK[:6]!r})\n"
              "print('nltk' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "False\n", "")
    with Catalogue(index) as cat:
        hits = cat.search('"glimmerwort fennoscandic"').hits
        assert {h.id: h.snippet_page for h in hits} == {TERRORISM: 2, NRM_HANDBOOK: 4}
    # A search for a word met only in documents needs no NLTK either; a
    # rebuild (its records shared among writer processes) keeps those words.
    search = ("import sys, thb_search\n"
              f"cat = thb_search.Catalogue({str(index)!r})\n"
              "print(cat.search('skaverine').total, 'nltk' in sys.modules)\n")
    for rebuilt in (False, True):
        if rebuilt:
            monkeypatch.setattr(writer, "PARALLEL_MIN_DOCS", 1)
            sync(index, [corpus_copy], rebuild=True)
        done = subprocess.run([sys.executable, "-c", search], capture_output=True, text=True,
                              check=False)
        assert (done.returncode, done.stdout, done.stderr) == (0, "2 False\n", "")


def test_documents_are_found_by_folder_through_links_and_hidden_files_left_out(
        tmp_path: Path) -> None:
    from thb_search.documents import find_documents

    corpus = tmp_path / "corpus"
    docs = corpus / "documents"
    (docs / "rec-a").mkdir(parents=True)
    pdfs.pages_pdf(docs / "rec-a" / "a.PDF", [["one"]])
    (docs / "rec-a" / "notes.txt").write_text("not a document", encoding="utf-8")
    (docs / "rec-a" / ".b.pdf").write_bytes(b"hidden")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = pdfs.pages_pdf(elsewhere / "real.pdf", [["two"]])
    (docs / "rec-b").mkdir()
    (docs / "rec-b" / "b.pdf").symlink_to(real)  # a linked PDF
    (elsewhere / "rec-c").mkdir()
    pdfs.pages_pdf(elsewhere / "rec-c" / "c.pdf", [["three"]])
    (docs / "rec-c").symlink_to(elsewhere / "rec-c")  # a linked folder
    (docs / ".rec-d").mkdir()  # hidden: not a record's
    pdfs.pages_pdf(docs / ".rec-d" / "d.pdf", [["four"]])
    (docs / "rec-e").mkdir()  # no PDF
    (docs / "stray.pdf").write_bytes(b"%PDF-")  # not in a record's folder

    found = find_documents([corpus])
    assert found.by_id == {"rec-a": docs.resolve() / "rec-a" / "a.PDF",
                           "rec-b": real.resolve(),
                           "rec-c": (elsewhere / "rec-c" / "c.pdf").resolve()}
    assert list(found.by_id) == ["rec-a", "rec-b", "rec-c"]
    assert found.errors == []


@pytest.mark.parametrize("chunk", [1, 2, 64])
def test_the_text_store_gives_every_page_in_order_up_to_a_missing_one(
        tmp_path: Path, chunk: int) -> None:
    from thb_search.texts import TextStore

    store = TextStore(tmp_path)
    assert list(store.pages("none", chunk)) == []  # no store yet
    texts = [f"page {n}" if n % 5 else "" for n in range(1, 131)]  # 130: two chunks and some
    store.put("a" * 64, texts, "Title", None)
    store.put("b" * 64, ["one", "two", "three", "four"], "", None)
    assert list(store.pages("a" * 64, chunk)) == texts
    assert list(store.pages("b" * 64, chunk)) == ["one", "two", "three", "four"]
    assert list(store.pages("c" * 64, chunk)) == []
    with store._connect() as db:  # a page gone missing: the pages before it
        db.execute("DELETE FROM pages WHERE sha256 = ? AND page = 3", ("b" * 64,))
    assert list(store.pages("b" * 64, chunk)) == ["one", "two"]
    store.close()
