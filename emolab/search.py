"""Emotion search: songs near a point of the valence–arousal plane, and songs whose
emotion evolves like a drawn profile.

Two questions a musicologist can ask of the index:

* :func:`nearest_point` — which songs have a static emotion close to (valence, arousal)?
* :func:`match_profile` — which songs' valence and arousal *curves* follow this drawn
  profile, over the whole song (``mode="whole"``) or anywhere inside it for a given
  number of seconds (``mode="segment"``)?

Profile search runs in two stages. Every curve of the chosen source is kept in memory
as a fixed-length sketch (:data:`SKETCH_LENGTH` points per dimension, built once per
process and rebuilt when the curves in the index change). A coarse stage scores every
sketch with a bound that never exceeds the exact distance (LB_Keogh for DTW; for
Euclidean distance the coarse score *is* the exact one); the best ``n_candidates`` are
then re-ranked with exact DTW, in ascending order of their bound, stopping as soon as a
bound exceeds the k-th best exact distance found. When the k-th exact distance is no
larger than the best coarse score left out, the answer is provably the exact top k;
``result.attrs["exact"]`` says whether that held. Segment mode does the same over every
window of every song (a window per frame), with the raw curves instead of sketches.

DTW here adds a small cost to every warping step that repeats a point
(:data:`DEFAULT_STEP_PENALTY`), so it bends the time axis only where that pays off and
not to fit the wobble of a hand-drawn line.

Distances are root-mean-square deviations per time point on the [-1, 1] scale (summed
over the dimensions searched, weighted), so 0.1 means "about 0.1 apart on average".
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from emolab.exceptions import ParameterError
from emolab.index import search_sql

#: Points per dimension of the whole-song sketches.
SKETCH_LENGTH = 64
#: A drawn profile may hold at most this many points per dimension.
MAX_PROFILE_POINTS = 10_000
#: Songs re-ranked with exact DTW after the coarse stage.
DEFAULT_CANDIDATES = 300
#: Cost of a DTW step that repeats a point (squared [-1, 1] units); see match_profile.
DEFAULT_STEP_PENALTY = 0.005
#: Largest k accepted.
MAX_K = 10_000
#: Largest number of songs re-ranked with exact DTW.
MAX_CANDIDATES = 1_000_000
#: A z-normalised profile needs at least this standard deviation to have a shape.
FLAT_STD = 1e-3
SOURCES = ("human", "predicted")
MODES = ("whole", "segment")
METRICS = ("dtw", "euclidean")
_CACHED_STORES = 4


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search to some songs.

    Parameters
    ----------
    text : str, optional
        Words that must appear in the title or the artist (case-insensitive).
    min_duration, max_duration : float, optional
        Song duration bounds in seconds; songs of unknown duration are left out.
    has_audio : bool, optional
        Only songs with (True) or without (False) audio in the library.
    annotator : str, optional
        Only songs this person annotated. In a point search over human values it also
        uses *their* static values rather than the average of all annotators.
    """

    text: str | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    has_audio: bool | None = None
    annotator: str | None = None

    def is_empty(self) -> bool:
        return (not self.text and self.min_duration is None and self.max_duration is None
                and self.has_audio is None and not self.annotator)


# ---------------------------------------------------------------------------------------
# Point search
# ---------------------------------------------------------------------------------------

def nearest_point(index, valence, arousal, k=10, *, source="human", filters=None) -> pd.DataFrame:
    """The ``k`` songs whose static emotion lies nearest to (valence, arousal).

    Parameters
    ----------
    index : emolab.index.Index
    valence, arousal : float
        The point, each on [-1, 1].
    k : int
        Number of songs returned (fewer if the index holds fewer).
    source : {"human", "predicted"}
        Average of the human static annotations, or the newest static prediction.
    filters : SearchFilters, optional

    Returns
    -------
    pandas.DataFrame
        Columns song_id, dataset, dataset_id, title, artist, valence, arousal, distance
        (Euclidean, in the valence–arousal plane), nearest first; ties by song id.
    """
    valence = _check_value(valence, "Valence")
    arousal = _check_value(arousal, "Arousal")
    k = _check_k(k)
    _check_choice(source, SOURCES, "source")
    filters = _check_filters(filters)
    con = index.con
    if source == "human" and filters.annotator:
        ids, v, a = search_sql.static_values(con, source, annotator=filters.annotator)
    else:
        ids, v, a = _static_store(index, source)
    squared = _squared_distance(v, a, valence, arousal)
    if not filters.is_empty():
        squared[~_allowed(con, ids, filters)] = np.inf
    rows = _top_k(squared, ids, k)
    songs = search_sql.song_rows(con, ids[rows])
    songs["valence"] = v[rows]
    songs["arousal"] = a[rows]
    songs["distance"] = np.sqrt(squared[rows])
    return songs


