import hashlib

import numpy as np
import pytest

from emolab.exceptions import ConflictError, SongIndexError, ParameterError, QueryRefusedError
from emolab.index import SCHEMA_VERSION, annotations, emotion, open_index, query_guard, songs, vectors


def add(index, **fields):
    with index.transaction() as con:
        return songs.add_song(con, origin="ingested", **fields)


def static(song_id, annotator="ana", valence=0.5, arousal=-0.25, **extra):
    return {"song_id": song_id, "annotator": annotator, "kind": "static",
            "valence": valence, "arousal": arousal, **extra}


def test_schema_is_created_once_and_reopening_keeps_data(tmp_path):
    path = tmp_path / "i.duckdb"
    with open_index(path) as idx:
        add(idx, title="Prelude", content_hash="h")
    with open_index(path) as idx:
        assert idx.con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        assert idx.con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        assert songs.stats(idx.con)["songs"] == 1


def test_read_only_index_must_exist(tmp_path):
    with pytest.raises(SongIndexError, match="no song index"):
        open_index(tmp_path / "missing.duckdb", read_only=True)


def test_failed_transaction_leaves_nothing(index):
    with pytest.raises(RuntimeError):
        with index.transaction() as con:
            songs.add_song(con, title="half", origin="ingested")
            raise RuntimeError("crash mid-write")
    assert songs.stats(index.con)["songs"] == 0


def test_content_hash_and_dataset_ids_are_unique(index):
    add(index, content_hash="abc")
    with pytest.raises(Exception):
        add(index, content_hash="abc")
    sid = add(index, dataset="emomusic", dataset_id="2", origin_note=None) if False else \
        add(index, dataset="emomusic", dataset_id="2")
    assert songs.song_id_by_dataset(index.con, "emomusic", 2) == sid
    assert songs.song_id_by_hash(index.con, "abc") is not None


def test_features_roundtrip_and_family_columns_are_fixed(index):
    a, b = add(index), add(index)
    with index.transaction() as con:
        vectors.register_family(con, "toy", ["x", "y", "z"])
        vectors.put_features(con, a, "toy", [1, 2, 3])
        vectors.put_features(con, b, "toy", [4, 5, 6], origin="dataset")
        vectors.put_features(con, b, "toy", [7, 8, 9])
    ids, X, origins = vectors.get_features(index.con, "toy")
    assert ids.tolist() == [a, b]
    assert X.tolist() == [[1, 2, 3], [7, 8, 9]]  # computed wins over dataset
    assert vectors.family_columns(index.con, "toy") == ["x", "y", "z"]
    with pytest.raises(SongIndexError):
        vectors.register_family(index.con, "toy", ["x", "y"])


def test_frames_keep_their_time_grid(index):
    sid = add(index)
    frames = np.arange(12, dtype=np.float32).reshape(4, 3)
    vectors.put_frames(index.con, sid, "toy", frames, t0=0.5, hop=0.5)
    times, back = vectors.get_frames(index.con, sid, "toy")
    assert times.tolist() == [0.5, 1.0, 1.5, 2.0] and np.array_equal(back, frames)


def test_curves_and_predictions_show_in_song_table(index):
    sid = add(index, title="Nocturne")
    with index.transaction() as con:
        emotion.put_static_prediction(con, sid, "m1", 0.1, 0.2, 0.05, 0.06)
        emotion.put_curve(con, sid, source="human", model_version="emomusic", t0=15.0, hop=0.5,
                          valence=[0.1, 0.2], arousal=[0.3, 0.4])
        annotations.insert(con, static(sid))
    table = songs.song_table(index.con)
    row = table.iloc[0]
    assert row.pred_valence == pytest.approx(0.1) and row.human_valence == pytest.approx(0.5)
    long = emotion.get_song_curves(index.con, sid)
    assert long.time.tolist() == [15.0, 15.5]
    assert songs.stats(index.con) == {"songs": 1, "with_audio": 0, "with_human_static": 1,
                                      "with_human_curves": 1, "with_predictions": 1,
                                      "annotations": 1}


