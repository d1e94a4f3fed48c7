"""Soak concurrent use: reader processes search while a writer changes the
catalogue, for a minute (tests/test_concurrency.py runs the same for a few
seconds).

    python scripts/concurrency_soak.py [--seconds 60] [--readers 8] [--size 2000]

Builds an index of ``--size`` generated records (benchmarks/generate.py) in a
temporary folder, with a signing key of its own (never the user's), starts
the readers (half keep one Catalogue open, as the web server does; half open
a new one for each search, as the command does), then adds, updates and
removes records through ``sync``, ``add_files``, ``thb-search add`` and
``thb-search index`` (and ``--rebuild`` every ``--rebuild-every`` changes)
for ``--seconds``.  Every committed state is logged (the browse answer worked
out from the records written; the other queries' answers as a fresh
catalogue gives them after the commit).  Prints a summary: searches done,
failed searches (by exception), answers that are no committed state or an
older state than one already seen, committed states seen, commits, then the
first tracebacks.  Exit code 1 on any failure or misplaced answer.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the writer "
                        "changes the catalogue [60]")
    parser.add_argument("--readers", type=int, default=8, help="reader processes [8]")
    parser.add_argument("--size", type=int, default=2000, help="records to start with [2000]")
    parser.add_argument("--rebuild-every", type=int, default=20, metavar="N",
                        help="index every Nth change with --rebuild (0: never) [20]")
    parser.add_argument("--nice", type=int, default=5, help="niceness of the readers, so "
                        "that the writer gets its share of the processors [5]")
    parser.add_argument("--seed", type=int, default=1, help="seed of the changes [1]")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="thb-concurrency-") as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")  # before thb_search signs
        import test_concurrency as tc

        started = time.monotonic()
        outcome = tc.readers_during_writes(
            Path(tmp) / "corpus", Path(tmp) / "index", seconds=args.seconds,
            readers=args.readers, base=args.size, seed=args.seed,
            rebuild_every=args.rebuild_every, nice=args.nice)
        wall = time.monotonic() - started

    problems = outcome.problems()
    misplaced = [p for p in problems if ": answer " in p]
    unknown = sum("no committed state" in p for p in misplaced)
    older = sum("older than state" in p for p in misplaced)
    kinds: Counter[str] = Counter()
    for r in outcome.readers:
        kinds.update(r["kinds"])
    commits = len(outcome.states) - 1
    kept = sum(r["kept_open"] for r in outcome.readers)

    print(f"readers during writes: {outcome.seconds:.0f} s of changes ({wall:.0f} s in all), "
          f"{len(outcome.readers)} readers ({kept} kept open, "
          f"{len(outcome.readers) - kept} reopened), {args.size} records to start")
    print()
    rows = [
        ("searches", f"{outcome.searches:,}"),
        ("failed searches", f"{outcome.failures:,}" + (
            f"  ({', '.join(f'{k} {n}' for k, n in kinds.most_common())})" if kinds else "")),
        ("answers no committed state", str(unknown)),
        ("answers older than one seen", str(older)),
        ("committed states seen", f"{len(outcome.seen())} of {len(outcome.states)}"),
        ("commits", f"{commits}  ({', '.join(f'{k} {n}' for k, n in sorted(outcome.ops.items()) if k != 'build')})"),  # noqa: E501
        ("slowest search", f"{max(r['slowest'] for r in outcome.readers):.2f} s"),
    ]
    for label, value in rows:
        print(f"  {label:<29} {value}")
    print()
    print(f"  {'reader':<8} {'catalogue':<10} {'searches':>9} {'failed':>7} "
          f"{'states seen':>12} {'slowest':>9}")
    browse = [s["browse"] for s in outcome.states]
    for r in sorted(outcome.readers, key=lambda r: (not r["kept_open"], r["pid"])):
        seen = {i for sig, _ in r["runs"]["browse"] for i, b in enumerate(browse) if b == sig}
        print(f"  {r['pid']:<8} {'kept open' if r['kept_open'] else 'reopened':<10} "
              f"{r['searches']:>9,} {r['failures']:>7,} {len(seen):>12} "
              f"{r['slowest']:>8.2f}s")
    if problems:
        shown: set[str] = set()
        print("\nFirst problems (one of each kind):")
        for problem in problems:
            last = problem.strip().splitlines()[-1]
            kind = last.split(":")[0] if "Traceback" in problem else problem.split(": answer")[0]
            if kind in shown:
                continue
            shown.add(kind)
            print(problem.rstrip())
            print()
    ok = outcome.failures == 0 and not problems
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
