"""DEAM-compatible columns without openSMILE: the extractor the pipeline uses.

THE CONTRACT (what the pipeline, the CLI and the app rely on)
-------------------------------------------------------------
* :func:`deam_frames` ``(y, sr, *, columns=None, extractor="fast") -> (times, frames)``:
  ``times`` shape (n,), frame centres ``0.5 i + 0.5`` s, frame *i* covering [0.5 i, 0.5 i + 1) s
  (the grid of :func:`emolab.features.deam.opensmile_frames`); ``frames`` shape
  (n, len(columns)), float64, finite, DEAM's column names.
* :func:`deam_song_vector` ``(y, sr, *, columns=None, extractor="fast") -> (len(columns),)``:
  the mean of :func:`deam_frames` over frames.
* ``columns`` defaults to :data:`FAST_COLUMNS` (the columns the static model uses).
* ``extractor="fast"`` (the default) NEVER imports ``opensmile``; ``extractor="opensmile"``
  runs the research-licence reference (:mod:`emolab.features.deam`) on the same grid.
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np

from emolab.audio import mono_at_rate
from emolab.config import MODELS_DIR
from emolab.exceptions import FeatureError, ParameterError
from emolab.features.deam import RECOMPUTABLE_COLUMNS, WINDOW_SECONDS, n_frames

#: The extractors :func:`deam_frames` accepts.
EXTRACTORS = ("fast", "opensmile")

#: The descriptors of openSMILE's pitch and voice-quality chain (computed, only when asked
#: for, by :mod:`emolab.features.pitch`).
PITCH_DESCRIPTORS = ("F0final", "voicingFinalUnclipped", "jitterLocal", "jitterDDP", "shimmerLocal", "logHNR")

#: The 55 DEAM columns of :data:`emolab.features.deam.RECOMPUTABLE_COLUMNS` outside the pitch
#: chain (the static model before December 2026 used only these).
FAST_COLUMNS = [c for c in RECOMPUTABLE_COLUMNS if not c.startswith(PITCH_DESCRIPTORS)]

#: The 12 columns of the pitch chain (F0, voicing, jitter, shimmer, HNR; mean and std).
PITCH_COLUMNS = [c for c in RECOMPUTABLE_COLUMNS if c.startswith(PITCH_DESCRIPTORS)]

#: Every column the fast extractor computes: the 55 and the 12 pitch columns (all 67 of
#: :data:`emolab.features.deam.RECOMPUTABLE_COLUMNS`, in that order).
FAST_PITCH_COLUMNS = list(RECOMPUTABLE_COLUMNS)

#: What an analysis computes (``pipeline.deam_features``, the 4Q experiment's cache): all 67, so
#: that every static model, shipped (67 columns) or retrained, finds its columns.
RUNTIME_COLUMNS = FAST_PITCH_COLUMNS


def _check(columns, extractor):
    if extractor not in EXTRACTORS:
        raise ParameterError(f"Unknown feature extractor '{extractor}'; choose 'fast' or 'opensmile'.")
    columns = list(FAST_COLUMNS if columns is None else columns)
    if extractor == "fast":
        missing = [c for c in columns if c not in FAST_PITCH_COLUMNS]
        if missing:
            raise ParameterError(f"The fast extractor does not compute {missing[:3]}; "
                                 "use extractor='opensmile' for these columns.")
    return columns


def deam_frames(y: np.ndarray, sr: int, *, columns=None, extractor: str = "fast", progress=None):
    """DEAM columns every 0.5 s (1 s windows).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
    columns : list of str, optional
        Default :data:`FAST_COLUMNS`; any of :data:`FAST_PITCH_COLUMNS` (the pitch chain is
        computed only when one of its columns is asked for).
    extractor : {'fast', 'opensmile'}
    progress : callable(str), optional
        With the fast extractor, told ``"pitch"`` when the pitch chain starts.

    Returns
    -------
    times : np.ndarray, shape (n,)
    frames : np.ndarray, shape (n, len(columns)), float64
    """
    columns = _check(columns, extractor)
    if extractor == "opensmile":
        from emolab.features import deam

        return deam.opensmile_frames(y, sr, columns=columns)
    times, frames = raw_frames(y, sr, columns=columns, progress=progress)
    calibration = load_calibration()
    missing = [c for c in columns if c not in calibration]
    if missing:
        raise FeatureError(f"The fast feature calibration has no map for {missing[:3]}; rebuild it with: "
                           "python -m emolab experiment feature-calibration")
    for j, column in enumerate(columns):
        slope, intercept = calibration[column]
        frames[:, j] = slope * frames[:, j] + intercept
    return times, frames


def deam_song_vector(y: np.ndarray, sr: int, *, columns=None, extractor: str = "fast") -> np.ndarray:
    """A song's DEAM vector: the mean of :func:`deam_frames` over its frames.

    Returns
    -------
    np.ndarray, shape (len(columns),), float64
    """
    _, frames = deam_frames(y, sr, columns=columns, extractor=extractor)
    return frames.mean(axis=0)


# ----------------------------------------------------------------------------- the numpy extractor
# Definitions follow IS13_ComParE_core.lld.conf.inc of the opensmile package and the openSMILE
# sources (cSpectral, cMelspec, cMfcc, cPlp, cEnergy, cMZcr, cContourSmoother, cDeltaRegression).

_SR = 44100
_STEP = 441              # 10 ms hop of every LLD
_FRAME20 = 882           # 'is13_frame25' is a 20 ms frame, Hamming window, FFT of 1024
_FRAME60 = 2646          # 60 ms frame (zero-crossing rate; openSMILE's pitch chain)
_NFFT = 1024
_LLD_PER_WINDOW = 100    # 1 s of 10 ms frames
_LLD_PER_HOP = 50
_BLOCK = 512             # frames per block of the spectrum pass (a few MB: stays in cache)


def _mel(f, htk):
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


@functools.lru_cache(maxsize=4)
def _tables():
    """Filterbanks and weights on the 513 bins of the 1024-point FFT at 44.1 kHz."""
    freqs = np.arange(_NFFT // 2 + 1) * _SR / _NFFT
    # 26 triangular mel bands, 20-8000 Hz (cMelspec, usePower=1)
    edges = 700.0 * (np.exp(np.linspace(_mel(20, True), _mel(8000, True), 28) / 1127.0) - 1.0)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fb = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    centres = edges[1:-1]
    # PLP equal-loudness curve on the band centres (cPlp doAud=1), cube-root-ish compression 0.33
    w2 = (2 * np.pi * centres) ** 2
    eql = ((w2 + 56.8e6) * w2 ** 2) / ((w2 + 6.3e6) ** 2 * (w2 + 0.38e9))
    # HTK DCT with liftering 22 for MFCC 1..14 (cMfcc htkcompatible=1)
    k = np.arange(1, 15)[:, None]
    j = np.arange(26)[None, :]
    dct = np.sqrt(2.0 / 26) * np.cos(np.pi * k * (j + 0.5) / 26) * (1 + 11.0 * np.sin(np.pi * k / 22.0))
    # Zwicker sharpness weights on Traunmüller's Bark scale (cSpectral sharpness)
    f = freqs[1:]
    z = 26.81 / (1.0 + 1960.0 / np.maximum(f, 1e-9)) - 0.53
    z = np.where(z < 2, 0.85 * z + 0.3, np.where(z > 20.1, 1.22 * z - 0.22 * 20.1, z))
    g = np.where(z <= 16.0, 1.0, (np.maximum(z - 16.0, 0.0) / 4.0) ** 1.5849625 + 1.0)
    fk = f / 1000.0
    band250, band1000 = _band_weights(freqs, 250, 650)[1:], _band_weights(freqs, 1000, 4000)[1:]
    # every weight vector the power spectrum is summed against, as columns of one matrix
    weights = np.column_stack([fk, fk ** 2, fk ** 3, fk ** 4, f, z * g, fb[:, 1:].T, band250, band1000])
    return {"freqs": f, "mel": fb[:, 1:].T.copy(), "eql": eql, "dct": dct.T.copy(),
            "sharp": z * g, "band250": band250, "band1000": band1000, "weights": weights}


def _band_weights(freqs, low, high):
    """cSpectral's rectangular band with fractional edge bins."""
    w = np.zeros(freqs.size)
    i = int(np.argmax(freqs > low))
    left, wl = i - 1, (freqs[i] - low) / (freqs[i] - freqs[i - 1])
    i = int(np.argmax(freqs >= high))
    wr = (high - freqs[i - 1]) / (freqs[i] - freqs[i - 1])
    right = i if freqs[i] == high else i - 1
    w[left + 1:right] = 1.0
    w[left] = wl or 1.0
    w[right] = wr or 1.0
    return w


