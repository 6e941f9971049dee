"""Set-at-a-time writes for dataset and CSV imports (thousands of rows in one statement).

The row-at-a-time functions of :mod:`songs`, :mod:`annotations`, :mod:`emotion` and
:mod:`vectors` cost a few milliseconds per call; importing DEAM row by row would take
tens of seconds. These functions take a DataFrame, register it with DuckDB and write it
with one statement, keeping the same rules: every annotation change gets its
``annotation_history`` row, updates check ``revision`` (first save wins).

All of them take a cursor inside a transaction (``with index.transaction() as con``).
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager

import duckdb
import numpy as np
import pandas as pd

from emolab.exceptions import ConflictError
from emolab.index.annotations import FIELDS as ANNOTATION_FIELDS
from emolab.index.emotion import CURVE_KEY, CURVE_VALUES, upsert_sql

_SONG_TYPES = {
    "title": "VARCHAR", "artist": "VARCHAR", "source_path": "VARCHAR", "content_hash": "VARCHAR",
    "duration": "DOUBLE", "sample_rate": "INTEGER", "origin": "VARCHAR", "dataset": "VARCHAR",
    "dataset_id": "VARCHAR", "has_audio": "BOOLEAN", "genre": "VARCHAR",
}
_ANNOTATION_TYPES = {
    "song_id": "INTEGER", "annotator": "VARCHAR", "kind": "VARCHAR", "t0": "DOUBLE",
    "t1": "DOUBLE", "valence": "DOUBLE", "arousal": "DOUBLE", "valence_std": "DOUBLE",
    "arousal_std": "DOUBLE", "tags": "VARCHAR[]", "note": "VARCHAR",
}


@contextmanager
def registered(con, frame):
    """Expose a DataFrame (or Arrow table) to SQL under a unique name for the duration of the block."""
    name = f"_bulk_{uuid.uuid4().hex}"
    # DuckDB refuses register() while an earlier result on this cursor is not fully read
    # (e.g. after fetchone()); a finished statement clears it.
    con.execute("SELECT 1").fetchall()
    con.register(name, frame)
    try:
        yield name
    finally:
        try:
            con.unregister(name)
        except duckdb.Error:  # the transaction was aborted; the caller's error matters, not this
            pass


def _casts(columns, types) -> str:
    return ", ".join(f"CAST({c} AS {types[c]}) AS {c}" for c in columns)


# --------------------------------------------------------------------------- songs

def dataset_song_map(con, datasets) -> dict[tuple[str, str], int]:
    """``{(dataset, dataset_id): song_id}`` for every song of the given datasets."""
    datasets = list(datasets)
    if not datasets:
        return {}
    rows = con.execute(
        "SELECT dataset, dataset_id, song_id FROM songs WHERE list_contains(?, dataset)",
        [datasets],
    ).fetchall()
    return {(d, str(i)): int(s) for d, i, s in rows}


def insert_songs(con, rows: pd.DataFrame) -> None:
    """Insert songs; ``rows`` has columns among the song fields (origin required)."""
    if rows.empty:
        return
    cols = [c for c in rows.columns if c in _SONG_TYPES]
    with registered(con, rows[cols]) as name:
        con.execute(f"INSERT INTO songs ({', '.join(cols)}) "
                    f"SELECT {_casts(cols, _SONG_TYPES)} FROM {name}")


def fill_song_gaps(con, rows: pd.DataFrame) -> int:
    """Complete existing songs without overwriting anything they already have.

    ``rows`` has ``song_id, title, artist, genre, source_path, has_audio``. Empty text
    fields are filled; a song without audio gets ``source_path`` and ``has_audio``.
    Returns the number of songs changed.
    """
    if rows.empty:
        return 0
    cols = ["song_id", "title", "artist", "genre", "source_path", "has_audio"]
    types = {**_SONG_TYPES, "song_id": "INTEGER"}
    with registered(con, rows[cols]) as name:
        changed = con.execute(
            f"""
            UPDATE songs AS s SET
                title = coalesce(s.title, d.title),
                artist = coalesce(s.artist, d.artist),
                genre = coalesce(s.genre, d.genre),
                source_path = CASE WHEN s.has_audio THEN s.source_path
                                   ELSE coalesce(d.source_path, s.source_path) END,
                has_audio = s.has_audio OR coalesce(d.has_audio, FALSE)
            FROM (SELECT {_casts(cols, types)} FROM {name}) AS d
            WHERE s.song_id = d.song_id AND (
                (s.title IS NULL AND d.title IS NOT NULL)
                OR (s.artist IS NULL AND d.artist IS NOT NULL)
                OR (s.genre IS NULL AND d.genre IS NOT NULL)
                OR (NOT s.has_audio AND coalesce(d.has_audio, FALSE)))
            """
        ).fetchall()
    return int(changed[0][0]) if changed else 0


# --------------------------------------------------------------------------- annotations

def static_annotations_of(con, annotator: str) -> pd.DataFrame:
    """The static annotation of ``annotator`` on each song (the oldest if several).

    Columns: annotation_id, song_id, valence, arousal, valence_std, arousal_std, revision.
    """
    return con.execute(
        """
        SELECT annotation_id, song_id, valence, arousal, valence_std, arousal_std, revision
        FROM annotations WHERE annotator = ? AND kind = 'static'
        QUALIFY row_number() OVER (PARTITION BY song_id ORDER BY annotation_id) = 1
        """,
        [annotator],
    ).df()


def _row_json(con, ids) -> dict[int, tuple[int, str]]:
    """``{annotation_id: (song_id, row as JSON)}``."""
    with registered(con, pd.DataFrame({"annotation_id": np.asarray(ids, dtype=np.int64)})) as name:
        rows = con.execute(
            f"SELECT a.annotation_id, a.song_id, to_json(a)::VARCHAR FROM annotations a "
            f"WHERE a.annotation_id IN (SELECT annotation_id FROM {name})"
        ).fetchall()
    return {int(i): (int(s), j) for i, s, j in rows}


def _write_history(con, action: str, who: str, ids, old: dict, new: dict) -> None:
    history = pd.DataFrame({
        "annotation_id": [int(i) for i in ids],
        "song_id": [(new.get(i) or old.get(i))[0] for i in ids],
        "old": [old[i][1] if i in old else None for i in ids],
        "new": [new[i][1] if i in new else None for i in ids],
    }, dtype=object)
    with registered(con, history) as name:
        con.execute(
            "INSERT INTO annotation_history (annotation_id, song_id, action, who, old, new) "
            f"SELECT CAST(annotation_id AS INTEGER), CAST(song_id AS INTEGER), ?, ?, "
            f"CAST(old AS JSON), CAST(new AS JSON) FROM {name}",
            [action, who],
        )


def _annotation_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The annotation fields in order, tags as lists (or None), object dtype."""
    out = pd.DataFrame(index=rows.index)
    for col in ANNOTATION_FIELDS:
        values = rows[col] if col in rows.columns else pd.Series(None, index=rows.index)
        out[col] = pd.Series(list(values), index=rows.index, dtype=object)
    out["tags"] = [list(t) if isinstance(t, (list, tuple, np.ndarray)) and len(t) else None
                   for t in out["tags"]]
    return out.reset_index(drop=True)


