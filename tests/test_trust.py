"""An index folder from somewhere else never runs code: generations are
signed with this user's key and checked before Whoosh reads a byte."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUNDLED, TERRORISM
from thb_search import Catalogue, sync
from thb_search.errors import IndexCorruptError
from thb_search.indexdir import IndexDir
from thb_search.trust import KEY_FILE, MANIFEST, files_to_sign, sign, synced_digests, verify


class Planted:
    """A pickle that, when loaded, writes a file: what a hostile index could do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (os.system, (f"touch {self.target}",))


def built(tmp_path: Path) -> tuple[Path, Path]:
    index = tmp_path / "index"
    sync(index, [BUNDLED])
    return index, IndexDir(index).current()


def test_a_built_index_is_signed_and_checks(tmp_path: Path, user_data: Path) -> None:
    _, gen = built(tmp_path)
    assert verify(gen) is None
    assert (user_data / "thb-search" / KEY_FILE).stat().st_mode & 0o777 == 0o600
    names = set(__import__("json").loads((gen / MANIFEST).read_text())["files"])
    assert {"SCHEMA_VERSION", "thb-state.json", "lexicon.sqlite"} <= names
    assert any(n.endswith(".toc") for n in names) and "MAIN_WRITELOCK" not in names


def test_a_changed_or_added_file_fails_the_check(tmp_path: Path) -> None:
    _, gen = built(tmp_path)
    (toc,) = gen.glob("*.toc")
    data = toc.read_bytes()
    toc.write_bytes(data)  # the same bytes, a new change time: hashed, still good
    assert verify(gen) is None
    (seg,) = gen.glob("*.trm")
    seg.write_bytes(seg.read_bytes()[:-1] + b"x")
    assert verify(gen) == f"a file was changed after it was signed ({seg.name})"
    sign(gen)
    assert verify(gen) is None
    (gen / "_MAIN_9.toc").write_bytes(b"x")
    assert verify(gen) == "its table of contents _MAIN_9.toc is not signed"
    (gen / "_MAIN_9.toc").unlink()
    (gen / "segment.new").write_bytes(b"x")  # never read: no table of contents names it
    assert verify(gen) is None
    seg.unlink()
    assert verify(gen) == f"a signed file is missing ({seg.name})"


def test_another_user_s_index_fails_the_check(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, gen = built(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "someone-else"))
    assert verify(gen) == ("its signature is not this user's (it was built elsewhere, or "
                           "changed)")
    (gen / MANIFEST).unlink()
    assert verify(gen) == ("it is not signed by this user's thb-search (built elsewhere, or by "
                           "an older version)")


def test_a_planted_pickle_never_runs(tmp_path: Path, corpus_copy: Path) -> None:
    index, gen = built(tmp_path)
    target = tmp_path / "pwned"
    (toc,) = gen.glob("*.toc")
    toc.write_bytes(pickle.dumps(Planted(target)))
    # The pickle works: loading it would write the file.
    assert not target.exists()
    with pytest.raises(IndexCorruptError) as err:
        Catalogue(index)
    assert str(err.value) == (
        f"the index at {index}/ is not opened: a file was changed after it was signed "
        f"({toc.name}): rebuild it from the catalogue with 'thb-search index --rebuild'")
    # The command says why and rebuilds; the pickle is never loaded.
    result = subprocess.run(
        [sys.executable, "-m", "thb_search", "terrorism", "--index", str(index), "--corpus",
         str(corpus_copy), "--format", "jsonl"], capture_output=True, text=True, env=os.environ)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"The index at {index}/ is not opened: a file was changed after it was signed "
        f"({toc.name}); rebuilding it.")
    assert TERRORISM in result.stdout
    assert not target.exists()
    assert not toc.exists()  # the hostile generation is gone


def test_a_copied_index_is_rebuilt_not_opened(tmp_path: Path, corpus_copy: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    index, gen = built(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "other-user"))
    messages: list[str] = []
    with Catalogue(index, corpus=[corpus_copy], notify=messages.append) as cat:
        assert len(cat) == 10
    assert messages == [f"the index at {index}/ is not opened: its signature is not this "
                        "user's (it was built elsewhere, or changed); rebuilding it"]
    assert verify(IndexDir(index).current()) is None


