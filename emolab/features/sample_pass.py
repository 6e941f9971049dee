"""The DEAM extractor's passes over single samples, in one compiled loop (numba, ``cache=True``).

Before its spectra, :func:`emolab.features.deam_fast.fast_llds` reads every sample several
times: openSMILE's 16-bit truncation, the samples as its spectral pass reads them (v / 32768,
float64) and as the pitch chain reads them (v / 32767, float32, what openSMILE's front end
hands its C library), the energy of each 10 ms block (RMS energy) and the zero crossings (cMZcr).
In numpy (:func:`emolab.features.deam_fast.sample_passes`) that is some 25 passes over the
recording (4 % of an analysis); :func:`prepare` makes them one, with the same values (a test
compares them). ``fast_llds`` uses it when the pitch chain has loaded numba anyway; the 55
columns alone keep the numpy passes and never import numba. Its first use in a process loads
the kernel (compiling it the first time on a machine, under
:func:`emolab.compile_lock.compile_lock`).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def _prepare(y, step, y64, y32, energy, crossing, per_block):
    m = y.shape[0]
    size = y64.shape[0]
    for i in range(size):                       # openSMILE's 16-bit samples, truncated toward 0
        if i < m:
            v = y[i] * np.float32(32768.0)
            v = min(max(v, np.float32(-32768.0)), np.float32(32767.0))
            v = np.float32(np.trunc(v))
        else:
            v = np.float32(0.0)
        y64[i] = np.float64(v) / 32768.0
        y32[i] = v / np.float32(32767.0)
    for b in range(per_block.shape[0]):
        e = 0.0
        hits = 0
        for i in range(b * step, (b + 1) * step):
            if i < size:
                e += y64[i] * y64[i]
            # cMZcr: a crossing at sample i + 1 when its neighbours have opposite signs around
            # it, or it is 0 and they are not both of one sign
            c = 0
            if i + 2 < size:
                left, mid, right = y64[i], y64[i + 1], y64[i + 2]
                if mid == 0.0:
                    c = 0 if (left > 0.0 and right > 0.0) or (left < 0.0 and right < 0.0) else 1
                elif (left > 0.0 and mid < 0.0) or (left < 0.0 and mid > 0.0):
                    c = 1
            crossing[i] = c
            hits += c
        energy[b] = e
        per_block[b] = hits


def prepare(y: np.ndarray, *, step: int, n_blocks: int, min_size: int = 0):
    """One pass over ``y``: the samples as the DEAM extractor reads them, block energies and crossings.

    Parameters
    ----------
    y : np.ndarray, shape (m,), float32
        Mono audio at the extractor's rate, in [-1, 1].
    step : int
        Samples per block (the 10 ms hop).
    n_blocks : int
        Blocks to report (beyond the audio they count zeros).
    min_size : int
        The samples are zero-padded to at least this length.

    Returns
    -------
    y64 : np.ndarray, shape (max(m, min_size),), float64
        16-bit values (x 32768, clipped, truncated toward 0) / 32768.
    y32 : np.ndarray, same shape, float32
        The same values / 32767 (openSMILE's reading).
    energy : np.ndarray, shape (n_blocks,), float64
        Sum of squares of ``y64`` in each block.
    crossing : np.ndarray, shape (n_blocks * step,), int32
        1 where the sample after is a zero crossing (cMZcr's rule), else 0.
    per_block : np.ndarray, shape (n_blocks,), int64
        Crossings in each block.
    """
    from emolab.compile_lock import first_use

    y = np.ascontiguousarray(y, dtype=np.float32)
    size = max(y.size, min_size)
    out = (np.empty(size), np.empty(size, np.float32), np.empty(n_blocks),
           np.empty(n_blocks * step, np.int32), np.empty(n_blocks, np.int64))
    first_use("sample_pass", lambda: _prepare(y, step, *out))
    return out
