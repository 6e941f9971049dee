"""Crash-testing ``emolab ingest``: SIGKILL the CLI at chosen stages, check the index each time.

One *round*: a clean ingest of a folder (the reference), then the same ingest against a
second index, killed ``kills`` times at seeded random moments, the index inspected after
every kill, and finally resumed to completion and compared with the reference.
``tests/test_pipeline.py`` runs one round of 20 kills; ``benchmarks/crash.py`` runs many.

Only the command line is used, so the pipeline's internals do not matter. Its stages are
seen from outside: the moment the CLI holds the index file open (``/proc/<pid>/fd``) and
the songs its progress bar reports done. Each kill draws a stage and a delay from its
anchor; the stages are

``startup``  Python start, imports, argument parsing (before the index is opened)
``schema``   creating the tables of a new index (the first kill of a round, on no file)
``open``     opening the index: replaying the log of an earlier kill, migrating, hashing
``warmup``   index open, analysis processes starting (nothing written yet)
``write``    songs being analysed and stored
"""
from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emolab.index import integrity, open_index
from emolab.index.schema import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
#: Share of each stage among the kills after the first (which is always ``schema``).
STAGE_SHARES = {"startup": 0.40, "open": 0.35, "warmup": 0.10, "write": 0.15}
_PROGRESS = re.compile(rb"(\d+)/(\d+) \[")


@dataclass
class Timeline:
    """When a clean run did what, in seconds after it was launched."""

    opened: float
    first_song: float
    last_song: float
    end: float
    songs: int

    @property
    def per_song(self) -> float:
        return (self.last_song - self.first_song) / max(1, self.songs - 1)


@dataclass
class CrashReport:
    kills: int = 0
    stages: Counter = field(default_factory=Counter)
    during_writes: int = 0   # kills after which the index held more songs than before
    finished_early: int = 0  # runs that ended before their kill (not counted as kills)
    violations: list[str] = field(default_factory=list)
    duplicates: int = 0
    differences: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_equals_clean(self) -> bool:
        return not self.differences


class IngestRun:
    """``python -m emolab ingest FOLDER --db DB --no-models --workers 1`` in its own session.

    Its own process group lets :meth:`kill` take the analysis children down with it
    (orphaned children would keep the cores busy). Progress on stderr is timestamped.
    """

    def __init__(self, folder: Path, db: Path):
        self.db = Path(db)
        self._target = str(self.db.resolve())
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.start = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emolab", "ingest", str(folder), "--db", str(db),
             "--no-models", "--workers", "1"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.stderr = bytearray()
        self.done: list[tuple[float, int]] = []  # (seconds after launch, songs done)
        self.ended: float | None = None  # seconds after launch of the kill
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := self.proc.stderr.read1(65536):
            now = time.monotonic() - self.start
            self.stderr += chunk
            for done, _total in _PROGRESS.findall(chunk):
                if int(done) and (not self.done or self.done[-1][1] < int(done)):
                    self.done.append((now, int(done)))

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_until(self, condition, deadline: float) -> bool:
        """Poll ``condition`` until it holds (True), the run ends or ``deadline`` (False)."""
        while self.alive() and self.elapsed() < deadline:
            if condition():
                return True
            time.sleep(0.002)
        return False

    def has_index_open(self) -> bool:
        """Whether the CLI process holds the index file open (Linux ``/proc``)."""
        fd_dir = Path(f"/proc/{self.proc.pid}/fd")
        try:
            return any(os.readlink(fd_dir / fd) == self._target for fd in os.listdir(fd_dir))
        except OSError:
            return False

    def sleep_until(self, moment: float) -> None:
        while self.alive() and self.elapsed() < moment:
            time.sleep(min(0.005, max(0.0, moment - self.elapsed())))

    def kill(self) -> bool:
        """SIGKILL the whole process group; True when the run was still going."""
        alive = self.alive()
        self.ended = self.elapsed()
        if alive:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its group: the CLI and its children
            except ProcessLookupError:
                pass
        self.finish()
        return alive

    def finish(self, timeout: float | None = None) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def text(self) -> str:
        return self.stderr.decode(errors="replace")


