"""Annotations under load: simulated app sessions, and a save loop to kill.

Shared by ``tests/test_annotations.py`` and ``benchmarks/concurrency.py``:

* :func:`run_sessions` is the concurrency procedure. Sessions are threads sharing one
  :class:`~emolab.index.Index`, exactly as the app's browser sessions are threads of one
  server process, and save through :func:`emolab.index.annotations.save` like the
  Annotate page. Each keeps a log of what it committed and of the conflicts it was told
  about; :func:`check_sessions` compares the logs with the index afterwards.
* :func:`crash_server` forks save loops (:func:`crash_worker`) on request, so a test
  can SIGKILL a writer at random moments and restart it without paying Python's import
  time each round: ``python -m tests.annotation_stress crash-server INDEX``.
"""
from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

import duckdb

from emolab.exceptions import ConflictError
from emolab.index import annotations, integrity, songs

SHARED = "shared"  # annotator of the one label every session edits


# --------------------------------------------------------------------------- sessions

@dataclass
class Commit:
    """One save that :func:`annotations.save` returned from (so it is stored)."""
    session: str
    op: str
    annotation_id: int
    revision: int
    based_on: int | None  # the revision the edit was made on; None for an insert
    values: dict


@dataclass
class Refusal:
    """One save refused with a ConflictError: the loser was told."""
    session: str
    op: str
    annotation_id: int
    based_on: int
    by_duckdb: bool  # DuckDB's write-write conflict (after retries), not the revision check
    message: str


@dataclass
class Session:
    name: str
    shared_id: int
    own: dict  # annotation_id -> revision this session last saw (like the page's state)
    own_songs: tuple  # (the shared song, this session's own song)
    attempted: int = 0
    commits: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    errors: list = field(default_factory=list)


@dataclass
class SessionsReport:
    sessions: int
    seconds: float
    attempted: int
    committed: int
    conflicts: int
    conflicts_by_duckdb: int
    lost: int
    problems: list
    integrity: list

    @property
    def edits_per_second(self) -> float:
        return self.committed / self.seconds if self.seconds else 0.0


def _values(rng: random.Random, who: str, n: int) -> dict:
    return {"valence": rng.uniform(-1, 1), "arousal": rng.uniform(-1, 1), "note": f"{who}#{n}"}


def prepare(index, n_sessions: int) -> tuple[list[Session], list[Commit]]:
    """A shared song with one label everyone edits, and per session a label of its own on
    the shared song and one on a song of its own. Returns the sessions and the setup saves."""
    setup = []

    def write(con):
        shared_song = songs.add_song(con, title="shared", origin="dataset")
        shared_id = annotations.insert(con, {"song_id": shared_song, "annotator": SHARED,
                                             "kind": "static", "valence": 0.0, "arousal": 0.0})
        made = []
        for i in range(n_sessions):
            name = f"s{i}"
            own_song = songs.add_song(con, title=f"song of {name}", origin="dataset")
            own = {annotations.insert(con, {"song_id": song, "annotator": name, "kind": "static",
                                            "valence": 0.0, "arousal": 0.0}): 1
                   for song in (shared_song, own_song)}
            made.append(Session(name, shared_id, own, (shared_song, own_song)))
        return made

    sessions = annotations.save(index, write)
    for row in annotations.list_annotations(index.con).itertuples():
        setup.append(Commit("setup", "insert", int(row.annotation_id), 1, None,
                            {"valence": 0.0, "arousal": 0.0, "note": None}))
    return sessions, setup


