"""Feature vectors, frame features and embeddings of songs."""
from __future__ import annotations

import numpy as np


def register_family(con, family: str, columns) -> None:
    """Record the column names of a feature family; refuse a family that changed shape."""
    columns = [str(c) for c in columns]
    row = con.execute("SELECT columns FROM feature_families WHERE family = ?", [family]).fetchone()
    if row is None:
        con.execute("INSERT INTO feature_families VALUES (?, ?)", [family, columns])
    elif list(row[0]) != columns:
        from emolab.exceptions import SongIndexError

        raise SongIndexError(f"Feature family '{family}' is stored with other columns.")


def family_columns(con, family: str) -> list[str] | None:
    row = con.execute("SELECT columns FROM feature_families WHERE family = ?", [family]).fetchone()
    return None if row is None else list(row[0])


def put_features(con, song_id: int, family: str, vector, *, origin: str = "computed",
                 fresh: bool = False) -> None:
    """Store a song's feature vector of one family (replacing one of the same origin).

    ``fresh``: the song was added in this transaction (nothing to replace).
    """
    vector = np.asarray(vector, dtype=np.float32).ravel()
    con.execute(
        ("INSERT" if fresh else "INSERT OR REPLACE") + " INTO features VALUES (?, ?, ?, ?)",
        [song_id, family, origin, vector.tolist()],
    )


def get_features(con, family: str, *, origin: str | None = None, song_ids=None):
    """Feature matrix of one family.

    Returns
    -------
    song_ids : np.ndarray, shape (n,)
    X : np.ndarray, shape (n, d), float32
    origins : np.ndarray of str, shape (n,)

    A song with both computed and dataset vectors appears once, computed first.
    """
    sql = (
        "SELECT song_id, vector, origin FROM features WHERE family = ?"
        + (" AND origin = ?" if origin else "")
        + " QUALIFY row_number() OVER (PARTITION BY song_id ORDER BY origin) = 1"
        + " ORDER BY song_id"
    )
    params = [family] + ([origin] if origin else [])
    rows = con.execute(sql, params).fetchall()
    if song_ids is not None:
        wanted = set(int(s) for s in song_ids)
        rows = [r for r in rows if r[0] in wanted]
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=object)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    X = np.array([r[1] for r in rows], dtype=np.float32)
    return ids, X, np.array([r[2] for r in rows], dtype=object)


def put_frames(con, song_id: int, family: str, frames, *, t0: float, hop: float) -> None:
    """Store frame features, shape (n_frames, n_dims), on the grid ``t0 + hop * i``."""
    frames = np.asarray(frames, dtype=np.float32)
    con.execute(
        "INSERT OR REPLACE INTO frame_features VALUES (?, ?, ?, ?, ?, ?)",
        [song_id, family, float(t0), float(hop), int(frames.shape[1]), frames.ravel().tolist()],
    )


def get_frames(con, song_id: int, family: str):
    """Return ``(times, frames)`` with shapes (n,) and (n, d), or None."""
    row = con.execute(
        "SELECT t0, hop, n_dims, frames FROM frame_features WHERE song_id = ? AND family = ?",
        [song_id, family],
    ).fetchone()
    if row is None:
        return None
    t0, hop, n_dims, flat = row
    frames = np.asarray(flat, dtype=np.float32).reshape(-1, n_dims)
    return t0 + hop * np.arange(frames.shape[0]), frames


def put_embedding(con, song_id: int, model_version: str, vector) -> None:
    con.execute(
        "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
        [song_id, model_version, np.asarray(vector, dtype=np.float32).ravel().tolist()],
    )


def get_embeddings(con, model_version: str):
    """Return ``(song_ids (n,), E (n, k))`` of one embedding model."""
    rows = con.execute(
        "SELECT song_id, vector FROM embeddings WHERE model_version = ? ORDER BY song_id",
        [model_version],
    ).fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows], dtype=np.float32)
