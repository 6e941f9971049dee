"""Annotations are never lost: concurrent sessions, killed writers, a second writer process.

Mirrors ``emolab/index/annotations.py`` (the save rule in its module docstring). The load
procedures live in ``tests/annotation_stress.py``, shared with ``benchmarks/concurrency.py``.
"""
import csv as csv_module
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from emolab import importers
from emolab.exceptions import ConflictError, SongIndexError
from emolab.index import annotations, integrity, open_index, songs
from tests.annotation_stress import run_sessions, token_values

ROOT = Path(__file__).resolve().parents[1]
STRESS_SECONDS = float(os.environ.get("EMOLAB_STRESS_SECONDS", "15"))


def add(index, **fields):
    with index.transaction() as con:
        return songs.add_song(con, origin="dataset", **fields)


def static(song_id, annotator="ana", valence=0.5, arousal=-0.25, **extra):
    return {"song_id": song_id, "annotator": annotator, "kind": "static",
            "valence": valence, "arousal": arousal, **extra}


# --------------------------------------------------------------------------- save()

def _hold_row(index, aid, started: threading.Event, finish: threading.Event, outcome: str):
    """Another session's transaction that has written ``aid`` and ends when told."""
    con = index.con
    con.execute("BEGIN TRANSACTION")
    annotations.update(con, aid, {"valence": 0.9}, expected_revision=1, who="ben")
    started.set()
    finish.wait(10)
    con.execute("COMMIT" if outcome == "commit" else "ROLLBACK")


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_save_retries_duckdb_conflicts_so_only_the_revision_decides(index, outcome):
    sid = add(index)
    aid = annotations.insert(index.con, static(sid))
    started, finish = threading.Event(), threading.Event()
    other = threading.Thread(target=_hold_row, args=(index, aid, started, finish, outcome))
    other.start()
    started.wait(10)
    calls = []

    def write(con):
        calls.append(1)
        try:
            return annotations.update(con, aid, {"valence": -0.3}, expected_revision=1, who="ana")
        finally:
            if len(calls) == 1:  # DuckDB refused the write above: let the other save end
                finish.set()
                other.join()

    if outcome == "commit":  # ben saved first: ana is told, and nothing of hers is written
        with pytest.raises(ConflictError, match="first save wins"):
            annotations.save(index, write)
        assert annotations.find_static(index.con, sid, "ana")["valence"] == 0.9
    else:  # ben's save was rolled back: nobody saved first, so ana's save goes through
        assert annotations.save(index, write) == 2
        assert annotations.find_static(index.con, sid, "ana")["valence"] == -0.3
    assert len(calls) == 2
    assert integrity.problems(index.con) == []


def test_save_does_not_retry_a_revision_conflict(index):
    aid = annotations.insert(index.con, static(add(index)))
    annotations.update(index.con, aid, {"valence": 0.1}, expected_revision=1, who="ben")
    calls = []

    def write(con):
        calls.append(1)
        return annotations.update(con, aid, {"valence": -0.3}, expected_revision=1, who="ana")

    with pytest.raises(ConflictError, match="Reload"):
        annotations.save(index, write)
    assert len(calls) == 1


def test_update_outside_a_transaction_cannot_overwrite_a_save_made_meanwhile(index, monkeypatch):
    """The revision is checked by the UPDATE itself, not only by the read before it."""
    sid = add(index)
    aid = annotations.insert(index.con, static(sid))
    read = annotations._row
    interleaved = []

    def read_then_ben_saves(con, annotation_id):
        row = read(con, annotation_id)
        if not interleaved:
            interleaved.append(1)
            ben = threading.Thread(target=lambda: annotations.save(index, lambda c: annotations.update(
                c, aid, {"valence": 0.9}, expected_revision=1, who="ben")))
            ben.start()
            ben.join()
        return row

    monkeypatch.setattr(annotations, "_row", read_then_ben_saves)
    with pytest.raises(ConflictError, match="first save wins"):
        annotations.update(index.con, aid, {"valence": -0.9}, expected_revision=1, who="ana")
    monkeypatch.undo()
    label = annotations.find_static(index.con, sid, "ana")
    assert (label["valence"], label["revision"]) == (0.9, 2)
    assert integrity.problems(index.con) == []


# --------------------------------------------------------------------------- concurrent sessions

