"""Checking what a search is given, in sentences a musicologist understands; filters."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emolab.exceptions import ParameterError
from emolab.index import search_sql

#: A drawn profile may hold at most this many points per dimension.
MAX_PROFILE_POINTS = 10_000
#: Songs re-ranked with exact DTW after the coarse stage.
#: Largest k accepted.
MAX_K = 10_000
#: Largest number of songs re-ranked with exact DTW.
MAX_CANDIDATES = 1_000_000
#: A z-normalised profile needs at least this standard deviation to have a shape.
FLAT_STD = 1e-3
SOURCES = ("human", "predicted")
MODES = ("whole", "segment")
METRICS = ("dtw", "euclidean")


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
