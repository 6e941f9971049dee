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
import os

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
#: Settings of the default chain (``pitch_llds(..., exact=False)``): ``hop`` (F0 every
#: ``hop`` 10 ms frames, the contours interpolated), ``bins`` (FFT bins used; None: all),
#: ``points`` (octave-axis points; None: as many as bins), ``coarse`` (period search first on
#: the audio averaged over ``coarse`` samples, then refined at 44.1 kHz around its ``peaks``
#: highest peaks; 1: openSMILE's search). openSMILE's settings: every cheaper setting
#: measured broke the agreement of jitter, shimmer and HNR or saved too little
#: (docs/features.md, "Cost").
EXACT = {"hop": 1, "bins": None, "points": None, "coarse": 1, "peaks": 0}
FAST = dict(EXACT)

#: Contours of the chain (DEAM names without ``_amean``/``_stddev``), in output order.
CONTOURS = ("F0final_sma", "voicingFinalUnclipped_sma", "jitterLocal_sma", "jitterDDP_sma",
            "shimmerLocal_sma", "logHNR_sma")


# ----------------------------------------------------------------------------- tables

@functools.lru_cache(maxsize=4)
def _tables(sr=SR, frame=FRAME, nfft=NFFT, bins=None, points=None):
    """Window, octave-scale spline system and SHS constants (computed once per setting).

    ``bins``: FFT bins used (default all, ``nfft // 2 + 1``); ``points``: points of the octave
    axis from 25 Hz to the last bin (default ``bins``, as openSMILE).
    """
    nmag = bins or nfft // 2 + 1
    points = points or nmag
    n = np.arange(frame, dtype=np.float64)
    half = (frame - 1) / 2.0
    window = np.exp(-0.5 * ((n - half) / (0.4 * half)) ** 2)
    frame_sec = np.float32(frame / sr * nfft / frame)        # cTransformFFT's padded frame
    delta_f = 1.0 / float(frame_sec)
    max_f = delta_f * (nmag - 1)
    # source knots on the log2 axis (bin 0 extrapolated linearly, as cSpecScale does)
    x = np.empty(nmag)
    x[1:] = np.log2(np.arange(1, nmag) * delta_f)
    x[0] = 2 * x[1] - x[2]
    fmin_t, fmax_t = np.log2(25.0), np.log2(max_f)
    step_t = (fmax_t - fmin_t) / (points - 1)
    target = fmin_t + np.arange(points) * step_t
    # natural cubic spline (Numerical Recipes' recursion; its coefficients depend on x only)
    dx = np.diff(x)
    sig = np.zeros(nmag)
    pinv = np.zeros(nmag)
    coef = 0.0
    for i in range(1, nmag - 1):
        sig[i] = dx[i - 1] / (x[i + 1] - x[i - 1])
        p = sig[i] * coef + 2.0
        pinv[i] = 1.0 / p
        coef = (sig[i] - 1.0) / p
    lo = np.clip(np.searchsorted(x, target, side="right") - 1, 0, nmag - 2)
    hh = x[lo + 1] - x[lo]
    a = (x[lo + 1] - target) / hh
    b = (target - x[lo]) / hh
    c = (a ** 3 - a) * hh ** 2 / 6.0
    d = (b ** 3 - b) * hh ** 2 / 6.0
    n_octaves = np.log2(max_f / 25.0)
    per_octave = points / n_octaves
    atan_s = per_octave * np.log2(65.0 / 50.0) - 1.0
    audw = 0.5 + np.arctan(3.0 * (np.arange(points) + 1 - atan_s) / per_octave) / np.pi
    per_octave32 = float(np.float32(per_octave))
    shifts = [int(np.floor(per_octave32 * np.log2(k))) for k in range(2, 16)]
    return {"window": window.astype(np.float32), "sig": sig, "pinv": pinv, "dx": dx,
            "klo": lo.astype(np.int64), "a": a, "b": b, "c": c, "d": d, "audw": audw,
            "shifts": np.array(shifts, dtype=np.int64),
            "fmin_t": np.float32(fmin_t), "step_t": np.float32(step_t)}


# ------------------------------------------------------------------ spectrum -> candidates