@pytest.mark.parametrize("bad, message", [
    ({"valence": 1.5}, "between -1 and 1"),
    ({"valence": float("nan"), "arousal": None}, "needs a valence or an arousal"),
    ({"annotator": " "}, "annotator"),
    ({"kind": "mood"}, "kind"),
    ({"kind": "segment", "t0": 5.0, "t1": 2.0}, "start < end"),
])
def test_invalid_annotations_are_refused_with_a_reason(index, bad, message):
    sid = add(index)
    with pytest.raises(ParameterError, match=message):
        annotations.insert(index.con, {**static(sid), **bad})
    assert songs.stats(index.con)["annotations"] == 0


def test_edit_conflict_first_save_wins_and_history_keeps_everything(index):
    sid = add(index)
    aid = annotations.insert(index.con, static(sid, tags="calm, strings"))
    rev2 = annotations.update(index.con, aid, {"valence": 0.1}, expected_revision=1, who="ana")
    with pytest.raises(ConflictError, match="first save wins"):
        annotations.update(index.con, aid, {"valence": -0.9}, expected_revision=1, who="ben")
    row = annotations.list_annotations(index.con).iloc[0]
    assert rev2 == 2 and row.valence == pytest.approx(0.1) and list(row.tags) == ["calm", "strings"]
    hist = annotations.history(index.con, annotation_id=aid)
    assert hist.action.tolist() == ["insert", "update"]
    assert '"valence": 0.5' in hist.old.iloc[1] and '"valence": 0.1' in hist.new.iloc[1]
    annotations.delete(index.con, aid, expected_revision=2, who="ana")
    assert annotations.history(index.con).action.tolist()[-1] == "delete"


HOSTILE = [
    "COPY songs TO '/tmp/stolen.csv'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "ATTACH '/tmp/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "DELETE FROM songs",
    "DROP TABLE songs",
    "UPDATE annotations SET valence = 0",
    "INSERT INTO songs (origin) VALUES ('x')",
    "PRAGMA enable_profiling",
    "SET enable_external_access = true",
    "SELECT 1; DROP TABLE songs",
    "SELECT nextval('song_ids')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM query('SELECT 1')",
    "SELECT getenv('HOME')",
    "SELECT * FROM other.main.songs",
    "CREATE TABLE x AS SELECT 1",
    "CHECKPOINT",
    "",
]


def _checksum(index):
    rows = index.con.execute("SELECT * FROM songs ORDER BY song_id").fetchall()
    rows += index.con.execute("SELECT * FROM annotations ORDER BY annotation_id").fetchall()
    rows += index.con.execute("SELECT last_value FROM duckdb_sequences()").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.parametrize("sql", HOSTILE)
def test_console_refuses_writes_files_and_extensions(index, sql):
    sid = add(index, title="kept")
    annotations.insert(index.con, static(sid))
    before = _checksum(index)
    with pytest.raises(QueryRefusedError):
        query_guard.run(index.con, sql)
    assert _checksum(index) == before


def test_console_runs_selects_with_ctes_and_limits_rows(index):
    for i in range(5):
        add(index, title=f"song {i}")
    df = query_guard.run(index.con, "WITH t AS (SELECT * FROM songs) SELECT title FROM t ORDER BY 1",
                         max_rows=3)
    assert df.title.tolist() == ["song 0", "song 1", "song 2"] and df.attrs["truncated"]


def test_console_stops_runaway_queries(index):
    with pytest.raises(QueryRefusedError, match="longer than"):
        query_guard.run(index.con, "SELECT count(*) FROM range(10000000000) a, range(10) b",
                        timeout=0.5)
    assert query_guard.run(index.con, "SELECT 42 AS x").x.tolist() == [42]


