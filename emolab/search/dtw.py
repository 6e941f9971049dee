"""Dynamic time warping: the distance, its lower bound (LB_Keogh) and the numba kernels that
scan and re-rank many curves against a query.

Costs here are *squared* differences (summed along the warping path, weighted per
dimension); :func:`dtw_distance` returns the square root. Every horizontal or vertical
step may add a ``penalty`` (0: classic DTW). The Sakoe–Chiba band follows the diagonal of
the (n, m) cost matrix (see :func:`dtw_distance`).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from emolab.exceptions import ParameterError
from emolab.search.validation import _check_band, _check_penalty


def dtw_distance(a, b, *, band=None, step_penalty=0.0) -> float:
    """Dynamic-time-warping distance between two sequences.

    The square root of the smallest sum of squared differences along a warping path
    from (0, 0) to (n-1, m-1) that moves by (1, 0), (0, 1) or (1, 1). With ``band=0``
    and equal lengths it is the Euclidean distance.

    Parameters
    ----------
    a : array-like, shape (n,) or (n, d)
    b : array-like, shape (m,) or (m, d)
        Sequences over time (rows are time points); the same number of dimensions.
    band : float, optional
        Sakoe–Chiba band half-width as a fraction of the longer length; cell (i, j) is
        allowed when ``|i (m-1)/(n-1) - j| <= band * max(n, m)`` (at least 1 cell when
        the lengths differ, so a path always exists). None: no band.
    step_penalty : float
        Added to the cost of every horizontal or vertical step (0: classic DTW).

    Returns
    -------
    float
    """
    x, y = _as_sequence(a, "first"), _as_sequence(b, "second")
    if x.shape[0] != y.shape[0]:
        raise ParameterError("Both sequences need the same number of dimensions.")
    radius = np.inf if band is None else _check_band(band) * max(x.shape[1], y.shape[1])
    if x.shape[1] < y.shape[1]:  # the band rule runs its rows along the longer sequence
        x, y = y, x
    weights = np.ones(x.shape[0])
    return math.sqrt(_dtw_cost(x, y, weights, float(radius), _check_penalty(step_penalty)))


def _as_sequence(a, which) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ParameterError(f"The {which} sequence must be a non-empty array of shape (n,) "
                             "or (n, d).")
    if not np.all(np.isfinite(x)):
        raise ParameterError(f"The {which} sequence holds missing (NaN) or infinite values.")
    return np.ascontiguousarray(x.T)


@numba.njit(cache=True)
def _band_limits(i, n, m, radius):
    """First and last column allowed in row ``i`` of an (n, m) cost matrix."""
    if n == 1 or m == 1 or radius == np.inf:
        return 0, m - 1
    centre = i * (m - 1) / (n - 1)
    r = radius if n == m else max(radius, 1.0)
    lo = max(0, int(math.ceil(centre - r - 1e-9)))
    hi = min(m - 1, int(math.floor(centre + r + 1e-9)))
    return lo, hi


@numba.njit(cache=True)
def _dtw_cost(x, y, w, radius, penalty):
    """Squared DTW cost of x (d, n) and y (d, m) with per-dimension weights w (d,); each
    horizontal or vertical step adds ``penalty``."""
    d, n = x.shape
    m = y.shape[1]
    prev = np.full(m, np.inf)
    cur = np.full(m, np.inf)
    for i in range(n):
        lo, hi = _band_limits(i, n, m, radius)
        cur[:] = np.inf
        for j in range(lo, hi + 1):
            cost = 0.0
            for k in range(d):
                diff = x[k, i] - y[k, j]
                cost += w[k] * diff * diff
            if i == 0 and j == 0:
                best = 0.0
            else:
                best = np.inf
                if i > 0:
                    best = min(best, prev[j] + penalty)
                    if j > 0:
                        best = min(best, prev[j - 1])
                if j > 0:
                    best = min(best, cur[j - 1] + penalty)
            cur[j] = cost + best
        prev, cur = cur, prev
    return prev[m - 1]


@numba.njit(cache=True)
def _push(best_k, cost):
    """Insert ``cost`` into the ascending array of the k smallest costs so far."""
    i = len(best_k) - 1
    if cost >= best_k[i]:
        return
    while i > 0 and best_k[i - 1] > cost:
        best_k[i] = best_k[i - 1]
        i -= 1
    best_k[i] = cost


@numba.njit(cache=True, nogil=True)
def _rerank_whole(q, sketches, rows, bounds, best_k, dims, w, radius, penalty, means, stds,
                  znorm):
    """Exact squared DTW of q (d, n) against sketches[rows], taken in ascending order of
    their lower ``bounds``; stops once a bound exceeds the k-th best cost (in ``best_k``),
    as no later row can enter the top k. Rows not evaluated get inf."""
    d, n = q.shape
    out = np.full(len(rows), np.inf)
    y = np.empty((d, n))
    for r in range(len(rows)):
        if bounds[r] > best_k[-1]:
            break
        row = rows[r]
        for k in range(d):
            dim = dims[k]
            for j in range(n):
                value = sketches[row, dim, j]
                y[k, j] = (value - means[row, dim]) / stds[row, dim] if znorm else value
        out[r] = _dtw_cost(q, y, w, radius, penalty)
        _push(best_k, out[r])
    return out


@numba.njit(cache=True, nogil=True)
def _envelope_distance(sketches, dims, upper, lower, w, means, stds, znorm, allowed, best_k):
    """Squared distance of every allowed sketch to the band [lower, upper] around the query.

    With ``upper == lower == query`` this is the squared Euclidean distance; with the
    envelope of a DTW band it is LB_Keogh, a lower bound of the squared DTW cost.

    Only the ``len(best_k)`` smallest values matter, so a row is abandoned as soon as its
    running sum exceeds the largest of the smallest values found so far; it then keeps
    that partial sum, still a lower bound, and still larger than every row kept.
    Rows not allowed get inf.
    """
    n_rows = sketches.shape[0]
    d, n = upper.shape
    out = np.full(n_rows, np.inf)
    for row in range(n_rows):
        if not allowed[row]:
            continue
        total = 0.0
        limit = best_k[-1]
        for k in range(d):
            dim = dims[k]
            mu = means[row, dim]
            sd = stds[row, dim]
            for j in range(n):
                value = sketches[row, dim, j]
                if znorm:
                    value = (value - mu) / sd
                if value > upper[k, j]:
                    total += w[k] * (value - upper[k, j]) ** 2
                elif value < lower[k, j]:
                    total += w[k] * (lower[k, j] - value) ** 2
                if (j & 15) == 15 and total > limit:
                    break
            if total > limit:
                break
        out[row] = total
        if total <= limit:
            _push(best_k, total)
    return out


@numba.njit(cache=True)
def _window_values(flat, dim, begin, frames, znorm, out):
    """Copy one window of a curve into ``out``, z-normalised if asked."""
    mu = 0.0
    for j in range(frames):
        out[j] = flat[dim, begin + j]
        mu += out[j]
    if not znorm:
        return
    mu /= frames
    var = 0.0
    for j in range(frames):
        var += (out[j] - mu) ** 2
    sd = math.sqrt(var / frames)
    if sd < 1e-8:
        sd = 1.0
    for j in range(frames):
        out[j] = (out[j] - mu) / sd


@numba.njit(cache=True, nogil=True)
def _scan_windows(flat, offsets, rows, dims, upper, lower, w, znorm, scale, best_k):
    """Best window of every curve in ``rows`` against the envelope [lower, upper].

    Returns the smallest squared envelope distance per song times ``scale`` (inf when the
    song is shorter than the window) and the frame where that window starts. Like
    :func:`_envelope_distance`, windows are abandoned once they exceed the
    ``len(best_k)``-th smallest song value so far (``best_k`` is shared across calls).
    """
    d, frames = upper.shape
    best = np.full(len(rows), np.inf)
    best_start = np.zeros(len(rows), dtype=np.int64)
    window = np.empty(frames)
    for r in range(len(rows)):
        row = rows[r]
        first, last = offsets[row], offsets[row + 1]
        song_best = np.inf
        limit = best_k[-1] / scale
        for s in range(first, last - frames + 1):
            total = 0.0
            for k in range(d):
                if znorm:
                    _window_values(flat, dims[k], s, frames, znorm, window)
                    for j in range(frames):
                        if window[j] > upper[k, j]:
                            total += w[k] * (window[j] - upper[k, j]) ** 2
                        elif window[j] < lower[k, j]:
                            total += w[k] * (lower[k, j] - window[j]) ** 2
                else:
                    dim = dims[k]
                    for j in range(frames):
                        value = flat[dim, s + j]
                        if value > upper[k, j]:
                            total += w[k] * (value - upper[k, j]) ** 2
                        elif value < lower[k, j]:
                            total += w[k] * (lower[k, j] - value) ** 2
                        if total > limit:
                            break
                if total > limit:
                    break
            if total < limit or (song_best == np.inf and total <= limit):  # complete, and best
                song_best = total * scale
                limit = total
                best_start[r] = s - first
            elif song_best == np.inf and total * scale < best[r]:
                best[r] = total * scale  # abandoned: keep the partial sum, a lower bound
                best_start[r] = s - first
        if song_best < np.inf:
            best[r] = song_best
            _push(best_k, song_best)
    return best, best_start


@numba.njit(cache=True, nogil=True)
def _rerank_segments(q, upper, lower, flat, offsets, rows, bounds, best_k, scale, dims, w,
                     radius, penalty, znorm):
    """Best window of each curve in ``rows`` under exact DTW, songs taken in ascending order
    of their lower ``bounds`` (costs times ``scale``, like ``best_k``). A window is skipped
    when its LB_Keogh already exceeds the best cost that could still matter.

    Returns the scaled smallest cost per song (inf if it cannot enter the top k) and the
    frame where that window starts.
    """
    d, frames = q.shape
    out = np.full(len(rows), np.inf)
    starts = np.zeros(len(rows), dtype=np.int64)
    y = np.empty((d, frames))
    window = np.empty(frames)
    for r in range(len(rows)):
        if bounds[r] > best_k[-1]:
            break
        first, last = offsets[rows[r]], offsets[rows[r] + 1]
        best = np.inf
        for s in range(first, last - frames + 1):
            bound = 0.0
            for k in range(d):
                _window_values(flat, dims[k], s, frames, znorm, window)
                part = 0.0
                for j in range(frames):
                    y[k, j] = window[j]
                    if window[j] > upper[k, j]:
                        part += (window[j] - upper[k, j]) ** 2
                    elif window[j] < lower[k, j]:
                        part += (lower[k, j] - window[j]) ** 2
                bound += w[k] * part
            if bound * scale > min(best, best_k[-1]):
                continue
            cost = _dtw_cost(q, y, w, radius, penalty) * scale
            if cost < best:
                best = cost
                starts[r] = s - first
        out[r] = best
        _push(best_k, best)
    return out, starts


def _envelope(q, radius):
    """Upper and lower envelope of q (d, n) over a window of ``radius`` points."""
    r = int(math.floor(radius + 1e-9))
    if r == 0:
        return q, q
    n = q.shape[1]
    padded_hi = np.pad(q, ((0, 0), (r, r)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded_hi, 2 * r + 1, axis=1)[:, :n]
    return windows.max(axis=2), windows.min(axis=2)

