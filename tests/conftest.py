"""Shared fixtures: a CLI runner, a small corpus, the bundled catalogue's index."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from thb_search import Catalogue, sync

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "corpus"

# Ids of the ten bundled publications (derived from title and date).
THREE_ACTION_AREAS = "tqftbdr2gv"
NRM_HANDBOOK = "4wlgy4prdn"
DISCOURAGING_DEMAND = "ogor6gjydz"
JUSTICE_BIH = "c5wqbx5uqj"
GENDER_BRIEF = "cvgdk5rdtw"
SUPPLY_CHAINS = "kj3aasqbxs"
COMMUNITIES_UKRAINE = "ovq53spcme"
INCLUSION_POSTER = "45s6lvcddj"
NRM_FACTSHEET = "nwltcccbhp"
TERRORISM = "3lbbdk7dim"
ALL_IDS = {THREE_ACTION_AREAS, NRM_HANDBOOK, DISCOURAGING_DEMAND, JUSTICE_BIH, GENDER_BRIEF,
           SUPPLY_CHAINS, COMMUNITIES_UKRAINE, INCLUSION_POSTER, NRM_FACTSHEET, TERRORISM}

OSR = ("Office of the Special Representative and Co-ordinator for Combating Trafficking in "
       "Human Beings")
ODIHR = "OSCE Office for Democratic Institutions and Human Rights"
BIH = "OSCE Mission to Bosnia and Herzegovina"
UKRAINE = "OSCE Project Co-ordinator in Ukraine (closed)"

SMALL_LISTING = """\
Forced Labour in Supply Chains: A Guide
Publishing date: 3 March 2020
Content type: Guide / manual / handbook
Where we are: OSCE Mission to Serbia, OSCE Office for Democratic Institutions and Human Rights
What we do: Combating trafficking in human beings, Human rights
Publisher: Organization for Security and Co-operation in Europe
How public buyers can detect forced labour in their supply chains.

Factsheet: Organ Removal
Publishing date: 1 June 2019
Content type: Factsheet
Where we are: OSCE Mission to Serbia
What we do: Combating trafficking in human beings
Publisher: Organization for Security and Co-operation in Europe
Trafficking for the removal of organs is a grave crime.
"""


@pytest.fixture(scope="session", autouse=True)
def user_data(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A data folder of the tests' own (the signing key of the indexes they
    build lives there), never the real user's."""
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("user-data")
        mp.setenv("XDG_DATA_HOME", str(folder))
        yield folder


@pytest.fixture
def runner() -> CliRunner:
    """A runner that keeps stdout and stderr apart (click 8.2 and later always
    do; click 8.1 does when asked)."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A corpus folder with one two-record listing file."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "listing.txt").write_text(SMALL_LISTING, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory: pytest.TempPathFactory, user_data: Path) -> Path:
    """The bundled catalogue indexed once (do not modify it in a test)."""
    folder = tmp_path_factory.mktemp("bundled") / "index"
    sync(folder, [BUNDLED])
    return folder


@pytest.fixture(scope="session")
def catalogue(bundled_index: Path) -> Catalogue:
    with Catalogue(bundled_index) as cat:
        yield cat


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled corpus folder (safe to modify)."""
    folder = tmp_path / "corpus"
    shutil.copytree(BUNDLED, folder)
    return folder


@contextlib.contextmanager
def lock_held_elsewhere(index: Path) -> Iterator[int]:
    """The index's writer lock held by another process (its pid) meanwhile."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\n"
         "from thb_search.indexdir import IndexDir\n"
         "with IndexDir(sys.argv[1]).lock():\n"
         "    print('held', flush=True)\n"
         "    sys.stdin.readline()\n", str(index)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder.pid
    finally:
        holder.communicate("done\n")
