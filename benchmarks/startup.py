"""A new process answering one query on the bundled catalogue, side by side.

    python benchmarks/startup.py [--runs 15] [--out benchmarks/out]

The bundled catalogue (``corpus/osce-thb-publications.txt``, ten records) is
indexed by thb-search and, converted to the benchmark's JSON Lines, by the
plain Whoosh recipe and SQLite FTS5 (``engines/``).  Then each query is
answered ``--runs`` times by a new process of:

* ``thb-search --index DIR --corpus DIR QUERY`` (what a user types; its text
  output), and the same with ``--json``;
* the plain Whoosh script and the SQLite FTS5 script (``worker.py query``,
  which imports only its engine's library);
* ``python -c pass``: the interpreter alone.

The table gives each command's median wall time, and thb-search's against
the Whoosh script (issue 12's bound: 1.5 times).  ``python -X importtime`` of
the thb-search command then says where its imports go, by top-level package.
Writes ``startup.json`` and ``startup.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engines  # noqa: E402
import measure  # noqa: E402
from bench import compile_thb_search, environment, fresh_dir, log  # noqa: E402
from engines.base import Query  # noqa: E402

CATALOGUE = HERE.parent / "corpus" / "osce-thb-publications.txt"
#: The queries timed: the README's, another subject, a filtered one, a browse.
QUERIES = [
    Query(words=("forced", "labour", "supply", "chains")),
    Query(words=("national", "referral", "mechanisms")),
    Query(words=("trafficking",), filters=(("type", "Brochure"),), kind="filtered"),
    Query(filters=(("theme", "Combating trafficking in human beings"),), kind="browse"),
]
#: Issue 12's bound: a new thb-search process within this many times the Whoosh script.
BOUND = 1.5
#: The other engines timed (thb-search itself is timed through its command).
OTHERS = ("whoosh", "sqlite")


def bundled_jsonl(path: Path) -> Path:
    """The bundled catalogue as the benchmark's records (JSON Lines)."""
    from thb_search.corpus import iter_file
    from thb_search.records import Record

    with open(path, "w", encoding="utf-8") as out:
        for item in iter_file(CATALOGUE):
            if not isinstance(item, Record):
                continue
            out.write(json.dumps({
                "id": item.id, "title": item.title, "summary": item.summary,
                "date": item.date.isoformat() if item.date else "1970-01-01",
                "type": item.type, "office": list(item.offices), "themes": list(item.themes),
                "publisher": item.publisher}) + "\n")
    return path


def thb_command(exe: str, work: Path, q: Query, as_json: bool) -> list[str]:
    cmd = [exe, "--index", str(work / "thb" / "index"), "--corpus", str(work / "thb" / "corpus")]
    for facet, value in q.filters:
        cmd += [f"--{facet}", value]
    return cmd + (["--json"] if as_json else []) + ([q.text()] if q.text() else [])


def worker_command(engine: str, work: Path, q: Query) -> list[str]:
    return [sys.executable, str(HERE / "worker.py"), "query", engine, str(work / engine),
            json.dumps(q.to_dict())]


def timed(label: str, commands: list[list[str]], runs: int, cwd: Path) -> dict[str, Any]:
    log(f"{label}: {len(commands)} queries x {runs} new processes")
    per_query = [statistics.median(measure.wall_times(c, runs, cwd=cwd)) for c in commands]
    return {"label": label, "per_query": per_query, "median": statistics.median(per_query)}