# ---------------------------------------------------------------------------------------
# Profile search
# ---------------------------------------------------------------------------------------

def match_profile(index, valence_curve=None, arousal_curve=None, k=10, *, source="human",
                  mode="whole", metric="dtw", band=0.1, znorm=False, segment_seconds=None,
                  weights=(1.0, 1.0), filters=None, step_penalty=DEFAULT_STEP_PENALTY,
                  n_candidates=DEFAULT_CANDIDATES) -> pd.DataFrame:
    """The ``k`` songs whose emotion curves follow a drawn profile most closely.

    Parameters
    ----------
    index : emolab.index.Index
    valence_curve, arousal_curve : array-like, shape (n,), optional
        The profile, evenly spaced over its duration, values on [-1, 1], 2 to
        :data:`MAX_PROFILE_POINTS` points. Either may be None to search on the other
        dimension only; the two may have different numbers of points.
    k : int
    source : {"human", "predicted"}
        Which curves to search.
    mode : {"whole", "segment"}
        ``"whole"``: the profile stands for the whole song; both are resampled to
        :data:`SKETCH_LENGTH` points. ``"segment"``: the profile lasts
        ``segment_seconds`` and may lie anywhere inside the song.
    metric : {"dtw", "euclidean"}
        Dynamic time warping within a Sakoe–Chiba band, or point-by-point distance.
    band : float
        DTW band half-width as a fraction of the compared length (0 = Euclidean).
    znorm : bool
        Compare shapes only: subtract each curve's mean and divide by its standard
        deviation (per dimension; in segment mode per window).
    segment_seconds : float
        Duration of the profile in segment mode (required there, refused in whole mode).
    weights : (float, float)
        Weights of valence and arousal in the distance.
    filters : SearchFilters, optional
    step_penalty : float
        DTW only: cost added to every warping step that repeats a point, in squared
        [-1, 1] units. It keeps DTW from bending the time axis to fit noise: on the
        emoMusic recall check it lifts recall@1 from about 0.87 to 0.90
        (``docs/results/search.md``). 0 gives plain DTW.
    n_candidates : int
        Songs re-ranked with exact DTW after the coarse stage (1 to :data:`MAX_CANDIDATES`;
        at least ``k`` are used).

    Returns
    -------
    pandas.DataFrame
        Columns song_id, dataset, dataset_id, title, artist, distance, and in segment
        mode ``start`` and ``end`` (seconds, the song's own time) of the best match.
        ``attrs["exact"]`` tells whether the top k is provably exact.
    """
    query, dims, w = _check_profile(valence_curve, arousal_curve, weights, znorm)
    k = _check_k(k)
    _check_choice(source, SOURCES, "source")
    _check_choice(mode, MODES, "mode")
    _check_choice(metric, METRICS, "metric")
    band = _check_band(band)
    step_penalty = _check_penalty(step_penalty)
    filters = _check_filters(filters)
    n_candidates = max(_check_candidates(n_candidates), k)
    if mode == "whole":
        if segment_seconds is not None:
            raise ParameterError("A segment duration only applies to segment mode; "
                                 "leave it out for a whole-song search.")
        store = _curve_store(index, source)
        return _match_whole(index, store, query, dims, w, k, metric, band, step_penalty, znorm,
                            filters, n_candidates)
    seconds = _check_seconds(segment_seconds)
    store = _curve_store(index, source)
    return _match_segment(index, store, query, dims, w, k, metric, band, step_penalty, znorm,
                          seconds, filters, n_candidates)


