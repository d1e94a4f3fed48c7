#!/usr/bin/env python3
"""Check thb_search.evaluation against trec_eval (through pytrec_eval).

Usage:
    python benchmarks/check_measures.py RUN QRELS [--depth 1000] [--tolerance 1e-6]
    python benchmarks/check_measures.py --make-random DIR [--seed 7] [--queries 300]
                                        [--float32-traps 0]

The first form reads a TREC run and TREC qrels, evaluates them with
``thb_search.evaluation.evaluate`` and with trec_eval's own C code (the
``pytrec_eval`` module, from the ``pytrec_eval-terrier`` package, which bundles
trec_eval 9.0.8), prints both tools' figures side by side and exits 1 if any
per-query or averaged figure differs by more than the tolerance. The second
form writes a random run and qrels (graded, with 0 and -1 grades, ties, runs
longer than 1000, queries without relevant documents, queries missing from the
run or from the qrels) into DIR, to be checked with the first form.

The independent tool is imported only when needed. Install it in a scratch
environment, not the project's:
    python3 -m venv /tmp/evalcheck && /tmp/evalcheck/bin/pip install pytrec_eval-terrier

Comparing on equal terms:
* pytrec_eval returns per-query values for the queries present in both the run
  and the qrels; it averages nothing. Its per-query values are averaged here
  over the same set as ours (qrels queries with a relevant document; those
  missing from the run count 0). For information, two trec_eval conventions
  are also shown: ``trec_eval -c`` (every qrels query, including those with no
  relevant document, which count 0) and plain ``trec_eval`` (qrels and run
  intersection).
* trec_eval's ``-M depth`` is not exposed by pytrec_eval; MAP at depth d is
  compared with ``map_cut.d``, which is the same sum cut at rank d. P@10,
  recall@100 and nDCG@10 do not depend on the cut when d >= 100.
* trec_eval 9.0.8 stores scores as 32-bit floats, while this module (like
  trec_eval's current source) compares doubles. Where a query has two distinct
  scores that are equal as float32, the orders can differ; such queries are
  counted, and our figures recomputed on float32-rounded scores must then match.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from thb_search.evaluation import (  # noqa: E402
    Evaluation,
    Qrels,
    Run,
    evaluate,
    read_qrels,
    read_run,
)

MEASURES = (("ndcg@10", "ndcg_10", "ndcg_cut_10"), ("map", "map", None),
            ("p@10", "p_10", "P_10"), ("recall@100", "recall_100", "recall_100"))

INSTALL_HINT = (
    "pytrec_eval is not installed in this interpreter. Install it in a scratch venv:\n"
    "    python3 -m venv /tmp/evalcheck && /tmp/evalcheck/bin/pip install pytrec_eval-terrier\n"
    "then run this script with /tmp/evalcheck/bin/python."
)


def float32(value: float) -> float:
    """``value`` rounded to the nearest 32-bit float, as C's double-to-float."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def float32_collisions(run: Run) -> dict[str, int]:
    """Queries whose distinct scores collapse when stored as float32 (and how many)."""
    found = {}
    for qid, docs in run.items():
        distinct = {score for _, score in docs}
        collapsed = {float32(score) for score in distinct}
        if len(collapsed) < len(distinct):
            found[qid] = len(distinct) - len(collapsed)
    return found


def trec_eval_per_query(run: Run, qrels: Qrels, depth: int) -> dict[str, dict[str, float]]:
    """Per-query figures from trec_eval's code, for qids in both run and qrels."""
    try:
        import pytrec_eval
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(2) from None
    measures = {"ndcg_cut.10", "P.10", "recall.100", f"map_cut.{depth}", "num_rel", "num_ret"}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
    results = evaluator.evaluate({qid: dict(docs) for qid, docs in run.items() if docs})
    for values in results.values():
        values["map"] = values[f"map_cut_{depth}"]
    return results


