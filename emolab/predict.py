"""Load the shipped models once, then predict emotion for audio arrays.

The models are optional: a fresh checkout without trained models still ingests and
searches; predictions are simply absent and the app says how to train them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emolab.config import MODELS_DIR
from emolab.exceptions import ModelError


@dataclass
class Models:
    """The models EmoLab predicts with; ``None`` where a model is not trained yet."""

    static: object | None = None
    dynamic: object | None = None
    static_error: str | None = None
    dynamic_error: str | None = None
    valence: object | None = None  # 4Q second stage (emolab.models.valence), applied through `static`
    valence_error: str | None = None


def load_models(models_dir: str | Path | None = None) -> Models:
    """Load the static and dynamic models from ``models_dir`` (default ``data/models``)."""
    models_dir = Path(models_dir or MODELS_DIR)
    models = Models()
    # Only "no usable model file" (ModelError, FileNotFoundError) means "not trained yet";
    # anything else (a broken import, a bug) must fail loudly, not look like a missing model.
    from emolab.models.dynamic import DynamicEmotionModel
    from emolab.models.static_fast import load_static

    try:  # prediction-only form: numpy arrays, no scikit-learn or torch (emolab.models.static_fast)
        models.static = load_static(models_dir / "static")
    except (ModelError, FileNotFoundError) as exc:
        models.static_error = str(exc) or "The static model is not trained yet."
    try:
        models.dynamic = DynamicEmotionModel.load(models_dir / "dynamic")
    except (ModelError, FileNotFoundError) as exc:
        models.dynamic_error = str(exc) or "The dynamic model is not trained yet."
    # --- valence second stage (4Q, emolab.models.valence): rides on the static model it was fitted on ---
    if models.static is not None:
        from emolab.models.valence import load_for
        models.valence, models.valence_error = load_for(models.static, models_dir / "valence")
    # --- end valence second stage ---
    if models.dynamic is not None and models.static is not None:
        models.dynamic.static_model = models.static  # the static model the curve is made of
    elif models.dynamic is not None and hasattr(models.dynamic, "config"):
        # the windowed model is the static model over sliding windows: nothing without it
        models.dynamic, models.dynamic_error = None, (
            "The dynamic model needs the static model, which is missing: " + (models.static_error or ""))
    return models


def predict_static(y: np.ndarray, sr: int, *, model, deam_vector: np.ndarray | None = None,
                   tonal_vector: np.ndarray | None = None) -> dict:
    """Static (whole-song) valence and arousal of a recording.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Its sample rate.
    model : StaticEmotionModel
    deam_vector : np.ndarray, shape (74,), optional
        The song's DEAM vector in ``DEAM74_COLUMNS`` order if already computed; otherwise
        the model's columns are computed with the fast extractor (never openSMILE).
    tonal_vector : np.ndarray, shape (len(TONAL_COLUMNS),), optional
        :func:`emolab.features.tonal.tonal_vector` of ``y`` if already computed (the 4Q
        valence stage reads it); otherwise computed here when the stage needs it.

    Returns
    -------
    dict
        ``valence``, ``arousal``, ``valence_std``, ``arousal_std`` on [-1, 1], and
        ``valence_deam``: the static model's valence before the 4Q valence stage (equal to
        ``valence`` when no stage is attached). :func:`shift_to_static` uses it to move a
        curve's valence by the same song-level correction.
    """
    if model is None:
        raise ModelError("No static model is available. Train it with: python -m emolab train-static")
    from emolab.features import deam, deam_fast

    if deam_vector is None:
        x = deam_fast.deam_song_vector(y, sr, columns=model.feature_columns)
    else:
        columns = list(deam.DEAM74_COLUMNS)
        x = np.asarray(deam_vector, dtype=np.float64)[[columns.index(c) for c in model.feature_columns]]
    mean, std = model.predict(x[None, :])
    valence_deam = float(mean[0, 0])
    # --- valence second stage (4Q, emolab.models.valence): bounded correction of the DEAM rating ---
    stage = getattr(model, "valence_stage", None)
    if stage is not None:
        mean[0, 0], mean[0, 1] = stage.correct(mean[0, 0], mean[0, 1],
                                                stage.extra_vector(y, sr, tonal_vector=tonal_vector))
    # --- end valence second stage ---
    return {"valence": float(mean[0, 0]), "arousal": float(mean[0, 1]),
            "valence_std": float(std[0, 0]), "arousal_std": float(std[0, 1]),
            "valence_deam": valence_deam}


def shift_to_static(valence_curve: np.ndarray, static: dict) -> np.ndarray:
    """Move a valence curve by the song-level 4Q correction of its static prediction.

    The dynamic model applies the DEAM static model to windows of the song; the 4Q valence
    stage corrects the whole song's valence (it reads harmony and mode over the whole
    recording). Shifting the curve by the same amount keeps the curve's level where the
    song's static point is, while its moves stay those of the windows.

    Parameters
    ----------
    valence_curve : np.ndarray, shape (n,)
    static : dict
        :func:`predict_static`'s result (with its ``valence_deam``).

    Returns
    -------
    np.ndarray, shape (n,)
        On [-1, 1].
    """
    shift = static["valence"] - static.get("valence_deam", static["valence"])
    return np.clip(np.asarray(valence_curve, dtype=np.float64) + shift, -1.0, 1.0)


def predict_dynamic(y: np.ndarray, sr: int, *, model, level=None):
    """Valence and arousal every 0.5 s.

    Parameters
    ----------
    level : (float, float), optional
        The song's static (valence, arousal), if already predicted: the curve is centred on
        it (saves a second feature pass).

    Returns
    -------
    times : np.ndarray, shape (n,)
        Seconds, on the grid ``0.5 i + 0.5``.
    valence, arousal : np.ndarray, shape (n,)
        On [-1, 1].
    """
    if model is None:
        raise ModelError("No dynamic model is available. Build it with: python -m emolab train-dynamic")
    times, valence, arousal = model.predict_curve(y, sr, level=level)
    return np.asarray(times), np.asarray(valence), np.asarray(arousal)


def predict_dynamic_band(y: np.ndarray, sr: int, *, model, level=None, extractor=None,
                         frames=None) -> dict:
    """Valence and arousal every 0.5 s, with their uncertainty where the model gives one.

    ``extractor`` (``"fast"`` or ``"opensmile"``) overrides the frame feature extractor of a
    windowed model (the analysis's own choice); the VAE-LSTM reads log-mel patches and ignores it.
    ``frames``, ``(columns, array of shape (n_frames, len(columns)))``, are DEAM frames of ``y``
    already computed with that extractor: a windowed model reads its columns from them instead
    of a second feature pass.

    Returns
    -------
    dict
        ``times``, ``valence``, ``arousal`` (each shape (n,)) and, for the shipped windowed
        model, ``valence_std`` and ``arousal_std``: the static model's uncertainty for the
        music around each point (see the model card for what it covers).
    """
    if model is None:
        raise ModelError("No dynamic model is available. Build it with: python -m emolab train-dynamic")
    windowed = hasattr(model, "curve_from_frames")
    kwargs = {"extractor": extractor} if extractor is not None and windowed else {}
    if frames is not None and windowed:
        kwargs["frames"] = frames
    return {k: np.asarray(v) for k, v in model.predict_band(y, sr, level=level, **kwargs).items()}
