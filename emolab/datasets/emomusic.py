"""emoMusic ("1000 songs", MediaEval 2013): static ratings, 2 Hz curves from 15 s.

Layout (relative to the dataset's folder): ``annotations/static_annotations.csv``,
``annotations/songs_info.csv``, ``annotations/{arousal,valence}_cont_average.csv`` (61 points
from 15.0 s, hop 0.5 s), audio ``clips_45seconds_mp3/<id>.mp3`` or ``clips_45seconds/`` or
``audio/``. Ratings 1–9 map to [-1, 1] by ``(x - 5) / 4`` (std ``x / 4``); emoMusic's own
columns are not swapped (DEAM's copy of these songs is, see :mod:`emolab.datasets.deam`).
"""
from __future__ import annotations

import pandas as pd

from emolab.config import rating_to_unit
from emolab.datasets._common import (DatasetTables, _audio_files, _column, _combine_static, _curve_table,
                                     _first_existing, _ids, _numeric, _pair_curves,
                                     _require_root, _songs_frame, _static_frame, _text, read_csv_stripped)
from emolab.exceptions import DatasetError

NAME = "emomusic"
AUDIO_FOLDERS = ("clips_45seconds_mp3", "clips_45seconds", "audio")
EMOMUSIC_CURVE_T0 = 15.0  # emoMusic drops the first 15 s of every clip
EMOMUSIC_CURVE_HOP = 0.5


def read_emomusic(root) -> DatasetTables:
    """Read the emoMusic ("1000 songs", MediaEval 2013) layout.

    Parameters
    ----------
    root : str or Path
        Folder holding ``annotations/`` (and optionally ``clips_45seconds_mp3/``).

    Returns
    -------
    DatasetTables
        Static labels from ``static_annotations.csv`` (emoMusic's own columns are
        correct: ``mean_arousal`` is arousal), 61-point curves from 15.0 s (hop 0.5 s).
    """
    root = _require_root(root, "emoMusic")
    ann = _first_existing(root, "annotations", ".")
    static_path = _first_existing(ann, "static_annotations.csv")
    if static_path is None:
        raise DatasetError(f"'{root}' does not look like emoMusic: annotations/static_annotations.csv "
                           "is missing.")
    df = read_csv_stripped(static_path)
    ids = _ids(_column(df, "song_id", required=static_path.name))
    static = _static_frame(
        ids,
        rating_to_unit(_numeric(_column(df, "mean_valence", required=static_path.name))),
        rating_to_unit(_numeric(_column(df, "mean_arousal", required=static_path.name))),
        _numeric(_column(df, "std_valence", required=static_path.name)) / 4.0,
        _numeric(_column(df, "std_arousal", required=static_path.name)) / 4.0,
    )
    static = _combine_static(static)

    curves = {}
    v_path, a_path = ann / "valence_cont_average.csv", ann / "arousal_cont_average.csv"
    if v_path.exists() and a_path.exists():
        times, valence = _curve_table(v_path)
        _, arousal = _curve_table(a_path)
        curves = _pair_curves(times, valence, arousal)

    meta = None
    info_path = ann / "songs_info.csv"
    if info_path.exists():
        info = read_csv_stripped(info_path)
        meta = pd.DataFrame({
            "title": _text(_column(info, "Song title", "title")),
            "artist": _text(_column(info, "Artist")),
            "genre": _text(_column(info, "Genre")),
        }, index=_ids(_column(info, "song_id", required=info_path.name)))
        meta = meta[~meta.index.duplicated()]
    audio = _audio_files(root, AUDIO_FOLDERS)
    all_ids = set(static.dataset_id) | set(curves) | (set(meta.index) if meta is not None else set())
    all_ids |= set(audio)
    return DatasetTables("emomusic", _songs_frame(all_ids, meta, audio), static, curves)
