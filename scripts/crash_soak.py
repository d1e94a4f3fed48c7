#!/usr/bin/env python3
"""Kill thb-search at random moments, many times, and check it lost nothing.

    python scripts/crash_soak.py --trials 200 [--seed 1] [--work DIR]

Each trial (see ``tests/crashkit.py``) starts ``thb-search add``, ``index``
(after records were changed, added and removed) or ``index --rebuild`` on a
copy of a 1,500-record catalogue, sends SIGKILL after a random delay to the
command or to its whole process group (a power cut); one trial in five
rebuilds a 5,000-record catalogue, whose rebuild has worker processes, and
kills one of them, the command or all.  After each kill: a search must
answer, one ``thb-search index`` must succeed and give exactly what a fresh
rebuild of the catalogue gives, and the catalogue folder must hold the
files of before or after the command, byte for byte.  Prints a table of the
trials and every failure; exits 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from crashkit import OPS, Lab, Trial, run, timed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="number of kills (200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--work", type=Path, default=None,
                        help="work folder (kept; default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="thb-crash-"))
    os.environ.setdefault("XDG_DATA_HOME", str(work / "user-data"))  # the signing key
    rng = random.Random(args.seed)

    started = time.monotonic()
    small = Lab(work / "lab-1500")
    big = Lab(work / "lab-5000", size=5000, states=("base",))
    durations = {op: timed(small, op, work / "timing") for op in OPS}
    big_rebuild = timed(big, "rebuild", work / "timing")
    print(f"catalogues ready in {time.monotonic() - started:.0f} s; one run of add "
          f"{durations['add']:.1f} s, index {durations['index']:.1f} s, rebuild "
          f"{durations['rebuild']:.1f} s (1,500 records), rebuild {big_rebuild:.1f} s "
          "(5,000 records, worker processes)", flush=True)

    rows: Counter[tuple[str, str, str]] = Counter()
    kinds: Counter[str] = Counter()
    failures = []
    for n in range(1, args.trials + 1):
        if rng.random() < 0.2:
            lab = big
            trial = Trial("rebuild", rng.choice(("worker", "worker", "command", "all")),
                          round(rng.uniform(0.0, big_rebuild), 3))
            name = "rebuild 5,000"
        else:
            lab = small
            trial = Trial.draw(rng, durations, workers=False)
            name = f"{trial.op} 1,500"
        outcome = run(lab, trial, work / "trial")
        rows[(name, trial.victim, "killed" if outcome.killed else "had finished")] += 1
        kinds[outcome.recovery] += 1
        status = "ok" if not outcome.problems else "FAILED"
        print(f"{n:4d} {name:<14} {trial!s:<36} {outcome.recovery:<20} {status}", flush=True)
        if outcome.problems:
            failures.append((n, trial, outcome.problems))

    print(f"\n{'command':<16}{'killed':<10}{'when':<14}{'trials':>7}")
    for (name, victim, when), count in sorted(rows.items()):
        print(f"{name:<16}{victim:<10}{when:<14}{count:>7}")
    print("\nhow the next commands recovered: "
          + ", ".join(f"{kind} {count}" for kind, count in kinds.most_common()))
    print(f"{args.trials} trials, {len(failures)} failures, "
          f"{time.monotonic() - started:.0f} s")
    for n, trial, problems in failures:
        print(f"trial {n} ({trial}):")
        for problem in problems:
            print(f"  {problem}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
