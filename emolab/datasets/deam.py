"""DEAM (MediaEval 2014–2015, 1,802 Free Music Archive songs): static ratings, curves, features.

Layout: ``**/static_annotations_averaged_songs_*.csv``, ``metadata/metadata_*.csv``,
``features/deam_features_74.csv`` (or another song-level table in DEAM's column layout under
``features/``), dynamic ``annotations/**/arousal.csv`` and ``valence.csv`` (``sample_15000ms``…
columns), audio ``MEMD_audio/<id>.mp3`` or ``audio/``.

DEAM's static annotation file (and every table derived from it, such as
``deam_features_74.csv``) has valence and arousal **swapped for song ids 2–1000** (the
MediaEval 2013 songs, which are the emoMusic songs): for those ids ``valence_mean`` holds
arousal and ``arousal_mean`` holds valence, and likewise for the ``_std`` columns.
:func:`fix_deam_swap` corrects it — here and only here; every DEAM reader calls it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emolab.config import rating_to_unit
from emolab.datasets._common import (DatasetTables, _audio_files, _column, _combine_static, _curve_table,
                                     _ids, _key, _numeric, _pair_curves,
                                     _require_root, _songs_frame, _static_frame, _text, read_csv_stripped)
from emolab.exceptions import DatasetError

NAME = "deam"
AUDIO_FOLDERS = ("MEMD_audio", "DEAM_audio/MEMD_audio", "audio")
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


def read_deam(root) -> DatasetTables:
    """Read the DEAM layout, with valence/arousal swapped back for ids 2–1000.

    Parameters
    ----------
    root : str or Path
        Folder holding ``annotations/`` (static files anywhere below it), and optionally
        ``metadata/``, ``features/``, ``MEMD_audio/``.

    Returns
    -------
    DatasetTables
        Static labels from ``static_annotations_averaged_songs_*.csv`` (falling back on
        the labels of the feature table for songs missing there), curves from the dynamic
        ``arousal.csv``/``valence.csv`` when present, ``features`` from the feature table.
    """
    root = _require_root(root, "DEAM")
    static_files = sorted(root.rglob("static_annotations_averaged_songs*.csv"))
    feature_path = _deam_feature_path(root)
    if not static_files and feature_path is None:
        raise DatasetError(f"'{root}' does not look like DEAM: no "
                           "static_annotations_averaged_songs_*.csv and no features/ table.")
    frames = [_deam_static(path) for path in static_files]

    features = None
    if feature_path is not None:
        table, labels = load_deam_feature_table(feature_path)
        features = table.copy()
        features.index = _ids(table.index)
        features.index.name = "dataset_id"
        if len(labels.columns):
            frames.append(_deam_unit_labels(_ids(labels.index), labels))
    static = _combine_static(*frames)

    curves = _deam_curves(root)
    meta = _deam_metadata(root)
    audio = _audio_files(root, AUDIO_FOLDERS)
    all_ids = set(static.dataset_id) | set(curves) | set(audio)
    if features is not None:
        all_ids |= set(features.index)
    return DatasetTables("deam", _songs_frame(all_ids, meta, audio), static, curves, features)


def _deam_static(path: Path) -> pd.DataFrame:
    df = read_csv_stripped(path)
    renamed = pd.DataFrame({"song_id": _ids(_column(df, "song_id", required=path.name))})
    for col in DEAM_LABEL_COLUMNS:
        renamed[col] = _numeric(_column(df, col, required=path.name))
    fixed = fix_deam_swap(renamed)
    return _deam_unit_labels(list(fixed.song_id), fixed)


def _deam_unit_labels(ids, labels: pd.DataFrame) -> pd.DataFrame:
    """DEAM 1–9 labels (swap already corrected) as a static table on [-1, 1]."""
    return _static_frame(
        ids,
        rating_to_unit(labels["valence_mean"].to_numpy(dtype=float)),
        rating_to_unit(labels["arousal_mean"].to_numpy(dtype=float)),
        labels["valence_std"].to_numpy(dtype=float) / 4.0,
        labels["arousal_std"].to_numpy(dtype=float) / 4.0,
    )


def _deam_feature_path(root: Path) -> Path | None:
    """``features/deam_features_74.csv``, else another song-level table in DEAM layout.

    DEAM's own per-song frame files (``features/<id>.csv``) are not song-level tables
    and are skipped.
    """
    folder = root / "features"
    if not folder.is_dir():
        return None
    preferred = folder / "deam_features_74.csv"
    if preferred.exists():
        return preferred
    for path in sorted(folder.glob("*.csv")):
        if path.stem.isdigit():
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            header = [_key(c) for c in f.readline().split(",")]
        if ("trackid" in header or "songid" in header) and any(h.endswith("amean") for h in header):
            return path
    return None


def _deam_curves(root: Path) -> dict:
    for a_path in sorted((root / "annotations").rglob("arousal.csv")) if (root / "annotations").is_dir() else []:
        v_path = a_path.with_name("valence.csv")
        if v_path.exists():
            times, arousal = _curve_table(a_path)
            v_times, valence = _curve_table(v_path)
            if len(v_times) != len(times) or not np.allclose(v_times, times):
                raise DatasetError(f"'{a_path.parent}': arousal.csv and valence.csv have different times.")
            return _pair_curves(times, valence, arousal)
    return {}


def _deam_metadata(root: Path) -> pd.DataFrame | None:
    folder = root / "metadata"
    if not folder.is_dir():
        return None
    parts = []
    for path in sorted(folder.glob("*.csv")):
        wanted = {"songid", "title", "artist", "genre"}
        df = read_csv_stripped(path, dtype=str, keep_default_na=False,
                               usecols=lambda c: _key(c) in wanted)
        song_ids = _column(df, "song_id")
        if song_ids is None:
            continue
        part = pd.DataFrame(index=_ids(song_ids))
        for col in ("title", "artist", "genre"):
            values = _column(df, col)
            part[col] = _text(values) if values is not None else None
        parts.append(part)
    if not parts:
        return None
    meta = pd.concat(parts)
    return meta[~meta.index.duplicated()]