@pytest.mark.parametrize("name", list(query_guard.EXAMPLE_QUERIES))
def test_example_queries_pass_the_guard(index, name):
    sid = add(index, title="Aria")
    annotations.insert(index.con, static(sid))
    emotion.put_static_prediction(index.con, sid, "m", 0.1, 0.2)
    assert len(query_guard.run(index.con, query_guard.EXAMPLE_QUERIES[name])) >= 1


@pytest.mark.parametrize("sql", [
    # a CTE's name is a table only inside its own WITH: elsewhere DuckDB reads the file
    "SELECT * FROM (WITH \"{secret}\" AS (SELECT 1) SELECT 1) t, \"{secret}\"",
    "WITH \"{secret}\" AS (SELECT * FROM \"{secret}\") SELECT * FROM \"{secret}\"",
    "WITH a AS (SELECT * FROM \"{secret}\"), \"{secret}\" AS (SELECT 1) SELECT * FROM a",
    "SELECT * FROM " + "(SELECT * FROM " * 400 + "songs" + ")" * 400,
    "SELECT " + "abs(" * 400 + "1" + ")" * 400,
    "UPDATE EXTENSIONS",
])
def test_console_refuses_cte_tricks_deep_nesting_and_unknown_statements(index, tmp_path, sql):
    secret = tmp_path / "secret.csv"
    secret.write_text("SECRET,b\n")
    with pytest.raises(QueryRefusedError):
        query_guard.run(index.con, sql.format(secret=secret))
    assert query_guard.run(index.con, "SELECT 42 AS x").x.tolist() == [42]


def test_console_still_runs_ctes_where_they_are_visible(index):
    sql = ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3), "
           "s AS (SELECT * FROM r) SELECT count(*) AS n FROM s WHERE i IN (SELECT i FROM r)")
    assert query_guard.run(index.con, sql).n.tolist() == [3]


def test_fuzzed_sql_console_reads_only(tmp_path):
    """Writes, file access, extensions, tricks and mutated SELECTs: a table or a refusal,
    the index unchanged, no file written (benchmarks/fuzz.py: 1,000 queries)."""
    from tests import fuzzing

    index = fuzzing.fuzz_index(tmp_path / "fuzz.duckdb")
    door = fuzzing.SqlDoor(index, tmp_path / "sql", slow=1, timeout=1.0)
    report = fuzzing.run_door(door, 200, seed=4, index=index, time_limit=60)
    index.close()
    fuzzing.assert_clean(report)
    assert report.refused and report.valid


def test_source_path_under_the_index_folder_is_stored_relative(tmp_path):
    """Moving the folder with its index keeps playback working."""
    import shutil

    from emolab.index import open_index, songs

    folder = tmp_path / "library"
    (folder / "audio").mkdir(parents=True)
    (folder / "audio" / "a.wav").write_bytes(b"RIFF")
    outside = tmp_path / "elsewhere.wav"
    with open_index(folder / "index.duckdb") as index, index.transaction() as con:
        inside_id = songs.add_song(con, title="in", origin="demo", source_path=str(folder / "audio" / "a.wav"))
        outside_id = songs.add_song(con, title="out", origin="demo", source_path=str(outside))
    with open_index(folder / "index.duckdb") as index:
        stored = dict(index.con.execute("SELECT song_id, source_path FROM songs").fetchall())
    assert stored[inside_id] == "audio/a.wav" and stored[outside_id] == str(outside)
    moved = tmp_path / "moved"
    shutil.move(str(folder), str(moved))
    with open_index(moved / "index.duckdb") as index:
        table = songs.song_table(index.con).set_index("song_id")
        assert table.loc[inside_id, "source_path"] == str(moved / "audio" / "a.wav")
        assert songs.get_song(index.con, inside_id)["source_path"] == str(moved / "audio" / "a.wav")
        assert table.loc[outside_id, "source_path"] == str(outside)
