"""Kill ``thb-search`` at a random moment, then check what it left behind.

One :class:`Lab` holds a generated catalogue in three states and, for each,
the index a fresh rebuild gives (the reference).  A :class:`Trial` starts a
command on a copy of one state (``add`` of a new catalogue file, ``index``
after records were changed, added and removed, ``index --rebuild``), sends
SIGKILL after a random delay to the command, to one of its worker processes,
or to all of them (a power cut), and then checks, as a user would:

1. a search answers (exit 0, JSON), straight after the kill;
2. one ``thb-search index`` succeeds;
3. the catalogue folder holds exactly the files of the state before the
   command or (for ``add``) after it, byte for byte, and nothing else
   (no journal, no half-written copy);
4. the index answers exactly as the reference of that state: every
   publication in the same order, the same hits, scores and facet counts
   for a set of queries, the same records and similar publications;
5. the index folder holds one generation and no leftovers, and no process
   of the command is still running.

Used by ``tests/test_crash.py`` (a few seeded trials) and
``scripts/crash_soak.py`` (hundreds).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thb_search import Catalogue, sync

REPO = Path(__file__).resolve().parent.parent
COMMAND = str(Path(sys.executable).with_name("thb-search"))
OPS = ("add", "index", "rebuild")
VICTIMS = ("command", "worker", "all")
QUERIES = ("", "forced labour", "trafficking victims", '"national referral"',
           "labour -children", "protect*", "title:report OR summary:survivors")
STATES = ("base", "added", "edited")


def _generate(size: int, out: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "generate.py"), "--size",
                    str(size), "--out", str(out)], check=True, capture_output=True)


def observe(index: Path) -> dict[str, Any]:
    """Everything a user can see of an index, as plain data."""
    with Catalogue(index) as cat:
        every = cat.search("", sort="date", limit=100_000)
        ids = [h.id for h in every.hits]
        sample = ids[:: max(1, len(ids) // 25)]
        return {
            "total": every.total,
            "ids": ids,
            "queries": {q: cat.search(q, limit=50).to_dict() for q in QUERIES},
            "facets": {name: [c.to_dict() for c in counts]
                       for name, counts in cat.facets().items()},
            "records": {rid: cat.get(rid).to_dict() for rid in sample},
            "similar": {rid: [h.id for h in cat.similar(rid, limit=5).hits]
                        for rid in sample[:5]},
        }


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass
class Lab:
    """A catalogue of ``size`` records in three states (or those of ``states``),
    and their references."""

    root: Path
    size: int = 1500
    extra: int = 300
    states: tuple[str, ...] = STATES
    references: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        source = self.root / "generated.jsonl"
        if not source.exists():
            _generate(self.size + self.extra, source)
        lines = source.read_text("utf-8").splitlines(keepends=True)
        base, extra = lines[:self.size], lines[self.size:]
        self.extra_file = self.root / "extra.jsonl"
        self.extra_file.write_text("".join(extra), "utf-8")
        edited = [*self._changed(base[:self.extra]), *base[2 * self.extra:], *extra]
        self.catalogues = {
            "base": {"base.jsonl": "".join(base)},
            "added": {"base.jsonl": "".join(base), "extra.jsonl": "".join(extra)},
            "edited": {"base.jsonl": "".join(edited)},
        }
        for state in self.states:
            folder = self._state(state)
            if not (folder / "index").exists():
                self._write(state, folder / "corpus")
                sync(folder / "index", [folder / "corpus"])
            self.references[state] = observe(folder / "index")

    @staticmethod
    def _changed(lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            record = json.loads(line)
            record["summary"] = "Revised: " + record["summary"]
            out.append(json.dumps(record, ensure_ascii=False) + "\n")
        return out

    def _state(self, state: str) -> Path:
        return self.root / f"state-{state}"

    def _write(self, state: str, corpus: Path) -> None:
        corpus.mkdir(parents=True, exist_ok=True)
        for name, text in self.catalogues[state].items():
            (corpus / name).write_text(text, "utf-8")

    def setup(self, op: str, folder: Path) -> tuple[Path, Path, list[str]]:
        """A catalogue and index for ``op`` in ``folder``: (corpus, index, command)."""
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        corpus, index = folder / "corpus", folder / "index"
        shutil.copytree(self._state("base") / "index", index)
        self._write("edited" if op == "index" else "base", corpus)
        args = {"add": ["add", str(self.extra_file)], "index": ["index"],
                "rebuild": ["index", "--rebuild"]}[op]
        return corpus, index, [COMMAND, *args, "--corpus", str(corpus), "--index", str(index)]

    def states_after(self, op: str) -> tuple[str, ...]:
        """The catalogue states a command may leave (not run, or run)."""
        return {"add": ("base", "added"), "index": ("edited",), "rebuild": ("base",)}[op]


@dataclass
class Trial:
    """One kill: of ``victim`` during ``op``, ``delay`` seconds after its start."""

    op: str
    victim: str
    delay: float

    @classmethod
    def draw(cls, rng: random.Random, durations: dict[str, float],
             workers: bool) -> Trial:
        """A trial at random (``workers``: whether a rebuild has worker processes)."""
        op = rng.choice(OPS)
        victim = rng.choice(VICTIMS if op == "rebuild" and workers else ("command", "all"))
        return cls(op, victim, round(rng.uniform(0.0, durations[op]), 3))

    def __str__(self) -> str:
        return f"kill {self.victim} of {self.op} at {self.delay:.3f} s"


def _workers(pid: int) -> list[int]:
    """The indexing worker processes of ``pid`` (not multiprocessing's helper)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    workers = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(int(child))
    return workers


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies, dead and
    waiting to be reaped, do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def timed(lab: Lab, op: str, folder: Path) -> float:
    """How long ``op`` takes when nothing kills it (to draw kill moments from)."""
    _, _, command = lab.setup(op, folder)
    start = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - start


@dataclass
class Outcome:
    """What a trial found: whether the kill landed, how the next commands
    recovered (their messages), and what went wrong (empty: nothing)."""

    killed: bool = False
    recovery: str = "none needed"
    problems: list[str] = field(default_factory=list)


RECOVERIES = (("interrupted was finished", "add finished"),
              ("interrupted while copying was undone", "add undone"),
              ("did not finish", "commit rolled back"),
              ("rebuilding it", "rebuilt"))


def run(lab: Lab, trial: Trial, folder: Path) -> Outcome:
    """Run one trial and check what it left."""
    outcome = Outcome()
    outcome.problems = _run(lab, trial, folder, outcome)
    return outcome


def _run(lab: Lab, trial: Trial, folder: Path, outcome: Outcome) -> list[str]:
    corpus, index, command = lab.setup(trial.op, folder)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + trial.delay
    victim = None
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    if proc.poll() is None:
        outcome.killed = True
        if trial.victim == "all":
            os.killpg(proc.pid, signal.SIGKILL)
        elif trial.victim == "worker":
            # wait for the writer's worker processes (spawned with the rebuild)
            while proc.poll() is None and victim is None:
                workers = _workers(proc.pid)
                victim = random.Random(trial.delay).choice(workers) if workers else None
                time.sleep(0.01)
            if victim is not None:
                os.kill(victim, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return ["the command did not end within 120 s of the kill"]
    proc.stderr.close()
    problems = []
    for _ in range(100):  # workers notice within a second or two
        if not _group_alive(proc.pid):
            break
        time.sleep(0.05)
    else:
        problems.append("processes of the killed command were still running 5 s later")
        os.killpg(proc.pid, signal.SIGKILL)

    base = [COMMAND, "--corpus", str(corpus), "--index", str(index)]
    search = subprocess.run([*base, "forced labour", "--json"], capture_output=True,
                            text=True)
    if search.returncode != 0:
        problems.append(f"search after the kill: exit {search.returncode}: "
                        f"{search.stderr.strip()[-300:]}")
    else:
        json.loads(search.stdout)
    indexed = subprocess.run([COMMAND, "index", "--corpus", str(corpus), "--index",
                              str(index)], capture_output=True, text=True)
    if indexed.returncode != 0:
        problems.append(f"index after the kill: exit {indexed.returncode}: "
                        f"{indexed.stderr.strip()[-300:]}")
        return problems

    said = search.stderr + indexed.stderr
    outcome.recovery = next((name for words, name in RECOVERIES if words in said),
                            outcome.recovery)
    files = _files(corpus)
    state = next((s for s in lab.states_after(trial.op)
                  if files == {n: t.encode() for n, t in lab.catalogues[s].items()}), None)
    if state is None:
        problems.append(f"the catalogue folder holds {sorted(files)}, which is no state of "
                        "the catalogue before or after the command")
        return problems
    seen = observe(index)
    reference = lab.references[state]
    for key in reference:
        if seen[key] != reference[key]:
            problems.append(f"the index differs from a fresh rebuild of the catalogue ({state})"
                            f" in {key}")
    gens = sorted(p.name for p in index.iterdir() if p.name.startswith("gen-"))
    leftovers = sorted(p.name for p in index.rglob("*") if ".tmp" in p.name)
    if len(gens) != 1 or leftovers:
        problems.append(f"index folder: generations {gens}, leftovers {leftovers}")
    return problems
