"""Emotion search: songs near a point of the valence–arousal plane, and songs whose
emotion evolves like a drawn profile.

Two questions a musicologist can ask of the index:

* :func:`nearest_point` — which songs have a static emotion close to (valence, arousal)?
* :func:`match_profile` — which songs' valence and arousal *curves* follow this drawn
  profile, over the whole song (``mode="whole"``) or anywhere inside it for a given
  number of seconds (``mode="segment"``)?

One module per concept:

* :mod:`emolab.search.point` — point search;
* :mod:`emolab.search.profile` — profile search (coarse stage, exact re-ranking, the
  ``exact`` guarantee);
* :mod:`emolab.search.dtw` — :func:`dtw_distance`, LB_Keogh and the numba kernels;
* :mod:`emolab.search.store` — in-memory sketches of every curve, rebuilt when the index changes;
* :mod:`emolab.search.topk` — the k smallest scores, ties by song id;
* :mod:`emolab.search.validation` — :class:`SearchFilters` and the checks of every argument;
* :mod:`emolab.search.overlay` — :func:`compared_curves`, the curves as a search compared them.
"""
from emolab.search.dtw import dtw_distance
from emolab.search.overlay import compared_curves
from emolab.search.point import nearest_point
from emolab.search.profile import DEFAULT_CANDIDATES, DEFAULT_STEP_PENALTY, match_profile, warm_up
from emolab.search.store import SKETCH_LENGTH, _resample, clear_cache
from emolab.search.validation import (FLAT_STD, MAX_CANDIDATES, MAX_K, MAX_PROFILE_POINTS, METRICS,
                                      MODES, SOURCES, SearchFilters)

__all__ = ["nearest_point", "match_profile", "compared_curves", "dtw_distance", "SearchFilters", "warm_up",
           "clear_cache", "SKETCH_LENGTH", "MAX_PROFILE_POINTS", "DEFAULT_CANDIDATES",
           "DEFAULT_STEP_PENALTY", "MAX_K", "MAX_CANDIDATES", "FLAT_STD", "SOURCES", "MODES",
           "METRICS"]
