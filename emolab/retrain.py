"""Retrain the static model on a library's own labels, into a user model folder.

Retrained models never overwrite the shipped files in ``data/models``: each is written to
its own versioned folder under :func:`user_models_dir`
(``$EMOLAB_HOME/models`` or ``~/.local/share/emolab/models``), named
``static-<UTC timestamp>``, and records the songs it was trained on::

    model, folder = retrain_static(index)
    python -m emolab predict-features my_features.csv --model FOLDER --out predictions.csv
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from emolab.exceptions import ModelError

#: Fewest songs with both DEAM features and human labels a retraining accepts.
MIN_SONGS = 10


def user_models_dir() -> Path:
    """Where models retrained by the user go: ``$EMOLAB_HOME/models``, else
    ``$XDG_DATA_HOME/emolab/models`` (default ``~/.local/share/emolab/models``)."""
    home = os.environ.get("EMOLAB_HOME")
    if home:
        return Path(home).expanduser() / "models"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data).expanduser() / "emolab" / "models"


def retrained_models(kind: str = "static") -> list[Path]:
    """The user's retrained model folders of ``kind``, newest first."""
    folder = user_models_dir()
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob(f"{kind}-*") if (p / "model.json").is_file()),
                  reverse=True)


def training_data(index):
    """Songs with both DEAM features and human static labels (averaged over annotators).

    Returns
    -------
    song_ids : np.ndarray, shape (n,)
    X : np.ndarray, shape (n, d)
        The recomputable DEAM columns, in ``columns`` order.
    Y : np.ndarray, shape (n, 2)
        Human valence and arousal on [-1, 1].
    columns : list of str
    """
    from emolab.index import songs, vectors
    from emolab.models.static import model_columns

    con = index.con
    columns = vectors.family_columns(con, "deam74")
    ids, X, _ = vectors.get_features(con, "deam74")
    if columns is None or len(ids) == 0:
        raise ModelError("No song in the index has DEAM features: import DEAM's feature table "
                         "or ingest audio first.")
    labels = songs.song_table(con).set_index("song_id")[["human_valence", "human_arousal"]]
    labels = labels.dropna()
    keep = np.isin(ids, labels.index.to_numpy())
    if keep.sum() < MIN_SONGS:
        raise ModelError(f"Only {int(keep.sum())} songs have both DEAM features and human "
                         f"labels; retraining needs at least {MIN_SONGS}.")
    use = model_columns(columns)
    X = X[keep][:, [columns.index(c) for c in use]].astype(np.float64)
    Y = labels.loc[ids[keep]].to_numpy(dtype=np.float64)
    complete = np.all(np.isfinite(X), axis=1)
    return ids[keep][complete], X[complete], Y[complete], use


def retrain_static(index, *, progress=None, out_dir=None, config=None):
    """Fit the static model anew on the index's songs with DEAM features and human labels.

    Parameters
    ----------
    index : emolab.index.Index
    progress : callable(str), optional
        Told as each fold model is trained.
    out_dir : path, optional
        Parent folder (default :func:`user_models_dir`); the model goes to
        ``out_dir/static-<UTC timestamp>``. Never ``data/models`` itself.
    config : StaticConfig, optional

    Returns
    -------
    model : StaticEmotionModel
        ``trained_on`` records the song ids and the index it came from.
    folder : Path
    """
    from emolab.config import MODELS_DIR
    from emolab.models.static import StaticConfig, StaticEmotionModel

    ids, X, Y, columns = training_data(index)
    parent = Path(out_dir) if out_dir is not None else user_models_dir()
    if parent.resolve() == MODELS_DIR.resolve() or MODELS_DIR.resolve() in parent.resolve().parents:
        raise ModelError("Retrained models are kept apart from the shipped ones: choose a folder "
                         f"outside {MODELS_DIR.name}/.")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    model = StaticEmotionModel(config or StaticConfig()).fit(X, Y, columns, progress=progress)
    model.version = f"static-retrained-{stamp}"
    model.trained_on = {**model.trained_on, "song_ids": [int(i) for i in ids],
                        "labels": "human static labels of the library, averaged over annotators"}
    folder = parent / f"static-{stamp}"
    model.save(folder)
    return model, folder