def test_two_sessions_editing_at_once_keep_every_committed_edit(index):
    a, b = add(index), add(index)
    ids = {s: annotations.insert(index.con, static(s)) for s in (a, b)}
    outcomes = {"saved": 0, "conflicts": 0}
    lock = threading.Lock()

    def session(name, song):
        for i in range(20):
            while True:
                row = annotations.find_static(index.con, song, "ana")
                try:
                    annotations.save(index, lambda con: annotations.update(
                        con, ids[song], {"note": f"{name}-{i}"},
                        expected_revision=row["revision"], who=name))
                    with lock:
                        outcomes["saved"] += 1
                    break
                except ConflictError:  # someone saved first: reload and apply again
                    with lock:
                        outcomes["conflicts"] += 1

    threads = [threading.Thread(target=session, args=(n, s))
               for n, s in [("ana", a), ("ben", a), ("cy", b)]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes["saved"] == 60
    revisions = index.con.execute("SELECT sum(revision - 1) FROM annotations").fetchone()[0]
    updates = index.con.execute(
        "SELECT count(*) FROM annotation_history WHERE action = 'update'").fetchone()[0]
    assert revisions == 60 and updates == 60


@pytest.mark.slow
@pytest.mark.parametrize("sessions", [2, 8])
def test_concurrent_sessions_lose_no_edit_and_only_racers_conflict(index, sessions):
    """Threads sharing one Index (as in the app) edit one shared label, their own labels on
    the same song and on other songs, and insert segment labels, all at once.
    ``EMOLAB_STRESS_SECONDS`` sets the duration per level."""
    report = run_sessions(index, sessions, STRESS_SECONDS, seed=sessions)
    assert report.problems == []  # includes: own labels never conflicted, each loser lost to a winner
    assert report.lost == 0 and report.integrity == []
    assert report.committed > 0 and report.attempted == report.committed + report.conflicts


# --------------------------------------------------------------------------- killed writer

class CrashServer:
    """``python -m tests.annotation_stress crash-server``: forks save loops to kill."""

    def __init__(self, path: Path, log: Path):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        self.stderr = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.annotation_stress", "crash-server", str(path)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True, bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.log = log

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self) -> str:
        try:
            line = self.lines.get(timeout=60)
        except queue.Empty:
            line = None
        assert line is not None, f"the save loop stopped: {self.log.read_text()[-2000:]}"
        return line

    def run_and_kill(self, seed: int, small_wal: bool, after: float) -> list[str]:
        """Start a save loop, SIGKILL it ``after`` seconds later; return what it printed."""
        self.proc.stdin.write(f"run {seed} {int(small_wal)}\n")
        self.proc.stdin.flush()
        ready = self.line()
        assert ready.startswith("READY"), ready
        pid = int(ready.split()[1])
        threading.Event().wait(after)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended by itself: the status below says how
            pass
        printed = []
        while not (line := self.line()).startswith("EXIT"):
            printed.append(line)
        status = int(line.split()[2])
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
            f"the save loop ended by itself: {self.log.read_text()[-2000:]}"
        return printed

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.stderr.close()


def _check_after_crash(path, model, reported, inflight):
    """Reopen the index and compare it with what the killed loop reported; update ``model``
    (``{annotation_id: (revision, k)}``) with the in-flight save if it did commit.

    One failure is DuckDB's, known and documented (docs/reliability.md, "Known limit"): a kill
    while DuckDB 2.0.0 rewrites a metadata block in place during a checkpoint can leave that
    block's checksum wrong, and the file does not open. The test then stops as an expected
    failure naming it (reproduced by benchmarks/checkpoint_kills.py); every other outcome of a
    reopen is checked below."""
    try:
        index = open_index(path)
    except SongIndexError as exc:
        if "checksum does not match" in str(exc):
            pytest.xfail(f"DuckDB's torn metadata block after a kill in a checkpoint: {exc}")
        raise
    with index:
        con = index.con
        stored = {}
        for aid, rev, valence, arousal, tags, note in con.execute(
                "SELECT annotation_id, revision, valence, arousal, tags, note FROM annotations").fetchall():
            k = int(note[1:])
            got = {"valence": valence, "arousal": arousal, "tags": list(tags), "note": note}
            assert got == token_values(k), f"annotation {aid} mixes fields of different saves: {got}"
            stored[aid] = (rev, k)
        if inflight is not None:
            k, op, args = inflight
            if op == "update":
                ids = [int(a) for a in args]
                new = [stored.get(aid) == (model[aid][0] + 1, k) for aid in ids]
                assert all(new) or not any(new), f"save {k} was stored for only some of {ids}"
                if all(new):
                    model.update({aid: (model[aid][0] + 1, k) for aid in ids})
            else:
                extra = set(stored) - set(model)
                if extra:
                    assert len(extra) == 1 and stored[min(extra)] == (1, k), stored
                    model[min(extra)] = (1, k)
        assert stored == model  # nothing lost, nothing invented, never a mix
        history = set()
        for aid, new in con.execute(
                "SELECT annotation_id, new FROM annotation_history").fetchall():
            row = json.loads(new)
            history.add((aid, row["revision"], int(row["note"][1:])))
        assert reported <= history  # every save reported as committed survived the kill
        counts = dict(con.execute(
            "SELECT annotation_id, count(*) FROM annotation_history GROUP BY 1").fetchall())
        assert counts == {aid: rev for aid, (rev, _) in model.items()}
        assert integrity.problems(con) == []


