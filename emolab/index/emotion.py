"""Static predictions and emotion curves (human or predicted)."""
from __future__ import annotations

import numpy as np
import pandas as pd

SOURCES = ("human", "predicted")


def put_static_prediction(con, song_id, model_version, valence, arousal,
                          valence_std=None, arousal_std=None) -> None:
    """Store a static prediction on [-1, 1], replacing one of the same model version."""
    con.execute(
        "INSERT OR REPLACE INTO static_predictions VALUES (?, ?, ?, ?, ?, ?, current_timestamp)",
        [song_id, model_version, float(valence), float(arousal),
         None if valence_std is None else float(valence_std),
         None if arousal_std is None else float(arousal_std)],
    )


def put_curve(con, song_id, *, source, model_version, t0, hop, valence, arousal, std=None) -> None:
    """Store a valence and arousal curve, shapes (n,), on the grid ``t0 + hop * i`` seconds.

    ``std``: optional ``(valence_std, arousal_std)``, each shape (n,), the curve's uncertainty.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    v = np.asarray(valence, dtype=np.float32).ravel()
    a = np.asarray(arousal, dtype=np.float32).ravel()
    if v.shape != a.shape:
        raise ValueError("valence and arousal curves must have the same length")
    sds = [None, None]
    if std is not None:
        sds = [np.asarray(x, dtype=np.float32).ravel() for x in std]
        if any(x.shape != v.shape for x in sds):
            raise ValueError("the uncertainty curves must have the length of the curves")
        sds = [x.tolist() for x in sds]
    con.execute(
        "INSERT OR REPLACE INTO curves (song_id, source, model_version, t0, hop, valence, arousal, "
        "valence_std, arousal_std) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [song_id, source, model_version, float(t0), float(hop), v.tolist(), a.tolist(), *sds],
    )


def get_curves(con, *, source: str = "human", song_ids=None) -> pd.DataFrame:
    """One curve per song (the newest model version for predictions).

    Columns: song_id, t0, hop, valence (list), arousal (list).
    """
    df = con.execute(
        """
        SELECT song_id, t0, hop, valence, arousal FROM curves WHERE source = ?
        QUALIFY row_number() OVER (PARTITION BY song_id ORDER BY model_version DESC) = 1
        ORDER BY song_id
        """,
        [source],
    ).df()
    if song_ids is not None:
        df = df[df.song_id.isin(list(song_ids))]
    return df.reset_index(drop=True)


def get_song_curves(con, song_id: int) -> pd.DataFrame:
    """Every curve of one song, long format: source, model_version, time, valence, arousal,
    valence_std, arousal_std (NaN where the curve has no uncertainty)."""
    rows = con.execute(
        "SELECT source, model_version, t0, hop, valence, arousal, valence_std, arousal_std "
        "FROM curves WHERE song_id = ?",
        [song_id],
    ).fetchall()
    frames = []
    for source, version, t0, hop, v, a, vs, as_ in rows:
        t = t0 + hop * np.arange(len(v))
        nan = np.full(len(v), np.nan)
        frames.append(pd.DataFrame({"source": source, "model_version": version,
                                    "time": t, "valence": v, "arousal": a,
                                    "valence_std": nan if vs is None else np.asarray(vs, dtype=float),
                                    "arousal_std": nan if as_ is None else np.asarray(as_, dtype=float)}))
    if not frames:
        return pd.DataFrame(columns=["source", "model_version", "time", "valence", "arousal",
                                     "valence_std", "arousal_std"])
    return pd.concat(frames, ignore_index=True)
