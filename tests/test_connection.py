"""The index while another process holds it: the CLI still reads, an ingest says what to do."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from emolab.exceptions import SongIndexError, IndexInUseError
from emolab.index import open_for_reading, open_index, songs

ROOT = Path(__file__).resolve().parents[1]

# Holds the index the way the app does (one writable connection for the process's life),
# adds songs, and with --busy keeps writing: one song and one annotation per transaction.
HOLDER = textwrap.dedent("""
    import sys, time
    from emolab.index import annotations, open_index, songs
    idx = open_index(sys.argv[1])
    def add(i):
        with idx.transaction() as con:
            sid = songs.add_song(con, title=f"Song {i}", origin="ingested")
            annotations.insert(con, {"song_id": sid, "annotator": "a", "kind": "static",
                                     "valence": 0.1, "arousal": 0.2})
    for i in range(3):
        add(i)
    print("ready", flush=True)
    i = 3
    deadline = time.time() + float(sys.argv[2])
    while time.time() < deadline:
        if sys.argv[3] == "busy":
            add(i)
            i += 1
        time.sleep(0.01)
""")


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "EMOLAB_NO_DEMO": "1"}


def _hold(db, seconds, mode="idle"):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(seconds), mode],
                            stdout=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "emolab", *args], capture_output=True,
                          text=True, env=_env(), cwd=ROOT, timeout=300)


@pytest.fixture
def held(tmp_path):
    db = tmp_path / "held.duckdb"
    proc = _hold(db, 600)
    yield db
    proc.kill()
    proc.wait()


def test_a_held_index_refuses_a_second_writer_with_a_sentence(held):
    with pytest.raises(IndexInUseError, match="in use by another program"):
        open_index(held)


def test_cli_reads_while_another_process_holds_the_index(held, tmp_path):
    stats = _cli("stats", "--json", "--db", str(held))
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["songs"] == 3 and json.loads(stats.stdout)["annotations"] == 3
    assert "snapshot" in stats.stderr

    query = _cli("query", "SELECT title FROM songs ORDER BY title", "--db", str(held))
    assert query.returncode == 0, query.stderr
    assert query.stdout.splitlines() == ["title", "Song 0", "Song 1", "Song 2"]

    export = _cli("export", "--db", str(held))
    assert export.returncode == 0, export.stderr
    assert len(export.stdout.strip().splitlines()) == 4  # header + 3 labels


def test_cli_backs_up_an_index_another_process_holds(held, tmp_path):
    target = tmp_path / "copy.duckdb"
    result = _cli("backup", str(target), "--db", str(held))
    assert result.returncode == 0, result.stderr
    with open_index(target) as copy:
        assert songs.stats(copy.con)["songs"] == 3 and songs.stats(copy.con)["annotations"] == 3


def test_cli_ingest_says_how_to_import_from_the_app(held, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    result = _cli("ingest", str(folder), "--db", str(held))
    assert result.returncode == 1
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "Import a folder" in err and str(folder.resolve()) in err


def test_snapshots_taken_during_writes_are_consistent(tmp_path):
    db = tmp_path / "busy.duckdb"
    proc = _hold(db, 60, "busy")
    try:
        seen = []
        for _ in range(15):
            with open_for_reading(db) as index:
                assert index.snapshot_of == db
                counts = songs.stats(index.con)
            # every transaction adds one song and its label: a torn copy would differ
            assert counts["songs"] == counts["annotations"]
            seen.append(counts["songs"])
            time.sleep(0.05)
        assert seen == sorted(seen) and seen[-1] > seen[0] >= 3
    finally:
        proc.kill()
        proc.wait()
    with open_for_reading(db) as index:  # free again: the file itself, no snapshot
        assert index.snapshot_of is None and songs.stats(index.con)["songs"] >= seen[-1]


def test_reading_a_missing_index_says_so(tmp_path):
    with pytest.raises(SongIndexError, match="no song index"):
        with open_for_reading(tmp_path / "nothing.duckdb"):
            pass
    assert not (tmp_path / "nothing.duckdb").exists()