def averages(per_query: dict[str, dict[str, float]], qids: list[str]) -> dict[str, float]:
    """Mean of each measure over ``qids``, a missing query counting 0."""
    out = {}
    for name, _field, key in MEASURES:
        key = key or "map"
        values = [per_query.get(qid, {}).get(key, 0.0) for qid in qids]
        out[name] = math.fsum(values) / len(values) if values else 0.0
    return out


def compare(run: Run, qrels: Qrels, depth: int, tolerance: float) -> int:
    ours = evaluate(run, qrels, depth)
    theirs = trec_eval_per_query(run, qrels, depth)
    collisions = float32_collisions(run)
    rounded = (
        evaluate({q: [(d, float32(s)) for d, s in docs] for q, docs in run.items()}, qrels, depth)
        if collisions else ours
    )

    evaluated = [q.qid for q in ours.queries]
    all_qrels = sorted(qrels)
    present = sorted(q for q in qrels if run.get(q))
    ours_avg = ours.to_dict()["measures"]
    theirs_avg = averages(theirs, evaluated)

    print(f"queries: qrels {len(qrels)}, run {len(run)}, evaluated {ours.evaluated} "
          f"(skipped, no relevant document: {len(ours.skipped)}), "
          f"in both run and qrels {len(present)}; depth {depth}")
    print(f"float32 score collisions: {len(collisions)} queries"
          + (f" ({sum(collisions.values())} collapsed scores)" if collisions else ""))
    print()
    header = f"{'measure':<12}{'ours':>16}{'trec_eval':>16}{'|diff|':>12}{'max q |diff|':>15}"
    if collisions:
        header += f"{'ours@float32':>16}{'max q |diff|':>15}"
    print(header)

    failures = 0

    def per_query_diff(result: Evaluation, field: str, key: str, only_clean: bool) -> float:
        worst = 0.0
        for q in result.queries:
            if only_clean and q.qid in collisions:
                continue
            worst = max(worst, abs(getattr(q, field) - theirs.get(q.qid, {}).get(key, 0.0)))
        return worst

    for name, field, key in MEASURES:
        key = key or "map"
        diff = abs(ours_avg[name] - theirs_avg[name])
        worst = per_query_diff(ours, field, key, only_clean=True)
        line = f"{name:<12}{ours_avg[name]:>16.10f}{theirs_avg[name]:>16.10f}{diff:>12.2e}{worst:>15.2e}"
        if collisions:
            r_avg = getattr(rounded, field)
            r_worst = per_query_diff(rounded, field, key, only_clean=False)
            line += f"{r_avg:>16.10f}{r_worst:>15.2e}"
            failures += (abs(r_avg - theirs_avg[name]) > tolerance) + (r_worst > tolerance)
        else:
            failures += (diff > tolerance)
        failures += worst > tolerance
        print(line)

    # counts: relevant documents and documents retrieved within the depth
    count_errors = 0
    for q in ours.queries:
        t = theirs.get(q.qid)
        if t is None:
            continue
        if int(t["num_rel"]) != q.relevant or min(int(t["num_ret"]), depth) != q.retrieved:
            count_errors += 1
    failures += count_errors
    if collisions:
        print(f"('max q |diff|' of ours leaves out the {len(collisions)} float32-collision "
              "queries; ours@float32 is compared on all)")
    print(f"\nrelevant/retrieved counts that differ: {count_errors}")

    print("\nother averaging conventions, trec_eval's per-query figures:")
    print(f"{'measure':<12}{'-c (all qrels)':>16}{'plain (run∩qrels)':>20}")
    c_avg = averages(theirs, all_qrels)
    plain_avg = averages(theirs, present)
    for name, _field, _key in MEASURES:
        print(f"{name:<12}{c_avg[name]:>16.10f}{plain_avg[name]:>20.10f}")
    print(f"(-c divides by {len(all_qrels)} queries, plain by {len(present)}, "
          f"ours by {ours.evaluated})")

    print("\nRESULT:", "MATCH" if failures == 0 else f"MISMATCH ({failures} checks over "
          f"tolerance {tolerance:g})")
    return 0 if failures == 0 else 1


