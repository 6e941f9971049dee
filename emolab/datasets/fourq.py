"""4Q audio emotion dataset (Panda, Malheiro & Paiva, TAFFC 2018): quadrants of real recordings.

Layout (relative to the dataset's folder): ``panda_dataset_taffc_annotations.csv`` (``Song``,
``Quadrant``), ``panda_dataset_taffc_metadata.csv`` (``Song``, ``Artist``, ``Title``,
``Quadrant``, ``PQuad``, ``GenresStr``, …) and audio ``audio/Q1..Q4/<Song>.mp3``.

The labels are **quadrants** of Russell's plane from AllMusic mood tags, not ratings:
Q1 = positive valence, high arousal; Q2 = negative, high; Q3 = negative, low; Q4 = positive,
low. They give the *signs* of valence and arousal only (:data:`QUADRANT_SIGNS`).
``Artist`` is the grouping key for cross-validation: one artist's songs must not sit on both
sides of a split.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from emolab.datasets._common import (AUDIO_EXTENSIONS, DatasetTables, _column, _first_existing, _ids,
                                     _numeric, _require_root, _songs_frame, _static_frame, _text,
                                     read_csv_stripped)
from emolab.exceptions import DatasetError

NAME = "4q"
AUDIO_FOLDERS = ("audio",)
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
#: quadrant -> (sign of valence, sign of arousal)
QUADRANT_SIGNS = {"Q1": (1, 1), "Q2": (-1, 1), "Q3": (-1, -1), "Q4": (1, -1)}
ANNOTATIONS_FILE = "panda_dataset_taffc_annotations.csv"
METADATA_FILE = "panda_dataset_taffc_metadata.csv"
CLIP_COLUMNS = ("dataset_id", "quadrant", "valence_sign", "arousal_sign", "artist", "title", "genre",
                "pquad", "audio_path")


def quadrant_of(valence, arousal) -> np.ndarray:
    """Quadrant names of points of the valence–arousal plane (0 counts as positive).

    Parameters
    ----------
    valence, arousal : array_like, shape (n,)

    Returns
    -------
    ndarray of str, shape (n,)
        ``Q1`` … ``Q4``.
    """
    v = np.asarray(valence, dtype=float) >= 0
    a = np.asarray(arousal, dtype=float) >= 0
    return np.where(v, np.where(a, "Q1", "Q4"), np.where(a, "Q2", "Q3"))


def read_fourq_clips(root) -> pd.DataFrame:
    """One row per 4Q clip: quadrant, signs of valence and arousal, artist and audio.

    Parameters
    ----------
    root : str or Path
        Folder holding ``panda_dataset_taffc_annotations.csv`` (or the metadata file, whose
        ``Quadrant`` column is then used) and ``audio/Q1..Q4/``.

    Returns
    -------
    DataFrame, shape (n_clips, 9)
        ``dataset_id`` (the AllMusic id, e.g. ``MT0000004637``), ``quadrant``,
        ``valence_sign``, ``arousal_sign`` (±1), ``artist``, ``title``, ``genre`` (AllMusic
        genres joined by ``; ``), ``pquad`` (share of the song's mood tags pointing to its
        quadrant) and ``audio_path`` (str or None), sorted by ``dataset_id``. A clip without
        an artist gets its own id as artist, so that grouping never joins unknown artists.

    Raises
    ------
    DatasetError
        If the folder has neither file, a quadrant is not Q1–Q4, or a clip's audio sits in the
        folder of another quadrant than its label.
    """
    root = _require_root(root, "4Q")
    ann_path = _first_existing(root, ANNOTATIONS_FILE)
    meta_path = _first_existing(root, METADATA_FILE)
    if ann_path is None and meta_path is None:
        raise DatasetError(f"'{root}' does not look like the 4Q dataset: neither {ANNOTATIONS_FILE} "
                           f"nor {METADATA_FILE} is there.")
    meta = None
    if meta_path is not None:
        df = read_csv_stripped(meta_path, dtype=str, keep_default_na=False)
        meta = pd.DataFrame({
            "quadrant": _text(_column(df, "Quadrant", required=meta_path.name)),
            "artist": _text(_column(df, "Artist", required=meta_path.name)),
            "title": _text(_column(df, "Title", required=meta_path.name)),
            "genre": _text(_column(df, "GenresStr") if _column(df, "GenresStr") is not None
                           else [None] * len(df)),
            "pquad": _numeric(_column(df, "PQuad")) if _column(df, "PQuad") is not None else np.nan,
        }, index=_ids(_column(df, "Song", required=meta_path.name)))
        meta = meta[~meta.index.duplicated()]
    if ann_path is not None:
        df = read_csv_stripped(ann_path, dtype=str, keep_default_na=False)
        labels = pd.Series(_text(_column(df, "Quadrant", required=ann_path.name)),
                           index=_ids(_column(df, "Song", required=ann_path.name)))
        labels = labels[~labels.index.duplicated()]
    else:
        labels = meta["quadrant"]
    bad = sorted({str(q) for q in labels if q not in QUADRANT_SIGNS})
    if bad:
        raise DatasetError(f"4Q quadrants must be Q1, Q2, Q3 or Q4; found {', '.join(bad[:5])}.")

    audio, folder_of = {}, {}
    for quadrant in QUADRANTS:
        folder = root / "audio" / quadrant
        if folder.is_dir():
            for file in sorted(folder.iterdir()):
                if file.is_file() and file.suffix.lower() in AUDIO_EXTENSIONS:
                    audio.setdefault(file.stem.strip(), str(file.resolve()))
                    folder_of.setdefault(file.stem.strip(), quadrant)
    wrong = [song for song, quadrant in folder_of.items() if song in labels.index and labels[song] != quadrant]
    if wrong:
        raise DatasetError(f"{len(wrong)} 4Q clip(s) sit in the folder of another quadrant than their "
                           f"label, e.g. '{wrong[0]}' in audio/{folder_of[wrong[0]]} labelled {labels[wrong[0]]}.")

    ids = sorted(labels.index)
    lookup = (lambda col: [meta[col].get(i) for i in ids]) if meta is not None else (lambda col: [None] * len(ids))
    quadrants = [labels[i] for i in ids]
    artists = [a if isinstance(a, str) and a else i for a, i in zip(lookup("artist"), ids)]
    out = pd.DataFrame({
        "dataset_id": ids,
        "quadrant": quadrants,
        "valence_sign": [QUADRANT_SIGNS[q][0] for q in quadrants],
        "arousal_sign": [QUADRANT_SIGNS[q][1] for q in quadrants],
        "artist": artists,
        "title": lookup("title"),
        "genre": lookup("genre"),
        "pquad": np.asarray([np.nan if v is None else v for v in lookup("pquad")], dtype=float),
        "audio_path": pd.Series([audio.get(i) for i in ids], dtype=object),
    })
    return out[list(CLIP_COLUMNS)]


def read_fourq(root) -> DatasetTables:
    """Read 4Q in the shape of every reader; the static table holds signs (``labels='signs'``).

    Parameters
    ----------
    root : str or Path

    Returns
    -------
    DatasetTables
        ``static`` with ``valence``/``arousal`` = ±1 (signs from the quadrant, **not ratings**)
        and no standard deviations; no curves, no features.
    """
    clips = read_fourq_clips(root)
    ids = list(clips.dataset_id)
    static = _static_frame(ids, clips.valence_sign.to_numpy(float), clips.arousal_sign.to_numpy(float))
    meta = clips.set_index("dataset_id")[["title", "artist", "genre"]]
    audio = {i: p for i, p in zip(ids, clips.audio_path) if p is not None}
    return DatasetTables(NAME, _songs_frame(ids, meta, audio), static, labels="signs")
