"""Where the catalogue and the index live.

In a checkout (a ``corpus/`` folder in the current directory) they are
``./corpus`` and ``./index``.  Installed elsewhere, the catalogue shipped in
the package is copied into a per-user data folder on first use, with the index
beside it.  ``THB_SEARCH_CORPUS`` / ``THB_SEARCH_INDEX`` (or ``--corpus`` /
``--index``) override either.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .dataclass import dataclass

CORPUS_ENV = "THB_SEARCH_CORPUS"
INDEX_ENV = "THB_SEARCH_INDEX"


@dataclass(frozen=True)
class Locations:
    """The corpus and index folders a command uses (see :func:`locate`)."""

    corpus: Path
    index: Path


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when inside it, else absolute;
    folders end in ``/``."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        rel = str(path)
    shown = str(path) if rel.startswith("..") else rel
    return shown + "/" if Path(path).is_dir() and not shown.endswith("/") else shown


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/thb-search`` (``~/.local/share/thb-search``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "thb-search"


def bundled_catalogue() -> list[Path]:
    """The catalogue files shipped inside the package."""
    folder = Path(__file__).with_name("data") / "catalogue"
    return sorted(p for p in folder.iterdir() if p.name.endswith(".txt"))


def locate(corpus: str | os.PathLike[str] | None = None,
           index: str | os.PathLike[str] | None = None) -> Locations:
    """The corpus and index folders to use (explicit, then environment, then defaults)."""
    corpus = corpus or os.environ.get(CORPUS_ENV) or None
    index = index or os.environ.get(INDEX_ENV) or None
    here = Path.cwd()
    checkout = (here / "corpus").is_dir()
    if corpus is None:
        if checkout:
            corpus_path = here / "corpus"
        else:
            corpus_path = user_data_dir() / "corpus"
            if not corpus_path.exists():
                corpus_path.mkdir(parents=True)
                for f in bundled_catalogue():
                    shutil.copyfile(f, corpus_path / f.name)
    else:
        corpus_path = Path(corpus).expanduser()
    if index is None:
        index_path = here / "index" if checkout else user_data_dir() / "index"
    else:
        index_path = Path(index).expanduser()
    return Locations(corpus_path.absolute(), index_path.absolute())
