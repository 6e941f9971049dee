"""Song-level harmony, mode, rhythm and timbre statistics that DEAM's openSMILE table lacks.

DEAM's 74 openSMILE columns describe loudness, spectrum and MFCCs well (arousal) but say
little about harmony: whether a song is in major or minor, how clearly it has a key, how
often its harmony changes, its tempo. :func:`tonal_vector` computes those from audio with
librosa (no openSMILE), for the valence second stage (:mod:`emolab.models.valence`).

All statistics are over the whole clip at 22,050 Hz, hop 512 samples (23 ms):

* **key and mode** — the mean chroma correlated with the Krumhansl–Kessler major and minor
  profiles in all 12 keys: best major and best minor correlation, their difference (mode),
  key clarity (best of all 24), the share of 3 s windows whose best key is major, and the
  mean chroma rotated so that the estimated tonic comes first (12 values: which scale
  degrees sound, e.g. a minor or a major third);
* **harmony** — tonal centroid (tonnetz, 6 dimensions) mean and standard deviation, the
  harmonic change detection function (distance between successive smoothed centroids)
  mean and standard deviation, chroma entropy and chroma flux;
* **rhythm** — tempo (BPM), onset strength mean and deviation, pulse clarity (the highest
  normalised autocorrelation of the onset envelope between 0.25 and 2 s of lag);
* **timbre and texture** — spectral contrast (7 bands) mean and deviation, spectral
  centroid, bandwidth, roll-off and flatness mean and deviation, RMS mean, deviation and
  low-energy share, 13 MFCC means and deviations.
"""
from __future__ import annotations

import numpy as np

from emolab.exceptions import ParameterError

SR = 22050
HOP = 512
N_FFT = 2048
WINDOW_S = 3.0
VERSION = "tonal-v1"

#: Krumhansl & Kessler (1982) key profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

_SCALARS = ("major_corr", "minor_corr", "mode", "key_clarity", "major_window_share",
            "hcdf_mean", "hcdf_std", "chroma_entropy", "chroma_flux",
            "tempo", "onset_mean", "onset_std", "pulse_clarity",
            "rms_mean", "rms_std", "low_energy")
_SPECTRAL = ("centroid", "bandwidth", "rolloff", "flatness")
TONAL_COLUMNS = (
    _SCALARS
    + tuple(f"degree{i}" for i in range(12))
    + tuple(f"tonnetz{i}_{s}" for s in ("mean", "std") for i in range(6))
    + tuple(f"contrast{i}_{s}" for s in ("mean", "std") for i in range(7))
    + tuple(f"{n}_{s}" for s in ("mean", "std") for n in _SPECTRAL)
    + tuple(f"mfcc{i}_{s}" for s in ("mean", "std") for i in range(13))
)


def _profiles() -> np.ndarray:
    """Shape (24, 12): major keys C..B, then minor keys C..B, z-scored."""
    rows = [np.roll(MAJOR_PROFILE, k) for k in range(12)] + [np.roll(MINOR_PROFILE, k) for k in range(12)]
    rows = np.asarray(rows)
    return (rows - rows.mean(1, keepdims=True)) / rows.std(1, keepdims=True)


_KEYS = _profiles()


def key_correlations(chroma_mean: np.ndarray) -> np.ndarray:
    """Correlation of a 12-bin chroma with the 24 key profiles.

    Parameters
    ----------
    chroma_mean : np.ndarray, shape (12,) or (12, n)

    Returns
    -------
    np.ndarray, shape (24,) or (24, n)
        Major keys C..B, then minor keys C..B; 0 for a silent (flat) chroma.
    """
    c = np.asarray(chroma_mean, dtype=float)
    flat = c.ndim == 1
    c = c[:, None] if flat else c
    std = c.std(0, keepdims=True)
    z = np.where(std > 1e-12, (c - c.mean(0, keepdims=True)) / np.maximum(std, 1e-12), 0.0)
    r = _KEYS @ z / 12.0
    return r[:, 0] if flat else r


