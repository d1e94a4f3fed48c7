#!/usr/bin/env python3
"""Load check of the web server: many clients on ``/api/search`` at once, then
the same load while 10 records are added to the catalogue.

    python benchmarks/load.py --size 10k       # a quick try, about a minute
    python benchmarks/load.py --size 100k [--clients 32] [--duration 30] [--port 0]
                              [--out benchmarks/out] [--index DIR --corpus DIR]

The catalogue is ``generate.py``'s (cached as ``bench.py`` caches it); its
index is built in ``OUT/load-work-SIZE/`` by ``thb_search.sync`` in a child
process, and only brought up to date on later runs (unless ``--index``).  The
server runs in its own process (``thb-search serve`` when that command
exists, else ``thb_search.web.server.serve``).  Once it answers
``/api/facets``, one client sends the whole query mix once (warm-up, and each
kind's latency without queueing); then

* phase A, steady: ``--clients`` concurrent clients (asyncio, httpx) send
  ``GET /api/search`` for ``--duration`` seconds, drawn from ``queries.py``'s
  mix (words, phrases, filtered, browse); every answer has facet counts;
* phase B: the same load, while ``thb-search index`` adds a 10-record file to
  the corpus folder in another process.  The server must answer from the new
  index without a restart (a browse's total grows by 10).

Measures: requests/s, latency p50/p95/p99/max (for B also before, during and
right after the add), errors (non-200 answers, failed connections: listed),
the server's VmRSS, VmHWM and CPU time before A, after A and after B, the
load average and CPU count.  The clients share the machine with the server.  Writes
``OUT/load-SIZE.md`` and ``.json``; the server's log is in the work folder.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from bench import ADD_COUNT, ensure_data, size_label
from engines.base import Query
from generate import DEFAULT_SEED, parse_size
from measure import percentile
from queries import make_queries

HERE = Path(__file__).resolve().parent
THB = Path(sys.executable).with_name("thb-search")
LEAD, TAIL = 3.0, 5.0  # seconds of phase B before the add; "right after" it
TIMEOUT = 120.0  # a request slower than this is an error
SYNC = ("import json, sys; from thb_search import sync; r = sync(sys.argv[1], [sys.argv[2]]); "
        "print(json.dumps({'added': r.added, 'removed': r.removed, 'total': r.total}))")
Params = list[tuple[str, str]]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Call:
    start: float  # seconds since the phase began
    ms: float
    status: int  # 0: no answer
    error: str = ""


class Phase:
    """The calls of one phase; ``until`` (seconds since its start) may grow."""

    def __init__(self, until: float) -> None:
        self.t0, self.until = time.perf_counter(), until
        self.calls: list[Call] = []

    def now(self) -> float:
        return time.perf_counter() - self.t0


def params_of(q: Query) -> Params:
    return ([("q", q.text())] if q.text() else []) + list(q.filters)


async def get(http: httpx.AsyncClient, phase: Phase, params: Params) -> Call:
    start = phase.now()
    try:
        r = await http.get("/api/search", params=params)
        status, error = r.status_code, ("" if r.status_code == 200 else r.text[:300])
    except httpx.HTTPError as exc:
        status, error = 0, f"{type(exc).__name__}: {exc}"
    return Call(start, (phase.now() - start) * 1000, status, error)


async def client(http: httpx.AsyncClient, phase: Phase, mix: list[Params], i: int) -> None:
    while phase.now() < phase.until:
        phase.calls.append(await get(http, phase, mix[i % len(mix)]))
        i += 1


async def total(http: httpx.AsyncClient) -> int:
    r = await http.get("/api/search", params={"limit": "1"})
    r.raise_for_status()
    return int(r.json()["total"])


async def add_records(http: httpx.AsyncClient, phase: Phase, extra: Path, index: Path,
                      corpus: Path, out: dict[str, Any]) -> None:
    """Phase B's writer: add the records, then wait until the server counts them."""
    page = f"/api/publications/{json.loads(extra.read_text('utf-8').splitlines()[0])['id']}"
    await asyncio.sleep(LEAD)
    try:
        out["total_before"] = seen = await total(http)
        out["new_record_before"] = (await http.get(page)).status_code
        shutil.copyfile(extra, corpus / extra.name)
        out["start"] = phase.now()
        proc = await asyncio.create_subprocess_exec(
            str(THB), "index", "--index", str(index), "--corpus", str(corpus), "--json",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = await proc.communicate()
        out["end"] = phase.now()
        phase.until = max(phase.until, out["end"] + TAIL)
        out.update(seconds=out["end"] - out["start"], exit_code=proc.returncode,
                   report=json.loads(stdout) if proc.returncode == 0 else stderr.decode()[-500:])
        while phase.now() < out["end"] + 60:
            seen = await total(http)
            if seen == out["total_before"] + ADD_COUNT:
                out["seen_after_s"] = phase.now() - out["end"]
                break
            await asyncio.sleep(0.05)
        out["total_after"] = seen
        out["new_record_after"] = (await http.get(page)).status_code
    except httpx.HTTPError as exc:  # reported; the load goes on
        out["probe_error"] = f"{type(exc).__name__}: {exc}"


async def run_phase(base: str, mix: list[Params], clients: int, duration: float,
                    adding: tuple[Path, Path, Path] | None = None,
                    ) -> tuple[Phase, dict[str, Any]]:
    phase = Phase(duration)
    add: dict[str, Any] = {}
    limits = httpx.Limits(max_connections=clients + 1, max_keepalive_connections=clients + 1)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=TIMEOUT) as http:
        tasks = [client(http, phase, mix, k * len(mix) // clients) for k in range(clients)]
        if adding:
            tasks.append(add_records(http, phase, *adding, add))
        await asyncio.gather(*tasks)
    phase.until = phase.now()
    return phase, add


async def one_by_one(base: str, mix: list[Params]) -> list[Call]:
    """Each query once, one at a time: the warm-up."""
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as http:
        phase = Phase(0)
        return [await get(http, phase, params) for params in mix]


def stats(calls: list[Call], seconds: float | None = None) -> dict[str, Any]:
    ms = [c.ms for c in calls]
    seconds = sum(ms) / 1000 if seconds is None else seconds
    errors = sum(c.status != 200 for c in calls)
    return {"requests": len(calls), "seconds": seconds, "errors": errors,
            "rps": len(calls) / seconds if seconds > 0 else None,
            **{f"p{p}": percentile(ms, p) if ms else None for p in (50, 95, 99)},
            "max": max(ms, default=None)}


def windows(phase: Phase, add: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Phase B cut around the add: before it, overlapping it, the TAIL seconds after."""
    a, b, calls = add.get("start", phase.until), add.get("end", phase.until), phase.calls
    return {"all": stats(calls, phase.until),
            "before": stats([c for c in calls if c.start + c.ms / 1000 < a], a),
            "during": stats([c for c in calls if c.start <= b and c.start + c.ms / 1000 >= a],
                            b - a),
            "after": stats([c for c in calls if b <= c.start < b + TAIL], TAIL)}


# -- the server ----------------------------------------------------------------


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def start_server(index: Path, corpus: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    usage = subprocess.run([str(THB), "serve", "--help"], capture_output=True, text=True)
    if usage.returncode == 0 and "thb-search serve" in usage.stdout:
        cmd = [str(THB), "serve", "--index", str(index), "--corpus", str(corpus),
               "--port", str(port)]
    else:
        cmd = [sys.executable, "-c", "from thb_search.web.server import serve; serve("
               f"{str(index)!r}, [{str(corpus)!r}], host='127.0.0.1', port={port})"]
    log(f"starting the server: {' '.join(cmd[:2])} ... on port {port}")
    with log_path.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(base: str, server: subprocess.Popen[bytes], log_path: Path) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < 900:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}: see {log_path}")
        try:
            if httpx.get(base + "/api/facets", timeout=10).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit("the server did not answer /api/facets within 15 minutes")


def stop_server(server: subprocess.Popen[bytes]) -> dict[str, Any]:
    """SIGINT, as Ctrl-C; SIGKILL after 30 s."""
    server.send_signal(signal.SIGINT)
    start, killed = time.perf_counter(), False
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        killed = True
    return {"exit_code": server.returncode, "seconds": time.perf_counter() - start,
            "killed": killed}


def server_state(pid: int) -> dict[str, float]:
    """A process's VmRSS and VmHWM (MB) and the CPU seconds it has used."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    state = {k: int(v.split()[0]) / 1024 for k, _, v in (s.partition(":") for s in lines)
             if k in ("VmRSS", "VmHWM")}
    ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]
    return {**state, "cpu_s": sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK")}


# -- the run -------------------------------------------------------------------


def prepare_index(args: argparse.Namespace, data: Path, extra: Path) -> dict[str, Any]:
    """Index and corpus folders, without the records phase B adds (an earlier run's)."""
    if args.index is None:
        args.index, args.corpus = args.work / "index", args.work / "corpus"
        args.corpus.mkdir(parents=True, exist_ok=True)
        target = args.corpus / data.name
        if not (target.exists() and os.path.samefile(target, data)):
            target.unlink(missing_ok=True)
            try:
                os.link(data, target)
            except OSError:
                shutil.copy2(data, target)
    elif not (args.corpus / extra.name).exists():
        return {}
    (args.corpus / extra.name).unlink(missing_ok=True)
    log(f"bringing the index {args.index} up to date (sync)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SYNC, str(args.index), str(args.corpus)],
                          capture_output=True, text=True, check=True)
    return {"seconds": time.perf_counter() - start, **json.loads(done.stdout)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    env = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "python": platform.python_version(),
           "cpus": len(os.sched_getaffinity(0)), "load_average_at_start": os.getloadavg()}
    data, extra = ensure_data(args.size, args.seed)
    queries = make_queries(args.size, seed=args.seed)
    mix = [params_of(q) for q in queries]
    args.work.mkdir(parents=True, exist_ok=True)
    r: dict[str, Any] = {"size": args.size, "seed": args.seed, "clients": args.clients,
                         "duration": args.duration, "environment": env,
                         "mix": collections.Counter(q.kind for q in queries),
                         "sync": prepare_index(args, data, extra), "index": str(args.index)}
    port = args.port or free_port()
    base, log_path = f"http://127.0.0.1:{port}", args.work / "server.log"
    server = start_server(args.index, args.corpus, port, log_path)
    try:
        r["ready_seconds"] = wait_ready(base, server, log_path)
        log(f"server ready; one client sends the {len(queries)} queries once (warm-up)")
        single = asyncio.run(one_by_one(base, mix))
        r["single"] = {"all": stats(single), **{k: stats([c for c, q in zip(
            single, queries, strict=True) if q.kind == k]) for k in r["mix"]}}
        r["server"] = {"before A": server_state(server.pid)}
        log(f"phase A: {args.clients} clients for {args.duration:g} s")
        a = asyncio.run(run_phase(base, mix, args.clients, args.duration))[0]
        r["server"]["after A"] = server_state(server.pid)
        log(f"phase B: the same, adding {ADD_COUNT} records after {LEAD:g} s")
        b, r["add"] = asyncio.run(run_phase(base, mix, args.clients, args.duration,
                                            (extra, args.index, args.corpus)))
        r["server"]["after B"] = server_state(server.pid)
        r.update(phase_a=stats(a.calls, a.until), phase_b=windows(b, r["add"]))
        r["error_samples"] = [asdict(c) for c in [*single, *a.calls, *b.calls]
                              if c.status != 200][:20]
        r["calls"] = {name: [[round(c.start, 3), round(c.ms, 2), c.status] for c in p.calls]
                      for name, p in (("A", a), ("B", b))}
    finally:
        log("stopping the server (SIGINT)")
        r["stop"] = stop_server(server)
    env["load_average_at_end"] = os.getloadavg()
    return r


def markdown(r: dict[str, Any]) -> str:
    env, add, b, stop = r["environment"], r["add"], r["phase_b"], r["stop"]
    sync = (f"the index brought up to date by `sync` in {r['sync']['seconds']:.1f} s "
            f"({r['sync']['added']:,} added, {r['sync']['removed']:,} removed)"
            if r["sync"] else "the index given")
    loads = ["/".join(f"{x:.1f}" for x in env[k])
             for k in ("load_average_at_start", "load_average_at_end")]
    code, cpu_s = stop["exit_code"], [m["cpu_s"] for m in r["server"].values()]
    cpu = [(cpu_s[i + 1] - cpu_s[i]) / p["seconds"] for i, p in enumerate((r["phase_a"], b["all"]))]
    ended = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"

    def row(name: str, s: dict[str, Any]) -> str:
        cells = [f"{s[k]:,.1f}" if s[k] is not None else "–"
                 for k in ("rps", "p50", "p95", "p99", "max")]
        return f"| {name} | {s['requests']:,} | {' | '.join(cells)} | {s['errors']} |"

    lines = [
        f"### Load check of `/api/search`: {r['size']:,} records, {r['clients']} clients", "",
        f"Synthetic catalogue of {r['size']:,} records (seed {r['seed']}); {sync}; the "
        f"server answered after {r['ready_seconds']:.1f} s. {r['clients']} clients (asyncio "
        f"+ httpx in one process on the same machine), {r['duration']:g} s a phase, the "
        f"query mix ({', '.join(f'{n} {k}' for k, n in r['mix'].items())}), facet counts in "
        f"every answer. Python {env['python']}, {env['cpus']} CPUs; {env['date']}; load "
        f"average (1/5/15 min) {loads[0]} at the start, {loads[1]} at the end.", "",
        "| Phase | Requests | Requests/s | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | Errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row("one client, each query once (warm-up)", r["single"]["all"]),
        *(row(f"… {k}", s) for k, s in r["single"].items() if k != "all"),
        row("A: steady", r["phase_a"]), row("B: while adding, whole phase", b["all"]),
        row("B: before the add", b["before"]),
        row(f"B: during the add ({add.get('seconds', 0):.1f} s)", b["during"]),
        row(f"B: the {TAIL:g} s after it", b["after"]), "",
        f"Adding {ADD_COUNT}: `thb-search index` took {add.get('seconds', 0):.2f} s (process "
        f"wall time, start included; exit code {add.get('exit_code')}); the server's total "
        f"went {add.get('total_before', 0):,} → {add.get('total_after', 0):,}"
        + (f", seen {add['seen_after_s']:.2f} s after the add ended (one request, queued "
           "behind the clients')" if "seen_after_s" in add else ", **never seen**")
        + f"; a new record's `/api/publications/ID`: {add.get('new_record_before')} before, "
        f"{add.get('new_record_after')} after." + (f" Error: {add['probe_error']}"
                                                  if "probe_error" in add else ""), "",
        "| Server | VmRSS (MB) | VmHWM (MB) | CPU used (s) |", "|---|---:|---:|---:|",
        *(f"| {k} | {m['VmRSS']:.0f} | {m['VmHWM']:.0f} | {m['cpu_s']:.1f} |"
          for k, m in r["server"].items()),
        "", f"The server used {cpu[0]:.0%} of a CPU in phase A, {cpu[1]:.0%} in phase B.",
        "", f"Server stopped by SIGINT in {stop['seconds']:.1f} s: {ended}"
        + (" (SIGKILL: it hung)." if stop["killed"] else "."),
    ]
    if r["error_samples"]:
        lines += ["", "Errors (the first 20):", ""]
        lines += [f"* {c['status']} at {c['start']:.2f} s: `{c['error'][:200]}`"
                  for c in r["error_samples"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, required=True, help="10k, 100k, 1M, ...")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients [32]")
    parser.add_argument("--duration", type=float, default=30, help="seconds a phase [30]")
    parser.add_argument("--port", type=int, default=0, help="server port [0: a free one]")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="[benchmarks/out]")
    parser.add_argument("--index", type=Path, help="an existing index (with --corpus)")
    parser.add_argument("--corpus", type=Path, help="its corpus folder (phase B adds a file)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="data and query seed")
    args = parser.parse_args(argv)
    if (args.index is None) != (args.corpus is None):
        parser.error("--index and --corpus go together")
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    args.out = args.out.absolute()
    args.work = args.out / f"load-work-{size_label(args.size)}"
    started = time.perf_counter()
    result = run(args)
    result["seconds"] = time.perf_counter() - started
    text, label = markdown(result), size_label(args.size)
    (args.out / f"load-{label}.json").write_text(json.dumps(result, indent=1), "utf-8")
    (args.out / f"load-{label}.md").write_text(text, "utf-8")
    print(text)
    log(f"done in {result['seconds']:.0f} s; results in {args.out}/load-{label}.json")
    failed = result["error_samples"] or "seen_after_s" not in result["add"]
    return 1 if failed or result["stop"]["killed"] else 0


if __name__ == "__main__":
    sys.exit(main())