def insert_annotations(con, rows: pd.DataFrame, *, who: str) -> list[int]:
    """Insert validated annotations (columns as :data:`annotations.FIELDS`) with history.

    Returns the new annotation ids.
    """
    if rows.empty:
        return []
    frame = _annotation_frame(rows)
    cols = list(ANNOTATION_FIELDS)
    with registered(con, frame) as name:
        ids = [int(r[0]) for r in con.execute(
            f"INSERT INTO annotations ({', '.join(cols)}) "
            f"SELECT {_casts(cols, _ANNOTATION_TYPES)} FROM {name} RETURNING annotation_id"
        ).fetchall()]
    _write_history(con, "insert", who, ids, {}, _row_json(con, ids))
    return ids


def update_annotations(con, rows: pd.DataFrame, *, who: str) -> int:
    """Overwrite annotations whose revision is still ``expected_revision``, with history.

    ``rows`` has ``annotation_id``, ``expected_revision`` and the annotation fields.
    Raises :class:`ConflictError` (and the caller's transaction rolls back) if any
    annotation was changed or deleted in the meantime. Returns the number updated.
    """
    if rows.empty:
        return 0
    frame = _annotation_frame(rows)
    frame.insert(0, "annotation_id", np.asarray(rows["annotation_id"], dtype=np.int64))
    frame.insert(1, "expected_revision", np.asarray(rows["expected_revision"], dtype=np.int64))
    ids = [int(i) for i in frame["annotation_id"]]
    old = _row_json(con, ids)
    cols = list(ANNOTATION_FIELDS)
    with registered(con, frame) as name:
        try:
            changed = con.execute(
                f"UPDATE annotations AS a SET {', '.join(f'{c} = d.{c}' for c in cols)}, "
                "revision = a.revision + 1, updated_at = current_timestamp "
                f"FROM (SELECT annotation_id, expected_revision, {_casts(cols, _ANNOTATION_TYPES)} "
                f"FROM {name}) AS d "
                "WHERE a.annotation_id = d.annotation_id AND a.revision = d.expected_revision"
            ).fetchall()[0]
        except duckdb.TransactionException as exc:  # another thread is saving the same rows
            raise ConflictError("Someone else is saving some of these annotations right now "
                                "(the first save wins); nothing was saved. Reload and try again.") from exc
    if int(changed[0]) != len(ids):
        raise ConflictError(
            f"{len(ids) - int(changed[0])} of the annotations were changed or deleted by someone "
            "else since they were read (the first save wins); nothing was saved. Reload and "
            "import again."
        )
    _write_history(con, "update", who, ids, old, _row_json(con, ids))
    return len(ids)