def import_shares(cmd: list[str], cwd: Path) -> dict[str, float]:
    """Milliseconds of ``-X importtime`` self time by top-level package."""
    done = subprocess.run([sys.executable, "-X", "importtime", *cmd], capture_output=True,
                          cwd=cwd, text=True, check=True)
    shares: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line[len("import time:"):].split("|")
        top = name.strip().split(".")[0]
        shares[top] = shares.get(top, 0.0) + int(self_us) / 1000
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def run(args: argparse.Namespace) -> dict[str, Any]:
    env = environment()
    compile_thb_search()
    exe = shutil.which("thb-search", path=str(Path(sys.executable).parent)) or \
        shutil.which("thb-search")
    if exe is None:
        raise SystemExit("startup.py: the thb-search command is not installed "
                         "(pip install -e . in this environment)")
    work = fresh_dir(args.out / "work-startup")
    (work / "thb" / "corpus").mkdir(parents=True)
    shutil.copyfile(CATALOGUE, work / "thb" / "corpus" / CATALOGUE.name)
    from thb_search import sync

    sync(work / "thb" / "index", [work / "thb" / "corpus"])
    data = bundled_jsonl(work / "bundled.jsonl")
    for name in OTHERS:
        engines.load(name).build(data, fresh_dir(work / name))
    rows = [
        timed("python -c pass", [[sys.executable, "-c", "pass"]] * len(QUERIES),
              args.runs, work),
        timed("thb-search QUERY", [thb_command(exe, work, q, False) for q in QUERIES],
              args.runs, work),
        timed("thb-search --json QUERY", [thb_command(exe, work, q, True) for q in QUERIES],
              args.runs, work),
    ]
    for name in OTHERS:
        rows.append(timed(engines.load(name).label + " script",
                          [worker_command(name, work, q) for q in QUERIES], args.runs, work))
    # The command is a Python script: run it under -X importtime as it is.
    shares = import_shares(thb_command(exe, work, QUERIES[0], False), work)
    shutil.rmtree(work, ignore_errors=True)
    return {"queries": [q.to_dict() for q in QUERIES], "runs": args.runs,
            "environment": {**env, "load_average_at_end": os.getloadavg()[0]},
            "rows": rows, "import_ms": shares}


def report(result: dict[str, Any]) -> str:
    env = result["environment"]
    rows = {r["label"]: r for r in result["rows"]}
    whoosh = next(r for r in result["rows"] if r["label"].startswith("Whoosh"))
    lines = [
        f"# A new process, one query, bundled catalogue ({env['date']})", "",
        f"{env['cpus']} CPUs, Python {env['python']}, load average "
        f"{env['load_average_at_start']:.2f} at start, {env['load_average_at_end']:.2f} at end; "
        f"median of {result['runs']} runs "
        "of each query, then the median over the queries.", "",
        "| Command | " + " | ".join(f"`{q['text'] or 'browse'}`" for q in result["queries"])
        + " | Median (s) | Against the Whoosh script |",
        "|---|" + "---:|" * (len(result["queries"]) + 2),
    ]
    for r in result["rows"]:
        ratio = r["median"] / whoosh["median"]
        lines.append(f"| {r['label']} | " + " | ".join(f"{t:.3f}" for t in r["per_query"])
                     + f" | {r['median']:.3f} | {ratio:.2f} × |")
    thb = rows["thb-search QUERY"]["median"]
    met = "met" if thb <= BOUND * whoosh["median"] else "not met"
    lines += ["", f"Target: `thb-search QUERY` within {BOUND} × the Whoosh script's "
              f"{whoosh['median']:.3f} s, i.e. ≤ {BOUND * whoosh['median']:.3f} s: "
              f"{thb:.3f} s, **{met}**.", "",
              "Imports of `thb-search QUERY` (`-X importtime`, self time by top-level "
              "package, ms):", "",
              "| Package | ms |", "|---|---:|"]
    shares = result["import_ms"]
    for name, ms in list(shares.items())[:12]:
        lines.append(f"| {name} | {ms:.1f} |")
    lines.append(f"| all ({len(shares)} packages) | {sum(shares.values()):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="new processes per query")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="where results go")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = run(args)
    (args.out / "startup.json").write_text(json.dumps(result, indent=1), "utf-8")
    text = report(result)
    (args.out / "startup.md").write_text(text, "utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
