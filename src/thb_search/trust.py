"""Only indexes this user's thb-search wrote are ever opened.

Whoosh unpickles what it reads (the table of contents, stored fields, posting
blocks): an index folder from somewhere else could run code.  So every
generation thb-search writes is signed: ``MANIFEST`` lists each file with
its SHA-256 and how it was last seen (size, inode, change and modification
times), and an HMAC-SHA256 over that list, keyed by a secret made on first
use in the user's data folder (``index.key``, mode 0600) and never stored in
an index.  Before any file of a generation is opened, :func:`verify` checks
the HMAC, then each signed file: one that looks as signed (same size, inode
and times; a changed file always has a new change time) is trusted without
being read; any other is hashed and must have the signed hash.  Files added
since (a writer's new segments) are never read unless a signed table of
contents names them; an unsigned table of contents is refused.  A generation that
fails is never opened: it is rebuilt from its catalogue, with a message
saying why.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .locations import user_data_dir

MANIFEST = "MANIFEST"
KEY_FILE = "index.key"
#: Files of a generation that are not signed: the manifest itself, Whoosh's
#: empty lock file, files being written (``.tmp``), and SQLite's side files
#: (the lexicon is signed; its journal comes and goes).
_UNSIGNED_SUFFIXES = ("-journal", "-wal", "-shm", ".tmp")
_UNSIGNED_NAMES = {MANIFEST, "MAIN_WRITELOCK"}
#: The mark of a signed file that a later commit no longer uses.
SUPERSEDED = "superseded"


def key() -> bytes:
    """This user's signing key (made on first use, readable by the user only)."""
    path = user_data_dir() / KEY_FILE
    try:
        return bytes.fromhex(path.read_text("ascii").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(fresh + "\n")
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text("ascii").strip())


def _entries(gen: Path) -> dict[str, os.DirEntry[str]]:
    """The generation's files to sign, by name (a directory entry stats its
    file once, when first asked)."""
    with os.scandir(gen) as found:
        return {e.name: e for e in found
                if e.name not in _UNSIGNED_NAMES and not e.name.endswith(_UNSIGNED_SUFFIXES)
                and ".tmp." not in e.name and e.is_file()}


def files_to_sign(gen: Path) -> list[Path]:
    """The generation's files a signature covers (as they are now)."""
    return [gen / name for name in sorted(_entries(gen))]


def _seen(path: Path | os.DirEntry[str]) -> list[int]:
    return _stamp(path.stat())


def _stamp(st: os.stat_result) -> list[int]:
    """What a signature records of a file's stat (a change to the file changes it)."""
    return [st.st_size, st.st_ino, st.st_ctime_ns, st.st_mtime_ns]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _mac(files: dict[str, Any]) -> str:
    body = json.dumps(files, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key(), body, hashlib.sha256).hexdigest()


def _read(gen: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((gen / MANIFEST).read_text("utf-8"))
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return None
    return data


def sign(gen: Path, superseded: Iterable[str] = (),
         written: Mapping[str, tuple[str, os.stat_result]] | None = None) -> None:
    """Sign a generation's files as they are now (hashing only the files that
    changed since the last signature).  Files named in ``superseded`` are
    about to be removed: the signature holds without them.  ``written``
    gives the SHA-256 of files the caller has just written (hashed from
    what it wrote) with their stat then: such a file, seen as it was then,
    is not read again.  Every file new or changed since the last signature
    is synced to disk before the signature is written (:func:`_make_durable`),
    and the folder after it."""
    old = _read(gen)
    signed = old["files"] if old and hmac.compare_digest(str(old.get("hmac", "")),
                                                          _mac(old["files"])) else {}
    gone = set(superseded)
    known = {name: [digest, *_stamp(st)] for name, (digest, st) in (written or {}).items()}
    files: dict[str, Any] = {}
    changed: list[str] = []
    for name, entry in sorted(_entries(gen).items()):
        seen = _seen(entry)
        before = signed.get(name)
        if before and before[1:5] == seen:
            files[name] = before[:5]
        else:
            changed.append(entry.path)
            if name in known and known[name][1:5] == seen:
                files[name] = list(known[name])
            else:
                files[name] = [_sha256(Path(entry.path)), *seen]
        if name in gone:
            files[name].append(SUPERSEDED)
    _make_durable(changed)
    tmp = gen / (MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"files": files, "hmac": _mac(files)}, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, gen / MANIFEST)
    fsync_path(gen)  # the signature's new name, before superseded files go