def _frames(y, size, n):
    view = np.lib.stride_tricks.sliding_window_view(y, size)[::_STEP]
    return view[:n]


def _sma(x):
    """3-frame moving average along axis 0 (edges: the frames that exist)."""
    s = np.empty_like(x)
    s[1:-1] = (x[:-2] + x[1:-1] + x[2:]) / 3.0
    s[0] = (x[0] + x[1]) / 2.0 if len(x) > 1 else x[0]
    s[-1] = (x[-1] + x[-2]) / 2.0 if len(x) > 1 else x[-1]
    return s


def _delta(x, width=2):
    """Regression delta over +-``width`` frames (edges repeat the first/last frame)."""
    pad = np.concatenate([np.repeat(x[:1], width, 0), x, np.repeat(x[-1:], width, 0)])
    n = len(x)
    num = sum(k * (pad[width + k: width + k + n] - pad[width - k: width - k + n]) for k in range(1, width + 1))
    return num / (2.0 * sum(k * k for k in range(1, width + 1)))


def sample_passes(y: np.ndarray, *, n_blocks: int):
    """The passes over single samples before the spectra, in numpy.

    openSMILE's Python front end hands the C library 16-bit samples, truncated toward 0
    (x * 32768 cast to int16): quiet passages become exact zeros there, so here too (x * 32768
    and the truncation are exact in float32). Then each 10 ms block's energy and zero crossings.
    :func:`emolab.features.sample_pass.prepare` computes the same in one compiled pass (and the
    pitch chain's reading of the samples); :func:`fast_llds` uses it when numba is loaded anyway.

    Parameters
    ----------
    y : np.ndarray, shape (m,), float32
    n_blocks : int

    Returns
    -------
    y64 : np.ndarray, shape (max(m, 2646),), float64
        16-bit values / 32768, zero-padded to a 60 ms frame.
    energy : np.ndarray, shape (n_blocks,)
    crossing : np.ndarray, shape (n_blocks * 441,), int32
        1 where the sample after is a zero crossing (cMZcr's rule).
    per_block : np.ndarray, shape (n_blocks,)
    """
    y = np.trunc(np.clip(y * np.float32(32768.0), -32768.0, 32767.0, dtype=np.float32))
    y = y.astype(np.float64) / 32768.0
    if y.size < _FRAME60:
        y = np.pad(y, (0, _FRAME60 - y.size))
    blocks = np.zeros(n_blocks * _STEP)
    blocks[:min(y.size, blocks.size)] = y[:blocks.size]
    energy = np.einsum("ij,ij->i", *(blocks.reshape(n_blocks, _STEP),) * 2)
    # cMZcr: a crossing at sample j + 1 when x[j] x[j+1] < 0, or x[j+1] == 0 between samples
    # of opposite sign (or zeros). (On signs: the same as ((left * right <= 0) & (mid == 0))
    # | (left * mid < 0), twice as fast.)
    crossing = np.zeros(n_blocks * _STEP, dtype=np.int32)
    pos, neg = y > 0, y < 0
    zero_mid = ~(pos[1:-1] | neg[1:-1])
    same_sides = (pos[:-2] & pos[2:]) | (neg[:-2] & neg[2:])
    hits = (zero_mid & ~same_sides) | (pos[:-2] & neg[1:-1]) | (neg[:-2] & pos[1:-1])
    crossing[:min(hits.size, crossing.size)] = hits[:crossing.size]
    return y, energy, crossing, crossing.reshape(n_blocks, _STEP).sum(axis=1)