def _match_whole(index, store, query, dims, w, k, metric, band, step_penalty, znorm, filters,
                 n_candidates):
    n = SKETCH_LENGTH
    q = np.stack([_resample(query[d], n) for d in dims])
    if znorm:
        q = _znorm_rows(q)
    radius = band * n if metric == "dtw" else 0.0
    upper, lower = _envelope(q, radius)
    allowed = _allowed(index.con, store.song_ids, filters)
    keep = k if metric == "euclidean" else n_candidates
    coarse = _envelope_distance(store.sketches, dims, upper, lower, w, store.means,
                                store.stds, znorm, allowed, np.full(keep, np.inf))
    if metric == "euclidean":
        rows = _top_k(coarse, store.song_ids, k)
        return _result(index, store, rows, np.sqrt(coarse[rows] / n), exact=True)
    candidates = _top_k(coarse, store.song_ids, n_candidates)
    exact = _rerank_whole(q, store.sketches, candidates, coarse[candidates], np.full(k, np.inf),
                          dims, w, radius, step_penalty, store.means, store.stds, znorm)
    order = _top_k(exact, store.song_ids[candidates], k)
    rows = candidates[order]
    return _result(index, store, rows, np.sqrt(exact[order] / n),
                   exact=_provably_exact(coarse, candidates, exact[order]))


def _match_segment(index, store, query, dims, w, k, metric, band, step_penalty, znorm, seconds,
                   filters, n_candidates):
    best = np.full(store.n_songs, np.inf)
    start = np.zeros(store.n_songs, dtype=np.int64)
    length = np.zeros(store.n_songs, dtype=np.int64)
    queries = {}
    allowed = _allowed(index.con, store.song_ids, filters)
    best_k = np.full(k if metric == "euclidean" else n_candidates, np.inf)
    for hop in np.unique(store.hops):
        group = np.flatnonzero((store.hops == hop) & allowed)
        frames = int(round(seconds / hop)) + 1
        if frames < 2:
            raise ParameterError(f"A {seconds:g} s segment is shorter than the curves' time step "
                                 f"({hop:g} s); draw a longer segment.")
        if group.size == 0 or frames > store.lengths[group].max():
            continue  # no curve of this time step can hold the segment: nothing to scan
        q = _segment_query(query, dims, frames, znorm)
        queries[frames] = (q, *_envelope(q, band * frames if metric == "dtw" else 0.0))
        group_best, group_start = _scan_windows(store.flat, store.offsets, group, dims,
                                                queries[frames][1], queries[frames][2], w, znorm,
                                                1.0 / frames, best_k)
        best[group], start[group], length[group] = group_best, group_start, frames
    if metric == "euclidean":
        rows = _top_k(best, store.song_ids, k)
        return _result(index, store, rows, np.sqrt(best[rows]), start=start[rows],
                       length=length[rows], exact=True)
    candidates = _top_k(best, store.song_ids, n_candidates)
    exact = np.full(len(candidates), np.inf)
    best_k = np.full(k, np.inf)  # shared by the groups, so pruning stays global
    for frames, (q, upper, lower) in queries.items():
        mine = np.flatnonzero(length[candidates] == frames)
        costs, starts = _rerank_segments(q, upper, lower, store.flat, store.offsets,
                                         candidates[mine], best[candidates[mine]], best_k,
                                         1.0 / frames, dims, w, band * frames, step_penalty,
                                         znorm)
        exact[mine] = costs
        start[candidates[mine]] = starts
    order = _top_k(exact, store.song_ids[candidates], k)
    rows = candidates[order]
    return _result(index, store, rows, np.sqrt(exact[order]), start=start[rows],
                   length=length[rows], exact=_provably_exact(best, candidates, exact[order]))


def _segment_query(query, dims, frames, znorm):
    q = np.stack([_resample(query[d], frames) for d in dims])
    return _znorm_rows(q) if znorm else q


