"""Dynamic emotion: valence and arousal every 0.5 s.

A front end turns audio into one input vector per 0.5 s frame (frame *i* covers
[0.5 i, 0.5 i + 1) s, stamped ``0.5 i + 0.5``); an LSTM (or BLSTM) head maps the
sequence to (valence, arousal) per frame on [-1, 1]. Front ends:

``vae``
    latent means of a pretrained β-VAE over log-mel patches (the seed's VAE-LSTM);
``ae``
    the same with a plain autoencoder (AE-LSTM);
``cnn``
    a small CNN over log-mel patches trained end to end with the head (CNN-LSTM);
``opensmile``
    the 260 DEAM openSMILE frame features (BLSTM-features, Xu et al. 2015).

:class:`VaeLstmModel` is the seed's VAE-LSTM (EmoLab's dynamic model until December 2026,
now a baseline); its teacher was :func:`emolab.models.dynamic.windowed_static_curve`. What
EmoLab ships is :class:`emolab.models.dynamic.DynamicEmotionModel`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emolab.config import ANALYSIS_SR, HOP_SECONDS, MODELS_DIR
from emolab.exceptions import ModelError, ParameterError
from emolab.models.vae import PatchVAE, resize_patches

FRONT_ENDS = ("vae", "ae", "cnn", "opensmile")
#: Seconds of audio analysed at once by :meth:`VaeLstmModel.predict_curve`.
CHUNK_SECONDS = 60.0


@dataclass(frozen=True)
class SequenceConfig:
    """Hyper-parameters of :class:`SequenceRegressor`."""

    front_end: str = "vae"
    hidden_size: int = 32
    bidirectional: bool = False
    dropout: float = 0.1
    cnn_patch_shape: tuple[int, int] = (64, 32)
    cnn_dim: int = 32
    epochs: int = 80
    batch_size: int = 16
    segment_frames: int = 60  # training excerpts of 30 s
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    random_state: int | None = 0


@dataclass(frozen=True)
class AnchorConfig:
    """How :class:`VaeLstmModel` sets its curve's level.

    The human curves are nearly flat, so a song's overall level dominates the error; the
    static model predicts that level better than the LSTM does. An anchored curve is
    ``level + gain * (lstm_curve - mean(lstm_curve))`` per dimension, clipped to [-1, 1].
    """

    anchored: bool = True
    gain: float = 0.5


def anchor_curve(curve: np.ndarray, level, *, gain: float) -> np.ndarray:
    """Move a curve's mean to ``level`` and scale its movement around it by ``gain``.

    Parameters
    ----------
    curve : np.ndarray, shape (n, 2)
        (valence, arousal) per frame.
    level : sequence of 2 floats
        The song's (valence, arousal) on [-1, 1], e.g. its static prediction.
    gain : float
        0 gives a flat curve at ``level``; 1 keeps the curve's own movement.

    Returns
    -------
    np.ndarray, shape (n, 2), on [-1, 1]
    """
    curve = np.asarray(curve, dtype=np.float64).reshape(-1, 2)
    level = np.asarray(level, dtype=np.float64).reshape(2)
    if not np.all(np.isfinite(level)):
        raise ParameterError(f"The level to anchor the curve on must be two finite numbers, got {level}.")
    if len(curve) == 0:
        return curve
    return np.clip(level + gain * (curve - curve.mean(axis=0)), -1.0, 1.0)


def _torch():
    import torch

    return torch


def build_head(config: SequenceConfig, input_dim: int):
    """The torch module: optional patch CNN, LSTM, linear read-out, tanh."""
    torch = _torch()
    nn = torch.nn

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = None
            dim = input_dim
            if config.front_end == "cnn":
                self.cnn = nn.Sequential(
                    nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ELU(),
                    nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ELU(),
                    nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ELU(),
                    nn.AdaptiveAvgPool2d((4, 2)), nn.Flatten(), nn.Linear(16 * 8, config.cnn_dim), nn.ELU())
                dim = config.cnn_dim
            self.drop = nn.Dropout(config.dropout)
            self.lstm = nn.LSTM(dim, config.hidden_size, batch_first=True,
                                bidirectional=config.bidirectional)
            self.out = nn.Linear(config.hidden_size * (2 if config.bidirectional else 1), 2)

        def forward(self, x):  # x: (batch, time, d) or (batch, time, mels, bins)
            if self.cnn is not None:
                b, t = x.shape[:2]
                x = self.cnn(x.reshape(b * t, 1, *x.shape[2:])).reshape(b, t, -1)
            h, _ = self.lstm(self.drop(x))
            return torch.tanh(self.out(self.drop(h)))

    return Head()


class SequenceRegressor:
    """LSTM head from per-frame inputs to (valence, arousal) per frame.

    Parameters
    ----------
    config : SequenceConfig
    warm_start : bool
        If True and already fitted, ``fit`` continues training the current network
        (keeping its input scaling): fine-tuning.

    Attributes
    ----------
    network_ : torch.nn.Module
    mean_, std_ : np.ndarray, shape (d,)
        Standardisation of vector inputs (zeros/ones for the CNN front end).
    input_shape_ : tuple
        Shape of one frame's input.
    """

    def __init__(self, config: SequenceConfig | None = None, *, warm_start: bool = False):
        self.config = config
        self.warm_start = warm_start

    @property
    def config_(self) -> SequenceConfig:
        return self.config or SequenceConfig()

    def fit(self, inputs, targets):
        """Train on sequences.

        Parameters
        ----------
        inputs : list of np.ndarray, each shape (n_i, d) (or (n_i, mels, bins) for ``cnn``)
        targets : list of np.ndarray, each shape (n_i, 2)
            (valence, arousal) per frame on [-1, 1]; NaN where a frame is unlabelled.

        Returns
        -------
        self
        """
        torch = _torch()
        cfg = self.config_
        if cfg.front_end not in FRONT_ENDS:
            raise ParameterError(f"Unknown front end '{cfg.front_end}'; choose one of {FRONT_ENDS}.")
        inputs = [self._prepare(x) for x in inputs]
        if not inputs or len(inputs) != len(targets):
            raise ParameterError("Give one target curve per input sequence (and at least one).")
        if cfg.random_state is not None:
            torch.manual_seed(cfg.random_state)
        rng = np.random.default_rng(cfg.random_state)
        if not (self.warm_start and hasattr(self, "network_")):
            self._fit_scaling(inputs)
            self.network_ = build_head(cfg, self.input_shape_[0])
        opt = torch.optim.AdamW(self.network_.parameters(), lr=cfg.learning_rate,
                                weight_decay=cfg.weight_decay)
        xs = [self._scale(x) for x in inputs]
        ys = [np.asarray(y, dtype=np.float32).reshape(len(x), 2) for x, y in zip(xs, targets)]
        lengths = np.array([len(x) for x in xs], dtype=float)
        steps = max(1, int(np.ceil(lengths.sum() / (cfg.segment_frames * cfg.batch_size))))
        self.network_.train()
        for _ in range(cfg.epochs):
            for _ in range(steps):
                xb, yb = self._batch(xs, ys, lengths, rng)
                pred = self.network_(torch.from_numpy(xb))
                target = torch.from_numpy(yb)
                mask = ~torch.isnan(target)
                if not mask.any():
                    continue
                loss = torch.mean((pred[mask] - target[mask]) ** 2)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.network_.parameters(), 1.0)
                opt.step()
        self.network_.eval()
        return self

    def predict(self, x) -> np.ndarray:
        """(valence, arousal) per frame of one sequence.

        Parameters
        ----------
        x : np.ndarray, shape (n, d) or (n, mels, bins)

        Returns
        -------
        np.ndarray, shape (n, 2), on [-1, 1]
        """
        torch = _torch()
        if not hasattr(self, "network_"):
            raise ModelError("This sequence model is not trained yet; call fit() or load it.")
        x = self._scale(self._prepare(x))
        if len(x) == 0:
            return np.zeros((0, 2), np.float32)
        with torch.no_grad():
            return self.network_(torch.from_numpy(x)[None])[0].numpy()

    def state(self) -> dict:
        return {"kind": "SequenceRegressor", "config": asdict(self.config_),
                "network": self.network_.state_dict(), "mean": self.mean_, "std": self.std_,
                "input_shape": tuple(self.input_shape_)}

    @classmethod
    def from_state(cls, state: dict) -> "SequenceRegressor":
        cfg = dict(state["config"])
        cfg["cnn_patch_shape"] = tuple(cfg["cnn_patch_shape"])
        model = cls(SequenceConfig(**cfg))
        model.mean_, model.std_ = np.asarray(state["mean"]), np.asarray(state["std"])
        model.input_shape_ = tuple(state["input_shape"])
        model.network_ = build_head(model.config_, model.input_shape_[0])
        model.network_.load_state_dict(state["network"])
        model.network_.eval()
        return model

    # -- internals -----------------------------------------------------------------------
    def _prepare(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.config_.front_end == "cnn":
            if x.ndim != 3:
                raise ParameterError(f"The CNN front end expects patches (n, mels, bins), got {x.shape}.")
            return resize_patches(x, self.config_.cnn_patch_shape)
        if x.ndim != 2:
            raise ParameterError(f"Expected per-frame vectors of shape (n, d), got {x.shape}.")
        return x

    def _fit_scaling(self, inputs):
        stacked = np.concatenate(inputs)
        self.input_shape_ = stacked.shape[1:]
        if self.config_.front_end == "cnn":
            self.mean_, self.std_ = np.array([stacked.mean()]), np.array([stacked.std() or 1.0])
        else:
            self.mean_ = stacked.mean(axis=0)
            std = stacked.std(axis=0)
            self.std_ = np.where(std > 1e-8, std, 1.0)

    def _scale(self, x) -> np.ndarray:
        return np.nan_to_num((x - self.mean_) / self.std_).astype(np.float32)

    def _batch(self, xs, ys, lengths, rng):
        seg = self.config_.segment_frames
        picks = rng.choice(len(xs), size=self.config_.batch_size, p=lengths / lengths.sum())
        xb = np.zeros((len(picks), seg, *self.input_shape_), np.float32)
        yb = np.full((len(picks), seg, 2), np.nan, np.float32)
        for row, i in enumerate(picks):
            start = rng.integers(0, max(1, len(xs[i]) - seg + 1))
            piece = slice(start, start + seg)
            n = len(xs[i][piece])
            xb[row, :n], yb[row, :n] = xs[i][piece], ys[i][piece]
        return xb, yb


# -- front ends: audio -> per-frame inputs ------------------------------------------------
def frame_times(n: int) -> np.ndarray:
    """Centres of frames ``0..n-1`` on the 0.5 s grid: ``0.5 i + 0.5`` (seconds)."""
    return np.arange(n) * HOP_SECONDS + HOP_SECONDS


def n_frames_for(duration: float) -> int:
    """Frames of the 0.5 s grid for a recording of ``duration`` seconds (at least one)."""
    return max(1, int(np.floor((duration - 1.0) / HOP_SECONDS + 1e-9)) + 1)


def logmel_sequence(y: np.ndarray, sr: int, *, chunk_seconds: float = CHUNK_SECONDS) -> np.ndarray:
    """Log-mel patches on the 0.5 s grid, computed chunk by chunk (bounded memory).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int

    Returns
    -------
    patches : np.ndarray, shape (n_frames, n_mels, n_bins)
        ``n_frames = n_frames_for(len(y) / sr)``; audio shorter than 1 s is zero-padded.
    """
    from emolab.features.spectral import logmel_patches

    y = _pad_to_one_second(np.asarray(y, dtype=np.float32), sr)
    n = n_frames_for(len(y) / sr)
    per_chunk = int(round(chunk_seconds / HOP_SECONDS))
    hop = int(round(HOP_SECONDS * sr))
    pieces = []
    for first in range(0, n, per_chunk):
        # One extra patch on each side, so that no kept patch touches a chunk edge (where
        # the STFT pads by reflection); the chunks then join seamlessly.
        lead = 1 if first > 0 else 0
        start = (first - lead) * hop
        stop = (first + per_chunk + 2) * hop
        _, patches = logmel_patches(_pad_to_one_second(y[start:stop], sr), sr)
        pieces.append(patches[lead: lead + min(per_chunk, n - first)])
    return _fit_length(np.concatenate(pieces), n)


def opensmile_sequence(y: np.ndarray, sr: int) -> np.ndarray:
    """The 260 openSMILE frame features on the 0.5 s grid, shape (n_frames, 260)."""
    from emolab.features.deam import opensmile_frames

    y = _pad_to_one_second(np.asarray(y, dtype=np.float32), sr)
    _, frames = opensmile_frames(y, sr)
    return _fit_length(np.asarray(frames, dtype=np.float32), n_frames_for(len(y) / sr))


def _pad_to_one_second(y: np.ndarray, sr: int) -> np.ndarray:
    return np.pad(y, (0, sr - len(y))) if len(y) < sr else y


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or edge-pad along the first axis to exactly ``n`` rows (feature grids differ by ±1)."""
    if len(x) >= n:
        return x[:n]
    if len(x) == 0:
        raise ParameterError("No frames could be computed from this audio.")
    return np.concatenate([x, np.repeat(x[-1:], n - len(x), axis=0)])