def test_hashes_handed_to_sign_are_the_files_own(tmp_path: Path, corpus_copy: Path) -> None:
    """The facet arrays are hashed from memory while written (not read back):
    after a build and an add, every signed hash is the file's own SHA-256, so
    a copy of the index (new inodes: every file hashed) still checks."""
    import hashlib
    import json
    import shutil
    import threading

    index = tmp_path / "index"
    sync(index, [corpus_copy])
    record = {"id": "new-1", "title": "Victim identification at borders",
              "date": "2023-05-02", "type": "Guide / manual / handbook",
              "office": ["OSCE Secretariat"], "themes": ["Border management"]}
    (corpus_copy / "new.jsonl").write_text(json.dumps(record) + "\n", "utf-8")
    assert sync(index, [corpus_copy]).added == 1
    for thread in threading.enumerate():  # the superseded arrays being removed
        if thread.name == "thb-remove-arrays":
            thread.join()
    gen = IndexDir(index).current()
    files = json.loads((gen / MANIFEST).read_text("utf-8"))["files"]
    current = {n: e for n, e in files.items() if e[5:] != ["superseded"]}
    assert any(name.startswith("facets-") for name in current)
    for name, entry in current.items():
        assert hashlib.sha256((gen / name).read_bytes()).hexdigest() == entry[0], name
    copy = tmp_path / "copy"
    shutil.copytree(gen, copy)
    assert verify(copy) is None


def recorded_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the files synced from now on, in order (from any thread)."""
    import threading

    synced: list[str] = []
    lock = threading.Lock()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        with lock:
            synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_what_a_signature_vouches_for_is_on_disk_before_it(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A power cut after a commit's signature must not leave a signed file
    whose contents never reached the disk (it would look as signed, so be
    trusted unread): every file an add wrote is synced before the signature
    is, and the folder (the signature's new name) after it."""
    import json

    index = tmp_path / "index"
    sync(index, [corpus_copy])
    gen = IndexDir(index).current()
    before = set(json.loads((gen / MANIFEST).read_text("utf-8"))["files"])
    synced = recorded_fsyncs(monkeypatch)
    record = {"id": "new-1", "title": "Victim identification at borders"}
    (corpus_copy / "new.jsonl").write_text(json.dumps(record) + "\n", "utf-8")
    assert sync(index, [corpus_copy]).added == 1
    files = json.loads((gen / MANIFEST).read_text("utf-8"))["files"]
    new = {name for name in files if name not in before}
    assert any(name.endswith(".trm") for name in new)  # the add's segment
    assert any(name.endswith(".toc") for name in new)
    signature = synced.index(str(gen / (MANIFEST + ".tmp")))
    assert new <= {Path(p).name for p in synced[:signature]}
    assert str(gen) in synced[signature + 1:]


def test_a_file_changed_after_it_was_hashed_ahead_is_hashed_again(tmp_path: Path) -> None:
    """Hashes taken ahead (:func:`synced_digests`, which a rebuild runs in a
    thread) are only trusted for a file seen as it was then."""
    _, gen = built(tmp_path)
    ahead = synced_digests(files_to_sign(gen))
    assert set(ahead) == {p.name for p in files_to_sign(gen)}
    version = gen / "SCHEMA_VERSION"
    version.write_text(version.read_text("utf-8") + "\n", "utf-8")
    sign(gen, written=ahead)
    assert verify(gen) is None


def test_a_rebuild_syncs_every_file_it_signs_before_the_signature(
        tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoosh's files, hashed and synced by a thread while the rest of a
    rebuild is written, and the rest: all on disk before the signature, each
    signed with its own hash."""
    import hashlib
    import json

    index = tmp_path / "index"
    synced = recorded_fsyncs(monkeypatch)
    sync(index, [corpus_copy], rebuild=True)
    gen = IndexDir(index).current()
    files = json.loads((gen / MANIFEST).read_text("utf-8"))["files"]
    assert any(name.endswith(".trm") for name in files)
    signature = synced.index(str(gen / (MANIFEST + ".tmp")))
    assert set(files) <= {Path(p).name for p in synced[:signature]}
    for name, entry in files.items():
        if entry[5:] != ["superseded"]:  # (removed once signed)
            assert hashlib.sha256((gen / name).read_bytes()).hexdigest() == entry[0], name
