"""Fuzz every input door of EmoLab with seeded bad inputs; print a table per door.

Usage::

    .venv/bin/python benchmarks/fuzz.py [--per-door 1000] [--seed 0]
                                        [--doors audio,csv,sql,search] [--json]
                                        [--workdir DIR] [--keep]

Doors (the generators and the judge live in ``tests/fuzzing/``, shared with the tests):

* ``audio``: ``emolab.audio.load`` and ``emolab.pipeline.analyse`` on damaged, truncated,
  bit-flipped, mislabelled, odd-rate, multichannel, NaN/Inf, silent, clipped, tiny and
  very long files (a real 3-hour 8 kHz file, a 201 MB file, a 20-minute one). Each input
  runs in a child process, so a segfault or a hang in a decoder is a reported crash.
* ``csv``: ``emolab.importers.import_annotations`` with files that each hold at least one
  bad row or are unusable (header, encoding, delimiter, quoting, size, a 100 MB file).
* ``sql``: ``emolab.index.query_guard.run`` (timeout 2 s) with writes, file access,
  extensions, several statements, comments, lookalikes, huge and deep queries, slow
  queries and mutated SELECTs.
* ``search``: ``emolab.search.nearest_point``/``match_profile`` with wrong values and
  types, and ``emolab.ui.stroke_to_curve`` with malformed canvas JSON.

An outcome is a *clear refusal* (an ``EmolabError`` with a message, or an import report
listing problems), a *valid result* (finite features, a table), *applied* (a CSV that
turned out valid was imported; the checksum is then re-taken), or a *crash* (any other
exception, a hang, a dead process, or a wrong result such as NaN features or a result
holding a file's contents). The index (built with ``tests.app_harness.fill_index``) is
compared with ``integrity.checksum`` after every input: *rows changed* must be 0, and
``integrity.problems`` must be empty at the end. Exit code 1 on any crash or change.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import fuzzing  # noqa: E402
from tests.app_harness import fill_index  # noqa: E402

DOORS = ("audio", "csv", "sql", "search")


def make_index(workdir: Path, n_songs: int = 24):
    from emolab.index import open_index

    path = workdir / "fuzz.duckdb"
    audio_dir = workdir / "songs_audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    fill_index(path, n_songs=n_songs, audio_dir=audio_dir)
    return open_index(path)


def quiet_streamlit() -> None:
    """Importing emolab.ui outside ``streamlit run`` logs a warning per cached function."""
    import logging

    import emolab.ui  # noqa: F401  (creates streamlit's loggers)

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)


def make_door(name: str, index, workdir: Path):
    if name == "audio":
        return fuzzing.AudioDoor(workdir / "audio", isolated=True, long_files=True)
    if name == "csv":
        return fuzzing.CsvDoor(index, workdir / "csv", big_file=True)
    if name == "sql":
        return fuzzing.SqlDoor(index, workdir / "sql", slow=5, timeout=2.0)
    quiet_streamlit()
    return fuzzing.SearchDoor(index, sketches=True)


def table(reports) -> str:
    lines = [("| door | inputs | clear refusals | valid | applied | crashes | rows changed "
              "| slowest input (s) | door time (s) |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in reports:
        lines.append(f"| {r.door} | {r.inputs:,} | {r.refused:,} | {r.valid:,} | {r.applied:,} "
                     f"| {len(r.crashes)} | {r.rows_changed} | {r.slowest:.2f} | {r.seconds:.0f} |")
    return "\n".join(lines)


def door_section(r) -> str:
    out = [f"### {r.door}", "",
           "| inputs | clear refusals | valid | applied | crashes | rows changed | slowest input (s) |",
           "|---:|---:|---:|---:|---:|---:|---:|",
           (f"| {r.inputs:,} | {r.refused:,} | {r.valid:,} | {r.applied:,} | {len(r.crashes)} "
            f"| {r.rows_changed} | {r.slowest:.2f} |"), "",
           f"Slowest input: {r.slowest_case}", "",
           "| generator family | inputs | slowest (s) |", "|---|---:|---:|"]
    out += [f"| {k} | {v} | {r.family_slowest.get(k, 0):.2f} |"
            for k, v in sorted(r.families.items(), key=lambda kv: -kv[1])]
    out.append("")
    if r.crashes:
        out += ["| crashes | where and what |", "|---:|---|"]
        out += [f"| {n} | `{sig}` |" for sig, n in r.signatures().most_common()]
        out.append("")
    for crash in r.crashes[:5]:
        out += [f"**Crash** [{crash.family}] {crash.description}", "", "```",
                crash.error.rstrip(), "```", ""]
    if len(r.crashes) > 5:
        out.append(f"... and {len(r.crashes) - 5} more crashes.\n")
    if r.applied_cases:
        out.append(f"Inputs that turned out valid and were applied ({r.applied}), e.g.:")
        out += [f"- {c}" for c in r.applied_cases[:5]]
        out.append("")
    for change in r.changes[:5]:
        out.append(f"**Changed the index**: {change}")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-door", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doors", default=",".join(DOORS))
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    doors = [d.strip() for d in args.doors.split(",") if d.strip()]
    unknown = sorted(set(doors) - set(DOORS))
    if unknown:
        parser.error(f"unknown door(s) {', '.join(unknown)}; choose from {', '.join(DOORS)}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="emolab-fuzz-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    reports = []
    from emolab.index import integrity

    try:
        index = make_index(workdir)
        for name in doors:
            door = make_door(name, index, workdir)
            before = integrity.checksum(index.con)

            def progress(done, total, name=name):
                if done % 100 == 0 or done == total:
                    print(f"  {name}: {done}/{total} ({time.perf_counter() - started:.0f} s)",
                          file=sys.stderr, flush=True)

            try:
                report = fuzzing.run_door(door, args.per_door, seed=args.seed + DOORS.index(name),
                                          index=index,
                                          time_limit=180.0 if name == "audio" else 60.0,
                                          progress=progress)
            finally:
                if hasattr(door, "close"):
                    door.close()
            if report.applied == 0 and integrity.checksum(index.con) != before:
                report.crashes.append(fuzzing.Crash("after", "index checksum after the door",
                                                    "the index changed during the door"))
            reports.append(report)
        problems = integrity.problems(index.con)
        index.close()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - started
    if args.json:
        print(json.dumps({"seed": args.seed, "per_door": args.per_door, "seconds": round(total, 1),
                          "integrity_problems": problems,
                          "doors": [r.to_dict() for r in reports]}, indent=2, default=str))
    else:
        print(f"## EmoLab fuzzing: {args.per_door:,} inputs per door, seed {args.seed}\n")
        print(table(reports))
        print(f"\nTotal time {total:.0f} s. Index integrity problems at the end: "
              f"{'none' if not problems else '; '.join(problems)}.\n")
        for r in reports:
            print(door_section(r))
            print()
    bad = problems or any(not r.clean for r in reports)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
