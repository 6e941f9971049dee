"""Profile search: songs whose emotion evolves like a drawn profile.

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

import numpy as np
import pandas as pd

from emolab.exceptions import ParameterError
from emolab.index import search_sql
from emolab.search.dtw import (_envelope, _envelope_distance, _rerank_segments, _rerank_whole,
                               _scan_windows)
from emolab.search.store import SKETCH_LENGTH, _curve_store, _resample, _static_store
from emolab.search.topk import _top_k
from emolab.search.validation import (METRICS, MODES, SOURCES, _allowed, _check_band,
                                      _check_candidates, _check_choice, _check_filters, _check_k,
                                      _check_penalty, _check_profile, _check_seconds)

#: Songs re-ranked with exact DTW after the coarse stage.
DEFAULT_CANDIDATES = 300
#: Cost of a DTW step that repeats a point (squared [-1, 1] units); see match_profile.
DEFAULT_STEP_PENALTY = 0.005


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



def _znorm_rows(q: np.ndarray) -> np.ndarray:
    sd = q.std(axis=1, keepdims=True)
    return (q - q.mean(axis=1, keepdims=True)) / np.where(sd < 1e-8, 1.0, sd)



def warm_up(index, *, source="human") -> None:
    """Build the stores of ``source`` now (and compile the kernels) so the first search is fast."""
    _static_store(index, source)
    store = _curve_store(index, source)
    match_profile(index, np.linspace(-0.5, 0.5, 8), None, 1, source=source)
    if store.n_songs:
        match_profile(index, np.linspace(-0.5, 0.5, 8), None, 1, source=source, mode="segment",
                      segment_seconds=float(store.hops[0]) * 4)

