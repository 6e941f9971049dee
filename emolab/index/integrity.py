"""Is the index whole? A fingerprint of every table, and the rules a crash must not break.

:func:`checksum` tells whether anything changed (the fuzzing and crash tests compare it
before and after); :func:`problems` lists broken invariants in words (empty when the index
is consistent).
"""
from __future__ import annotations

import json

#: Tables that hang off ``songs`` through ``song_id``.
SONG_TABLES = ("features", "frame_features", "static_predictions", "curves", "annotations",
               "embeddings", "projections")


def tables(con) -> list[str]:
    """The index's own tables, sorted."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows]


def checksum(con) -> dict[str, tuple[int, int]]:
    """``{table: (rows, fingerprint)}``; the fingerprint ignores row order.

    Two indexes with the same rows give the same checksum; any insert, delete or change
    of a single value changes it (up to 64-bit hash collisions).
    """
    out = {}
    for table in tables(con):
        rows, digest = con.execute(
            f'SELECT count(*), coalesce(sum(hash(t)::HUGEINT) % 18446744073709551557, 0) '
            f'FROM "{table}" AS t'
        ).fetchone()
        out[table] = (int(rows), int(digest))
    return out


#: (rows that break a rule, what to say about them).
RULES = (
    ("SELECT count(*) FROM songs s WHERE s.origin IN ('ingested', 'uploaded') AND NOT EXISTS "
     "(SELECT 1 FROM features f WHERE f.song_id = s.song_id)",
     "analysed songs have no features (half-written)"),
    ("SELECT count(*) FROM features f JOIN feature_families USING (family) "
     "WHERE len(f.vector) <> len(columns)",
     "feature vectors do not match their family's length"),
    ("SELECT count(*) FROM curves WHERE len(valence) <> len(arousal)",
     "curves have valence and arousal of different lengths"),
)


def problems(con) -> list[str]:
    """Broken invariants of the index, one sentence each (empty when it is consistent)."""
    rules = [(f'SELECT count(*) FROM "{table}" x WHERE NOT EXISTS '
              f"(SELECT 1 FROM songs s WHERE s.song_id = x.song_id)",
              f"rows of {table} belong to no song") for table in SONG_TABLES]
    found = []
    for sql, message in [*rules, *RULES]:
        count = con.execute(sql).fetchone()[0]
        if count:
            found.append(f"{count} {message}.")
    return found + _history_problems(con)


def _history_problems(con) -> list[str]:
    """Every annotation's latest history entry must describe it exactly."""
    rows = con.execute(
        "SELECT a.annotation_id, a.revision, a.valence, a.arousal, h.new FROM annotations a "
        "LEFT JOIN (SELECT annotation_id, arg_max(new, history_id) AS new "
        "           FROM annotation_history GROUP BY annotation_id) h USING (annotation_id)"
    ).fetchall()
    missing = mismatched = 0
    for annotation_id, revision, valence, arousal, new in rows:
        if new is None:
            missing += 1
            continue
        last = json.loads(new)
        if (last.get("revision"), last.get("valence"), last.get("arousal")) != (revision, valence, arousal):
            mismatched += 1
    out = []
    if missing:
        out.append(f"{missing} annotations have no history.")
    if mismatched:
        out.append(f"{mismatched} annotations differ from their last history entry.")
    return out