@pytest.mark.slow
def test_killed_writer_leaves_each_annotation_old_or_new_and_keeps_every_commit(tmp_path):
    """A process saving annotations (single labels, several at once, inserts) is SIGKILLed
    at random moments, some in checkpoints; after each kill the index opens, every label is
    exactly its old or its new version, and every reported commit is there."""
    path = tmp_path / "index.duckdb"
    model = {}
    with open_index(path) as index:
        sids = [add(index, title=f"song {i}") for i in range(4)]
        for k in range(1, 7):
            aid = annotations.save(index, lambda con: annotations.insert(
                con, {"song_id": sids[k % 4], "annotator": "crash", "kind": "static",
                      **token_values(k)}))
            model[aid] = (1, k)
    reported = {(aid, 1, k) for aid, (_, k) in model.items()}
    rng = random.Random(7)
    server = CrashServer(path, tmp_path / "server.err")
    commits = kills_mid_save = 0
    try:
        for round_ in range(1, 21):
            printed = server.run_and_kill(round_, small_wal=round_ % 2 == 0,
                                          after=rng.uniform(0.02, 0.5))
            inflight = None
            for line in printed:
                kind, k, *rest = line.split()
                if kind == "BEGIN":
                    inflight = (int(k), rest[0], rest[1:])
                else:
                    assert kind == "COMMIT" and inflight[0] == int(k), line
                    for pair in rest:
                        aid, rev = map(int, pair.split(":"))
                        model[aid] = (rev, int(k))
                        reported.add((aid, rev, int(k)))
                    inflight = None
                    commits += 1
            kills_mid_save += inflight is not None
            _check_after_crash(path, model, reported, inflight)
    finally:
        server.close()
    assert commits > 50 and kills_mid_save >= 5, (commits, kills_mid_save)
    with open_index(path, read_only=True) as index:
        assert integrity.problems(index.con) == []


def test_a_reopened_index_still_checkpoints_after_saves(tmp_path):
    """Opening an existing index used to leave a half-read result, so a transaction stayed
    open for the life of the process: DuckDB then refused every checkpoint and the log of
    saves grew until the app stopped (and had to be replayed at the next start)."""
    path = tmp_path / "index.duckdb"
    with open_index(path) as index:
        sid = add(index)
        aid = annotations.save(index, lambda con: annotations.insert(con, static(sid)))
    with open_index(path) as index:
        annotations.save(index, lambda con: annotations.update(
            con, aid, {"valence": 0.1}, expected_revision=1, who="ana"))
        annotations.find_static(index.con, sid, "ana")  # reads between saves do not block it
        index.con.execute("SET wal_autocheckpoint = '1KB'")
        annotations.save(index, lambda con: annotations.update(
            con, aid, {"valence": 0.2}, expected_revision=2, who="ana"))
        assert not Path(f"{path}.wal").exists() or Path(f"{path}.wal").stat().st_size == 0
        index.checkpoint()


# --------------------------------------------------------------------------- a second writer

def test_a_second_writer_process_is_told_the_index_is_in_use_and_changes_nothing(tmp_path):
    path, csv = tmp_path / "index.duckdb", tmp_path / "labels.csv"
    command = [sys.executable, "-m", "emolab", "import-annotations", str(csv), "--db", str(path)]
    with open_index(path) as app:  # the app process holds the index
        sid = add(app, title="Prelude")
        annotations.insert(app.con, static(sid, valence=0.5))
        importers.export_annotations(app, str(csv))
        with open(csv, newline="", encoding="utf-8") as f:
            rows = list(csv_module.DictReader(f))
        rows[0]["valence"] = "-0.75"
        with open(csv, "w", newline="", encoding="utf-8") as f:
            writer = csv_module.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        before = integrity.checksum(app.con)
        cli = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert cli.returncode == 1
        assert "in use by another program" in cli.stderr and "Nothing was changed" in cli.stderr
        assert "Traceback" not in cli.stderr
        assert integrity.checksum(app.con) == before
    # Once the app has let go, the same command works (so it would have changed something).
    cli = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    with open_index(path) as index:
        assert annotations.find_static(index.con, sid, "ana")["valence"] == -0.75