# --------------------------------------------------------------------------- curves, features

def put_curves(con, rows: pd.DataFrame) -> None:
    """Store curves; ``rows``: song_id, source, model_version, t0, hop, valence, arousal (lists)."""
    if rows.empty:
        return
    frame = pd.DataFrame({
        "song_id": np.asarray(rows["song_id"], dtype=np.int64),
        "source": pd.Series(list(rows["source"]), dtype=object),
        "model_version": pd.Series(list(rows["model_version"]), dtype=object),
        "t0": np.asarray(rows["t0"], dtype=float),
        "hop": np.asarray(rows["hop"], dtype=float),
        "valence": [np.asarray(v, dtype=np.float32).tolist() for v in rows["valence"]],
        "arousal": [np.asarray(a, dtype=np.float32).tolist() for a in rows["arousal"]],
    })
    with registered(con, frame) as name:
        con.execute(upsert_sql(
            "curves", CURVE_KEY, CURVE_VALUES,
            "SELECT CAST(song_id AS INTEGER), source, model_version, t0, hop, "
            f"CAST(valence AS FLOAT[]), CAST(arousal AS FLOAT[]), current_timestamp FROM {name}"))


def put_feature_rows(con, family: str, song_ids, X, *, origin: str) -> None:
    """Store one feature vector per song: ``X`` shape (n_songs, n_features)."""
    X = np.asarray(X, dtype=np.float32)
    if X.shape[0] == 0:
        return
    frame = pd.DataFrame({
        "song_id": np.asarray(song_ids, dtype=np.int64),
        "vector": [row.tolist() for row in X],
    })
    with registered(con, frame) as name:
        con.execute(
            "INSERT OR REPLACE INTO features "
            f"SELECT CAST(song_id AS INTEGER), ?, ?, CAST(vector AS FLOAT[]) FROM {name}",
            [family, origin],
        )


# --------------------------------------------------------------------------- look-ups for imports

def existing_song_ids(con, song_ids) -> set[int]:
    """The subset of ``song_ids`` that are songs of the index."""
    ids = sorted({int(s) for s in song_ids})
    if not ids:
        return set()
    rows = con.execute("SELECT song_id FROM songs WHERE list_contains(?, song_id)", [ids]).fetchall()
    return {int(r[0]) for r in rows}


def annotation_rows(con, *, annotation_ids=(), song_ids=()) -> pd.DataFrame:
    """Every annotation with one of ``annotation_ids`` or on one of ``song_ids``."""
    a_ids = sorted({int(i) for i in annotation_ids})
    s_ids = sorted({int(s) for s in song_ids})
    return con.execute(
        "SELECT annotation_id, song_id, annotator, kind, t0, t1, valence, arousal, valence_std, "
        "arousal_std, tags, note, revision FROM annotations "
        "WHERE list_contains(?, annotation_id) OR list_contains(?, song_id) ORDER BY annotation_id",
        [a_ids, s_ids],
    ).df()
