"""emolab.index.query_guard: the console's two defences, each checked on its own.

Layer 1+2 (statement type, parse-tree walk) is tested in test_index.py and by the fuzzing;
here the engine's own locks (a separate in-memory DuckDB, external access off, extensions
off, configuration locked, READ ONLY transaction) are tested with the walker switched off.
"""
from __future__ import annotations

import pytest

from emolab.exceptions import QueryRefusedError
from emolab.index import annotations, integrity, query_guard, songs


@pytest.fixture
def filled(index, tmp_path):
    with index.transaction() as con:
        sid = songs.add_song(con, title="Aria", artist="Bach", origin="ingested")
    annotations.insert(index.con, {"song_id": sid, "annotator": "ana", "kind": "static",
                                   "valence": 0.5, "arousal": -0.25})
    secret = tmp_path / "secret.csv"
    secret.write_text("TOPSECRET,b\n")
    return index, secret, tmp_path / "out"


FILE_READS = [
    "SELECT * FROM read_csv('{secret}')", "SELECT * FROM read_csv_auto('{secret}')",
    "SELECT * FROM read_text('{secret}')", "SELECT * FROM read_blob('{secret}')",
    "SELECT * FROM read_parquet('{secret}')", "SELECT * FROM read_json('{secret}')",
    "SELECT * FROM '{secret}'", "SELECT * FROM glob('{dir}/*')", "SELECT * FROM sniff_csv('{secret}')",
    "SELECT getenv('HOME')", "SELECT * FROM songs, read_csv('{secret}')",
    "WITH s AS (SELECT * FROM read_text('{secret}')) SELECT * FROM s",
]
FILE_WRITES_AND_EXTENSIONS = [
    "COPY songs TO '{out}.csv'", "COPY (SELECT 1) TO '{out}.parquet' (FORMAT parquet)",
    "COPY songs FROM '{secret}'", "EXPORT DATABASE '{out}'", "ATTACH '{out}.duckdb' AS other",
    "ATTACH '{secret}' AS other", "INSTALL httpfs", "FORCE INSTALL json", "LOAD httpfs",
    "LOAD '{out}.duckdb_extension'", "SET enable_external_access = true",
    "SET autoload_known_extensions = true", "RESET lock_configuration",
    "CREATE SECRET (TYPE s3, KEY_ID 'x', SECRET 'y')",
]
INDEX_WRITES = [
    "INSERT INTO songs (origin) VALUES ('x')", "UPDATE annotations SET valence = 0",
    "DELETE FROM songs", "DROP TABLE songs", "ALTER TABLE songs ADD COLUMN x INT",
    "CREATE TABLE x AS SELECT 1", "CREATE VIEW v AS SELECT * FROM songs", "TRUNCATE annotations",
    "INSERT INTO songs (origin) VALUES ('x') RETURNING *",
    "WITH d AS (DELETE FROM songs RETURNING *) SELECT * FROM d",
    "CREATE SEQUENCE s", "CREATE MACRO m(a) AS a",
]


def _attempt(filled, sql, *, walker):
    index, secret, out = filled
    before = integrity.checksum(index.con)
    with pytest.raises(QueryRefusedError) as caught:
        query_guard.run(index.con, sql.format(secret=secret, dir=secret.parent, out=out),
                        walker=walker, timeout=30)
    assert "TOPSECRET" not in str(caught.value)
    assert integrity.checksum(index.con) == before
    assert not any(p.name.startswith("out") for p in secret.parent.iterdir())
    return str(caught.value)


@pytest.mark.parametrize("sql", FILE_READS + FILE_WRITES_AND_EXTENSIONS + INDEX_WRITES)
def test_the_engine_alone_refuses_files_extensions_and_writes(filled, sql):
    """With the parse-tree walker switched off, DuckDB's own locks refuse the query."""
    message = _attempt(filled, sql, walker=False)
    assert message.startswith(("The query failed:", "The statement returned no table"))


@pytest.mark.parametrize("sql", FILE_READS + FILE_WRITES_AND_EXTENSIONS + INDEX_WRITES)
def test_the_walker_alone_refuses_them_first(filled, sql):
    """With both layers the walker answers before the engine is asked."""
    message = _attempt(filled, sql, walker=True)
    assert not message.startswith("The query failed:")


@pytest.mark.parametrize("walker", [True, False])
def test_selects_run_on_a_copy_and_the_app_connection_keeps_its_settings(filled, walker):
    index, _, _ = filled
    df = query_guard.run(index.con, "SELECT s.title, a.valence FROM songs s JOIN annotations a "
                                    "USING (song_id)", walker=walker)
    assert df.to_dict("records") == [{"title": "Aria", "valence": 0.5}]
    settings = dict(index.con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN "
        "('enable_external_access', 'lock_configuration')").fetchall())
    assert settings == {"enable_external_access": "true", "lock_configuration": "false"}


def test_the_console_connection_is_locked():
    con = query_guard._console(_empty(), set())
    try:
        settings = dict(con.execute("SELECT name, value FROM duckdb_settings()").fetchall())
        assert settings["enable_external_access"] == "false"
        assert settings["autoinstall_known_extensions"] == "false"
        assert settings["autoload_known_extensions"] == "false"
        assert settings["lock_configuration"] == "true"
    finally:
        con.close()


def _empty():
    import duckdb

    return duckdb.connect(":memory:")


def test_only_the_tables_a_query_names_are_copied(filled):
    index, _, _ = filled
    assert query_guard.check(index.con, "SELECT * FROM songs JOIN annotations USING (song_id)") == \
        {"songs", "annotations"}
    assert query_guard.check(index.con, "WITH t AS (SELECT 1) SELECT * FROM t, range(3)") == set()


@pytest.mark.parametrize("walker", [True, False])
def test_fuzzed_hostile_queries_with_and_without_the_walker(tmp_path, walker):
    """The fuzzing suite's hostile queries: a table or a refusal, the index unchanged, no file
    written, no secret read, whether the walker is on or off."""
    from tests import fuzzing

    index = fuzzing.fuzz_index(tmp_path / "fuzz.duckdb")
    door = fuzzing.SqlDoor(index, tmp_path / "sql", slow=1, timeout=1.0, walker=walker)
    report = fuzzing.run_door(door, 200, seed=11, index=index, time_limit=60)
    index.close()
    fuzzing.assert_clean(report)
    assert report.refused and report.valid
