"""The read-only query console: one SELECT over the index's own tables, nothing else.

Three layers, each enough on its own for most attacks:

1. DuckDB parses the text: exactly one statement, of type SELECT (no COPY, ATTACH,
   INSTALL, LOAD, PRAGMA, SET, writes or multiple statements).
2. The parse tree (``json_serialize_sql``) is walked: every table must be one of the
   index's tables or a CTE visible where it is named (a quoted path such as
   ``FROM '/etc/passwd'`` is a "table" DuckDB would read from disk, and so is a CTE's
   name outside the CTE's scope), table functions are limited to ``range``,
   ``generate_series`` and ``unnest``, and functions with side effects or file access
   (``nextval``, ``read_*``, ``glob``, ``getenv``, ``query`` ...) are refused.
3. The query runs inside a transaction that is always rolled back, is interrupted after
   a time limit, and returns at most ``max_rows`` rows.
"""
from __future__ import annotations

import json
import threading

import duckdb
import pandas as pd

from emolab.exceptions import QueryRefusedError
from emolab.index import integrity

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


def check(con, sql: str) -> None:
    """Raise :class:`QueryRefusedError` unless ``sql`` is one harmless SELECT."""
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRefusedError("Type a SELECT query first.")
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryRefusedError(f"The query is longer than {MAX_QUERY_CHARS:,} characters.")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefusedError(f"The query could not be read: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryRefusedError("Run one statement at a time.")
    try:
        kind = statements[0].type
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
        _walk(tree, index_tables(con))
    except RecursionError:
        raise QueryRefusedError(
            "The query is nested too deeply to be checked; write it with fewer nested "
            "brackets, subqueries or terms."
        ) from None


def run(con, sql: str, *, max_rows: int = 10_000, timeout: float = 10.0) -> pd.DataFrame:
    """Run a checked SELECT and return at most ``max_rows`` rows as a DataFrame.

    The result carries ``attrs["truncated"]`` when rows were cut.
    """
    check(con, sql)
    timer = threading.Timer(timeout, con.interrupt)
    con.execute("BEGIN TRANSACTION")
    timer.start()
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description]
        rows = cur.fetchmany(max_rows + 1)
    except duckdb.InterruptException:
        raise QueryRefusedError(f"The query ran longer than {timeout:g} s and was stopped.") from None
    except duckdb.Error as exc:
        raise QueryRefusedError(f"The query failed: {_first_line(exc)}") from None
    finally:
        timer.cancel()
        timer.join()  # an interrupt fired late must not land on the ROLLBACK
        con.execute("ROLLBACK")
    df = pd.DataFrame(rows[:max_rows], columns=_unique(columns))
    df.attrs["truncated"] = len(rows) > max_rows
    return df


def _walk(node, tables: set[str], ctes: frozenset = frozenset()) -> None:
    """Check every table and function of the parse tree below ``node``.

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
                _walk(entry.get("value"), tables, frozenset(visible))
                visible.add(str(entry.get("key", "")).lower())
            ctes = frozenset(visible)
        node_type = node.get("type")
        if node_type == "RECURSIVE_CTE_NODE":
            ctes = ctes | {str(node.get("cte_name", "")).lower()}
        elif node_type == "BASE_TABLE":
            _check_table(node, tables | ctes)
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
                _walk(value, tables, ctes)
    elif isinstance(node, list):
        for item in node:
            _walk(item, tables, ctes)


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
