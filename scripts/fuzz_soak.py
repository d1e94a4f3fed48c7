"""Soak the hostile-input properties: the checks of tests/test_hostile.py with
10,000 examples each (the test suite runs a few dozen).

    python scripts/fuzz_soak.py [--examples N] [--only NAME]

Builds the bundled catalogue's index in a temporary folder (with a signing
key of its own, never the user's), runs each property, and prints one line
per property: examples run, failures (must be 0), time.  Exit code 1 if any
property failed.  A failing example is printed after the summary.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000, help="examples per property")
    parser.add_argument("--only", help="run only the properties whose name contains this")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="thb-soak-") as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")  # before thb_search signs
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import strategies as st

        import test_hostile as h
        from thb_search import Catalogue, sync

        folder = Path(tmp) / "files"
        folder.mkdir()
        sync(Path(tmp) / "index", [h.BUNDLED])
        with Catalogue(Path(tmp) / "index") as catalogue:
            queries = st.sampled_from(["", "trafficking", "labour OR victims"])
            properties: list[tuple[str, tuple[Any, ...], Callable[..., None], bool]] = [
                ("readers: mutated, mixed line ends, huge", (h.READER_INPUTS,),
                 lambda case: h.check_reader(folder, *case), False),
                ("readers: random bytes", (st.sampled_from(h.EXTENSIONS),
                                           st.binary(max_size=2000)),
                 lambda ext, data: h.check_reader(folder, ext, data), False),
                ("query language: parse", (h.QUERIES | h.SURROGATE_TEXT,
                                           st.sampled_from(["all", "any"])),
                 h.check_parse, False),
                ("query language: Catalogue.search", (h.QUERIES, h.SEARCH_OPTIONS),
                 lambda q, options: h.check_search(catalogue, q, options), False),
                ("filters: office theme type year since until", (queries, h.FILTERS),
                 lambda q, filters: h.check_filters(catalogue, q, filters), False),
                ("search with a lone surrogate (known bug)",
                 (h.SURROGATE_TEXT.map(lambda t: "traf" + t),),
                 lambda q: h.check_search(catalogue, q, {}), True),
            ]
            failed = []
            total = 0
            print(f"{'property':<46} {'examples':>8} {'failures':>8} {'time':>7}")
            for name, strategies, check, known in properties:
                if args.only and args.only not in name:
                    continue
                count = [0]
                test = settings(
                    max_examples=args.examples, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck),
                )(given(st.tuples(*strategies))(_counted(check, count)))
                start = time.perf_counter()
                try:
                    test()
                    failures, detail = 0, ""
                except Exception as exc:  # noqa: BLE001 - a failing example, reported below
                    failures = 1
                    detail = "".join(traceback.format_exception(exc))
                elapsed = time.perf_counter() - start
                total += count[0]
                note = " (expected: xfail in the tests)" if known and failures else ""
                print(f"{name:<46} {count[0]:>8} {failures:>8} {elapsed:>6.0f}s{note}",
                      flush=True)
                if failures and not known:
                    failed.append((name, detail))
    print(f"{'all':<46} {total:>8} {len(failed):>8}")
    for name, detail in failed:
        print(f"\n--- {name} ---\n{detail}")
    return 1 if failed else 0


def _counted(check: Callable[..., None], count: list[int]) -> Callable[[tuple[Any, ...]], None]:
    def prop(values: tuple[Any, ...]) -> None:
        count[0] += 1
        check(*values)
    return prop


if __name__ == "__main__":
    sys.exit(main())
