"""Readers for the datasets' own layouts (DEAM, emoMusic, PMEmo).

Label conventions live here and only here. In particular DEAM's static annotation
file (and every table derived from it, such as ``deam_features_74.csv``) has valence and
arousal **swapped for song ids 2–1000** (the MediaEval 2013 songs, which are the emoMusic
songs): for those ids ``valence_mean`` holds arousal and ``arousal_mean`` holds valence,
and likewise for the ``_std`` columns. :func:`fix_deam_swap` corrects it; every DEAM
reader calls it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emolab.exceptions import DatasetError

DEAM_SWAPPED_IDS = (2, 1000)  # inclusive range of song ids whose V/A columns are swapped
DEAM_LABEL_COLUMNS = ("valence_mean", "valence_std", "arousal_mean", "arousal_std")


def fix_deam_swap(df: pd.DataFrame, *, id_column: str = "song_id") -> pd.DataFrame:
    """Return a copy of a DEAM-convention table with V/A swapped back for ids 2–1000.

    Parameters
    ----------
    df : DataFrame
        Has ``id_column`` and the columns ``valence_mean``, ``arousal_mean`` (and
        optionally ``valence_std``, ``arousal_std``) on DEAM's 1–9 scale.

    Returns
    -------
    DataFrame
        The same rows; for ids 2..1000 ``valence_*`` and ``arousal_*`` exchanged.
    """
    out = df.copy()
    ids = pd.to_numeric(out[id_column], errors="coerce")
    swapped = ids.between(*DEAM_SWAPPED_IDS).to_numpy()
    for stat in ("mean", "std"):
        v, a = f"valence_{stat}", f"arousal_{stat}"
        if v in out.columns and a in out.columns:
            vals = out.loc[swapped, v].to_numpy().copy()
            out.loc[swapped, v] = out.loc[swapped, a].to_numpy()
            out.loc[swapped, a] = vals
    return out


def read_csv_stripped(path: Path, **kwargs) -> pd.DataFrame:
    """Read a CSV whose header and text cells may carry spaces or TABs around values."""
    try:
        df = pd.read_csv(path, skipinitialspace=True, **kwargs)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Could not read '{path}': {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = df[col].astype(str).str.strip()
    return df


def load_deam_feature_table(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a song-level feature table in DEAM's layout (e.g. ``deam_features_74.csv``).

    Parameters
    ----------
    path : str or Path
        CSV with ``track_id`` (or ``song_id``), feature columns named as DEAM's
        openSMILE columns, and optionally the four label columns.

    Returns
    -------
    features : DataFrame, shape (n_songs, n_features)
        Indexed by integer song id, sorted.
    labels : DataFrame, shape (n_songs, 4)
        ``valence_mean, valence_std, arousal_mean, arousal_std`` on 1–9 with the DEAM
        swap corrected; empty columns if the table has no labels.
    """
    path = Path(path)
    df = read_csv_stripped(path)
    id_col = "track_id" if "track_id" in df.columns else "song_id"
    if id_col not in df.columns:
        raise DatasetError(f"'{path.name}' has no track_id or song_id column.")
    df[id_col] = pd.to_numeric(df[id_col], errors="coerce")
    df = df.dropna(subset=[id_col])
    df[id_col] = df[id_col].astype(int)
    df = df.drop_duplicates(subset=[id_col]).sort_values(id_col)
    has_labels = all(c in df.columns for c in DEAM_LABEL_COLUMNS)
    if has_labels:
        df = fix_deam_swap(df, id_column=id_col)
    df = df.set_index(id_col)
    df.index.name = "song_id"
    feature_cols = [c for c in df.columns
                    if c not in DEAM_LABEL_COLUMNS and np.issubdtype(df[c].dtype, np.number)]
    labels = df[list(DEAM_LABEL_COLUMNS)] if has_labels else pd.DataFrame(index=df.index)
    return df[feature_cols].astype(float), labels.astype(float)