def _provably_exact(coarse, candidates, kth_costs) -> bool:
    """True when no song left out by the coarse stage could beat the k-th result."""
    if len(kth_costs) == 0:
        return True
    left_out = np.ones(len(coarse), dtype=bool)
    left_out[candidates] = False
    rest = coarse[left_out]
    rest = rest[np.isfinite(rest)]
    return rest.size == 0 or bool(kth_costs[-1] <= rest.min() + 1e-9)


def _result(index, store, rows, distance, *, start=None, length=None, exact) -> pd.DataFrame:
    songs = search_sql.song_rows(index.con, store.song_ids[rows])
    songs["distance"] = distance
    if start is not None:
        t0, hop = store.t0s[rows], store.hops[rows]
        songs["start"] = t0 + hop * start
        songs["end"] = t0 + hop * (start + length - 1)
    songs.attrs["exact"] = bool(exact)
    return songs


# ---------------------------------------------------------------------------------------
# DTW
# ---------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------
# In-memory stores, rebuilt when the index changes
# ---------------------------------------------------------------------------------------

class _CurveStore:
    """Every curve of one source: raw frames (for segments) and sketches (for whole songs).

    Attributes: song_ids (N,), t0s (N,), hops (N,), offsets (N+1,), flat (2, T) float32
    with valence in row 0 and arousal in row 1, sketches (N, 2, SKETCH_LENGTH) float32,
    means and stds (N, 2) of the sketches (stds of flat sketches set to 1).
    """

    def __init__(self, table):
        values = [table.column(name).combine_chunks() for name in ("valence", "arousal")]
        lengths = values[0].value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
        flat = np.stack([v.flatten().to_numpy(zero_copy_only=False) for v in values])
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        bad_before = np.concatenate([[0], np.cumsum(~np.isfinite(flat).all(axis=0))])
        usable = (lengths > 0) & (bad_before[offsets[1:]] == bad_before[offsets[:-1]])
        if not usable.all():  # curves with gaps or no frames cannot be compared
            keep = np.repeat(usable, lengths)
            flat, lengths = flat[:, keep], lengths[usable]
            offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.song_ids = table.column("song_id").to_numpy().astype(np.int64)[usable]
        self.t0s = table.column("t0").to_numpy().astype(np.float64)[usable]
        self.hops = table.column("hop").to_numpy().astype(np.float64)[usable]
        self.flat = np.ascontiguousarray(flat, dtype=np.float32)
        self.offsets = offsets.astype(np.int64)
        self.lengths = lengths
        self.sketches = self._sketch()
        self.means = self.sketches.mean(axis=2).astype(np.float64)
        stds = self.sketches.std(axis=2).astype(np.float64)
        self.stds = np.where(stds < 1e-8, 1.0, stds)

    @property
    def n_songs(self) -> int:
        return len(self.song_ids)

    def _sketch(self) -> np.ndarray:
        n = SKETCH_LENGTH
        out = np.empty((self.n_songs, 2, n), dtype=np.float32)
        for length in np.unique(self.lengths):
            matrix = _interpolation_matrix(int(length), n).astype(np.float32)
            same_length = np.flatnonzero(self.lengths == length)
            for first in range(0, len(same_length), 65_536):  # bounded temporary memory
                rows = same_length[first:first + 65_536]
                frames = self.offsets[rows, None] + np.arange(length)
                for dim in range(2):
                    out[rows, dim] = self.flat[dim][frames] @ matrix
        return out


_stores: OrderedDict = OrderedDict()
_lock = threading.Lock()
_build_lock = threading.Lock()


def _cached(key, fingerprint, build):
    with _lock:
        hit = _stores.get(key)
        if hit is not None and hit[0] == fingerprint:
            _stores.move_to_end(key)
            return hit[1]
    with _build_lock:  # one build at a time: a million curves take seconds and memory
        with _lock:
            hit = _stores.get(key)
        if hit is not None and hit[0] == fingerprint:
            return hit[1]
        value = build()
        with _lock:
            _stores[key] = (fingerprint, value)
            _stores.move_to_end(key)
            while len(_stores) > _CACHED_STORES:
                _stores.popitem(last=False)
    return value


def _curve_store(index, source) -> _CurveStore:
    con = index.con
    key = (str(index.path), "curves", source)
    return _cached(key, search_sql.curves_fingerprint(con),
                   lambda: _CurveStore(search_sql.curve_table(con, source)))