def fast_llds(y: np.ndarray, sr: int, *, pitch: bool = False, voice: bool = False, progress=None) -> dict:
    """The 10 ms contours the fast columns need (smoothed, as openSMILE's ``*_sma``).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int
    pitch : bool
        Also ``F0final_sma`` and ``voicingFinalUnclipped_sma`` (:mod:`emolab.features.pitch`).
    voice : bool
        Also jitter, shimmer and log HNR (implies the F0 track they are measured on).
    progress : callable(str), optional
        Told ``"pitch"`` when the rest is done and the pitch chain (the longest part, in
        threads beside the rest when :func:`emolab.features.pitch.default_threads` > 1) is awaited.

    Returns
    -------
    dict of str -> np.ndarray, shape (n_lld_frames,) or (n_lld_frames, k)
        Keys are DEAM contour names without ``[k]`` (``pcm_fftMag_mfcc_sma`` holds 14 columns).
    """
    y = mono_at_rate(y, sr, target_sr=_SR, min_seconds=WINDOW_SECONDS)
    n = max(1, (y.size - _FRAME60) // _STEP + 1)
    # Every frame starts on a multiple of the 10 ms hop and spans whole hops (20 ms = 2 hops,
    # 60 ms = 6 hops): sums over frames are sums of per-hop block sums (no frame matrix).
    n_blocks = n + _FRAME60 // _STEP
    if pitch or voice:  # numba is loaded for the pitch chain anyway: one compiled pass
        from emolab.features.sample_pass import prepare

        y, y32, energy, crossing, per_block = prepare(y, step=_STEP, n_blocks=n_blocks, min_size=_FRAME60)
    else:               # the 55 columns alone never import numba
        y, energy, crossing, per_block = sample_passes(y, n_blocks=n_blocks)
    t = _tables()
    chain = None
    if pitch or voice:  # the pitch chain, in its own thread(s) beside this pass when there are cores
        from emolab.features.pitch import default_threads, pitch_llds

        threads = default_threads()
        if threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            starter = ThreadPoolExecutor(1, thread_name_prefix="emolab-pitch-chain")
            chain = starter.submit(pitch_llds, y, n, voice=voice, threads=threads, samples=y32)
            starter.shutdown(wait=False)
    # RMS energy of the unwindowed 20 ms frames.
    rms = np.sqrt((energy[:n] + energy[1:n + 1]) / _FRAME20)
    # cMZcr on the 60 ms frames: a crossing at i when x[i-1] x[i] < 0, or x[i] == 0
    # between samples of opposite sign (or zeros), for i = 1 .. N-2 of the frame; / N.
    # crossing[j] is the crossing at sample j + 1; a frame starting at s counts j in [s, s + N - 3].
    cum = np.concatenate([[0], np.cumsum(per_block)])
    starts = np.arange(n) * _STEP
    in_frame = cum[np.arange(n) + _FRAME60 // _STEP] - cum[:n] \
        - crossing[starts + _FRAME60 - 2] - crossing[starts + _FRAME60 - 1]
    zcr = in_frame / _FRAME60
    # The spectrum, in blocks of frames that stay in cache: each block's power spectrum gives
    # its frames' sums against every weight vector at once (one matrix product), its entropy
    # and its flux (the block's first frame against the previous block's last).
    f = t["freqs"]
    nb = f.size
    weights = t["weights"]              # (512, 34): f/kHz powers 1-4, f, sharpness, 26 mel, 2 bands
    sums = np.empty((n, weights.shape[1]))
    total = np.empty(n)
    entropy = np.empty(n)
    flux = np.zeros(n)
    frames = _frames(y, _FRAME20, n)
    window = np.hamming(_FRAME20)
    buffer = np.zeros((min(n, _BLOCK), _NFFT))  # zero-padded to the FFT length once
    previous = None
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        block = buffer[:stop - start]
        np.multiply(frames[start:stop], window, out=block[:, :_FRAME20])
        spec = np.fft.rfft(block, axis=1)
        power = spec.real[:, 1:] ** 2
        power += spec.imag[:, 1:] ** 2
        del spec
        mag = np.sqrt(power)
        block_total = total[start:stop] = power.sum(axis=1)
        sums[start:stop] = power @ weights
        # smileStat_entropy: values floored at 1e-7, divided by the (floored) unfloored sum.
        p = np.maximum(power, 1e-7)
        p /= np.maximum(block_total, 1e-7)[:, None]
        entropy[start:stop] = -np.einsum("ij,ij->i", p, np.log2(p))
        del p
        if stop - start > 1:
            d = mag[1:] - mag[:-1]
            flux[start + 1:stop] = np.sqrt(np.einsum("ij,ij->i", d, d) / nb)
        if previous is not None:
            d0 = mag[0] - previous
            flux[start] = np.sqrt(d0 @ d0 / nb)
        previous = mag[-1].copy()
    safe = np.where(total > 0, total, 1.0)
    # Spectral moments from raw power moments (frequencies in kHz keep the powers small).
    raw = sums[:, 0:4] / safe[:, None]
    u = raw[:, 0]
    m2 = np.maximum(raw[:, 1] - u ** 2, 0.0)
    m3 = raw[:, 2] - 3 * u * raw[:, 1] + 2 * u ** 3
    m4 = raw[:, 3] - 4 * u * raw[:, 2] + 6 * u ** 2 * raw[:, 1] - 3 * u ** 4
    centroid = 1000.0 * u
    variance = 1e6 * m2
    positive = m2 > 1e-12
    skew = np.where(positive, m3 / np.sqrt(np.where(positive, m2, 1.0)) ** 3, 0.0)
    kurt = np.where(positive, m4 / np.where(positive, m2, 1.0) ** 2, 0.0)
    slope = (nb * sums[:, 4] - f.sum() * total) / (nb * (f ** 2).sum() - f.sum() ** 2) * (nb - 1)
    sharp = 0.11 * sums[:, 5] / safe
    mel = sums[:, 6:32]
    audspec = (np.maximum(mel, 0.0) * t["eql"]) ** 0.33
    mfcc = np.log(np.maximum(mel * 32768.0 ** 2, 1.0)) @ t["dct"]
    smooth = {
        "pcm_RMSenergy_sma": rms, "pcm_zcr_sma": zcr,
        "audspec_lengthL1norm_sma": audspec.sum(axis=1),
        "pcm_fftMag_fband250-650_sma": sums[:, 32] / nb,
        "pcm_fftMag_fband1000-4000_sma": sums[:, 33] / nb,
        "pcm_fftMag_spectralFlux_sma": flux, "pcm_fftMag_spectralCentroid_sma": centroid,
        "pcm_fftMag_spectralEntropy_sma": entropy, "pcm_fftMag_spectralVariance_sma": variance,
        "pcm_fftMag_spectralSkewness_sma": skew, "pcm_fftMag_spectralKurtosis_sma": kurt,
        "pcm_fftMag_spectralSlope_sma": slope, "pcm_fftMag_psySharpness_sma": sharp,
        "pcm_fftMag_mfcc_sma": mfcc,
    }
    out = {name: _sma(v) for name, v in smooth.items()}
    out["pcm_RMSenergy_sma_de"] = _delta(out["pcm_RMSenergy_sma"])
    if pitch or voice:
        if progress is not None:
            progress("pitch")
        out.update(chain.result() if chain is not None else pitch_llds(y, n, voice=voice, threads=1,
                                                                      samples=y32))
    return out


def _window_stats(x, n):
    """Mean and population std of ``x`` (n_lld, k) over 100-frame windows every 50 frames."""
    offset = x.mean(axis=0)
    x = x - offset  # centred: the running sums of squares stay accurate
    c1 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    c2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x * x, axis=0)])
    start = np.minimum(np.arange(n) * _LLD_PER_HOP, len(x) - 1)
    stop = np.minimum(start + _LLD_PER_WINDOW, len(x))
    count = (stop - start)[:, None]
    mean = (c1[stop] - c1[start]) / count
    var = np.maximum((c2[stop] - c2[start]) / count - mean ** 2, 0.0)
    return mean + offset, np.sqrt(var)