def pitch_candidates(y: np.ndarray, n: int, *, block: int = 1024, sr: int = SR, step: int = STEP,
                     frame: int = FRAME, nfft: int = NFFT, bins: int | None = None,
                     points: int | None = None, threads: int = 1):
    """F0 candidates and voicing of the 60 ms frames, plus their windowed RMS.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Audio at 44.1 kHz as openSMILE reads it (16-bit value / 32767), at least
        ``(n - 1) * 441 + 2646`` samples.
    n : int
        Number of 10 ms frames.
    block : int
        Frames per batched FFT (memory: about 50 kB per frame and thread).
    sr, step, frame, nfft : int
        Sample rate, hop, frame length and FFT size (openSMILE's: 44100, 441, 2646, 4096).
    bins, points : int, optional
        FFT bins used (default all) and points of the octave axis from 25 Hz to the last bin
        used (default as many as bins; openSMILE: 2049 and 2049).
    threads : int
        Threads sharing the frames (each frame is independent: the same result for any number).

    Returns
    -------
    f0 : np.ndarray, shape (n, 6), float32
        Candidates in Hz (0 = none), the best-scored first.
    voicing : np.ndarray, shape (n, 6), float32
    rms : np.ndarray, shape (n,)
    """
    pitch_kernels, _ = _kernels()
    t = _tables(sr, frame, nfft, bins, points)
    bins = len(t["sig"])
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(y, dtype=np.float32), frame)[::step][:n]
    f0 = np.zeros((n, N_CAND), np.float32)
    voicing = np.zeros((n, N_CAND), np.float32)
    rms = np.zeros(n)

    def run(first: int, last: int) -> None:
        buffer = np.zeros((min(block, last - first), nfft), np.float32)   # zero-padded frames
        for s in range(first, last, block):
            w = buffer[:min(block, last - s)]
            np.multiply(frames[s:s + len(w)], t["window"], out=w[:, :frame])
            rms[s:s + len(w)] = np.sqrt(np.einsum("ij,ij->i", w, w) / frame)
            mag = np.abs(sfft.rfft(w, axis=1)[:, :bins])
            pitch_kernels.candidates(mag, t["sig"], t["pinv"], t["dx"], t["klo"], t["a"], t["b"],
                                     t["c"], t["d"], t["audw"], t["shifts"], t["fmin_t"], t["step_t"],
                                     MIN_PITCH, MAX_PITCH, N_CAND, f0[s:s + len(w)], voicing[s:s + len(w)])

    _in_threads(run, [(a, b) for a, b in _split(n, threads, align=pitch_kernels.NB)])
    return f0, voicing, rms


