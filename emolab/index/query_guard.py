"""The read-only query console: one SELECT over the index's own tables, nothing else.

Four layers, each enough on its own for most attacks:

1. DuckDB parses the text: exactly one statement, of type SELECT (no COPY, ATTACH,
   INSTALL, LOAD, PRAGMA, SET, writes or multiple statements).
2. The parse tree (``json_serialize_sql``) is walked: every table must be one of the
   index's tables or a CTE visible where it is named (a quoted path such as
   ``FROM '/etc/passwd'`` is a "table" DuckDB would read from disk, and so is a CTE's
   name outside the CTE's scope), table functions are limited to ``range``,
   ``generate_series`` and ``unnest``, and functions with side effects or file access
   (``nextval``, ``read_*``, ``glob``, ``getenv``, ``query`` ...) are refused.
3. The query never runs on the index's connection. The tables it names are copied (one
   consistent snapshot, through Arrow) and shown as views of a fresh in-memory DuckDB used
   by this one query only and then closed, configured with ``enable_external_access = false``,
   ``autoinstall_known_extensions = false``, ``autoload_known_extensions = false`` and
   then ``lock_configuration = true``: the engine itself refuses every file read or write
   (``read_csv``, ``read_text``, ``COPY``, ``ATTACH`` of a file, ``INSTALL``/``LOAD``),
   and no statement can turn that off or reach the index file.
4. It runs inside a ``READ ONLY`` transaction (the copies are views: writes to them are
   refused too; a statement that returns no table is refused), is interrupted after a
   time limit, and returns at most ``max_rows`` rows.

Why a copy: DuckDB opens a file once per process, with one configuration; a second
connection to the app's index with a locked, file-less configuration is refused
("different configuration", "unique file handle conflict"), and the settings are
global to a database instance, so setting them on the app's own connection would stop
the app from importing files. The copy holds only the tables the query names (all of
them when the parse-tree walk is switched off, ``walker=False``, as tests do to check
that the engine alone holds).
"""
from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

import duckdb

from emolab.exceptions import QueryRefusedError
from emolab.index import integrity

if TYPE_CHECKING:  # pandas is imported where a frame is made (ingest never needs it)
    import pandas as pd

ALLOWED_TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
DENIED_FUNCTIONS = {"nextval", "setval", "getenv", "query", "query_table", "glob", "sniff_csv",
                    "current_setting", "checkpoint", "force_checkpoint", "install", "load"}
DENIED_PREFIXES = ("read_", "parquet_", "iceberg_", "delta_", "sqlite_", "postgres_", "mysql_",
                   "duckdb_secrets", "which_secret")
MAX_QUERY_CHARS = 20_000

#: Starting points offered by the Query page.
EXAMPLE_QUERIES = {
    "Songs per origin": "SELECT origin, count(*) AS songs FROM songs GROUP BY origin ORDER BY songs DESC",
    "Happiest songs by human label": (
        "SELECT s.title, s.artist, avg(a.valence) AS valence, avg(a.arousal) AS arousal\n"
        "FROM annotations a JOIN songs s USING (song_id)\nWHERE a.kind = 'static'\n"
        "GROUP BY ALL ORDER BY valence DESC LIMIT 20"),
    "Where humans and the model disagree": (
        "SELECT s.title, a.valence AS human_valence, p.valence AS predicted_valence,\n"
        "       abs(a.valence - p.valence) AS gap\nFROM annotations a\n"
        "JOIN static_predictions p USING (song_id)\nJOIN songs s USING (song_id)\n"
        "WHERE a.kind = 'static'\nORDER BY gap DESC LIMIT 20"),
    "Quadrant counts (predicted)": (
        "SELECT CASE WHEN valence >= 0 AND arousal >= 0 THEN 'happy/excited'\n"
        "            WHEN valence < 0 AND arousal >= 0 THEN 'tense/angry'\n"
        "            WHEN valence < 0 THEN 'sad/depressed' ELSE 'calm/relaxed' END AS quadrant,\n"
        "       count(*) AS songs\nFROM static_predictions GROUP BY quadrant ORDER BY songs DESC"),
    "Annotators and their work": (
        "SELECT annotator, kind, count(*) AS annotations, min(created_at) AS first\n"
        "FROM annotations GROUP BY annotator, kind ORDER BY annotations DESC"),
}



def index_tables(con) -> set[str]:
    """Names the console may read: the index's tables and its own views, lower-case."""
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND NOT internal"
    ).fetchall()
    return {name.lower() for name in integrity.tables(con)} | {r[0].lower() for r in views}


