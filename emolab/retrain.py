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


#: Folder (under :func:`user_models_dir`) holding the models the app uses when the user chose
#: a retrained static model: ``static/`` (a copy of that model) and ``dynamic/`` (a copy of the
#: shipped dynamic configuration, which runs whatever static model it is given).
IN_USE = "in-use"


def models_dir_in_use() -> Path | None:
    """The models folder the app analyses with: ``None`` for the shipped ``data/models``,
    else the folder set up by :func:`use_static_model`."""
    folder = user_models_dir() / IN_USE
    return folder if (folder / "static" / "model.json").is_file() else None


def static_model_in_use() -> str | None:
    """Name of the retrained model folder in use (``static-<stamp>``), or ``None`` (shipped)."""
    import json

    folder = models_dir_in_use()
    if folder is None:
        return None
    try:
        return json.loads((folder / "source.json").read_text(encoding="utf-8"))["static"]
    except (OSError, ValueError, KeyError):
        return None


def use_static_model(folder) -> Path | None:
    """Analyse new recordings with the retrained static model in ``folder``, or with the
    shipped one again when ``folder`` is ``None``.

    The model is loaded first (a broken folder is refused and changes nothing), then copied
    with the shipped dynamic configuration into :data:`IN_USE`, which replaces the previous
    choice in one rename. The 4Q valence correction rides only on the shipped static model,
    so a retrained model predicts without it.

    Returns
    -------
    Path or None
        The models folder to load (:func:`emolab.predict.load_models`), ``None`` for the
        shipped models.
    """
    import json
    import shutil

    from emolab.config import MODELS_DIR
    from emolab.models.static import StaticEmotionModel

    parent = user_models_dir()
    target = parent / IN_USE
    if folder is not None:
        folder = Path(folder)
        if folder.parent.resolve() != parent.resolve() or not folder.name.startswith("static-"):
            raise ModelError(f"'{folder}' is not one of your retrained models (they are the "
                             f"static-… folders in {parent}).")
        try:
            StaticEmotionModel.load(folder)
        except (ModelError, FileNotFoundError) as exc:
            raise ModelError(f"The retrained model in '{folder.name}' cannot be used: {exc}") from None
        staging = parent / f".{IN_USE}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(folder, staging / "static")
        if (MODELS_DIR / "dynamic" / "model.json").is_file():
            shutil.copytree(MODELS_DIR / "dynamic", staging / "dynamic")
        (staging / "source.json").write_text(json.dumps({"static": folder.name}), encoding="utf-8")
    old = parent / f".{IN_USE}-old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    if folder is not None:
        staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return models_dir_in_use()
