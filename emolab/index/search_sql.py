"""The SQL behind :mod:`emolab.search`: static values, curves, filters and song rows.

Search keeps fixed-length sketches of every curve in memory (numpy), so the index
needs no extra table; these queries feed that cache and tell when it is stale.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from emolab.index.bulk import registered
from emolab.index.emotion import newest_first

if TYPE_CHECKING:  # pandas is imported where a frame is made (ingest never needs it)
    import pandas as pd

SONG_FIELDS = ("song_id", "dataset", "dataset_id", "title", "artist")


def static_fingerprint(con, source: str) -> tuple:
    """A cheap value that changes whenever the static values of ``source`` change.

    ``max`` over a key or a timestamp is answered from column statistics, so this stays
    around a millisecond at a million rows. Updates bump ``updated_at`` /
    ``created_at``; deletions change the count.
    """
    if source == "human":
        sql = "SELECT count(*), max(annotation_id), max(updated_at) FROM annotations"
    else:
        sql = "SELECT count(*), max(created_at) FROM static_predictions"
    return _one(con, sql)


def curves_fingerprint(con) -> tuple:
    """Changes whenever a curve is added, replaced (a new rowid) or deleted (the count)."""
    return _one(con, "SELECT count(*), max(rowid) FROM curves")


def static_values(con, source: str, *, annotator: str | None = None):
    """Static valence and arousal per song, songs lacking either value left out.

    Human values average the song's static annotations (only ``annotator``'s, if
    given); predicted values are the newest model's (:func:`emolab.index.emotion.newest_first`).

    Returns
    -------
    song_ids : np.ndarray, shape (n,), int64
    valence, arousal : np.ndarray, shape (n,), float64
    """
    if source == "human":
        sql = (
            "SELECT song_id, avg(valence) AS v, avg(arousal) AS a FROM annotations "
            "WHERE kind = 'static'" + (" AND annotator = ?" if annotator else "")
            + " GROUP BY song_id HAVING v IS NOT NULL AND a IS NOT NULL ORDER BY song_id"
        )
        params = [annotator] if annotator else []
    else:
        sql = (
            "SELECT song_id, valence AS v, arousal AS a FROM static_predictions "
            f"QUALIFY row_number() OVER (PARTITION BY song_id ORDER BY {newest_first()}) = 1 "
            "ORDER BY song_id"
        )
        params = []
    cols = con.execute(sql, params).fetchnumpy()
    return (np.asarray(cols["song_id"], dtype=np.int64),
            np.asarray(cols["v"], dtype=np.float64), np.asarray(cols["a"], dtype=np.float64))


def curve_table(con, source: str) -> pa.Table:
    """One curve per song of ``source`` (:func:`emolab.index.emotion.newest_first`), as an Arrow table.

    Columns: song_id, t0, hop, valence (list of float), arousal (list of float). The
    window that picks the newest version is costly at scale, so it only runs when some
    song has several curves of this source.
    """
    duplicated = _one(con, "SELECT count(*) - count(DISTINCT song_id) FROM curves WHERE source = ?",
                      [source])[0]
    sql = "SELECT song_id, t0, hop, valence, arousal FROM curves WHERE source = $source"
    if duplicated:
        sql += (f" QUALIFY row_number() OVER (PARTITION BY song_id ORDER BY {newest_first(source)})"
                " = 1")
    con.complete()  # a relation refuses to start while an earlier result is unread
    return con.sql(sql, params={"source": source}).to_arrow_table()


def _one(con, sql: str, params=()) -> tuple:
    """The single row of an aggregate query, read to the end."""
    return tuple(con.execute(sql, list(params)).fetchall()[0])


def filtered_song_ids(con, *, text=None, min_duration=None, max_duration=None,
                      has_audio=None, annotator=None) -> np.ndarray:
    """Ids of the songs passing every filter given, shape (n,), int64.

    ``text`` matches title or artist, case-insensitively; a duration bound leaves out
    songs of unknown duration; ``annotator`` keeps songs with any annotation by them.
    """
    clauses, params = [], []
    if text:
        clauses.append("(contains(lower(coalesce(title, '')), lower(?)) "
                       "OR contains(lower(coalesce(artist, '')), lower(?)))")
        params += [text, text]
    if min_duration is not None:
        clauses.append("duration >= ?")
        params.append(float(min_duration))
    if max_duration is not None:
        clauses.append("duration <= ?")
        params.append(float(max_duration))
    if has_audio is not None:
        clauses.append("has_audio = ?")
        params.append(bool(has_audio))
    if annotator:
        clauses.append("song_id IN (SELECT song_id FROM annotations WHERE annotator = ?)")
        params.append(annotator)
    sql = "SELECT song_id FROM songs" + (" WHERE " + " AND ".join(clauses) if clauses else "")
    return np.asarray(con.execute(sql, params).fetchnumpy()["song_id"], dtype=np.int64)


def song_rows(con, song_ids) -> pd.DataFrame:
    """Song id, dataset, dataset id, title and artist of the given songs, in that order."""
    import pandas as pd

    ids = [int(s) for s in song_ids]
    if not ids:
        return pd.DataFrame(columns=list(SONG_FIELDS))
    rows = con.execute(
        f"SELECT {', '.join(SONG_FIELDS)} FROM songs WHERE song_id = ANY(?::INTEGER[])", [ids]
    ).fetchall()
    by_id = {row[0]: row for row in rows}
    return pd.DataFrame([by_id[s] for s in ids if s in by_id], columns=list(SONG_FIELDS))


def bulk_load(con, songs: pa.Table, curves: pa.Table | None = None,
              static: pa.Table | None = None) -> None:
    """Append many songs (and their curves and static annotations) at once.

    For synthetic benchmark indices of up to a million songs, where one INSERT per song
    would take hours. ``songs`` has columns of ``songs`` (at least song_id and origin),
    ``curves`` the columns of ``curves`` in table order, ``static`` song_id, annotator,
    valence and arousal. No annotation history is written: these are not edits.
    """
    names = ", ".join(songs.column_names)
    with registered(con, songs) as table:
        con.execute(f"INSERT INTO songs ({names}) SELECT {names} FROM {table}")
    if curves is not None:
        with registered(con, curves) as table:
            con.execute("INSERT INTO curves (song_id, source, model_version, t0, hop, valence, arousal) "
                        f"SELECT song_id, source, model_version, t0, hop, valence, arousal FROM {table}")
    if static is not None:
        with registered(con, static) as table:
            con.execute("INSERT INTO annotations (song_id, annotator, kind, valence, arousal) "
                        f"SELECT song_id, annotator, 'static', valence, arousal FROM {table}")