def _static_store(index, source):
    con = index.con
    key = (str(index.path), "static", source)
    return _cached(key, search_sql.static_fingerprint(con, source),
                   lambda: search_sql.static_values(con, source))


def clear_cache() -> None:
    """Forget every in-memory store (they are rebuilt on the next search)."""
    with _lock:
        _stores.clear()


def warm_up(index, *, source="human") -> None:
    """Build the stores of ``source`` now (and compile the kernels) so the first search is fast."""
    _static_store(index, source)
    store = _curve_store(index, source)
    match_profile(index, np.linspace(-0.5, 0.5, 8), None, 1, source=source)
    if store.n_songs:
        match_profile(index, np.linspace(-0.5, 0.5, 8), None, 1, source=source, mode="segment",
                      segment_seconds=float(store.hops[0]) * 4)


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------

def _interpolation_matrix(length: int, n: int) -> np.ndarray:
    """Matrix (length, n) mapping a curve of ``length`` evenly spaced points to ``n``."""
    if length == 1:
        return np.ones((1, n))
    position = np.linspace(0.0, length - 1, n)
    left = np.minimum(np.floor(position).astype(int), length - 2)
    frac = position - left
    matrix = np.zeros((length, n))
    matrix[left, np.arange(n)] = 1.0 - frac
    matrix[left + 1, np.arange(n)] += frac
    return matrix


def _resample(curve: np.ndarray, n: int) -> np.ndarray:
    """Linear resampling of an evenly spaced curve (m,) to ``n`` points."""
    return np.asarray(curve, dtype=np.float64) @ _interpolation_matrix(len(curve), n)


def _znorm_rows(q: np.ndarray) -> np.ndarray:
    sd = q.std(axis=1, keepdims=True)
    return (q - q.mean(axis=1, keepdims=True)) / np.where(sd < 1e-8, 1.0, sd)


