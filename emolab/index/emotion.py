"""Static predictions and emotion curves (human or predicted)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from emolab.exceptions import ParameterError

if TYPE_CHECKING:  # pandas is imported where a frame is made (ingest never needs it)
    import pandas as pd

SOURCES = ("human", "predicted")
#: Kinds of prediction, and the table each is stored in.
KINDS = {"static": "static_predictions", "dynamic": "curves"}


def newest_first(source: str = "predicted") -> str:
    """The SQL ``ORDER BY`` terms that put the row to show first; the one rule of EmoLab.

    Predictions: the newest model is the one whose prediction was stored last
    (``created_at``; storing the same values again keeps the old time), never the largest version name (``vae-lstm-ts-20261201`` stored
    after ``vae-lstm-ts-anchored0.25`` wins). Predictions stored in one transaction
    share their time; the larger version name then decides, so the choice is stable.
    Human curves (``model_version`` is the dataset's name) keep a fixed dataset order.
    """
    if source == "human":
        return "model_version DESC"
    return "created_at DESC, model_version DESC"


def latest_model_version(con, kind: str, *, song_id: int | None = None) -> str | None:
    """The newest model version of ``kind`` in the index (or for one song), by :func:`newest_first`.

    Parameters
    ----------
    kind : {"static", "dynamic"}
        Static predictions or predicted curves.
    song_id : int, optional
        Only this song's predictions.

    Returns
    -------
    str or None
        None when there is no such prediction.
    """
    if kind not in KINDS:
        raise ParameterError(f"The kind of model must be one of {', '.join(KINDS)} (got {kind!r}).")
    clauses, params = ([], []) if kind == "static" else (["source = 'predicted'"], [])
    if song_id is not None:
        clauses.append("song_id = ?")
        params.append(int(song_id))
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = con.execute(f"SELECT model_version FROM {KINDS[kind]}{where} "
                       f"ORDER BY {newest_first()} LIMIT 1", params).fetchall()
    return rows[0][0] if rows else None


def upsert_sql(table: str, key: tuple[str, ...], values: tuple[str, ...], source: str) -> str:
    """``INSERT`` of ``key + values`` (from ``source``: ``VALUES (...)`` or a ``SELECT``) that
    replaces a row of the same key, and stamps ``created_at`` only when the values change:
    storing the same prediction again does not make its model newer (:func:`newest_first`)."""
    same = (f"({', '.join(f'{table}.{c}' for c in values)}) IS NOT DISTINCT FROM "
            f"({', '.join(f'excluded.{c}' for c in values)})")
    return (f"INSERT INTO {table} ({', '.join(key + values)}, created_at) {source} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in values)
            + f", created_at = CASE WHEN {same} THEN {table}.created_at ELSE excluded.created_at END")


_STATIC_UPSERT = upsert_sql("static_predictions", ("song_id", "model_version"),
                            ("valence", "arousal", "valence_std", "arousal_std"),
                            "VALUES (?, ?, ?, ?, ?, ?, current_timestamp)")
CURVE_KEY = ("song_id", "source", "model_version")
CURVE_VALUES = ("t0", "hop", "valence", "arousal")
#: A predicted curve's uncertainty (NULL for human curves and older predictions).
CURVE_STD_VALUES = ("valence_std", "arousal_std")
_CURVE_UPSERT = upsert_sql("curves", CURVE_KEY, CURVE_VALUES + CURVE_STD_VALUES,
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)")
# A song created in the same transaction has nothing to replace: a plain INSERT (half the cost).
_STATIC_INSERT = _STATIC_UPSERT.split(" ON CONFLICT ")[0]
_CURVE_INSERT = _CURVE_UPSERT.split(" ON CONFLICT ")[0]


def put_static_prediction(con, song_id, model_version, valence, arousal,
                          valence_std=None, arousal_std=None, *, fresh: bool = False) -> None:
    """Store a static prediction on [-1, 1], replacing one of the same model version.

    ``fresh``: the song was added in this transaction (nothing to replace).
    """
    con.execute(
        _STATIC_INSERT if fresh else _STATIC_UPSERT,
        [song_id, model_version, float(valence), float(arousal),
         None if valence_std is None else float(valence_std),
         None if arousal_std is None else float(arousal_std)],
    )


def put_curve(con, song_id, *, source, model_version, t0, hop, valence, arousal, std=None,
              fresh: bool = False) -> None:
    """Store a valence and arousal curve, shapes (n,), on the grid ``t0 + hop * i`` seconds.

    ``std``: optional ``(valence_std, arousal_std)``, each shape (n,), the curve's uncertainty.
    ``fresh``: the song was added in this transaction (nothing to replace).
    """
    if source not in SOURCES:
        raise ParameterError(f"A curve's source must be one of {', '.join(SOURCES)} (got {source!r}).")
    v = np.asarray(valence, dtype=np.float32).ravel()
    a = np.asarray(arousal, dtype=np.float32).ravel()
    if v.shape != a.shape:
        raise ParameterError(f"The valence and arousal curves must have the same length "
                             f"(got {v.size} and {a.size} points).")
    sds = [None, None]
    if std is not None:
        sds = [np.asarray(x, dtype=np.float32).ravel() for x in std]
        if any(x.shape != v.shape for x in sds):
            raise ParameterError("The uncertainty curves must have as many points as the curves.")
        sds = [x.tolist() for x in sds]
    con.execute(_CURVE_INSERT if fresh else _CURVE_UPSERT,
                [song_id, source, model_version, float(t0), float(hop), v.tolist(), a.tolist(), *sds])


def get_curves(con, *, source: str = "human", song_ids=None) -> pd.DataFrame:
    """One curve per song (for predictions the newest model's, see :func:`newest_first`).

    Columns: song_id, t0, hop, valence (list), arousal (list).
    """
    df = con.execute(
        f"""
        SELECT song_id, t0, hop, valence, arousal FROM curves WHERE source = ?
        QUALIFY row_number() OVER (PARTITION BY song_id ORDER BY {newest_first(source)}) = 1
        ORDER BY song_id
        """,
        [source],
    ).df()
    if song_ids is not None:
        df = df[df.song_id.isin(list(song_ids))]
    return df.reset_index(drop=True)


def get_song_curves(con, song_id: int, *, newest_only: bool = False) -> pd.DataFrame:
    """Every curve of one song, long format: source, model_version, time, valence, arousal,
    valence_std, arousal_std (NaN where the curve has no uncertainty).

    With ``newest_only``, one curve per source: the one :func:`newest_first` picks.
    """
    import pandas as pd

    sql = ("SELECT source, model_version, t0, hop, valence, arousal, valence_std, arousal_std "
           "FROM curves WHERE song_id = ?")
    if newest_only:
        sql = " UNION ALL ".join(f"({sql} AND source = '{source}' ORDER BY {newest_first(source)} LIMIT 1)"
                                 for source in SOURCES)
        rows = con.execute(sql, [song_id] * len(SOURCES)).fetchall()
    else:
        rows = con.execute(sql + " ORDER BY source, model_version", [song_id]).fetchall()
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
