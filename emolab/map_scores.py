"""How well a 2-D map of songs orders emotion, scored honestly.

A map's score is the R² of a k-nearest-neighbour regression of valence (arousal) in the
map. For a map learnt from labels (the TNN embedding), songs whose labels trained it sit
where their own labels put them, so they are scored out: :func:`embedder_saw` says which
songs those are and ``knn_emotion_score(..., score_on=~seen)`` scores only the others.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Neighbours of the k-NN regression that scores a map.
SCORE_K = 10


def knn_emotion_score(coords, valence, arousal, *, k: int = SCORE_K, folds: int = 5,
                      random_state: int = 0, score_on=None) -> dict:
    """How well a 2-D map orders emotion: cross-validated R² of k-NN regression in the map.

    Each song's valence (arousal) is predicted from its ``k`` nearest neighbours on the
    map, with the song itself held out (``folds``-fold cross-validation). 1 means the
    map places songs of equal emotion together; 0 means it is no better than the mean.

    Parameters
    ----------
    coords : np.ndarray, shape (n, 2)
    valence, arousal : np.ndarray, shape (n,)
        NaN where a song has no value; those songs are left out of that score.
    score_on : np.ndarray of bool, shape (n,), optional
        Score only these songs, each predicted from its ``k`` nearest *other* songs
        (leave-one-out; all songs may be neighbours). For maps whose coordinates were
        learnt from some songs' labels: score on the songs that were not.

    Returns
    -------
    dict
        ``r2_valence``, ``r2_arousal`` (None when fewer than 2·``folds`` songs have a
        value), ``n_valence``, ``n_arousal``, ``k``.
    """
    if score_on is not None:
        return _knn_score_on(coords, valence, arousal, np.asarray(score_on, dtype=bool),
                             k=k, minimum=2 * folds)
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.metrics import r2_score

    coords = np.asarray(coords, dtype=np.float64)
    out = {"k": int(k)}
    for name, target in (("valence", valence), ("arousal", arousal)):
        y = np.asarray(target, dtype=np.float64)
        keep = np.isfinite(y) & np.all(np.isfinite(coords), axis=1)
        n = int(keep.sum())
        out[f"n_{name}"] = n
        if n < 2 * folds or np.ptp(y[keep]) == 0:
            out[f"r2_{name}"] = None
            continue
        n_train = n - int(np.ceil(n / folds))
        model = KNeighborsRegressor(n_neighbors=max(1, min(k, n_train)))
        cv = KFold(n_splits=folds, shuffle=True, random_state=random_state)
        predicted = cross_val_predict(model, coords[keep], y[keep], cv=cv)
        out[f"r2_{name}"] = float(r2_score(y[keep], predicted))
    return out


def _knn_score_on(coords, valence, arousal, score_on, *, k: int, minimum: int) -> dict:
    from sklearn.metrics import r2_score
    from sklearn.neighbors import NearestNeighbors

    coords = np.asarray(coords, dtype=np.float64)
    out = {"k": int(k)}
    for name, target in (("valence", valence), ("arousal", arousal)):
        y = np.asarray(target, dtype=np.float64)
        usable = np.isfinite(y) & np.all(np.isfinite(coords), axis=1)
        scored = np.flatnonzero(usable & score_on)
        out[f"n_{name}"] = int(len(scored))
        if len(scored) < minimum or np.ptp(y[scored]) == 0 or usable.sum() < 2:
            out[f"r2_{name}"] = None
            continue
        pool = np.flatnonzero(usable)
        n_neighbours = min(k, len(pool) - 1)
        finder = NearestNeighbors(n_neighbors=n_neighbours + 1).fit(coords[pool])
        _, found = finder.kneighbors(coords[scored])
        predicted = np.empty(len(scored))
        for row, (song, neighbours) in enumerate(zip(scored, pool[found])):
            others = neighbours[neighbours != song][:n_neighbours]
            predicted[row] = y[others].mean()
        out[f"r2_{name}"] = float(r2_score(y[scored], predicted))
    return out


#: Datasets (with their id ranges) whose songs trained the shipped static model's TNN
#: embedding: DEAM's feature table, and emoMusic songs 2–1000, which are DEAM songs too.
EMBEDDER_TRAINING_SONGS = {"deam": None, "emomusic": (2, 1000)}


def embedder_saw(index, song_ids, *, embedder=None) -> np.ndarray:
    """Which songs' labels trained the TNN embedding (their map positions are learnt).

    A model that records its training songs (``trained_on['song_ids']``, as models
    retrained in the app do) is asked directly; for the shipped model, every DEAM song
    and the emoMusic songs that are DEAM songs count as seen (each embedder saw 4/5 of
    DEAM; which 4/5 is not recorded, so all of it counts).

    Returns
    -------
    np.ndarray of bool, shape (n,)
    """
    from emolab.index import songs

    ids = np.asarray(song_ids, dtype=np.int64)
    if embedder is None:
        from emolab.projection import load_static_model

        embedder = load_static_model()
    model = embedder
    recorded = (getattr(model, "trained_on", None) or {}).get("song_ids")
    if recorded is not None:
        return np.isin(ids, np.asarray(recorded, dtype=np.int64))
    table = songs.song_table(index.con).set_index("song_id").reindex(ids)
    seen = np.zeros(len(ids), dtype=bool)
    for dataset, span in EMBEDDER_TRAINING_SONGS.items():
        mine = (table["dataset"] == dataset).to_numpy(dtype=bool, copy=True)
        if span is not None:
            number = pd.to_numeric(table["dataset_id"], errors="coerce").to_numpy()
            mine &= (number >= span[0]) & (number <= span[1])
        seen |= mine
    return seen
