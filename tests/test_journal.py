"""An ``add`` cut off half-way is finished or undone by the next command,
which says which; one still running is left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from conftest import NRM_HANDBOOK, SMALL_LISTING
from pdfs import pages_pdf
from thb_search import Catalogue
from thb_search.cli import cli
from thb_search.journal import PREFIX

ORGANS = "Factsheet: Organ Removal"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _journal(corpus: Path, pid: int, stage: str, copies: list[Path],
             replaced: list[tuple[Path, Path]] = ()) -> Path:
    path = corpus / f"{PREFIX}{pid}.json"
    path.write_text(json.dumps({"pid": pid, "stage": stage, "copies": [str(c) for c in copies],
                                "replaced": [[str(a), str(b)] for a, b in replaced]}), "utf-8")
    return path


def _index(runner: CliRunner, corpus: Path, index: Path):  # noqa: ANN202
    return runner.invoke(cli, ["index", "--corpus", str(corpus), "--index", str(index)],
                         catch_exceptions=False)


def _titles(index: Path, query: str) -> list[str]:
    with Catalogue(index) as cat:
        return [h.title for h in cat.search(query).hits]


def test_an_add_cut_off_while_indexing_is_finished(runner: CliRunner, corpus_copy: Path,
                                                   tmp_path: Path) -> None:
    index = tmp_path / "index"
    assert _index(runner, corpus_copy, index).exit_code == 0
    copy = corpus_copy / "listing.txt"
    copy.write_text(SMALL_LISTING, "utf-8")
    journal = _journal(corpus_copy, _dead_pid(), "indexing", [copy])
    result = _index(runner, corpus_copy, index)
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        f"An add that was interrupted was finished: {copy} indexed now.")
    assert _titles(index, "organ removal") == [ORGANS]
    assert copy.read_text("utf-8") == SMALL_LISTING
    assert not journal.exists()


def test_an_add_cut_off_while_copying_is_undone(runner: CliRunner, corpus_copy: Path,
                                                tmp_path: Path) -> None:
    index = tmp_path / "index"
    document = corpus_copy / "documents" / NRM_HANDBOOK / "handbook.pdf"
    document.parent.mkdir(parents=True)
    pages_pdf(document, [["The old document speaks of zebrafinches."]])
    old = document.read_bytes()
    assert _index(runner, corpus_copy, index).exit_code == 0
    # The add had copied a listing, was writing a JSON Lines file, and had set
    # the record's document aside for a new one that it was copying.
    done = corpus_copy / "listing.txt"
    done.write_text(SMALL_LISTING, "utf-8")
    (corpus_copy / ".more.jsonl.part").write_text('{"title": "Cut o', "utf-8")
    aside = document.with_name(".handbook.pdf.replaced")
    document.rename(aside)
    new = document.with_name("new.pdf")
    new.write_bytes(old[:100])
    journal = _journal(corpus_copy, _dead_pid(), "copying",
                       [done, corpus_copy / "more.jsonl", new], [(document, aside)])
    result = _index(runner, corpus_copy, index)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        f"An add that was interrupted while copying was undone: {done}, "
        f"{corpus_copy / 'more.jsonl'}, {new} removed (add the files again).")
    assert sorted(str(p.relative_to(corpus_copy)) for p in corpus_copy.rglob("*")) == [
        "documents", f"documents/{NRM_HANDBOOK}", f"documents/{NRM_HANDBOOK}/handbook.pdf",
        "osce-thb-publications.txt"]
    assert document.read_bytes() == old
    assert _titles(index, "organ removal") == []
    assert _titles(index, "zebrafinches") == [
        "National Referral Mechanisms- Joining Efforts to Protect the Rights of Trafficked "
        "Persons: A Practical Handbook – Second Edition"]
    assert not journal.exists()


def test_an_add_still_running_is_left_alone(runner: CliRunner, corpus_copy: Path,
                                            tmp_path: Path) -> None:
    index = tmp_path / "index"
    copy = corpus_copy / "listing.txt"
    part = corpus_copy / ".listing.txt.part"
    part.write_text(SMALL_LISTING[:50], "utf-8")
    journal = _journal(corpus_copy, os.getpid(), "copying", [copy])
    result = _index(runner, corpus_copy, index)
    assert result.exit_code == 0
    assert "interrupted" not in result.stderr
    assert journal.exists() and part.exists()
