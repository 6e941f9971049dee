"""openSMILE's IS13 pitch and voice-quality chain without openSMILE (F0, voicing, jitter, shimmer, HNR).

A reimplementation, read from ``IS13_ComParE_core.lld.conf.inc`` (opensmile package) and
openSMILE's sources (cSpecScale, cPitchShs, cPitchBase, cPitchSmootherViterbi,
cValbasedSelector, cPitchJitter, cContourSmoother), not a copy:

1. 60 ms frames every 10 ms, Gaussian window (sigma 0.4), FFT zero-padded to 4096 points,
   magnitudes (one batched FFT per block of frames);
2. spectral peak enhancement (bins more than 2 away from a peak, between two peaks, are
   zeroed), 3-tap smoothing, natural cubic spline onto an octave scale (25 Hz - Nyquist,
   as many points as FFT bins), auditory weighting;
3. subharmonic summation (15 harmonics, compression 0.85), the 6 highest peaks as
   candidates, parabolic interpolation, voicing ``1 - mean / peak``, candidates outside
   52-620 Hz dropped;
4. Viterbi smoothing over the candidates plus an unvoiced state with openSMILE's costs
   (including its running "last change" term) and its 30-frame decision buffer;
5. frames whose windowed RMS is at most 0.001 are unvoiced (F0 and voicing 0);
6. jitter (local, DDP), shimmer (local) and log HNR from the waveform, period by period
   (cross-correlation search within +-25 % of the F0 period), with openSMILE's state carried
   between frames;
7. ``_sma``: 3-frame moving average over non-zero values only (zeros stay zero).

The FFTs are batched numpy/scipy; the per-frame spectrum-to-candidates step, the Viterbi
and the period loop are numba kernels (:mod:`emolab.features.pitch_kernels`, imported on
first use). :func:`pitch_llds` is what :mod:`emolab.features.deam_fast` calls.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy import fft as sfft

SR = 44100
STEP = 441               # 10 ms
FRAME = 2646             # 60 ms
NFFT = 4096
NMAG = NFFT // 2 + 1
MIN_PITCH, MAX_PITCH = 52.0, 620.0
N_CAND = 6
VOICING_CUTOFF = 0.7
ENERGY_THRESHOLD = 0.001

#: Contours of the chain (DEAM names without ``_amean``/``_stddev``), in output order.
CONTOURS = ("F0final_sma", "voicingFinalUnclipped_sma", "jitterLocal_sma", "jitterDDP_sma",
            "shimmerLocal_sma", "logHNR_sma")


# ----------------------------------------------------------------------------- tables

@functools.lru_cache(maxsize=1)
def _tables():
    """Window, octave-scale spline system and SHS constants (computed once)."""
    n = np.arange(FRAME, dtype=np.float64)
    half = (FRAME - 1) / 2.0
    window = np.exp(-0.5 * ((n - half) / (0.4 * half)) ** 2)
    frame_sec = np.float32(FRAME / SR * NFFT / FRAME)        # cTransformFFT's padded frame
    delta_f = 1.0 / float(frame_sec)
    max_f = delta_f * (NMAG - 1)
    # source knots on the log2 axis (bin 0 extrapolated linearly, as cSpecScale does)
    x = np.empty(NMAG)
    x[1:] = np.log2(np.arange(1, NMAG) * delta_f)
    x[0] = 2 * x[1] - x[2]
    fmin_t, fmax_t = np.log2(25.0), np.log2(max_f)
    step_t = (fmax_t - fmin_t) / (NMAG - 1)
    target = fmin_t + np.arange(NMAG) * step_t
    # natural cubic spline (Numerical Recipes' recursion; its coefficients depend on x only)
    dx = np.diff(x)
    sig = np.zeros(NMAG)
    pinv = np.zeros(NMAG)
    coef = 0.0
    for i in range(1, NMAG - 1):
        sig[i] = dx[i - 1] / (x[i + 1] - x[i - 1])
        p = sig[i] * coef + 2.0
        pinv[i] = 1.0 / p
        coef = (sig[i] - 1.0) / p
    lo = np.clip(np.searchsorted(x, target, side="right") - 1, 0, NMAG - 2)
    hh = x[lo + 1] - x[lo]
    a = (x[lo + 1] - target) / hh
    b = (target - x[lo]) / hh
    c = (a ** 3 - a) * hh ** 2 / 6.0
    d = (b ** 3 - b) * hh ** 2 / 6.0
    n_octaves = np.log2(max_f / 25.0)
    per_octave = NMAG / n_octaves
    atan_s = per_octave * np.log2(65.0 / 50.0) - 1.0
    audw = 0.5 + np.arctan(3.0 * (np.arange(NMAG) + 1 - atan_s) / per_octave) / np.pi
    per_octave32 = float(np.float32(per_octave))
    shifts = [int(np.floor(per_octave32 * np.log2(k))) for k in range(2, 16)]
    return {"window": window.astype(np.float32), "sig": sig, "pinv": pinv, "dx": dx,
            "klo": lo.astype(np.int64), "a": a, "b": b, "c": c, "d": d, "audw": audw,
            "shifts": np.array(shifts, dtype=np.int64),
            "fmin_t": np.float32(fmin_t), "step_t": np.float32(step_t)}


# ------------------------------------------------------------------ spectrum -> candidates

def pitch_candidates(y: np.ndarray, n: int, *, block: int = 1024):
    """F0 candidates and voicing of the 60 ms frames, plus their windowed RMS.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Audio at 44.1 kHz as openSMILE reads it (16-bit value / 32767), at least
        ``(n - 1) * 441 + 2646`` samples.
    n : int
        Number of 10 ms frames.
    block : int
        Frames per batched FFT (memory: about 50 kB per frame).

    Returns
    -------
    f0 : np.ndarray, shape (n, 6), float32
        Candidates in Hz (0 = none), the best-scored first.
    voicing : np.ndarray, shape (n, 6), float32
    rms : np.ndarray, shape (n,)
    """
    from emolab.features import pitch_kernels

    t = _tables()
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(y, dtype=np.float32), FRAME)[::STEP][:n]
    f0 = np.zeros((n, N_CAND), np.float32)
    voicing = np.zeros((n, N_CAND), np.float32)
    rms = np.zeros(n)
    buffer = np.zeros((min(block, n), NFFT), np.float32)      # zero-padded frames
    for s in range(0, n, block):
        w = buffer[:min(block, n - s)]
        np.multiply(frames[s:s + len(w)], t["window"], out=w[:, :FRAME])
        rms[s:s + len(w)] = np.sqrt(np.einsum("ij,ij->i", w, w) / FRAME)
        mag = np.abs(sfft.rfft(w, axis=1))
        pitch_kernels.candidates(mag, t["sig"], t["pinv"], t["dx"], t["klo"], t["a"], t["b"],
                                 t["c"], t["d"], t["audw"], t["shifts"], t["fmin_t"], t["step_t"],
                                 MIN_PITCH, MAX_PITCH, N_CAND, f0[s:s + len(w)], voicing[s:s + len(w)])
    return f0, voicing, rms


# ------------------------------------------------------------------------------ contours

def sma_nonzero(x: np.ndarray) -> np.ndarray:
    """cContourSmoother with ``noZeroSma``: 3-frame mean over the non-zero values; 0 stays 0."""
    x = np.asarray(x, dtype=np.float64)
    pad = np.concatenate([[0.0], x, [0.0]])
    nz = (pad != 0).astype(np.float64)
    total = pad[:-2] + pad[1:-1] + pad[2:]
    count = nz[:-2] + nz[1:-1] + nz[2:]
    return np.where(x != 0, total / np.maximum(count, 1.0), 0.0)


def pitch_llds(y: np.ndarray, n: int, *, voice: bool = True) -> dict:
    """The six smoothed contours of the chain every 10 ms.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        44.1 kHz audio already truncated to 16 bits, at least ``(n - 1) * 441 + 2646`` long.
    n : int
        Number of 10 ms frames.
    voice : bool
        Also compute jitter, shimmer and HNR (the costly, sequential part).

    Returns
    -------
    dict of str -> np.ndarray, shape (n,)
        Keys from :data:`CONTOURS` (only the first two when ``voice`` is false).
    """
    # openSMILE reads the 16-bit samples as float32 v / 32767 (the caller gives v / 32768)
    y = (np.round(np.asarray(y, dtype=np.float64) * 32768.0).astype(np.float32) / np.float32(32767.0))
    from emolab.features import pitch_kernels

    cand, voicing, rms = pitch_candidates(y, n)
    states = pitch_kernels.viterbi_states(cand, voicing, float(np.float32(VOICING_CUTOFF)), 30)
    rows = np.arange(n)
    voiced = states < N_CAND
    pick = np.where(voiced, states, 0)
    f0 = np.where(voiced, cand[rows, pick], 0.0)
    vp = voicing[rows, pick].astype(np.float64)
    gate = rms > ENERGY_THRESHOLD
    f0 = np.where(gate, f0, 0.0)
    vp = np.where(gate, vp, 0.0)
    out = {"F0final_sma": sma_nonzero(f0), "voicingFinalUnclipped_sma": sma_nonzero(vp)}
    if voice:
        vq = pitch_kernels.voice_quality(y, f0.astype(np.float32), 0.25)
        for j, name in enumerate(CONTOURS[2:]):
            out[name] = sma_nonzero(vq[:, j])
    return out