# -- the VAE-LSTM model (shipped until December 2026; now the medley baseline) ------------------
class VaeLstmModel:
    """VAE encoder + LSTM head: the seed's dynamic (2 Hz) emotion predictor.

    EmoLab shipped it (anchored, gain 0.25) until the windowed static model of
    :mod:`emolab.models.dynamic` replaced it; it stays as a baseline in the experiments
    (``data/models/dynamic-vae-lstm``).

    Parameters
    ----------
    encoder : PatchVAE
        Pretrained (unlabelled) log-mel autoencoder; its latent means are the head's input.
    head : SequenceRegressor
        Trained with ``front_end='vae'``.
    version : str
    info : dict, optional
        How it was trained (shown on the model card and in the app).
    anchor : AnchorConfig, optional
        Whether (and with which gain) the curve's level is set by the static model;
        default: not anchored.
    static_model : StaticEmotionModel, optional
        Gives the level when :meth:`predict_curve` is not given one; default: the shipped
        static model, loaded on first need (if there is none, the curve is not anchored).
    """

    FILENAME = "model.pt"

    def __init__(self, encoder: PatchVAE, head: SequenceRegressor, *, version: str = "1",
                 info: dict | None = None, anchor: AnchorConfig | None = None, static_model=None):
        self.encoder = encoder
        self.head = head
        self.version = version
        self.info = info or {}
        self.anchor = anchor
        self.static_model = static_model

    def latent_sequence(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Latent vectors on the 0.5 s grid, shape (n_frames, latent_dim)."""
        y, sr = _at_analysis_rate(y, sr)
        return self.encoder.transform(logmel_sequence(y, sr))

    @property
    def anchor_(self) -> AnchorConfig:
        return self.anchor or AnchorConfig(anchored=False)

    def predict_band(self, y: np.ndarray, sr: int, *, level=None) -> dict:
        """Like :meth:`predict_curve`, as a dict (this model gives no uncertainty)."""
        times, valence, arousal = self.predict_curve(y, sr, level=level)
        return {"times": times, "valence": valence, "arousal": arousal}

    def predict_curve(self, y: np.ndarray, sr: int, *, level=None):
        """Valence and arousal every 0.5 s.

        Parameters
        ----------
        y : np.ndarray, shape (n_samples,)
            Mono audio (any length; shorter than 1 s is padded).
        sr : int
        level : (float, float), optional
            The song's static (valence, arousal) on [-1, 1]. An anchored model centres its
            curve there (see :class:`AnchorConfig`); when not given, it is computed with the
            static model (an openSMILE pass, ≈ 0.15× real time) if one is available.

        Returns
        -------
        times : np.ndarray, shape (n,)
            ``0.5 i + 0.5`` seconds; the first point at 0.5 s.
        valence, arousal : np.ndarray, shape (n,)
            On [-1, 1].
        """
        curve = np.clip(self.head.predict(self.latent_sequence(y, sr)), -1.0, 1.0).astype(np.float64)
        if self.anchor_.anchored:
            if level is None:
                level = self.static_level(y, sr)
            if level is not None:
                curve = anchor_curve(curve, level, gain=self.anchor_.gain)
        return frame_times(len(curve)), curve[:, 0], curve[:, 1]

    def static_level(self, y: np.ndarray, sr: int):
        """The static model's (valence, arousal) for the whole recording, or ``None`` without one."""
        static = self._static()
        if static is None:
            return None
        from emolab.features.deam_fast import deam_song_vector
        from emolab.models.dynamic import model_columns

        columns = model_columns(static)
        mean, _ = static.predict(deam_song_vector(y, sr, columns=columns)[None, :])
        return float(mean[0, 0]), float(mean[0, 1])

    def _static(self):
        if self.static_model is None and not getattr(self, "_static_unavailable", False):
            from emolab.models.static import StaticEmotionModel

            try:
                self.static_model = StaticEmotionModel.load()
            except (ModelError, FileNotFoundError):
                self._static_unavailable = True  # no static model file: the unanchored curve
        return self.static_model

    def save(self, path) -> Path:
        """Write the model into the folder ``path`` (``model.pt``, a few MB at most)."""
        torch = _torch()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        encoder_state = self.encoder.state()
        encoder_state.pop("optimizer", None)
        encoder_state.pop("history", None)
        torch.save({"kind": "VaeLstmModel", "version": self.version, "info": self.info,
                    "anchor": asdict(self.anchor_), "encoder": encoder_state, "head": self.head.state()},
                   path / self.FILENAME)
        return path

    @classmethod
    def load(cls, path=None) -> "VaeLstmModel":
        """Load from a folder written by :meth:`save` (default ``data/models/dynamic-vae-lstm``)."""
        path = Path(path) if path is not None else MODELS_DIR / "dynamic-vae-lstm"
        file = path / cls.FILENAME if path.is_dir() or not path.suffix else path
        if not file.is_file():
            raise ModelError(f"No VAE-LSTM model at '{path}'. Train it with: "
                             "python -m emolab train-vae-lstm --audio FOLDER")
        try:
            state = _torch().load(file, map_location="cpu", weights_only=False)
            anchor = state.get("anchor")
            return cls(PatchVAE.from_state(state["encoder"]), SequenceRegressor.from_state(state["head"]),
                       version=str(state["version"]), info=dict(state.get("info", {})),
                       anchor=AnchorConfig(**anchor) if anchor else None)
        except (KeyError, RuntimeError, EOFError) as exc:
            raise ModelError(f"The VAE-LSTM model at '{file}' is damaged or from an older "
                             "EmoLab; retrain it with: python -m emolab train-vae-lstm") from exc


def _at_analysis_rate(y: np.ndarray, sr: int):
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"Expected mono audio of shape (n_samples,), got {y.shape}.")
    if sr != ANALYSIS_SR and len(y):
        import soxr

        y = soxr.resample(y, sr, ANALYSIS_SR).astype(np.float32)
    return y, ANALYSIS_SR
