"""Spectral features: log-mel patches on the 0.5 s grid and a song-level vector.

Both analyse audio at :data:`emolab.config.ANALYSIS_SR` (22 050 Hz) and resample when
given another rate. The log-mel patches (what the dynamic model reads on every analysis)
are computed with numpy alone, to the same numbers as ``librosa.feature.melspectrogram``
(a test checks it): importing librosa and compiling its numba kernels costs a fresh
process seconds. The song vector (asked for only for the Explore page) uses librosa.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from emolab.audio import mono_at_rate
from emolab.config import ANALYSIS_SR, HOP_SECONDS
from emolab.exceptions import FeatureError, ParameterError

#: Log-mel analysis: 20 ms hop (441 samples at 22 050 Hz), so 1 s patches hold 50 bins.
LOGMEL_HOP = 441
LOGMEL_N_FFT = 1024
#: Floor of the log-mel power (dB) so that silence stays finite.
LOGMEL_FLOOR_DB = -100.0

#: STFT of the song-level vector.
VECTOR_N_FFT = 2048
VECTOR_HOP = 512
N_MFCC = 20

#: Frame-level descriptors summarised by :func:`song_vector`: (name, number of rows).
DESCRIPTORS = (
    ("mfcc", N_MFCC), ("mfcc_delta", N_MFCC), ("mfcc_delta2", N_MFCC),
    ("chroma", 12), ("spectral_contrast", 7), ("tonnetz", 6),
    ("spectral_centroid", 1), ("spectral_bandwidth", 1), ("spectral_rolloff", 1),
    ("spectral_flatness", 1), ("zcr", 1), ("rms", 1), ("onset_strength", 1),
)
#: Summary statistics over frames, in order.
STATISTICS = ("mean", "std", "min", "max", "skew", "kurtosis",
              "p10", "p25", "p50", "p75", "p90")
#: Song-wide scalars appended at the end.
GLOBALS = ("tempo", "beats_per_second", "onsets_per_second")


def _vector_names() -> list[str]:
    names = []
    for descriptor, rows in DESCRIPTORS:
        for k in range(rows):
            row = descriptor if rows == 1 else f"{descriptor}[{k}]"
            names += [f"{row}_{stat}" for stat in STATISTICS]
    return names + list(GLOBALS)


#: Names of the entries of :func:`song_vector`, in order (1015 of them).
SONG_VECTOR_NAMES = _vector_names()


def _at_analysis_rate(y: np.ndarray, sr: int, *, min_seconds: float = 0.0) -> np.ndarray:
    return mono_at_rate(y, sr, target_sr=ANALYSIS_SR, min_seconds=min_seconds)


def _hz_to_mel(f):
    """Slaney's mel scale (librosa's default, ``htk=False``)."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep,
                    f / f_sp)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@functools.lru_cache(maxsize=8)
def mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Slaney-normalised triangular mel filters from 0 Hz to ``sr / 2``.

    Same as ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)``.

    Returns
    -------
    np.ndarray, shape (n_mels, 1 + n_fft // 2), float32
    """
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


def power_spectrogram(y: np.ndarray, *, n_fft: int, hop: int) -> np.ndarray:
    """``|STFT|²`` with a periodic Hann window, frames centred (zero padding).

    Same framing as ``librosa.stft(y, n_fft=n_fft, hop_length=hop)`` (``center=True``,
    ``pad_mode='constant'``): frame *t* is centred on sample ``t · hop``.

    Returns
    -------
    np.ndarray, shape (1 + n_fft // 2, 1 + len(y) // hop), float32
    """
    y = np.asarray(y, dtype=np.float32)
    padded = np.pad(y, n_fft // 2)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    from scipy import fft  # pocketfft in C++, several times numpy's for float32 frames

    spectrum = fft.rfft(frames * window, axis=1)
    return (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32).T


def logmel_patches(y: np.ndarray, sr: int, *, n_mels: int = 64,
                   hop_seconds: float = HOP_SECONDS, patch_seconds: float = 1.0):
    """Log-mel spectrogram cut into overlapping patches on the frame grid.

    Patch *i* covers [hop_seconds · i, hop_seconds · i + patch_seconds) s and is stamped
    with its centre; with the defaults that is the grid of every EmoLab curve,
    ``t = 0.5 i + 0.5``. Audio shorter than one patch is padded with silence, so there is
    always at least one patch; silence gives the floor value (-100 dB), never -inf.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Its sample rate (resampled to 22 050 Hz when different).
    n_mels : int
        Mel bands.
    hop_seconds, patch_seconds : float
        Patch step and length, multiples of 20 ms.

    Returns
    -------
    times : np.ndarray, shape (n,)
        Patch centres (s).
    patches : np.ndarray, shape (n, n_mels, n_bins), float32
        Power in dB (re 1.0) in 20 ms bins; ``n_bins = patch_seconds / 0.02``.
    """
    if n_mels < 1 or hop_seconds <= 0 or patch_seconds <= 0:
        raise ParameterError("n_mels, hop_seconds and patch_seconds must be positive.")
    bin_seconds = LOGMEL_HOP / ANALYSIS_SR
    n_bins = int(round(patch_seconds / bin_seconds))
    hop_bins = int(round(hop_seconds / bin_seconds))
    if n_bins < 1 or hop_bins < 1:
        raise ParameterError("hop_seconds and patch_seconds must be at least 20 ms.")
    y = _at_analysis_rate(y, sr, min_seconds=patch_seconds)
    mel = mel_filters(ANALYSIS_SR, LOGMEL_N_FFT, n_mels) @ power_spectrogram(
        y, n_fft=LOGMEL_N_FFT, hop=LOGMEL_HOP)
    logmel = 10.0 * np.log10(np.maximum(mel, 10 ** (LOGMEL_FLOOR_DB / 10)))
    n = max(1, (y.size - int(round(patch_seconds * ANALYSIS_SR)))
            // int(round(hop_seconds * ANALYSIS_SR)) + 1)
    needed = (n - 1) * hop_bins + n_bins
    if logmel.shape[1] < needed:
        logmel = np.pad(logmel, ((0, 0), (0, needed - logmel.shape[1])),
                        constant_values=LOGMEL_FLOOR_DB)
    patches = np.stack([logmel[:, i * hop_bins: i * hop_bins + n_bins] for i in range(n)])
    times = hop_seconds * np.arange(n) + patch_seconds / 2
    return times, patches.astype(np.float32)


def _summarise(x: np.ndarray) -> np.ndarray:
    """Statistics of each row of ``x`` (rows, frames) -> (rows, len(STATISTICS))."""
    mean = x.mean(axis=1)
    std = x.std(axis=1)
    safe = np.where(std > 1e-12, std, 1.0)
    z = (x - mean[:, None]) / safe[:, None]
    flat = std <= 1e-12  # constant rows have no shape: skew and excess kurtosis are 0
    skew = np.where(flat, 0.0, (z ** 3).mean(axis=1))
    kurtosis = np.where(flat, 0.0, (z ** 4).mean(axis=1) - 3.0)
    percentiles = np.percentile(x, [10, 25, 50, 75, 90], axis=1).T
    return np.column_stack([mean, std, x.min(axis=1), x.max(axis=1), skew, kurtosis,
                            percentiles])


def _descriptors(y: np.ndarray) -> dict:
    """Frame-level descriptors of :data:`DESCRIPTORS`, each of shape (rows, frames)."""
    import librosa

    sr = ANALYSIS_SR
    stft = np.abs(librosa.stft(y, n_fft=VECTOR_N_FFT, hop_length=VECTOR_HOP))
    power = stft ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=128)
    log_mel = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=N_MFCC)
    width = min(9, mfcc.shape[1] if mfcc.shape[1] % 2 else mfcc.shape[1] - 1)
    if width >= 3:
        delta = librosa.feature.delta(mfcc, width=width)
        delta2 = librosa.feature.delta(mfcc, order=2, width=width)
    else:
        delta = delta2 = np.zeros_like(mfcc)
    with warnings.catch_warnings():  # tuning of silence cannot be estimated: 0 is fine
        warnings.simplefilter("ignore", UserWarning)
        chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=VECTOR_N_FFT)
    return {
        "mfcc": mfcc, "mfcc_delta": delta, "mfcc_delta2": delta2,
        "chroma": chroma,
        "spectral_contrast": librosa.feature.spectral_contrast(S=stft, sr=sr),
        "tonnetz": librosa.feature.tonnetz(sr=sr, chroma=chroma),
        "spectral_centroid": librosa.feature.spectral_centroid(S=stft, sr=sr),
        "spectral_bandwidth": librosa.feature.spectral_bandwidth(S=stft, sr=sr),
        "spectral_rolloff": librosa.feature.spectral_rolloff(S=stft, sr=sr),
        "spectral_flatness": librosa.feature.spectral_flatness(S=stft),
        "zcr": librosa.feature.zero_crossing_rate(y, frame_length=VECTOR_N_FFT,
                                                  hop_length=VECTOR_HOP),
        "rms": librosa.feature.rms(S=stft, frame_length=VECTOR_N_FFT),
        "onset_strength": librosa.onset.onset_strength(S=log_mel, sr=sr)[None, :],
    }


def _rhythm(onset_envelope: np.ndarray, duration: float) -> np.ndarray:
    import librosa

    sr, hop = ANALYSIS_SR, VECTOR_HOP
    if not np.any(onset_envelope > 0):
        return np.zeros(len(GLOBALS))
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset_envelope,
                                                      sr=sr, hop_length=hop))[0])
    # the tempo just estimated, not a second estimate with the same defaults (half the cost)
    _, beats = librosa.beat.beat_track(onset_envelope=onset_envelope, sr=sr, hop_length=hop, bpm=tempo)
    onsets = librosa.onset.onset_detect(onset_envelope=onset_envelope, sr=sr, hop_length=hop)
    return np.array([tempo, len(beats) / duration, len(onsets) / duration])


def song_vector(y: np.ndarray, sr: int):
    """A broad handcrafted song-level vector (the "raw feature space").

    Frame-level MFCCs (with first and second deltas), chroma, spectral contrast,
    tonnetz, spectral centroid, bandwidth, roll-off and flatness, zero-crossing rate, RMS
    and onset strength are each summarised by mean, std, min, max, skew, excess
    kurtosis and the 10/25/50/75/90th percentiles; tempo, beats per second and onsets
    per second are appended. Audio shorter than 1 s is padded with silence; silent audio
    gives finite values (constant rows have skew and kurtosis 0).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Its sample rate (resampled to 22 050 Hz when different).

    Returns
    -------
    vector : np.ndarray, shape (1015,), float64
    names : list of str, length 1015
        Equal to :data:`SONG_VECTOR_NAMES` (``"mfcc[0]_mean"``, ``"chroma[3]_p90"``,
        ``"tempo"``…).
    """
    y = _at_analysis_rate(y, sr, min_seconds=1.0)
    descriptors = _descriptors(y)
    parts = []
    for name, rows in DESCRIPTORS:
        x = np.nan_to_num(np.asarray(descriptors[name], dtype=np.float64))
        if x.shape[0] != rows:
            raise FeatureError(f"librosa gave {x.shape[0]} rows of {name}, not {rows}.")
        parts.append(_summarise(x).ravel())
    onset = np.asarray(descriptors["onset_strength"][0], dtype=np.float64)
    parts.append(_rhythm(onset, y.size / ANALYSIS_SR))
    vector = np.nan_to_num(np.concatenate(parts), nan=0.0, posinf=0.0, neginf=0.0)
    return vector, list(SONG_VECTOR_NAMES)
