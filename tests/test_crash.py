"""kill -9 at any moment, or a full disk, loses nothing.

Seeded trials of ``tests/crashkit.py`` (``scripts/crash_soak.py`` runs
hundreds of random ones): after each kill a search answers, one
``thb-search index`` brings the index to exactly what a fresh rebuild of the
catalogue gives, and the catalogue folder holds the files of before or after
the command, byte for byte.  A full disk (a file size limit in the command's
process, whose writes then fail with EFBIG) is a one-line error, with the
catalogue and the index exactly as they were and nothing left behind.
"""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

import pytest

from crashkit import Lab, Trial, observe, run
from thb_search.indexdir import IndexDir
from thb_search.trust import unsigned


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, user_data: Path) -> Lab:
    """1,500 records (an add of 300 takes about 2 s, a rebuild 4 s)."""
    return Lab(tmp_path_factory.mktemp("crash-lab"))


# Kill moments inside each command's work on this machine's lab (any moment
# must do: a faster machine only moves where the kill lands).
TRIALS = [
    Trial("add", "command", 0.9),
    Trial("add", "all", 1.5),
    Trial("index", "command", 1.3),
    Trial("index", "all", 2.1),
    Trial("rebuild", "command", 2.5),
]


@pytest.mark.parametrize("trial", TRIALS, ids=str)
def test_a_killed_command_loses_nothing(lab: Lab, trial: Trial, tmp_path: Path) -> None:
    outcome = run(lab, trial, tmp_path / "trial")
    assert outcome.problems == []


def test_a_killed_indexing_worker_loses_nothing(tmp_path_factory: pytest.TempPathFactory,
                                                 user_data: Path, tmp_path: Path) -> None:
    """5,000 records: a rebuild writes them in worker processes; one is killed."""
    big = Lab(tmp_path_factory.mktemp("crash-lab-5k"), size=5000, states=("base",))
    outcome = run(big, Trial("rebuild", "worker", 0.5), tmp_path / "trial")
    assert outcome.killed
    assert outcome.problems == []


def _with_file_size_limit(limit: int):  # noqa: ANN202
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _leftovers(corpus: Path, index: Path) -> list[str]:
    gen = IndexDir(index).current()
    assert gen is not None
    names = [p.name for p in corpus.rglob("*") if p.name.startswith(".")]
    names += [p.name for p in index.rglob("*") if ".tmp" in p.name]
    names += [p.name for p in index.iterdir() if p.name.startswith("gen-") and p != gen]
    names += [p.name for p in unsigned(gen)]  # written by the failed commit
    return names


# The extra file is 290 KB, the index's files up to 4.7 MB: with 100 KB the
# copy fails, with more the copy succeeds and a write of the index fails.
@pytest.mark.parametrize(("op", "limit"), [("add", 100_000), ("add", 700_000),
                                           ("index", 500_000), ("rebuild", 1_000_000)])
def test_a_full_disk_is_a_clear_error_and_loses_nothing(
        lab: Lab, op: str, limit: int, tmp_path: Path) -> None:
    corpus, index, command = lab.setup(op, tmp_path / "trial")
    before = {p.name: p.read_bytes() for p in corpus.iterdir()}
    failed = subprocess.run(command, capture_output=True, text=True,
                            preexec_fn=_with_file_size_limit(limit))
    assert failed.returncode == 1
    where = corpus if op == "add" and limit < 290_400 else index
    assert failed.stderr == (
        f"Error: the disk holding {where}/ is full, or a write to it failed (the file size "
        "limit, an I/O error): free some space there and run the command again; nothing was "
        "lost and the index is as it was before this command\n")
    assert {p.name: p.read_bytes() for p in corpus.iterdir()} == before
    assert observe(index) == lab.references["base"]
    assert IndexDir(index).is_outdated() is None
    assert _leftovers(corpus, index) == []
    # With space again, the same command does what it was asked.
    subprocess.run(command, check=True, capture_output=True)
    after = {"add": "added", "index": "edited", "rebuild": "base"}[op]
    assert observe(index) == lab.references[after]
