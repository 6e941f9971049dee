"""The shipped dynamic (2 Hz) emotion model: the static model over sliding windows.

Frame features (DEAM's columns every 0.5 s, :func:`emolab.features.deam_fast.deam_frames`)
are averaged over a window centred on each frame — exactly as a song's vector is the mean
of all its frames — and the static model predicts (valence, arousal) and its uncertainty
for every window. The curve is then smoothed. Windows are shorter near the start and the
end of the recording (only the frames that exist are averaged).

Because each point is the static model's answer for the music around it, a part of a
recording gets a curve near what that part scores when analysed alone, and the curve
changes where the music changes (``python -m emolab experiment medley`` measures both).

:func:`windowed_static_curve` is the computation; :class:`DynamicEmotionModel` is what
EmoLab ships and predicts with (``data/models/dynamic/model.json``). Older checkpoints
(``model.pt``, the VAE-LSTM of :mod:`emolab.models.sequence`) still load.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emolab.config import HOP_SECONDS, MODELS_DIR
from emolab.exceptions import ModelError, ParameterError

FORMAT = "windowed-static"


@dataclass(frozen=True)
class WindowConfig:
    """How :class:`DynamicEmotionModel` turns frame features into a curve.

    Attributes
    ----------
    window_seconds : float
        Length of the window centred on each frame (shorter at the edges).
    smoothing_seconds : float
        Width of the centred moving average applied to the predictions (0: none).
    anchored : bool
        Shift the curve so that its mean is the song's static prediction (when one is given).
    extractor : str
        Frame feature extractor (``"fast"`` or ``"opensmile"``), see
        :func:`emolab.features.deam_fast.deam_frames`.
    """

    window_seconds: float = 6.0
    smoothing_seconds: float = 2.0
    anchored: bool = False
    extractor: str = "fast"


def model_columns(static_model) -> list[str]:
    """The feature columns the static model reads."""
    columns = getattr(static_model, "feature_columns", None)
    if columns is None:
        raise ModelError("The static model does not say which feature columns it expects.")
    return list(columns)


def window_means(x: np.ndarray, *, window_seconds: float) -> np.ndarray:
    """Mean of the rows of ``x`` in a window centred on each row (shorter at the edges).

    Parameters
    ----------
    x : np.ndarray, shape (n, d)
        One row per 0.5 s frame.
    window_seconds : float

    Returns
    -------
    np.ndarray, shape (n, d)
    """
    x = np.asarray(x, dtype=np.float64)
    if window_seconds <= 0:
        raise ParameterError(f"The window must be longer than 0 s, got {window_seconds}.")
    half = max(0, int(round(window_seconds / HOP_SECONDS / 2)))
    cumulative = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    lo = np.clip(np.arange(len(x)) - half, 0, len(x))
    hi = np.clip(np.arange(len(x)) + half + 1, 0, len(x))
    return (cumulative[hi] - cumulative[lo]) / (hi - lo)[:, None]


def smooth(curve: np.ndarray, *, frames: int) -> np.ndarray:
    """Centred moving average over ``frames`` rows (edges use the frames available)."""
    curve = np.asarray(curve, dtype=np.float64)
    if frames <= 1 or len(curve) < 2:
        return curve
    kernel = np.ones(frames)
    pad = frames // 2
    out = np.empty_like(curve)
    for j in range(curve.shape[1]):
        total = np.convolve(np.pad(curve[:, j], pad), kernel, mode="same")[pad: pad + len(curve)]
        count = np.convolve(np.pad(np.ones(len(curve)), pad), kernel, mode="same")[pad: pad + len(curve)]
        out[:, j] = total / count
    return out


def windowed_static_band(frames: np.ndarray, static_model, *, frame_columns=None,
                         window_seconds: float = 6.0, smoothing_seconds: float = 2.0):
    """The static model over sliding windows of frame features: curve and uncertainty.

    Parameters
    ----------
    frames : np.ndarray, shape (n, len(frame_columns))
        Frame features on the 0.5 s grid.
    static_model : StaticEmotionModel
        Has ``feature_columns`` and ``predict(X) -> (mean, std)``.
    frame_columns : list of str, optional
        Names of the columns of ``frames``; default the static model's own columns.
    window_seconds, smoothing_seconds : float
        See :class:`WindowConfig`.

    Returns
    -------
    mean : np.ndarray, shape (n, 2)
        (valence, arousal) per frame on [-1, 1].
    std : np.ndarray, shape (n, 2)
        The static model's uncertainty for each window, smoothed like the mean.
    """
    columns = model_columns(static_model)
    frame_columns = columns if frame_columns is None else list(frame_columns)
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != len(frame_columns) or len(frames) == 0:
        raise ParameterError(f"Expected frames of shape (n >= 1, {len(frame_columns)}), got {frames.shape}.")
    missing = [c for c in columns if c not in frame_columns]
    if missing:
        raise ModelError(f"The static model needs columns the frames lack: {missing[:3]}.")
    x = frames[:, [frame_columns.index(c) for c in columns]]
    from threadpoolctl import threadpool_limits

    # One thread: the boosted trees' OpenMP pool makes hundreds of small predictions ~20x
    # slower on a busy machine (measured: 77 windows 19 s with the pool, 0.5 s without).
    with threadpool_limits(1):
        mean, std = static_model.predict(window_means(x, window_seconds=window_seconds))
    k = int(round(smoothing_seconds / HOP_SECONDS))
    mean = np.clip(smooth(np.asarray(mean, dtype=np.float64)[:, :2], frames=k), -1.0, 1.0)
    std = smooth(np.asarray(std, dtype=np.float64)[:, :2], frames=k)
    return mean, std


def windowed_static_curve(frames: np.ndarray, static_model, *, frame_columns=None,
                          window_seconds: float = 10.0, smoothing_seconds: float = 5.0) -> np.ndarray:
    """Only the mean of :func:`windowed_static_band`, shape (n, 2)."""
    return windowed_static_band(frames, static_model, frame_columns=frame_columns,
                                window_seconds=window_seconds, smoothing_seconds=smoothing_seconds)[0]


class DynamicEmotionModel:
    """EmoLab's dynamic (2 Hz) emotion predictor: the static model over sliding windows.

    Parameters
    ----------
    config : WindowConfig, optional
    static_model : StaticEmotionModel, optional
        Default: the static model in the folder ``static`` beside this model's folder
        (``data/models/static``), loaded on first need.
    version : str
    info : dict, optional
        How it was chosen (command, scores), shown on the model card and in the app.
    """

    FILENAME = "model.json"

    def __init__(self, config: WindowConfig | None = None, *, static_model=None, version: str = "1",
                 info: dict | None = None, static_dir=None):
        self.config = config or WindowConfig()
        self.static_model = static_model
        self.version = version
        self.info = info or {}
        self.static_dir = static_dir

    # -- prediction -------------------------------------------------------------------------
    def frames(self, y: np.ndarray, sr: int, *, extractor: str | None = None) -> np.ndarray:
        """The static model's columns every 0.5 s, shape (n, n_columns).

        ``extractor`` overrides the configured one (``"fast"`` or ``"opensmile"``)."""
        from emolab.features.deam_fast import deam_frames

        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1:
            raise ParameterError(f"Expected mono audio of shape (n_samples,), got {y.shape}.")
        _, frames = deam_frames(y, sr, columns=model_columns(self._static()),
                                extractor=extractor or self.config.extractor)
        return np.asarray(frames, dtype=np.float64)

    def curve_from_frames(self, frames: np.ndarray, *, level=None):
        """Curve and uncertainty from frame features (the static model's columns).

        Returns
        -------
        mean, std : np.ndarray, shape (n, 2)
        """
        cfg = self.config
        mean, std = windowed_static_band(frames, self._static(), window_seconds=cfg.window_seconds,
                                         smoothing_seconds=cfg.smoothing_seconds)
        if cfg.anchored and level is not None:
            level = np.asarray(level, dtype=np.float64).reshape(2)
            if not np.all(np.isfinite(level)):
                raise ParameterError(f"The level to anchor the curve on must be two finite numbers, got {level}.")
            mean = np.clip(mean + (level - mean.mean(axis=0)), -1.0, 1.0)
        return mean, std

    def predict_band(self, y: np.ndarray, sr: int, *, level=None, extractor: str | None = None,
                     frames=None) -> dict:
        """Valence and arousal every 0.5 s with their uncertainty.

        Parameters
        ----------
        frames : (list of str, np.ndarray of shape (n_frames, n_columns)), optional
            DEAM frames of ``y`` already computed with the same extractor (for example by
            :func:`emolab.pipeline.deam_features`); used instead of a second feature pass when
            they hold every column the static model reads.

        Returns
        -------
        dict
            ``times`` (n,) seconds ``0.5 i + 0.5``; ``valence``, ``arousal``,
            ``valence_std``, ``arousal_std``, each (n,).
        """
        from emolab.models.sequence import frame_times

        wanted = model_columns(self._static())
        if frames is not None and set(wanted) <= set(frames[0]):
            where = {c: j for j, c in enumerate(frames[0])}
            x = np.asarray(frames[1], dtype=np.float64)[:, [where[c] for c in wanted]]
        else:
            x = self.frames(y, sr, extractor=extractor)
        mean, std = self.curve_from_frames(x, level=level)
        return {"times": frame_times(len(mean)), "valence": mean[:, 0], "arousal": mean[:, 1],
                "valence_std": std[:, 0], "arousal_std": std[:, 1]}

    def predict_curve(self, y: np.ndarray, sr: int, *, level=None):
        """Valence and arousal every 0.5 s.

        Parameters
        ----------
        y : np.ndarray, shape (n_samples,)
            Mono audio, any length (shorter than 1 s gives one point).
        sr : int
        level : (float, float), optional
            The song's static prediction; an anchored model centres its curve there.

        Returns
        -------
        times, valence, arousal : np.ndarray, shape (n,)
        """
        band = self.predict_band(y, sr, level=level)
        return band["times"], band["valence"], band["arousal"]

    def _static(self):
        if self.static_model is None:
            from emolab.models.static import StaticEmotionModel

            self.static_model = StaticEmotionModel.load(self.static_dir)
        return self.static_model

    # -- files ----------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write ``model.json`` (config, version, info) into the folder ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / self.FILENAME).write_text(json.dumps(
            {"format": FORMAT, "version": self.version, "config": asdict(self.config), "info": self.info},
            indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path=None, *, static_model=None):
        """Load the dynamic model in folder ``path`` (default ``data/models/dynamic``).

        A folder holding a VAE-LSTM checkpoint (``model.pt``) gives a
        :class:`emolab.models.sequence.VaeLstmModel`, which predicts the same way.
        """
        path = Path(path) if path is not None else MODELS_DIR / "dynamic"
        if (path / cls.FILENAME).is_file():
            try:
                meta = json.loads((path / cls.FILENAME).read_text())
                if meta.get("format") != FORMAT:
                    raise KeyError("format")
                return cls(WindowConfig(**meta["config"]), static_model=static_model,
                           version=str(meta["version"]), info=dict(meta.get("info", {})),
                           static_dir=path.parent / "static")
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelError(f"The dynamic model at '{path}' is damaged or from another EmoLab; "
                                 "rebuild it (see data/models/README.md).") from exc
        from emolab.models.sequence import VaeLstmModel

        if (path / VaeLstmModel.FILENAME).is_file() or path.suffix == ".pt":
            model = VaeLstmModel.load(path)
            model.static_model = static_model
            return model
        raise ModelError(f"No dynamic emotion model at '{path}'. Build it with: "
                         "python -m emolab train-dynamic")