def check(con, sql: str) -> set[str]:
    """Raise :class:`QueryRefusedError` unless ``sql`` is one harmless SELECT.

    Returns the index tables (and views) it reads, lower-case.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRefusedError("Type a SELECT query first.")
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryRefusedError(f"The query is longer than {MAX_QUERY_CHARS:,} characters.")
    statement = _one_statement(con, sql)
    try:
        kind = statement.type
    except ValueError:  # a statement type the Python binding has no name for
        kind = None
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefusedError(
            f"Only SELECT queries are allowed here; this is "
            f"{'a ' + kind.name if kind is not None else 'another kind of'} statement. "
            "The console is read-only: it cannot change the index or touch files."
        )
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
        if tree.get("error"):
            raise QueryRefusedError(f"The query could not be read: {tree.get('error_message')}")
        allowed = index_tables(con)
        read: set[str] = set()
        _walk(tree, allowed, read=read)
        return read & allowed
    except RecursionError:
        raise QueryRefusedError(
            "The query is nested too deeply to be checked; write it with fewer nested "
            "brackets, subqueries or terms."
        ) from None


def run(con, sql: str, *, max_rows: int = 10_000, timeout: float = 10.0,
        walker: bool = True) -> pd.DataFrame:
    """Run a checked SELECT and return at most ``max_rows`` rows as a DataFrame.

    Parameters
    ----------
    con : DuckDB connection or cursor
        The index's (``index.con``); the query itself runs on a separate, locked
        in-memory connection holding a copy of the tables it reads (see the module).
    walker : bool
        Check the statement and walk its parse tree first (layers 1 and 2). Only tests
        switch it off, to show that the engine's own locks refuse files and writes.

    The result carries ``attrs["truncated"]`` when rows were cut.
    """
    if walker:
        tables = check(con, sql)
    else:
        tables = index_tables(con)
    console = _console(con, tables)
    try:
        return _run_locked(console, sql, max_rows=max_rows, timeout=timeout)
    finally:
        console.close()


#: DuckDB settings of the console's connection, set before ``lock_configuration``.
CONSOLE_CONFIG = {"enable_external_access": False, "autoinstall_known_extensions": False,
                  "autoload_known_extensions": False}


def _console(con, tables: set[str]):
    """A fresh in-memory DuckDB, locked, holding a consistent copy of ``tables``."""
    snapshot = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for name in sorted(tables):
            snapshot[name] = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
    finally:
        con.execute("ROLLBACK")
    console = duckdb.connect(":memory:", config=dict(CONSOLE_CONFIG))
    try:
        console.execute("SET lock_configuration = true")
        for name, table in snapshot.items():
            console.register(name, table)  # a view over the Arrow copy: no second copy
    except BaseException:
        console.close()
        raise
    return console


def _one_statement(con, sql: str):
    """The single statement of ``sql`` as parsed by ``con``; refused when unreadable or several."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefusedError(f"The query could not be read: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryRefusedError("Run one statement at a time.")
    return statements[0]


def _run_locked(console, sql: str, *, max_rows: int, timeout: float) -> pd.DataFrame:
    import pandas as pd

    statement = _one_statement(console, sql)
    timer = threading.Timer(timeout, console.interrupt)
    console.execute("BEGIN TRANSACTION READ ONLY")
    timer.start()
    try:
        cur = console.execute(statement)
        if cur.description is None:
            raise QueryRefusedError("The statement returned no table; the console runs SELECT queries.")
        columns = [d[0] for d in cur.description]
        rows = cur.fetchmany(max_rows + 1)
    except duckdb.InterruptException:
        raise QueryRefusedError(f"The query ran longer than {timeout:g} s and was stopped.") from None
    except duckdb.Error as exc:
        raise QueryRefusedError(f"The query failed: {_first_line(exc)}") from None
    finally:
        timer.cancel()
        timer.join()  # an interrupt fired late must not land on the ROLLBACK
        try:
            console.execute("ROLLBACK")
        except duckdb.Error:
            pass  # the statement itself ended the transaction; the connection is closed next
    df = pd.DataFrame(rows[:max_rows], columns=_unique(columns))
    df.attrs["truncated"] = len(rows) > max_rows
    return df


def _walk(node, tables: set[str], ctes: frozenset = frozenset(), *, read: set[str]) -> None:
    """Check every table and function of the parse tree below ``node``; add the tables
    read (lower-case names, CTEs included) to ``read``.

    A CTE name counts as a table only where SQL makes it visible: in the query that
    defines it (and its subqueries), in the CTEs defined after it in the same WITH, and
    inside itself when it is recursive. Elsewhere DuckDB would look the name up as a file
    (``WITH "x.csv" AS (...)`` does not make ``FROM "x.csv"`` in another subquery safe).
    """
    if isinstance(node, dict):
        entries = (node.get("cte_map") or {}).get("map") or []
        if entries:
            visible = set(ctes)
            for entry in entries:
                _walk(entry.get("value"), tables, frozenset(visible), read=read)
                visible.add(str(entry.get("key", "")).lower())
            ctes = frozenset(visible)
        node_type = node.get("type")
        if isinstance(node_type, str) and node_type.endswith("_QUERY_NODE"):  # DELETE/INSERT/UPDATE/MERGE in a CTE
            raise QueryRefusedError(
                "The query changes data inside a WITH clause; the console is read-only.")
        if node_type == "RECURSIVE_CTE_NODE":
            ctes = ctes | {str(node.get("cte_name", "")).lower()}
        elif node_type == "BASE_TABLE":
            _check_table(node, tables | ctes)
            read.add(str(node.get("table_name", "")).lower())
        elif node_type == "TABLE_FUNCTION":
            name = (node.get("function") or {}).get("function_name", "").lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise QueryRefusedError(
                    f"The table function {name}() is not allowed: the console reads only the "
                    "index's own tables."
                )
        if node.get("class") == "FUNCTION":
            _check_function(node.get("function_name", ""))
        for key, value in node.items():
            if key != "cte_map":
                _walk(value, tables, ctes, read=read)
    elif isinstance(node, list):
        for item in node:
            _walk(item, tables, ctes, read=read)


def _check_table(node: dict, allowed: set[str]) -> None:
    name = node.get("table_name", "")
    if node.get("catalog_name") or node.get("schema_name") not in ("", "main"):
        raise QueryRefusedError(f"Only the index's own tables can be read (not '{name}').")
    if name.lower() not in allowed:
        raise QueryRefusedError(
            f"'{name}' is not a table of the index. Tables: {', '.join(sorted(allowed))}."
        )


def _check_function(name: str) -> None:
    lowered = name.lower()
    if lowered in DENIED_FUNCTIONS or lowered.startswith(DENIED_PREFIXES):
        raise QueryRefusedError(f"The function {name}() is not allowed in the read-only console.")


def _unique(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        seen[c] = seen.get(c, 0) + 1
        out.append(c if seen[c] == 1 else f"{c}_{seen[c]}")
    return out


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]