def tonal_vector(y: np.ndarray, sr: int) -> np.ndarray:
    """Harmony, mode, rhythm and timbre statistics of a recording.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio, at least 1 s.
    sr : int
        Its sample rate (resampled to 22,050 Hz).

    Returns
    -------
    np.ndarray, shape (len(TONAL_COLUMNS),)
        In the order of :data:`TONAL_COLUMNS`; finite.
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"tonal_vector needs mono audio of shape (n,), not {y.shape}.")
    if sr != SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=SR, res_type="soxr_hq")
    if len(y) < SR:
        raise ParameterError("tonal_vector needs at least 1 second of audio.")
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = S ** 2
    chroma = librosa.feature.chroma_stft(S=power, sr=SR, tuning=0.0)
    energy = chroma.sum(0)
    voiced = energy > 1e-6 * max(energy.max(), 1e-12)
    chroma_mean = chroma[:, voiced].mean(1) if voiced.any() else np.zeros(12)
    corr = key_correlations(chroma_mean)
    best = int(np.argmax(corr))
    tonic = best % 12
    degrees = np.roll(chroma_mean / max(chroma_mean.sum(), 1e-12), -tonic)

    per_window = max(1, int(WINDOW_S * SR / HOP))
    n_win = max(1, chroma.shape[1] // per_window)
    win = chroma[:, :n_win * per_window].reshape(12, n_win, -1).mean(2) if chroma.shape[1] >= per_window \
        else chroma_mean[:, None]
    win_corr = key_correlations(win)
    major_share = float(np.mean(win_corr.argmax(0) < 12))

    norm_chroma = chroma / np.maximum(chroma.sum(0, keepdims=True), 1e-12)
    entropy = -(norm_chroma * np.log2(np.maximum(norm_chroma, 1e-12))).sum(0)
    flux = np.linalg.norm(np.diff(norm_chroma, axis=1), axis=0) if chroma.shape[1] > 1 else np.zeros(1)

    tonnetz = librosa.feature.tonnetz(chroma=chroma, sr=SR)
    smooth = np.apply_along_axis(lambda r: np.convolve(r, np.ones(9) / 9, mode="same"), 1, tonnetz)
    hcdf = np.linalg.norm(smooth[:, 2:] - smooth[:, :-2], axis=0) if smooth.shape[1] > 2 else np.zeros(1)

    mel = librosa.feature.melspectrogram(S=power, sr=SR, n_mels=64)
    mel_db = librosa.power_to_db(mel)
    onset = librosa.onset.onset_strength(S=mel_db, sr=SR)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=SR, hop_length=HOP))[0])
    ac = librosa.autocorrelate(onset - onset.mean())
    ac = ac / max(ac[0], 1e-12)
    lo, hi = int(0.25 * SR / HOP), int(2.0 * SR / HOP)
    pulse = float(ac[lo:hi].max()) if len(ac) > hi else 0.0

    rms = librosa.feature.rms(S=S, frame_length=N_FFT)[0]
    contrast = librosa.feature.spectral_contrast(S=S, sr=SR)
    spectral = np.vstack([
        librosa.feature.spectral_centroid(S=S, sr=SR)[0] / 1000.0,
        librosa.feature.spectral_bandwidth(S=S, sr=SR)[0] / 1000.0,
        librosa.feature.spectral_rolloff(S=S, sr=SR)[0] / 1000.0,
        librosa.feature.spectral_flatness(S=S)[0],
    ])
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=13)

    scalars = [corr[:12].max(), corr[12:].max(), corr[:12].max() - corr[12:].max(), corr.max(), major_share,
               hcdf.mean(), hcdf.std(), entropy.mean(), flux.mean(),
               tempo, onset.mean(), onset.std(), pulse,
               rms.mean(), rms.std(), float(np.mean(rms < rms.mean()))]
    out = np.concatenate([
        np.asarray(scalars, dtype=float), degrees,
        tonnetz.mean(1), tonnetz.std(1), contrast.mean(1), contrast.std(1),
        spectral.mean(1), spectral.std(1), mfcc.mean(1), mfcc.std(1),
    ])
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
