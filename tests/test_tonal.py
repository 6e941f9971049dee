"""The tonal pass (emolab.features.tonal) against librosa 0.11, the definitions it follows."""
import subprocess
import sys

import numpy as np
import pytest

from emolab.features import tonal
from emolab.features.tonal import HOP, N_FFT, SR, WINDOW_S, key_correlations  # noqa: F401


def _music(seconds=12.0, sr=44100, seed=0):
    """A minor chord then a major chord over a pulse and some noise (a real-ish spectrum)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    half = t < seconds / 2
    notes = np.where(half[:, None], [220.0, 261.63, 329.63], [220.0, 277.18, 329.63])
    y = sum(np.sin(2 * np.pi * notes[:, k] * t) for k in range(3)) / 3
    y *= 0.6 + 0.4 * (np.sin(2 * np.pi * 2.0 * t) > 0)      # 120 BPM pulse
    y += 0.01 * rng.standard_normal(t.size)
    y[: sr // 2] = 0.0                                       # digital silence (near-zero valleys)
    return (0.5 * y).astype(np.float32), sr


def librosa_tonal_vector(y: np.ndarray, sr: int) -> np.ndarray:
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
        raise ValueError(f"tonal_vector needs mono audio of shape (n,), not {y.shape}.")
    if sr != SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=SR, res_type="soxr_hq")
    if len(y) < SR:
        raise ValueError("tonal_vector needs at least 1 second of audio.")
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


@pytest.mark.parametrize("seed", [0, 1])
def test_tonal_vector_matches_librosa(seed):
    y, sr = _music(seed=seed)
    ours = tonal.tonal_vector(y, sr)
    reference = librosa_tonal_vector(y, sr)
    assert ours.shape == (len(tonal.TONAL_COLUMNS),)
    assert np.allclose(ours, reference, rtol=1e-4, atol=1e-5), [
        (c, a, b) for c, a, b in zip(tonal.TONAL_COLUMNS, ours, reference) if not np.isclose(a, b, 1e-4, 1e-5)]


def test_tonal_vector_tells_the_mode_and_tempo():
    y, sr = _music()
    minor_then_major = dict(zip(tonal.TONAL_COLUMNS, tonal.tonal_vector(y, sr)))
    minor = dict(zip(tonal.TONAL_COLUMNS, tonal.tonal_vector(y[: len(y) // 2], sr)))
    assert minor["mode"] < minor_then_major["mode"]
    assert abs(minor_then_major["tempo"] - 120) < 10


def test_tonal_vector_never_imports_librosa():
    code = ("import sys, numpy as np; from emolab.features import tonal; "
            "tonal.tonal_vector(np.random.default_rng(0).standard_normal(44100 * 3).astype('float32') * 0.1, 44100); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('librosa', 'numba')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_tonal_vector_rejects_short_or_stereo_audio():
    from emolab.exceptions import ParameterError

    with pytest.raises(ParameterError, match="at least 1 second"):
        tonal.tonal_vector(np.zeros(1000, dtype=np.float32), 22050)
    with pytest.raises(ParameterError, match="mono"):
        tonal.tonal_vector(np.zeros((2, 44100), dtype=np.float32), 44100)