def _session(index, session: Session, deadline: float, seed: int, attempts: int) -> None:
    rng = random.Random(seed)
    n = 0
    while time.monotonic() < deadline:
        n += 1
        values = _values(rng, session.name, n)
        op = rng.choices(["shared", "own", "insert"], weights=[4, 4, 2])[0]
        if op == "shared":
            # Open the label as the page does, take a moment, then save.
            aid = session.shared_id
            based_on = annotations.find_static(index.con, session.own_songs[0], SHARED)["revision"]
            time.sleep(rng.uniform(0, 0.003))
        elif op == "own":
            aid = rng.choice(sorted(session.own))
            based_on = session.own[aid]
        else:
            aid, based_on = None, None
            song = rng.choice(session.own_songs)
            t0 = rng.uniform(0, 100)
            segment = {"song_id": song, "annotator": session.name, "kind": "segment",
                       "t0": t0, "t1": t0 + 5, **values}

        if aid is None:
            def write(con):
                return annotations.insert(con, segment), 1
        else:
            def write(con):
                return aid, annotations.update(con, aid, values, expected_revision=based_on,
                                               who=session.name)
        session.attempted += 1
        try:
            saved_id, revision = annotations.save(index, write, attempts=attempts)
        except ConflictError as exc:
            session.refusals.append(Refusal(session.name, op, aid, based_on,
                                            isinstance(exc.__cause__, duckdb.TransactionException),
                                            str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - any other failure is a finding
            session.errors.append(repr(exc))
            return
        session.commits.append(Commit(session.name, op, saved_id, revision, based_on, values))
        if op != "shared":
            session.own[saved_id] = revision


def run_sessions(index, n_sessions: int, seconds: float, *, seed: int = 0,
                 attempts: int = annotations.SAVE_ATTEMPTS) -> SessionsReport:
    """Let ``n_sessions`` threads save annotations at once for ``seconds``, then check."""
    sessions, setup = prepare(index, n_sessions)
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=_session, args=(index, s, deadline, seed * 1000 + i, attempts))
               for i, s in enumerate(sessions)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return check_sessions(index, sessions, setup, time.monotonic() - start)


def check_sessions(index, sessions: list[Session], setup: list[Commit],
                   elapsed: float) -> SessionsReport:
    """Compare the sessions' logs with the index: the rules of the annotation module."""
    con = index.con
    problems = [f"{s.name} failed: {e}" for s in sessions for e in s.errors]
    commits = setup + [c for s in sessions for c in s.commits]
    refusals = [r for s in sessions for r in s.refusals]

    by_key: dict[tuple[int, int], Commit] = {}
    for c in commits:
        if (c.annotation_id, c.revision) in by_key:
            problems.append(f"two saves committed revision {c.revision} of annotation {c.annotation_id}.")
        by_key[(c.annotation_id, c.revision)] = c
        if c.based_on is not None and c.revision != c.based_on + 1:
            problems.append(f"{c.session} saved revision {c.revision} of annotation "
                            f"{c.annotation_id} on top of revision {c.based_on}.")
    revisions: dict[int, list[int]] = {}
    for aid, rev in by_key:
        revisions.setdefault(aid, []).append(rev)
    for aid, revs in revisions.items():
        if sorted(revs) != list(range(1, max(revs) + 1)):
            problems.append(f"annotation {aid} has gaps in its committed revisions.")

    history = {}
    for aid, action, new in con.execute(
            "SELECT annotation_id, action, new FROM annotation_history ORDER BY history_id").fetchall():
        row = json.loads(new)
        key = (aid, row["revision"])
        if key in history:
            problems.append(f"annotation {aid} has two history entries for revision {row['revision']}.")
        history[key] = row
    lost = 0
    for key, c in by_key.items():
        row = history.get(key)
        if c.session == "setup":
            continue
        if row is None or any(row[k] != v for k, v in c.values.items()):
            lost += 1
    if len(history) != len(by_key):
        problems.append(f"{len(history)} history entries for {len(by_key)} committed saves.")

    stored = {r[0]: r[1:] for r in con.execute(
        "SELECT annotation_id, revision, valence, arousal, note FROM annotations").fetchall()}
    if set(stored) != set(revisions):
        problems.append("the annotations stored are not the ones committed.")
    for aid, revs in revisions.items():
        last = by_key[(aid, max(revs))]
        want = (last.revision, last.values["valence"], last.values["arousal"], last.values["note"])
        if stored.get(aid) != want:
            lost += 1
            problems.append(f"annotation {aid} is {stored.get(aid)}, its last save was {want}.")

    for r in refusals:  # a loser must have lost to someone: another session's save
        winner = by_key.get((r.annotation_id, r.based_on + 1)) if r.op == "shared" else None
        if r.op != "shared":
            problems.append(f"{r.session} was refused a save of its own annotation: {r.message}")
        elif winner is None or winner.session == r.session:
            problems.append(f"{r.session} was refused a save of revision {r.based_on} of "
                            f"annotation {r.annotation_id}, but nobody else saved it.")
    if lost:
        problems.append(f"{lost} committed saves are not in the index as saved.")
    return SessionsReport(
        sessions=len(sessions), seconds=elapsed,
        attempted=sum(s.attempted for s in sessions),
        committed=len(commits) - len(setup), conflicts=len(refusals),
        conflicts_by_duckdb=sum(r.by_duckdb for r in refusals), lost=lost,
        problems=problems, integrity=integrity.problems(con))


# --------------------------------------------------------------------------- crashes

def token_values(k: int) -> dict:
    """Field values that all name the save ``k``, so a mixture of two saves shows."""
    return {"valence": ((k * 7919) % 2001 - 1000) / 1000,
            "arousal": ((k * 104729) % 2001 - 1000) / 1000,
            "tags": [f"t{k}"], "note": f"k{k}"}


def _emit(line: str) -> None:
    os.write(1, (line + "\n").encode())  # one write: whole lines, nothing buffered


def crash_worker(path: str, seed: int, small_wal: bool) -> None:
    """Save annotations in a loop until killed. Prints ``BEGIN k op ...`` before a save and
    ``COMMIT k aid:rev ...`` once :func:`annotations.save` has returned."""
    from emolab.index import open_index

    index = open_index(path)
    if small_wal:  # checkpoint every few saves, so kills also land in checkpoints
        index.con.execute("SET wal_autocheckpoint = '8KB'")
    rng = random.Random(seed)
    song_ids = [r[0] for r in index.con.execute("SELECT song_id FROM songs").fetchall()]
    _emit(f"READY {os.getpid()}")
    k = seed * 100_000
    while True:
        k += 1
        current = dict(index.con.execute("SELECT annotation_id, revision FROM annotations").fetchall())
        roll = rng.random()
        if roll < 0.2:
            song = rng.choice(song_ids)
            _emit(f"BEGIN {k} insert {song}")

            def write(con):
                aid = annotations.insert(con, {"song_id": song, "annotator": "crash",
                                               "kind": "static", **token_values(k)})
                return [(aid, 1)]
        else:  # one label, or several at once like a table save
            ids = rng.sample(sorted(current), 1 if roll < 0.6 else min(3, len(current)))
            _emit(f"BEGIN {k} update {' '.join(map(str, ids))}")

            def write(con):
                return [(aid, annotations.update(con, aid, token_values(k),
                                                 expected_revision=current[aid], who="crash"))
                        for aid in ids]
        saved = annotations.save(index, write)
        _emit(f"COMMIT {k} " + " ".join(f"{aid}:{rev}" for aid, rev in saved))
        if rng.random() < 0.03:
            index.checkpoint()


def crash_server(path: str) -> None:
    """Read ``run SEED SMALL_WAL`` lines; fork a :func:`crash_worker` for each, wait for it
    to die (the test kills it) and print ``EXIT pid status``. ``quit`` ends."""
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            return
        pid = os.fork()
        if pid == 0:
            try:
                crash_worker(path, int(words[1]), words[2] == "1")
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        _emit(f"EXIT {pid} {status}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["crash-server"]:
        crash_server(sys.argv[2])
    else:
        sys.exit("usage: python -m tests.annotation_stress crash-server INDEX")