def synced_digests(paths: Sequence[Path]) -> dict[str, tuple[str, os.stat_result]]:
    """The SHA-256 and stat of each file, once synced to disk: what
    :func:`sign` takes as ``written`` for files complete before the rest (a
    thread can do this meanwhile: hashing and syncing leave the
    interpreter's lock)."""
    out = {}
    for path in paths:
        fsync_path(path)
        out[path.name] = (_sha256(path), path.stat())
    return out


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Sync a file's contents, or a folder's names, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Files :func:`_make_durable` syncs one after another rather than by threads.
DURABLE_IN_TURN = 16


def _make_durable(paths: list[str]) -> None:
    """Have the contents of files reach the disk before a signature vouches
    for them: a file cut short by a power cut after the signature would
    still look as signed (same size, inode and times), so be trusted unread.
    A few files (an add's: its segment, table of contents, arrays and
    states) are synced one after another: the first fsync's journal commit
    takes most of the others' data with it, and a pool of threads took
    longer to start than they took (an add of 10 at 100k records: 2.0-2.4 ms,
    against 3.2-6.3).  Many (a build's) are synced at once, by threads: each
    fsync of a small file waits for a journal commit, which fsyncs running
    together share."""
    if len(paths) <= DURABLE_IN_TURN:
        for path in paths:
            fsync_path(path)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
        list(pool.map(fsync_path, paths))


def superseded(gen: Path) -> list[Path]:
    """The files of a generation that its signature marks as superseded."""
    data = _read(gen)
    if data is None:
        return []
    return [gen / n for n, entry in data["files"].items() if entry[5:] == [SUPERSEDED]]


def unsigned(gen: Path) -> list[Path]:
    """The files of a validly signed generation that its signature does not
    cover: what a writer killed (or failed) before signing left behind."""
    data = _read(gen)
    if data is None or not hmac.compare_digest(str(data.get("hmac", "")),
                                               _mac(data["files"])):
        return []
    return [p for p in files_to_sign(gen) if p.name not in data["files"]]


#: Files of a generation that hold no pickle and are derived from Whoosh's
#: files (or a cache of words): a commit cut off before its signature may have
#: rewritten them, and they can be made again from the signed Whoosh files.
DERIVED = ("thb-state.json", "state-", "lexicon.sqlite", "facets-")


def verify(gen: Path, *, derived: bool = True) -> str | None:
    """Why a generation is not to be opened (None: it is this user's, intact).

    With ``derived=False`` the files in :data:`DERIVED` are not checked: what
    is left is whether Whoosh's files (the ones that are unpickled) are safe.
    A file that vanishes while it is checked (a commit removing what it
    superseded) makes the check start again, with the new signature."""
    for _ in range(5):
        try:
            return _verify(gen, derived)
        except FileNotFoundError:
            continue
    return "its files kept changing while they were checked"


def _verify(gen: Path, derived: bool) -> str | None:
    data = _read(gen)
    if data is None:
        return "it is not signed by this user's thb-search (built elsewhere, or by an " \
               "older version)"
    files = data["files"]
    if not hmac.compare_digest(str(data.get("hmac", "")), _mac(files)):
        return "its signature is not this user's (it was built elsewhere, or changed)"
    present = _entries(gen)
    # Files written since the signature are never read, unless one is a table
    # of contents (Whoosh opens the latest): a commit not signed (yet).
    extra = sorted(n for n in set(present) - set(files) if n.endswith(".toc"))
    if extra:
        return f"its table of contents {extra[0]} is not signed"
    for name, entry in files.items():
        if not derived and name.startswith(DERIVED):
            continue
        path = present.get(name)
        if path is None:
            if entry[5:] == [SUPERSEDED]:
                continue  # removed after the commit that replaced it was signed
            return f"a signed file is missing ({name})"
        if _seen(path) != entry[1:5] and _sha256(Path(path.path)) != entry[0]:
            return f"a file was changed after it was signed ({name})"
    return None
