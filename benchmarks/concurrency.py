"""Annotation saves from many app sessions at once: throughput, conflicts, lost edits.

    .venv/bin/python benchmarks/concurrency.py [--sessions 2,8] [--seconds 60] [--attempts 4]

For each level, a fresh DuckDB index in a temp dir and that many sessions: threads
sharing one ``Index``, as the app's browser sessions are threads of one server process,
saving through ``emolab.index.annotations.save`` like the Annotate page. Each session
edits a label every session edits (the racers), its own labels on the same song and on a
song of its own, and inserts segment labels. Afterwards the sessions' logs are compared
with the index (``tests/annotation_stress.py``, the same procedure as
``tests/test_annotations.py``). Lost edits must be 0; conflicts happen only on the shared
label. ``--attempts 1`` turns off the retry of DuckDB's own write-write conflicts, to see
what DuckDB does by itself.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emolab.index import annotations, open_index  # noqa: E402
from tests.annotation_stress import run_sessions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="2,8", help="comma-separated session counts")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of each level")
    parser.add_argument("--attempts", type=int, default=annotations.SAVE_ATTEMPTS,
                        help="tries per save on a DuckDB write-write conflict")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| sessions | seconds | edits attempted | committed | conflicts told to the loser "
          "(of them DuckDB's) | lost edits | edits/s | integrity problems | other problems |\n"
          "|---|---|---|---|---|---|---|---|---|", flush=True)
    failed = False
    with tempfile.TemporaryDirectory(prefix="emolab-concurrency-") as tmp:
        for n in [int(x) for x in args.sessions.split(",")]:
            with open_index(Path(tmp) / f"sessions{n}.duckdb") as index:
                r = run_sessions(index, n, args.seconds, seed=args.seed + n, attempts=args.attempts)
            failed |= bool(r.lost or r.problems or r.integrity)
            print(f"| {r.sessions} | {r.seconds:.1f} | {r.attempted} | {r.committed} | "
                  f"{r.conflicts} ({r.conflicts_by_duckdb}) | {r.lost} | {r.edits_per_second:.1f} | "
                  f"{len(r.integrity)} | {len(r.problems)} |", flush=True)
            for line in r.integrity + r.problems[:20]:
                print(f"    {line}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
