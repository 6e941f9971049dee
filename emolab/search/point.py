"""Point search: songs whose static emotion lies nearest to a point of the valence–arousal plane."""
from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from emolab.index import search_sql
from emolab.search.store import _static_store
from emolab.search.topk import _top_k
from emolab.search.validation import (SOURCES, _allowed, _check_choice, _check_filters, _check_k,
                                      _check_value)


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



@numba.njit(cache=True, nogil=True)
def _squared_distance(valence, arousal, v, a):
    """Squared distance of every (valence, arousal) pair to the point (v, a)."""
    out = np.empty(len(valence))
    for i in range(len(valence)):
        out[i] = (valence[i] - v) ** 2 + (arousal[i] - a) ** 2
    return out