def clean_run(folder: Path, db: Path, timeout: float = 600) -> Timeline:
    """Ingest ``folder`` into a new ``db`` without interruption; return its timeline."""
    run = IngestRun(folder, db)
    run.wait_until(run.has_index_open, timeout)
    opened = run.elapsed()
    code = run.finish(timeout)
    end = run.elapsed()
    assert code == 0, run.text()
    assert run.done, f"no progress seen on stderr:\n{run.text()}"
    return Timeline(opened=opened, first_song=run.done[0][0], last_song=run.done[-1][0], end=end,
                    songs=run.done[-1][1])


def plan(kills: int, rng: np.random.Generator) -> list[str]:
    """``schema`` first, then the other stages in :data:`STAGE_SHARES`, shuffled."""
    rest = kills - 1
    counts = {s: math.floor(share * rest) for s, share in STAGE_SHARES.items()}
    by_remainder = sorted(STAGE_SHARES, key=lambda s: counts[s] - STAGE_SHARES[s] * rest)
    for stage in by_remainder[: rest - sum(counts.values())]:
        counts[stage] += 1
    stages = [s for s, n in counts.items() for _ in range(n)]
    return ["schema"][:kills] + [stages[i] for i in rng.permutation(len(stages))]


def kill_at_stage(run: IngestRun, stage: str, timeline: Timeline, rng) -> bool:
    """Wait for ``stage`` (plus a random delay) and SIGKILL ``run``; False if it ended first."""
    deadline = 2 * timeline.end + 30
    if stage == "startup":
        run.sleep_until(rng.uniform(0.05, 1.0) * timeline.opened)
        return run.kill()
    if not run.wait_until(run.has_index_open, deadline):  # no /proc: fall back on the clock
        run.sleep_until(timeline.opened)
    if stage == "schema":
        delay = rng.uniform(0.0, 0.06)
    elif stage == "open":
        delay = rng.uniform(0.0, 0.3)
    elif stage == "warmup":
        # early in the clean run's wait for its first song: safely before any write
        delay = rng.uniform(0.3, max(0.4, 0.4 * (timeline.first_song - timeline.opened)))
    elif stage == "write":
        run.wait_until(lambda: bool(run.done), deadline)
        delay = rng.uniform(0.0, 2 * timeline.per_song)
    else:
        raise ValueError(stage)
    run.sleep_until(run.elapsed() + delay)
    return run.kill()


def inspect(db: Path) -> tuple[str, list[str], list[str]]:
    """``(state, content hashes of the songs, broken invariants)`` of an index after a kill.

    ``state`` is ``"no file"``, ``"no schema"`` (killed before the first migration
    committed) or ``"indexed"``. The index is opened read-only, which sees exactly what
    is on disk (DuckDB replays its log in memory and changes no file), so that the next
    run resumes from the very state the kill left.
    """
    if not db.exists():
        return "no file", [], []
    with open_index(db, read_only=True) as idx:
        con = idx.con
        names = set(integrity.tables(con))
        version = (con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
                   if "schema_version" in names else None)
        if version != SCHEMA_VERSION:
            extra = sorted(names - {"schema_version"})
            half_done = f"schema version {version} with tables {extra}: a half-done migration"
            return "no schema", [], [half_done] if extra else []
        found = integrity.problems(con)
        hashes = [r[0] for r in con.execute("SELECT content_hash FROM songs").fetchall()]
        twice = con.execute("SELECT count(*) FROM (SELECT content_hash FROM songs "
                            "GROUP BY content_hash HAVING count(*) > 1)").fetchone()[0]
        twice_f = con.execute("SELECT count(*) FROM (SELECT song_id FROM features "
                              "GROUP BY song_id, family, origin HAVING count(*) > 1)").fetchone()[0]
    if twice or twice_f:
        found.append(f"duplicates: {twice} content hashes, {twice_f} feature rows")
    return "indexed", hashes, found