def _split(column):
    """'pcm_fftMag_mfcc_sma[3]_amean' -> ('pcm_fftMag_mfcc_sma', 2, 'amean')."""
    match = re.fullmatch(r"(.+?)(?:\[(\d+)\])?_(amean|stddev)", column)
    contour, k, stat = match.group(1), match.group(2), match.group(3)
    return contour, (int(k) - 1 if k else None), stat


def raw_frames(y: np.ndarray, sr: int, *, columns=None, progress=None):
    """The fast columns every 0.5 s *before* calibration (what the calibration is fitted on).

    Same parameters and returns as :func:`deam_frames` with ``extractor='fast'``; ``progress`` as
    for :func:`fast_llds`.
    """
    columns = _check(columns, "fast")
    wanted = {_split(c)[0] for c in columns}
    llds = fast_llds(y, sr, pitch=bool(wanted & {"F0final_sma", "voicingFinalUnclipped_sma"}),
                     voice=bool(wanted & {"jitterLocal_sma", "jitterDDP_sma", "shimmerLocal_sma", "logHNR_sma"}),
                     progress=progress)
    n = n_frames(max(np.asarray(y).size, int(round(WINDOW_SECONDS * sr))), sr)
    stats = {}
    frames = np.empty((n, len(columns)))
    for j, column in enumerate(columns):
        contour, k, stat = _split(column)
        if contour not in stats:
            values = llds[contour]
            stats[contour] = _window_stats(values.reshape(len(values), -1), n)
        frames[:, j] = stats[contour][0 if stat == "amean" else 1][:, k or 0]
    if not np.all(np.isfinite(frames)):
        raise FeatureError("The audio gave undefined feature values.")
    times = 0.5 * np.arange(n) + WINDOW_SECONDS / 2
    return times, frames


#: The calibration shipped with the static model (affine map per column, fitted on
#: unlabelled music; see :mod:`emolab.experiments.feature_agreement`).
CALIBRATION_PATH = MODELS_DIR / "static" / "feature_calibration.json"


@functools.lru_cache(maxsize=4)
def load_calibration(path=None) -> dict:
    """``{column: (slope, intercept)}`` mapping raw fast values onto openSMILE's."""
    path = Path(path or CALIBRATION_PATH)
    if not path.exists():
        raise FeatureError(f"The fast feature calibration '{path.name}' is missing from {path.parent}; "
                           "rebuild it with: python -m emolab experiment feature-calibration")
    meta = json.loads(path.read_text())
    return {c: tuple(v) for c, v in meta["columns"].items()}
