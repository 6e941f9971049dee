"""The ``sql`` door: the read-only query console.

:func:`emolab.index.query_guard.run`, the read-only console: writes, file access,
extensions, multiple statements, tricks, deep nesting, slow queries.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tests.fuzzing.harness import REFUSED, VALID, Breach, Case, _pick, check_message

# =========================================================================== SQL door

_FILE_FUNCTIONS = ("read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json",
                   "read_json_auto", "read_json_objects", "read_ndjson", "read_text",
                   "read_blob", "glob", "sniff_csv", "parquet_metadata", "parquet_schema",
                   "sqlite_scan", "read_xlsx", "iceberg_scan", "delta_scan", "read_duckdb")
_DENIED_SCALARS = ("getenv('HOME')", "current_setting('threads')", "nextval('song_ids')",
                   "setval('song_ids', 1)", "currval('song_ids')", "checkpoint()",
                   "force_checkpoint()", "query('SELECT 1')")
_WRITES = (
    "INSERT INTO songs (origin) VALUES ('x')", "INSERT INTO {table} SELECT * FROM {table}",
    "INSERT OR REPLACE INTO songs (song_id, origin) VALUES (1, 'x')",
    "UPDATE annotations SET valence = 0", "UPDATE songs SET title = 'x' WHERE song_id = 1",
    "DELETE FROM {table}", "DELETE FROM songs WHERE song_id = 1", "TRUNCATE {table}",
    "CREATE TABLE x AS SELECT 1", "CREATE VIEW v AS SELECT * FROM songs",
    "CREATE OR REPLACE TABLE {table} AS SELECT 1", "CREATE MACRO m(a) AS a",
    "CREATE SEQUENCE s", "CREATE INDEX i ON songs (title)", "CREATE TEMP TABLE t AS SELECT 1",
    "CREATE SECRET (TYPE s3, KEY_ID 'x', SECRET 'y')", "CREATE SCHEMA s",
    "DROP TABLE {table}", "DROP VIEW IF EXISTS {table}", "DROP SEQUENCE song_ids",
    "ALTER TABLE songs ADD COLUMN x INT", "ALTER TABLE songs RENAME TO s2",
    "ALTER TABLE {table} DROP COLUMN song_id", "COMMENT ON TABLE songs IS 'x'",
    "COPY songs TO '{out}'", "COPY (SELECT * FROM songs) TO '{out}' (FORMAT parquet)",
    "COPY songs FROM '{secret}'", "COPY {table} TO '{out}' (FORMAT csv, HEADER)",
    "EXPORT DATABASE '{outdir}'", "IMPORT DATABASE '{outdir}'",
    "ATTACH '{outdb}' AS other", "ATTACH ':memory:' AS m", "DETACH other", "USE other",
    "INSTALL httpfs", "LOAD httpfs", "FORCE INSTALL json", "LOAD '{secret}'",
    "UPDATE EXTENSIONS", "PRAGMA enable_profiling", "PRAGMA database_size",
    "PRAGMA table_info('songs')", "PRAGMA threads=1", "SET threads = 1",
    "SET enable_external_access = true", "SET GLOBAL memory_limit = '1MB'", "RESET threads",
    "SET search_path = 'other'", "CALL pragma_version()", "CALL checkpoint()",
    "CHECKPOINT", "FORCE CHECKPOINT", "VACUUM", "VACUUM ANALYZE", "ANALYZE",
    "BEGIN TRANSACTION", "COMMIT", "ROLLBACK", "ABORT", "PREPARE p AS SELECT 1",
    "EXECUTE p", "DEALLOCATE p", "EXPLAIN SELECT 1", "EXPLAIN ANALYZE SELECT * FROM songs",
    "DESCRIBE songs", "SHOW TABLES", "SUMMARIZE songs", "DESCRIBE '{secret}'",
    "SUMMARIZE SELECT * FROM '{secret}'", "PIVOT songs ON origin", "UNPIVOT songs ON title INTO NAME k VALUE v",
    ("MERGE INTO songs USING (SELECT 1 AS song_id) s ON songs.song_id = s.song_id "
     "WHEN MATCHED THEN DELETE"),
    "WITH x AS (SELECT 1) INSERT INTO songs (origin) SELECT 'x' FROM x",
    "WITH d AS (DELETE FROM songs RETURNING *) SELECT * FROM d",
    "INSERT INTO songs (origin) VALUES ('x') RETURNING *",
)
_READS = (
    "SELECT * FROM {fn}('{path}')", "SELECT count(*) FROM {fn}('{path}')",
    "SELECT * FROM songs WHERE title IN (SELECT * FROM {fn}('{path}'))",
    "WITH t AS (SELECT * FROM {fn}('{path}')) SELECT * FROM t",
    "SELECT * FROM songs, LATERAL (SELECT * FROM {fn}('{path}')) x",
    "SELECT (SELECT count(*) FROM {fn}('{path}')) AS n",
    "SELECT * FROM range((SELECT count(*) FROM {fn}('{path}')))",
    "SELECT length(content) FROM {fn}('{path}')",
    "SELECT * FROM '{path}'", "FROM '{path}'", "SELECT * FROM \"{path}\"",
    "SELECT * FROM songs JOIN '{path}' ON true", "SELECT * FROM (FROM '{path}')",
    "SELECT * FROM (WITH \"{path}\" AS (SELECT 1) SELECT 1) t, \"{path}\"",
    "WITH \"{path}\" AS (SELECT * FROM \"{path}\") SELECT * FROM \"{path}\"",
    "WITH a AS (SELECT * FROM \"{path}\"), \"{path}\" AS (SELECT 1) SELECT * FROM a",
    "SELECT * FROM (WITH songs AS (SELECT 1) SELECT 1), \"{path}\"",
    "SELECT {scalar}", "SELECT {scalar} FROM songs", "SELECT abs(length({scalar}::VARCHAR))",
    "SELECT * FROM songs WHERE title = {scalar}", "SELECT list_transform([1], x -> {scalar})",
    "SELECT * FROM songs ORDER BY {scalar}", "SELECT * FROM other.main.songs",
    "SELECT * FROM system.main.duckdb_tables()", "SELECT * FROM temp.main.x",
    "SELECT * FROM memory.songs", "SELECT * FROM duckdb_settings()", "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_extensions()", "SELECT * FROM pragma_table_info('songs')",
    "SELECT * FROM test_all_types()", "SELECT * FROM duckdb_databases()",
    "SELECT * FROM query_table('songs')", "SELECT * FROM sql_auto_complete('SEL')",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
    "SELECT * FROM read_csv(['{path}', '{path}'])", "SELECT * FROM {fn}(getenv('HOME'))",
    "SELECT {fn}('{path}')", "SELECT * FROM songs WHERE EXISTS (FROM {fn}('{path}'))",
    "SELECT * FROM songs UNION ALL SELECT * FROM {fn}('{path}')",
    "SELECT * FROM songs s, {fn}('{path}') f", "SELECT * FROM unnest((SELECT list(x) FROM {fn}('{path}') x))",
)
_VALID_SELECTS = (
    "SELECT * FROM songs", "SELECT title, artist FROM songs WHERE song_id < 5 ORDER BY title",
    "SELECT count(*) AS n FROM curves", "SELECT * FROM range(10)", "SELECT unnest([1, 2, 3]) AS x",
    "SELECT s.title, p.valence FROM songs s JOIN static_predictions p USING (song_id)",
    "WITH t AS (SELECT * FROM annotations) SELECT annotator, count(*) FROM t GROUP BY ALL",
    "SELECT song_id, len(valence) FROM curves WHERE source = 'human'",
    "SELECT * FROM generate_series(1, 5) g(i), songs WHERE song_id = i",
    "SELECT avg(valence), avg(arousal) FROM annotations WHERE kind = 'static'",
    "SELECT 'a;b' AS x, '--' AS y, '/* */' AS z",
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 5) SELECT * FROM r",
    "SELECT * FROM songs LIMIT 3 OFFSET 1", "SELECT title FROM songs WHERE title ILIKE '%no%'",
)
_TOKENS = (";", "DROP", "TABLE", "songs", "(", ")", "'", '"', "--", "/*", "*/", "COPY", "TO",
           "'{out}'", "read_csv('{path}')", "INSERT", "INTO", "UNION", "SELECT", ",", "*", "FROM",
           "WHERE", "1=1", "LIMIT", "-1", "99999999999999999999", "ATTACH", "'{path}'", "$1", "?",
           "\\", "\x00", "NULL", "::", "->", "ALL", "WITH", "AS", "x", "LATERAL", "glob('*')",
           "PRAGMA", "SET", "CALL", "getenv('HOME')", "nextval('song_ids')", "\n", "　")
_LOOKALIKES = {"S": "Ѕ", "E": "Е", "L": "Ⅼ", "C": "С", "T": "Т", "O": "О", "P": "Р", "A": "А",
               "D": "ԁ", "e": "е", "o": "о", "a": "а", "c": "с", "p": "р", " ": "\u00a0"}
_SLOW = ("SELECT count(*) FROM range(10000000000) a, range(10) b",
         "SELECT sum(a.range * b.range) FROM range(1000000) a, range(100000) b",
         "SELECT count(*) FROM range(100000000) a JOIN range(100000000) b ON a.range % 7 = b.range % 5",
         "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r")


class SqlDoor:
    """The read-only query console ``query_guard.run``: only SELECTs over the index run.

    Checked besides the outcome: no file appears at the COPY/EXPORT/ATTACH targets, no
    result holds the contents of the secret file, the connection is not left inside a
    transaction, and a normal SELECT still works afterwards.

    Parameters
    ----------
    index : emolab.index.Index
    workdir : Path
    slow : int
        Queries built to run past the time limit (each costs ``timeout`` seconds).
    timeout : float
        The console's time limit.
    walker : bool
        The console's parse-tree checks; off, only the engine's locks stand in the way.
    """

    name = "sql"

    def __init__(self, index, workdir, *, slow: int = 4, timeout: float = 2.0, walker: bool = True):
        from emolab.index import query_guard

        self.index = index
        self.workdir = Path(workdir)
        self.targets = self.workdir / "copy_targets"
        self.targets.mkdir(parents=True, exist_ok=True)
        self.secret = self.workdir / "secret.csv"
        self.marker = "FUZZSECRET" + os.urandom(4).hex()
        self.secret.write_text(f"{self.marker},b\n{self.marker}2,c\n")
        self.slow, self.timeout, self.walker = slow, timeout, walker
        self.tables = sorted(query_guard.index_tables(index.con))
        self._n = 0
        self._used_targets: list[Path] = []
        # safety net of the harness: never fetch an extension from the network
        index.con.execute("SET autoinstall_known_extensions = false")

    def _fill(self, rng, template: str) -> str:
        self._n += 1
        out = self.targets / f"out{self._n}.csv"
        self._used_targets += [out, self.targets / f"dir{self._n}", self.targets / f"db{self._n}.duckdb"]
        return template.format(
            table=_pick(rng, self.tables), fn=_pick(rng, _FILE_FUNCTIONS),
            path=_pick(rng, [str(self.secret), str(self.secret), "/etc/passwd", "~/.bashrc",
                             "/proc/self/environ", str(self.workdir / "*.csv"), "secret.csv"]),
            secret=str(self.secret), out=str(out), outdir=str(self.targets / f"dir{self._n}"),
            outdb=str(self.targets / f"db{self._n}.duckdb"),
            scalar=_pick(rng, _DENIED_SCALARS))

    def cases(self, rng, n: int) -> Iterator[Case]:
        slow_at = set(np.linspace(0, n - 1, self.slow + 2)[1:-1].astype(int)) if self.slow else set()
        for i in range(n):
            if i in slow_at:
                sql = _SLOW[len([j for j in slow_at if j < i]) % len(_SLOW)]
                yield Case("slow", _clip(sql), sql)
                continue
            r = rng.random()
            if r < 0.2:
                family, sql = "write or admin", self._fill(rng, str(_pick(rng, _WRITES)))
            elif r < 0.42:
                family, sql = "file or denied function", self._fill(rng, str(_pick(rng, _READS)))
            elif r < 0.52:
                family, sql = "several statements", self._multi(rng)
            elif r < 0.58:
                family, sql = "comments and quoting", self._comments(rng)
            elif r < 0.63:
                family, sql = "lookalikes", self._lookalike(rng)
            elif r < 0.68:
                family, sql = "huge or deep", self._huge(rng)
            elif r < 0.95:
                family, sql = "mutated select", self._mutate(rng)
            else:
                family, sql = "valid select", str(_pick(rng, _VALID_SELECTS))
            yield Case(family, _clip(sql), sql)

    def _multi(self, rng) -> str:
        first = str(_pick(rng, _VALID_SELECTS))
        second = self._fill(rng, str(_pick(rng, _WRITES + _VALID_SELECTS)))
        sep = str(_pick(rng, [";", "; ", ";\n", ";;", " ; -- \n"]))
        return first + sep + second + ("" if rng.random() < 0.5 else ";")

    def _comments(self, rng) -> str:
        write = self._fill(rng, str(_pick(rng, _WRITES)))
        return str(_pick(rng, [
            f"SELECT 1 /* ; {write} */", f"SELECT 1 -- ; {write}", f"SELECT 1 --\n; {write}",
            f"/* comment */ {write}", f"SELECT '{write.replace(chr(39), chr(39) * 2)}' AS text",
            f"SELECT 1 /* unclosed ; {write}", f"SELECT $${write}$$", f"SELECT 1 /*/ */; {write}",
            f"SELECT \"; {write}\" FROM songs", "-- only a comment\n", "/* */", ";", " ;; ",
        ]))

    def _lookalike(self, rng) -> str:
        sql = str(_pick(rng, _VALID_SELECTS + tuple(self._fill(rng, w) for w in _WRITES[:8])))
        chars = list(sql)
        for i in rng.choice(len(chars), size=max(1, len(chars) // 5), replace=False):
            chars[i] = _LOOKALIKES.get(chars[i], chars[i])
        if rng.random() < 0.3:
            chars.insert(int(rng.integers(len(chars))), str(_pick(rng, ["\u200b", "\u202e", "\ufeff"])))
        return "".join(chars)

    def _huge(self, rng) -> str:
        choice = int(rng.integers(9))
        d = int(_pick(rng, [50, 150, 300, 600, 1200, 5000]))
        if choice == 0:
            return "SELECT " + "(" * d + "1" + ")" * d
        if choice == 1:
            return "SELECT " + "abs(" * d + "1" + ")" * d
        if choice == 2:
            return "SELECT * FROM " + "(SELECT * FROM " * d + "songs" + ")" * d
        if choice == 3:
            return "SELECT 1" + "+1" * d * 3
        if choice == 4:
            return "SELECT " + "[" * d + "1" + "]" * d
        if choice == 5:
            return "SELECT '" + "x" * int(_pick(rng, [19_000, 20_001, 100_000, 1_000_000])) + "'"
        if choice == 6:
            return "WITH " + ", ".join(f"a{i} AS (SELECT {'*' if i else '1 AS x'} FROM "
                                       f"{'a' + str(i - 1) if i else 'songs'})" for i in range(d // 3)) \
                + f" SELECT * FROM a{d // 3 - 1}"
        if choice == 7:
            return "SELECT " + " ".join(["CASE WHEN true THEN"] * min(d, 900)) + " 1" + " END" * min(d, 900)
        return "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(d * 2))

    def _mutate(self, rng) -> str:
        sql = str(_pick(rng, _VALID_SELECTS + tuple(query for query in _EXAMPLES())))
        tokens = re.findall(r"'[^']*'|\"[^\"]*\"|\w+|\s+|.", sql)
        for _ in range(int(rng.integers(1, 5))):
            op = int(rng.integers(5))
            i = int(rng.integers(len(tokens))) if tokens else 0
            if op == 0 and tokens:
                del tokens[i]
            elif op == 1 and tokens:
                tokens.insert(i, tokens[i])
            elif op == 2:
                tokens.insert(i, " " + self._fill(rng, str(_pick(rng, _TOKENS))) + " ")
            elif op == 3 and len(tokens) > 1:
                j = int(rng.integers(len(tokens)))
                tokens[i], tokens[j] = tokens[j], tokens[i]
            elif tokens:
                tokens[i] = self._fill(rng, str(_pick(rng, ["'{path}'", "{fn}('{path}')",
                                                           '"{path}"', "{scalar}", "{table}"])))
        return "".join(tokens)

    def attempt(self, case: Case) -> str:
        from emolab.exceptions import QueryRefusedError
        from emolab.index import query_guard

        con = self.index.con
        try:
            df = query_guard.run(con, case.payload, max_rows=10_000, timeout=self.timeout,
                                 walker=self.walker)
        except QueryRefusedError as exc:
            check_message(exc)
            outcome = REFUSED
        else:
            if not hasattr(df, "columns"):
                raise Breach(f"the console returned {type(df).__name__}, not a table")
            if self._leaks(df):
                raise Breach("the result holds the contents of a file outside the index")
            outcome = VALID
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute("ROLLBACK")
        except Exception as exc:  # noqa: BLE001
            raise Breach(f"the connection was left inside a transaction ({exc})") from None
        return outcome

    def _leaks(self, df) -> bool:
        names = " ".join(map(str, df.columns))
        if self.marker in names or "root:" in names:
            return True
        for col in df.columns:
            values = df[col]
            if values.dtype == object:
                text = " ".join(map(str, values.head(2000)))
                if self.marker in text or "root:x:0" in text:
                    return True
        return False

    def finish(self) -> list[str]:
        """Problems found after the door: files written, the console unusable."""
        from emolab.index import query_guard

        problems = [f"a file was written at {p}" for p in self._used_targets if p.exists()]
        problems += [f"a file was written at {p}" for p in self.targets.iterdir()]
        try:
            if query_guard.run(self.index.con, "SELECT 42 AS x").x.tolist() != [42]:
                problems.append("a normal SELECT gave a wrong answer afterwards")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"a normal SELECT failed afterwards: {exc}")
        return sorted(set(problems))


def _EXAMPLES():
    from emolab.index import query_guard

    return tuple(query_guard.EXAMPLE_QUERIES.values())


def _clip(text: str, limit: int = 160) -> str:
    text = repr(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} chars)"
