"""The k smallest scores, ties broken by song id: shared by point and profile search."""
from __future__ import annotations

import numba
import numpy as np


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

