"""Crash safety of ingest: SIGKILL ``emolab ingest`` many times, check the index after each kill.

Usage::

    .venv/bin/python benchmarks/crash.py [--kills 100] [--seed 0] [--round 20] [--songs 10]
                                         [--seconds 1.0] [--workdir DIR] [--verbose]

Generates a folder of short songs, ingests it once cleanly (the reference), then runs
rounds of ``--round`` kills (the procedure of
``tests/test_pipeline.py::test_ingest_killed_at_random_points_then_resumed_equals_a_clean_run``,
see ``tests/crash_harness.py``): each round starts a new index, kills the CLI at seeded
random moments of its stages (startup, schema creation, opening, warm-up, writing), checks
the index after every kill, then resumes to completion and compares with the reference.
Prints the kills, how many landed while songs were being written, consistency violations,
duplicates, whether every final index equals the clean one, and the runtime.
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.crash_harness import clean_run, crash_round
from tests.test_pipeline import make_folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--round", type=int, default=20, help="kills per round (one new index each)")
    parser.add_argument("--songs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each song")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--verbose", action="store_true", help="print every kill")
    args = parser.parse_args()

    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        folder = make_folder(tmp / "music", n_good=args.songs, n_bad=0, seconds=args.seconds)
        timeline = clean_run(folder, tmp / "clean.duckdb")
        print(f"clean run: {timeline.end:.1f} s (index open after {timeline.opened:.2f} s, "
              f"songs stored {timeline.first_song:.1f}-{timeline.last_song:.1f} s)", flush=True)
        rounds = math.ceil(args.kills / args.round)
        kills = during_writes = early = duplicates = 0
        stages, violations, unequal = Counter(), [], 0
        for r in range(rounds):
            n = min(args.round, args.kills - r * args.round)
            report = crash_round(folder, tmp / "clean.duckdb", tmp / f"killed{r}.duckdb", kills=n,
                                 seed=args.seed + r, timeline=timeline,
                                 log=print if args.verbose else None)
            kills += report.kills
            during_writes += report.during_writes
            early += report.finished_early
            duplicates += report.duplicates
            stages += report.stages
            violations += report.violations
            unequal += not report.final_equals_clean
            print(f"round {r + 1}/{rounds}: {report.kills} kills, {report.during_writes} while "
                  f"writing, {len(report.violations)} violations, final equals clean: "
                  f"{'yes' if report.final_equals_clean else 'no'}, {report.seconds:.0f} s", flush=True)
            for line in report.violations + report.differences:
                print("   ", line)
    print()
    print(f"kills:                        {kills} "
          f"({', '.join(f'{s} {n}' for s, n in sorted(stages.items()))})")
    print(f"runs that ended before kill:  {early}")
    print(f"kills while songs were written: {during_writes}")
    print(f"consistency violations:       {len(violations)}")
    print(f"duplicates:                   {duplicates}")
    print(f"final equals clean:           {'yes' if not unequal else f'no ({unequal} of {rounds} rounds)'}")
    print(f"runtime:                      {time.monotonic() - started:.0f} s")
    return 1 if violations or duplicates or unequal else 0


if __name__ == "__main__":
    sys.exit(main())