def snapshot(db: Path) -> dict:
    """What a finished index holds, keyed by content (song ids depend on history)."""
    with open_index(db, read_only=True) as idx:
        con = idx.con
        songs = {r[0]: r[1:] for r in con.execute(
            "SELECT content_hash, title, source_path, duration, sample_rate, origin, has_audio "
            "FROM songs").fetchall()}
        features = {(h, fam, origin): np.asarray(vec, dtype=np.float32) for h, fam, origin, vec in
                    con.execute("SELECT s.content_hash, f.family, f.origin, f.vector FROM features f "
                                "JOIN songs s USING (song_id)").fetchall()}
        families = dict(con.execute("SELECT family, columns FROM feature_families").fetchall())
        other = {t: n for t, (n, _) in integrity.checksum(con).items()
                 if t not in ("songs", "features", "feature_families", "schema_version")}
    return {"songs": songs, "features": features, "families": families, "other": other}


def differences(clean: dict, resumed: dict) -> list[str]:
    out = []
    for key in ("songs", "families", "other"):
        if clean[key] != resumed[key]:
            out.append(f"{key} differ: clean {clean[key]!r}, resumed {resumed[key]!r}")
    a, b = clean["features"], resumed["features"]
    if set(a) != set(b):
        out.append(f"feature rows differ: only clean {sorted(set(a) - set(b))}, "
                   f"only resumed {sorted(set(b) - set(a))}")
    for key in sorted(set(a) & set(b)):
        # equal_nan: the fast extractor leaves the columns it does not compute as NaN
        if a[key].shape != b[key].shape or not np.allclose(a[key], b[key], rtol=1e-5, atol=1e-6,
                                                           equal_nan=True):
            out.append(f"feature vector {key} differs")
    return out


def crash_round(folder: Path, clean_db: Path, killed_db: Path, *, kills: int, seed: int,
                timeline: Timeline | None = None, log=None) -> CrashReport:
    """Kill an ingest of ``folder`` into ``killed_db`` ``kills`` times, then let it finish.

    ``clean_db`` is made by a clean run unless ``timeline`` says it exists already.
    """
    started = time.monotonic()
    assert not Path(killed_db).exists(), "a round starts without an index"
    if timeline is None:
        timeline = clean_run(folder, clean_db)
    rng = np.random.default_rng(seed)
    report = CrashReport()
    stages = iter(plan(kills, rng))
    songs_before = 0
    for attempt in range(3 * kills):
        if report.kills == kills:
            break
        stage = next(stages, "open")
        if stage in ("warmup", "write") and songs_before == timeline.songs:
            stage = "open"  # nothing left to analyse
        run = IngestRun(folder, killed_db)
        killed = kill_at_stage(run, stage, timeline, rng)
        if not killed:
            report.finished_early += 1
            if run.proc.returncode != 0:
                report.violations.append(f"run {attempt} failed on its own:\n{run.text()}")
        elif "Traceback" in run.text():
            report.violations.append(f"run {attempt} ({stage}) crashed before its kill:\n{run.text()}")
        state, hashes, found = inspect(killed_db)
        if len(hashes) < songs_before:
            found.append(f"songs went down from {songs_before} to {len(hashes)}")
        if killed:
            report.kills += 1
            report.stages[stage] += 1
            report.during_writes += len(hashes) > songs_before
        report.duplicates += len(hashes) - len(set(hashes))
        report.violations += [f"after kill {report.kills} ({stage}, {run.ended:.2f} s): {p}"
                              for p in found]
        if log is not None:
            log(f"{'kill' if killed else 'done'} {report.kills:3d} {stage:8s} at {run.ended:6.2f} s: "
                f"{songs_before} -> {len(hashes)} songs ({state}){'; ' + '; '.join(found) if found else ''}")
        songs_before = len(hashes)
    final = IngestRun(folder, killed_db)
    if final.finish(600) != 0:
        report.violations.append(f"the final resume failed:\n{final.text()}")
    _, hashes, found = inspect(killed_db)
    report.violations += [f"after the final resume: {p}" for p in found]
    report.duplicates += len(hashes) - len(set(hashes))
    report.differences = differences(snapshot(clean_db), snapshot(killed_db))
    report.seconds = time.monotonic() - started
    return report