def _top_k(score: np.ndarray, song_ids: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` smallest finite scores, ascending, ties broken by song id."""
    return _smallest(np.ascontiguousarray(score, dtype=np.float64),
                     np.ascontiguousarray(song_ids, dtype=np.int64), int(k))


@numba.njit(cache=True, nogil=True)
def _smallest(score, song_ids, k):
    """One pass over ``score`` keeping the k smallest (score, song id) pairs in order."""
    k = min(k, len(score))
    top_score = np.full(k, np.inf)
    top_id = np.zeros(k, dtype=np.int64)
    top_row = np.zeros(k, dtype=np.int64)
    count = 0
    for row in range(len(score)):
        value = score[row]
        if not value < np.inf:  # inf and NaN: not a candidate
            continue
        song = song_ids[row]
        if count == k and (value > top_score[k - 1]
                           or (value == top_score[k - 1] and song >= top_id[k - 1])):
            continue
        j = count if count < k else k - 1
        while j > 0 and (top_score[j - 1] > value
                         or (top_score[j - 1] == value and top_id[j - 1] > song)):
            top_score[j] = top_score[j - 1]
            top_id[j] = top_id[j - 1]
            top_row[j] = top_row[j - 1]
            j -= 1
        top_score[j], top_id[j], top_row[j] = value, song, row
        if count < k:
            count += 1
    return top_row[:count]


@numba.njit(cache=True, nogil=True)
def _squared_distance(valence, arousal, v, a):
    """Squared distance of every (valence, arousal) pair to the point (v, a)."""
    out = np.empty(len(valence))
    for i in range(len(valence)):
        out[i] = (valence[i] - v) ** 2 + (arousal[i] - a) ** 2
    return out


def _allowed(con, song_ids, filters: SearchFilters) -> np.ndarray:
    """Mask (n,) of the songs that pass the filters."""
    if filters.is_empty():
        return np.ones(len(song_ids), dtype=bool)
    passing = search_sql.filtered_song_ids(
        con, text=filters.text, min_duration=filters.min_duration,
        max_duration=filters.max_duration, has_audio=filters.has_audio,
        annotator=filters.annotator)
    return np.isin(song_ids, passing)


def _check_profile(valence_curve, arousal_curve, weights, znorm):
    """Validate a drawn profile; return ({dim: curve}, dims (d,), weights (d,))."""
    query = {}
    for dim, (curve, name) in enumerate(((valence_curve, "valence"), (arousal_curve, "arousal"))):
        if curve is not None:
            query[dim] = _check_curve(curve, name, znorm)
    if not query:
        raise ParameterError("Draw a valence or an arousal profile (or both) to search with.")
    try:
        w_all = np.asarray(weights, dtype=np.float64).ravel()
    except (TypeError, ValueError, OverflowError):
        raise ParameterError("Weights must be two numbers, for valence and arousal.") from None
    if w_all.shape != (2,) or not np.all(np.isfinite(w_all)) or np.any(w_all < 0):
        raise ParameterError("Weights must be two non-negative numbers, for valence and arousal.")
    dims = np.array(sorted(query), dtype=np.int64)
    if w_all[dims].sum() <= 0:
        raise ParameterError("The weights of the drawn dimensions are all zero: "
                             "nothing to compare.")
    return query, dims, w_all[dims].copy()


def _check_curve(curve, name, znorm) -> np.ndarray:
    try:
        x = np.asarray(curve, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"The {name} profile must be a list of numbers.") from None
    if x.ndim != 1:
        raise ParameterError(f"The {name} profile must be a flat list of numbers, "
                             "one per time point.")
    if x.size == 0:
        raise ParameterError(f"The {name} profile is empty: draw at least two points, "
                             "or leave it out to search on the other dimension only.")
    if x.size == 1:
        raise ParameterError(f"The {name} profile has a single point, which has no shape over "
                             "time. Draw at least two points, or use a point search.")
    if x.size > MAX_PROFILE_POINTS:
        raise ParameterError(f"The {name} profile has {x.size:,} points; at most "
                             f"{MAX_PROFILE_POINTS:,} are accepted. Resample it first.")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ParameterError(f"The {name} profile has missing (NaN) or infinite values "
                             f"(first at point {bad[0] + 1}).")
    if x.min() < -1.0 or x.max() > 1.0:
        raise ParameterError(f"The {name} profile must stay between -1 and 1 "
                             f"(it reaches {x.min():.3g} to {x.max():.3g}).")
    if znorm and x.std() < FLAT_STD:
        raise ParameterError(
            f"The {name} profile is a flat line. Z-normalisation compares shapes only "
            "(it removes level and scale), so a flat line has no shape to match. Switch "
            "z-normalisation off to search by level, or draw a rise or a fall.")
    return x


def _check_value(x, name) -> float:
    try:
        value = float(x)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"{name} must be a number between -1 and 1.") from None
    if not math.isfinite(value) or not -1.0 <= value <= 1.0:
        raise ParameterError(f"{name} must lie between -1 and 1 (got {x}).")
    return value


def _check_k(k) -> int:
    try:
        k_int = int(k)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError("The number of results k must be a whole number.") from None
    if k_int != k or not 1 <= k_int <= MAX_K:
        raise ParameterError(f"The number of results k must be a whole number from 1 to {MAX_K:,}.")
    return k_int


def _check_candidates(n) -> int:
    try:
        value = int(n)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError("The number of candidates must be a whole number.") from None
    if value != n or not 1 <= value <= MAX_CANDIDATES:
        raise ParameterError("The number of candidates must be a whole number from 1 to "
                             f"{MAX_CANDIDATES:,}.")
    return value


def _check_choice(value, allowed, name) -> None:
    if value not in allowed:
        raise ParameterError(f"The {name} must be one of {', '.join(allowed)} (got {value!r}).")


def _check_band(band) -> float:
    try:
        value = float(band)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError("The DTW band must be a number between 0 and 1.") from None
    if not 0.0 <= value <= 1.0:
        raise ParameterError(f"The DTW band must lie between 0 and 1 (got {band}).")
    return value


def _check_penalty(penalty) -> float:
    try:
        value = float(penalty)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError("The DTW step penalty must be a number (0 for plain DTW).") from None
    if not math.isfinite(value) or value < 0:
        raise ParameterError(f"The DTW step penalty must be 0 or more (got {penalty}).")
    return value


def _check_seconds(seconds) -> float:
    if seconds is None:
        raise ParameterError("Segment mode needs the duration of the drawn profile in seconds.")
    try:
        value = float(seconds)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError("The segment duration must be a number of seconds.") from None
    if not math.isfinite(value) or value <= 0:
        raise ParameterError("The segment duration must be a positive number of seconds "
                             f"(got {seconds}).")
    return value


def _finite(x) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an int beyond the float range
        return False


def _check_filters(filters) -> SearchFilters:
    if filters is None:
        return SearchFilters()
    if not isinstance(filters, SearchFilters):
        raise ParameterError("filters must be a SearchFilters.")
    for bound in (filters.min_duration, filters.max_duration):
        if bound is not None and not (isinstance(bound, (int, float)) and _finite(bound)):
            raise ParameterError("Duration bounds must be numbers of seconds.")
    for name in ("text", "annotator"):
        if getattr(filters, name) is not None and not isinstance(getattr(filters, name), str):
            raise ParameterError(f"The {name} filter must be text.")
    if filters.has_audio is not None and not isinstance(filters.has_audio, (bool, np.bool_)):
        raise ParameterError("The audio filter must be yes (True), no (False) or unset (None).")
    return filters


def compared_curves(index, results: pd.DataFrame, valence_curve=None, arousal_curve=None, *,
                    source="human", znorm=False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The drawn profile and the matched songs' curves as :func:`match_profile` compared them.

    Whole-song matches are resampled to :data:`SKETCH_LENGTH` points, segment matches (rows
    with ``start`` and ``end``) cut to the matched stretch and resampled to its number of
    frames; with ``znorm`` each curve and the profile are z-normalised per dimension (a
    flat curve keeps a standard deviation of 1, as in the search).

    Parameters
    ----------
    results : pandas.DataFrame
        The answer of :func:`match_profile` (``song_id``, ``title``, maybe ``start``/``end``).
    valence_curve, arousal_curve, source, znorm
        As given to :func:`match_profile`.

    Returns
    -------
    sketch : pandas.DataFrame
        Columns ``position`` (0–1), ``dimension``, ``value``.
    matches : pandas.DataFrame
        The same plus ``song_id`` and ``title``, one line per (song, dimension).
    """
    store = _curve_store(index, source)
    row_of = {int(s): i for i, s in enumerate(store.song_ids)}
    drawn = {d: np.asarray(c, dtype=np.float64) for d, c in (("valence", valence_curve), ("arousal", arousal_curve))
             if c is not None}
    segment = "start" in results and "end" in results

    def shaped(x, n):
        x = _resample(x, n)
        if znorm:
            sd = x.std()
            x = (x - x.mean()) / (sd if sd >= 1e-8 else 1.0)
        return x

    sketch, matches = [], []
    for row in results.itertuples():
        i = row_of.get(int(row.song_id))
        if i is None:
            continue
        begin, stop = int(store.offsets[i]), int(store.offsets[i + 1])
        if segment and pd.notna(row.start):
            first = begin + int(round((row.start - store.t0s[i]) / store.hops[i]))
            stop = begin + int(round((row.end - store.t0s[i]) / store.hops[i])) + 1
            begin = first
        n = stop - begin if segment else SKETCH_LENGTH
        for dim in drawn:
            values = shaped(store.flat[0 if dim == "valence" else 1, begin:stop], n)
            matches.append(pd.DataFrame({"position": np.linspace(0, 1, n), "dimension": dim, "value": values,
                                         "song_id": int(row.song_id), "title": getattr(row, "title", "")}))
    n = SKETCH_LENGTH
    for dim, curve in drawn.items():
        sketch.append(pd.DataFrame({"position": np.linspace(0, 1, n), "dimension": dim,
                                    "value": shaped(curve, n)}))
    empty = pd.DataFrame(columns=["position", "dimension", "value", "song_id", "title"])
    return (pd.concat(sketch, ignore_index=True) if sketch else empty[["position", "dimension", "value"]],
            pd.concat(matches, ignore_index=True) if matches else empty)
