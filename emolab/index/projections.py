"""Cached 2-D maps of a feature space (t-SNE / UMAP coordinates) and what they were made of.

A map is stored under a ``projection_key``: its rows in ``projections`` (song_id, x, y)
and one row in ``projection_meta`` (params JSON, score JSON, created_at). Keys start
with a *stem* naming family, method and parameters; the rest names the data version,
so storing a fresh map removes the stale maps of the same stem.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a frame is made (ingest never needs it)
    import pandas as pd


def feature_data_version(con, family: str) -> dict:
    """What a map of one feature family depends on: its row count and newest song.

    Returns
    -------
    dict
        ``{"rows": int, "max_song_id": int}`` (both 0 when the family has no rows).
    """
    rows, max_song_id = con.execute(
        "SELECT count(DISTINCT song_id), coalesce(max(song_id), 0) FROM features WHERE family = ?",
        [family],
    ).fetchone()
    return {"rows": int(rows), "max_song_id": int(max_song_id)}


def get_projection(con, key: str) -> tuple[pd.DataFrame, dict] | None:
    """A stored map: ``(DataFrame(song_id, x, y), meta)`` or None.

    ``meta`` holds ``params`` and ``score`` (dicts) and ``created_at``.
    """
    meta = con.execute(
        "SELECT params, score, created_at FROM projection_meta WHERE projection_key = ?", [key]
    ).fetchone()
    if meta is None:
        return None
    coords = con.execute(
        "SELECT song_id, x, y FROM projections WHERE projection_key = ? ORDER BY song_id", [key]
    ).df()
    params, score, created_at = meta
    return coords, {"params": json.loads(params) if params else {},
                    "score": json.loads(score) if score else {}, "created_at": created_at}


def put_projection(con, key: str, song_ids, coords, *, params: dict, score: dict,
                   stem: str | None = None) -> None:
    """Store a map, replacing one of the same key and every older map of ``stem``.

    ``con`` should be inside a transaction so a map is never half-written.

    Parameters
    ----------
    song_ids : array-like, shape (n,)
    coords : np.ndarray, shape (n, 2)
    """
    import pandas as pd

    coords = np.asarray(coords, dtype=np.float64)
    frame = pd.DataFrame({"projection_key": key, "song_id": np.asarray(song_ids, dtype=np.int64),
                          "x": coords[:, 0], "y": coords[:, 1]})
    doomed = [key] + ([r[0] for r in con.execute(
        "SELECT projection_key FROM projection_meta WHERE starts_with(projection_key, ?)", [stem]
    ).fetchall()] if stem else [])
    for old in set(doomed):
        con.execute("DELETE FROM projections WHERE projection_key = ?", [old])
        con.execute("DELETE FROM projection_meta WHERE projection_key = ?", [old])
    con.register("_new_projection", frame)
    try:
        con.execute("INSERT INTO projections SELECT projection_key, song_id, x, y FROM _new_projection")
    finally:
        con.unregister("_new_projection")
    con.execute(
        "INSERT INTO projection_meta (projection_key, params, score) VALUES (?, ?, ?)",
        [key, json.dumps(params, sort_keys=True), json.dumps(score, sort_keys=True)],
    )


def list_projections(con) -> pd.DataFrame:
    """Every stored map: projection_key, n_songs, params, score, created_at."""
    return con.execute(
        """
        SELECT m.projection_key, count(p.song_id) AS n_songs, m.params, m.score, m.created_at
        FROM projection_meta m LEFT JOIN projections p USING (projection_key)
        GROUP BY ALL ORDER BY m.created_at
        """
    ).df()


def delete_projections(con) -> int:
    """Forget every stored map; return how many there were."""
    n = con.execute("SELECT count(*) FROM projection_meta").fetchone()[0]
    con.execute("DELETE FROM projections")
    con.execute("DELETE FROM projection_meta")
    return int(n)
