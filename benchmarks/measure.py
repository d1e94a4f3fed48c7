"""Measuring child processes: wall time, peak memory of a process tree, disk use."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Seconds between two samples of a process tree's memory.
SAMPLE_INTERVAL = 0.05


class ChildFailed(RuntimeError):
    """A measured child process exited with an error."""


@dataclass(frozen=True)
class Measured:
    """What a child process printed (as JSON), its wall time and the peak of
    the summed resident memory of it and its descendants, as sampled."""

    output: dict[str, Any]
    wall: float
    tree_peak_kb: int


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible in /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants now, in KiB (0 off Linux)."""
    if not os.path.isdir("/proc"):
        return 0
    tree, todo, total = _children(), [pid], 0
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm", encoding="ascii") as f:
                total += int(f.read().split()[1]) * page_kb
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(tree.get(p, ()))
    return total


def run_measured(cmd: list[str], cwd: Path | None = None) -> Measured:
    """Run ``cmd`` to its end, sampling its process tree's memory; its stdout
    must be one JSON object."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss_kb(proc.pid))
            time.sleep(SAMPLE_INTERVAL)
        wall = time.perf_counter() - start
        return Measured(_output(proc, out, err), wall, peak)


def _output(proc: subprocess.Popen[bytes], out: Any, err: Any) -> dict[str, Any]:
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise ChildFailed(f"{' '.join(map(str, proc.args))} exited {proc.returncode}:\n{tail}")
    return json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}


def start(cmd: list[str], cwd: Path | None = None) -> tuple[subprocess.Popen[bytes], Any, Any]:
    """Start ``cmd`` in the background; finish it with :func:`finish`."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    return subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd), out, err


def finish(started: tuple[subprocess.Popen[bytes], Any, Any]) -> dict[str, Any]:
    """Wait for a process of :func:`start` and return its JSON output."""
    proc, out, err = started
    try:
        proc.wait()
        return _output(proc, out, err)
    finally:
        out.close()
        err.close()


def wall_times(cmd: list[str], runs: int, cwd: Path | None = None) -> list[float]:
    """Wall times of ``runs`` runs of ``cmd``, each from process start to exit."""
    times = []
    for _ in range(runs):
        start_time = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, cwd=cwd)
        times.append(time.perf_counter() - start_time)
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-10:]
            raise ChildFailed(f"{' '.join(cmd)} exited {done.returncode}:\n" + "\n".join(tail))
    return times


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0-100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p95": percentile(values, 95),
            "mean": statistics.fmean(values), "max": max(values)}


def disk_size(path: Path) -> int:
    """Bytes used by a folder's files, or by a file and its siblings named
    ``<file>-*`` (SQLite's -wal and -shm)."""
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return sum(f.stat().st_size for f in path.parent.iterdir()
               if f.is_file() and (f.name == path.name or f.name.startswith(path.name + "-")))