def make_random(directory: Path, seed: int, queries: int, traps: int) -> None:
    """Write DIR/run.txt and DIR/qrels.txt with awkward but valid content."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    docids = [f"doc{i}" for i in range(3000)] + [f"D{i}" for i in range(300)]
    docids += [f"dé{i}" for i in range(100)] + ["d", "d1", "d10", "d2", "ü", "Z"]
    qrel_lines: list[str] = []
    run_lines: list[str] = []
    grades = [-1] * 5 + [0] * 45 + [1] * 25 + [2] * 15 + [3] * 10
    for n in range(queries):
        qid = f"q{n}" if n % 7 else f"Q-{n}"
        in_qrels = rng.random() > 0.05
        in_run = rng.random() > 0.08
        pool = rng.sample(docids, 1400)
        judged = pool[: rng.randint(1, 60)]
        if in_qrels:
            no_relevant = rng.random() < 0.1
            for doc in judged:
                grade = rng.choice(grades)
                if no_relevant and grade > 0:
                    grade = 0
                qrel_lines.append(f"{qid} 0 {doc} {grade}\n")
        if not in_run:
            continue
        length = rng.choice([0, 1, 5, 10, 50, 100, 300, 999, 1000, 1001, 1200, rng.randint(1, 1400)])
        # judged documents are likelier to be retrieved, in any position
        retrieved = rng.sample(judged, min(len(judged), rng.randint(0, length))) if length else []
        chosen = set(retrieved)
        retrieved += [d for d in pool if d not in chosen][: length - len(retrieved)]
        style = n % 3
        for doc in retrieved:
            if style == 0:  # coarse grid: many exact ties
                score = rng.randint(0, 40) / 8.0
            elif style == 1:  # 20-bit fractions: exact in float32, occasional ties
                score = rng.getrandbits(20) / 2**20 * 30.0 - 10.0
            else:  # integers, heavy ties, negative too
                score = float(rng.randint(-3, 3))
            run_lines.append((qid, doc, score))
    for n in range(traps):
        # scores that differ only beyond float32 precision: trec_eval 9.0.8
        # sees ties (broken by docid) where doubles do not
        qid = f"trap{n}"
        docs = rng.sample(docids, 12)
        for doc in docs[:4]:
            qrel_lines.append(f"{qid} 0 {doc} {rng.choice([1, 2])}\n")
        for i, doc in enumerate(docs):
            run_lines.append((qid, doc, 1.0 + (i % 4) * 2**-40))
    for n in range(max(1, queries // 20)):  # run-only queries
        for i in range(5):
            run_lines.append((f"extra{n}", f"doc{i}", 1.0))
    rng.shuffle(run_lines)  # file order and the rank column carry no meaning
    with open(directory / "run.txt", "w", encoding="utf-8", newline="\n") as handle:
        for rank, (qid, doc, score) in enumerate(run_lines, start=1):
            handle.write(f"{qid} Q0 {doc} {rank} {score!r} random\n")
    with open(directory / "qrels.txt", "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(qrel_lines)
    print(f"wrote {directory / 'run.txt'} ({len(run_lines)} lines) and "
          f"{directory / 'qrels.txt'} ({len(qrel_lines)} lines)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", help="TREC run file")
    parser.add_argument("qrels", nargs="?", help="TREC qrels file")
    parser.add_argument("--depth", type=int, default=1000, help="run depth (>= 100)")
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--make-random", metavar="DIR", help="write a random run and qrels")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--float32-traps", type=int, default=0,
                        help="add queries whose scores differ only beyond float32 precision")
    args = parser.parse_args(argv)
    if args.make_random:
        make_random(Path(args.make_random), args.seed, args.queries, args.float32_traps)
        return 0
    if not args.run or not args.qrels:
        parser.error("give RUN and QRELS, or --make-random DIR")
    if args.depth < 100:
        parser.error("--depth must be at least 100 (recall@100 is compared on the full run)")
    return compare(read_run(os.fspath(args.run)), read_qrels(os.fspath(args.qrels)),
                   args.depth, args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