def _split(n: int, parts: int, *, align: int = 1) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering ``0..n`` (starts multiples of ``align``), none empty."""
    parts = max(1, min(parts, n // max(align, 256) or 1))
    cuts = sorted({0, n, *(round(n * k / parts / align) * align for k in range(1, parts))})
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def _in_threads(fn, ranges) -> None:
    """``fn(a, b)`` for every range, in one thread each (the kernels release the GIL)."""
    if len(ranges) == 1:
        fn(*ranges[0])
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(ranges), thread_name_prefix="emolab-pitch") as pool:
        for future in [pool.submit(fn, a, b) for a, b in ranges]:
            future.result()


def default_threads() -> int:
    """Threads the pitch chain uses when not told: ``EMOLAB_THREADS`` when set (the analysis
    workers set it to their share of the machine), else the CPUs this process may run on."""
    from emolab.config import available_cpus

    value = os.environ.get("EMOLAB_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return available_cpus()


_READY = False


def _kernels():
    """The numba kernel modules, compiled (or loaded from numba's cache) before first use.

    The first process to use them on a machine compiles them into numba's on-disk cache
    (≈ 20 CPU s); several processes (ingest's workers) compiling at once could leave a
    corrupt cache, so compiling happens under an inter-process lock
    (:func:`emolab.compile_lock.compile_lock`), on a second of generated audio, once per process.
    """
    global _READY
    from emolab.features import pitch_kernels, voice_kernels

    if not _READY:
        _READY = True
        from emolab.compile_lock import compile_lock

        try:
            with compile_lock():
                t = np.arange(SR) / SR
                pitch_llds((0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 50, voice=True)
        except BaseException:
            _READY = False
            raise
    return pitch_kernels, voice_kernels


def _voiced_stretches(f0: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Up to ``parts`` ranges of frames covering ``f0``, each starting at frame 0 or right after
    an unvoiced frame (where cPitchJitter carries nothing over), about equally long."""
    n = len(f0)
    after_unvoiced = np.flatnonzero(f0[:-1] <= 0) + 1
    cuts = {0, n}
    if parts > 1 and after_unvoiced.size:
        for k in range(1, parts):
            target = n * k // parts
            i = min(int(np.searchsorted(after_unvoiced, target)), after_unvoiced.size - 1)
            near = min(after_unvoiced[max(i - 1, 0)], after_unvoiced[i], key=lambda u: abs(u - target))
            cuts.add(int(near))
    cuts = sorted(cuts)
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


# ------------------------------------------------------------------------------ contours

def sma_nonzero(x: np.ndarray) -> np.ndarray:
    """cContourSmoother with ``noZeroSma``: 3-frame mean over the non-zero values; 0 stays 0."""
    x = np.asarray(x, dtype=np.float64)
    pad = np.concatenate([[0.0], x, [0.0]])
    nz = (pad != 0).astype(np.float64)
    total = pad[:-2] + pad[1:-1] + pad[2:]
    count = nz[:-2] + nz[1:-1] + nz[2:]
    return np.where(x != 0, total / np.maximum(count, 1.0), 0.0)


def _upsample(x: np.ndarray, n: int, hop: int, *, interpolate: bool) -> np.ndarray:
    """Values every ``hop`` frames onto every frame: frame ``hop * j + k`` takes value ``j``, or
    (``interpolate``) the linear interpolation between values ``j`` and ``j + 1`` when both
    are non-zero (voiced)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros((n,) + x.shape[1:])
    right = np.concatenate([x[1:], x[-1:]])
    both = (x != 0) & (right != 0)
    for k in range(hop):
        count = len(out[k::hop])
        value = x[:count]
        if interpolate and k:
            value = np.where(both[:count], value + (k / hop) * (right[:count] - value), value)
        out[k::hop] = value
    return out


def pitch_llds(y: np.ndarray, n: int, *, voice: bool = True, exact: bool = False,
               settings: dict | None = None, threads: int | None = None,
               samples: np.ndarray | None = None) -> dict:
    """The six smoothed contours of the chain every 10 ms.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        44.1 kHz audio already truncated to 16 bits, at least ``(n - 1) * 441 + 2646`` long.
    n : int
        Number of 10 ms frames.
    voice : bool
        Also compute jitter, shimmer and HNR (the costly, sequential part).
    exact : bool
        openSMILE's chain as configured (44.1 kHz, 10 ms hop, 4096-point FFTs, the period
        search over every length): the reference. Otherwise ``settings`` (default
        :data:`FAST`, today the same as openSMILE's).
    settings : dict, optional
        Cheaper settings (keys of :data:`FAST`): e.g. ``{"coarse": 4, "peaks": 3}`` (the
        coarse-to-fine period search) or ``{"hop": 2}`` (F0 every 20 ms, interpolated to
        10 ms: odd frames take the mean of both neighbours when both are voiced, else the
        left one). Their agreement and cost are in ``docs/features.md``.
    threads : int, optional
        Threads for the F0 candidates (frames are independent) and for jitter, shimmer and HNR
        (stretches between unvoiced frames are independent); default :func:`default_threads`.
        The result does not depend on it.
    samples : np.ndarray, shape (n_samples,), float32, optional
        ``y`` as openSMILE reads it (16-bit value / 32767, float32), when the caller has it
        (:func:`emolab.features.sample_pass.prepare`); computed from ``y`` otherwise.

    Returns
    -------
    dict of str -> np.ndarray, shape (n,)
        Keys from :data:`CONTOURS` (only the first two when ``voice`` is false).
    """
    # openSMILE reads the 16-bit samples as float32 v / 32767 (the caller gives v / 32768)
    y = samples if samples is not None else \
        (np.round(np.asarray(y, dtype=np.float64) * 32768.0).astype(np.float32) / np.float32(32767.0))
    pitch_kernels, voice_kernels = _kernels()
    f = EXACT if exact else {**FAST, **(settings or {})}
    m = (n + f["hop"] - 1) // f["hop"]
    step = STEP * f["hop"]
    need = (m - 1) * step + FRAME
    if y.size < need:
        y = np.concatenate([y, np.zeros(need - y.size, np.float32)])
    threads = default_threads() if threads is None else max(1, int(threads))
    cand, voicing, rms = pitch_candidates(y, m, step=step, bins=f["bins"], points=f["points"],
                                          threads=threads)
    states = pitch_kernels.viterbi_states(cand, voicing, float(np.float32(VOICING_CUTOFF)), 30)
    rows = np.arange(m)
    voiced = states < N_CAND
    pick = np.where(voiced, states, 0)
    f0 = np.where(voiced, cand[rows, pick], 0.0)
    vp = voicing[rows, pick].astype(np.float64)
    gate = rms > ENERGY_THRESHOLD
    f0 = np.where(gate, f0, 0.0)
    vp = np.where(gate, vp, 0.0)
    vq = None
    if voice:
        c = f["coarse"]
        coarse = y                 # c = 1 (openSMILE's search): unused
        if c > 1:                  # mean of c consecutive samples
            coarse = y[:y.size // c * c:c].copy()
            for k in range(1, c):
                coarse += y[k:y.size // c * c:c]
            coarse *= np.float32(1.0 / c)
        track = f0.astype(np.float32)
        vq = np.zeros((m, 4))
        _in_threads(lambda a, b: voice_kernels.voice_quality(
            y, track, 0.25, float(SR), float(step), FRAME, coarse, c, f["peaks"], a, b, vq),
            _voiced_stretches(track, threads))
    if f["hop"] > 1:
        vp = _upsample(vp, n, f["hop"], interpolate=True)
        vq = None if vq is None else _upsample(vq, n, f["hop"], interpolate=False)
        f0 = _upsample(f0, n, f["hop"], interpolate=True)
    out = {"F0final_sma": sma_nonzero(f0), "voicingFinalUnclipped_sma": sma_nonzero(vp)}
    if voice:
        for j, name in enumerate(CONTOURS[2:]):
            out[name] = sma_nonzero(vq[:, j])
    return out
