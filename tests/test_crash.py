"""kill -9 at any moment loses nothing: seeded trials of ``tests/crashkit.py``
(``scripts/crash_soak.py`` runs hundreds of random ones).

After each kill a search answers, one ``thb-search index`` brings the index
to exactly what a fresh rebuild of the catalogue gives, and the catalogue
folder holds the files of before or after the command, byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crashkit import Lab, Trial, run


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
