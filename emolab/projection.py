"""2-D maps of feature spaces (t-SNE, UMAP), how well they order emotion, cached in the index.

The Explore page (the paper's Fig. 2, live) draws the raw feature space beside the TNN
embedding for the same songs::

    df = paired_maps(index, method="umap", params={"n_neighbors": 15})
    df[["raw_x", "raw_y", "tnn_x", "tnn_y", "valence", "arousal"]]
    df.attrs["raw_score"], df.attrs["tnn_score"]   # k-NN R² of valence/arousal in each map

Feature families: ``deam74`` (the TNN's own openSMILE inputs, imported DEAM rows
included), ``librosa`` (the broad spectral vector) and ``tnn`` (the static model's
triplet embedding of the ``deam74`` rows). A map is computed once and stored in the
index under a key made of family, method, parameters and the data version (row count
and newest song id of the feature rows, plus the model version for ``tnn``); it is
recomputed only when that key changes. Fitted UMAP models stay in this process so that
a new song is placed on an existing map by ``transform``, not a refit.
"""
from __future__ import annotations

import hashlib
import json
import threading
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emolab.exceptions import ModelError, ParameterError
from emolab.map_scores import (EMBEDDER_TRAINING_SONGS, SCORE_K, embedder_saw,  # noqa: F401
                               knn_emotion_score)

METHODS = ("umap", "tsne")
FAMILIES = ("deam74", "librosa", "tnn")
#: The defaults of each method's main parameters (UMAP: neighbours; t-SNE: perplexity).
DEFAULT_PARAMS = {
    "umap": {"n_neighbors": 15, "min_dist": 0.1},
    "tsne": {"perplexity": 30.0},
}
#: Fewer songs than this make no meaningful map.
MIN_SONGS = 5

_FITTED: "OrderedDict[str, FittedProjection]" = OrderedDict()
_FITTED_MAX = 8
_LOCK = threading.RLock()
_STATIC_MODELS: dict = {}


@dataclass
class FittedProjection:
    """A fitted map: fill values for missing features, the scaler and the reducer."""

    method: str
    params: dict
    fill_: np.ndarray
    scaler_: object
    reducer_: object
    song_ids_: np.ndarray | None = field(default=None)


# ------------------------------------------------------------------ fitting

def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ParameterError(f"Unknown map method '{method}'; choose 'umap' or 'tsne'.")
    return method


def _fill_missing(X: np.ndarray, fill: np.ndarray) -> np.ndarray:
    X = np.array(X, dtype=np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        X[bad] = np.broadcast_to(fill, X.shape)[bad]
    return X


def _column_means(X: np.ndarray) -> np.ndarray:
    X = np.where(np.isfinite(X), X, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
        means = np.nanmean(X, axis=0)
    return np.nan_to_num(means, nan=0.0)


def method_params(method: str, params: dict | None = None) -> dict:
    """A method's defaults updated with ``params``; unknown names are refused."""
    merged = dict(DEFAULT_PARAMS[_check_method(method)])
    allowed = set(merged) | {"n_epochs", "max_iter", "metric"}
    unknown = set(params or {}) - allowed
    if unknown:
        raise ParameterError(f"{method.upper()} has no parameter {', '.join(sorted(unknown))}; "
                             f"use {', '.join(sorted(allowed))}.")
    merged.update({k: v for k, v in (params or {}).items() if v is not None})
    return merged


def _reducer(method: str, n: int, params: dict, random_state: int):
    if method == "umap":
        import umap

        kwargs = {k: params[k] for k in ("n_epochs", "metric") if k in params}
        return umap.UMAP(n_components=2, n_neighbors=int(min(params["n_neighbors"], n - 1)),
                         min_dist=float(params["min_dist"]), random_state=random_state, n_jobs=1,
                         **kwargs)
    from sklearn.manifold import TSNE

    kwargs = {k: params[k] for k in ("max_iter", "metric") if k in params}
    perplexity = float(min(params["perplexity"], max(1.0, (n - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                random_state=random_state, **kwargs)


@contextmanager
def _quiet_single_thread():
    """One OpenMP thread and no UMAP/numba warnings.

    t-SNE's OpenMP threads spin-wait: on a busy 2-core machine a 40-song map took 20 s
    with two threads and 0.4 s with one.
    """
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        yield


def fit_projection(X, *, method: str = "umap", random_state: int = 0, **params):
    """Standardise a feature matrix and map it to 2-D with UMAP or t-SNE.

    Parameters
    ----------
    X : np.ndarray, shape (n, d)
        One row per song; missing values (NaN) are replaced by the column mean.
    method : {'umap', 'tsne'}
    random_state : int
        Seed; the same data and seed give the same map.
    **params
        ``n_neighbors`` (UMAP's main parameter, default 15; lowered to n − 1 for tiny
        sets), ``min_dist``, ``n_epochs``; ``perplexity`` (t-SNE's, default 30; lowered
        to (n − 1) / 3), ``max_iter``; ``metric`` for both.

    Returns
    -------
    coords : np.ndarray, shape (n, 2)
    fitted : FittedProjection
        Pass to :func:`project_new` (UMAP only).
    """
    from sklearn.preprocessing import StandardScaler

    params = method_params(method, params)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ParameterError(f"A map needs a 2-D feature matrix (songs × features), not shape {X.shape}.")
    if X.shape[0] < MIN_SONGS:
        raise ParameterError(f"A map needs at least {MIN_SONGS} songs with these features; "
                             f"there are {X.shape[0]}.")
    fill = _column_means(X)
    scaler = StandardScaler().fit(_fill_missing(X, fill))
    Z = scaler.transform(_fill_missing(X, fill))
    reducer = _reducer(method, X.shape[0], params, random_state)
    with _quiet_single_thread():
        coords = reducer.fit_transform(Z)
    fitted = FittedProjection(method=method, params={**params, "random_state": random_state},
                              fill_=fill, scaler_=scaler, reducer_=reducer)
    return np.asarray(coords, dtype=np.float64), fitted


def project_new(fitted: FittedProjection, X_new) -> np.ndarray:
    """Place new songs on an existing UMAP map without refitting it.

    Parameters
    ----------
    fitted : FittedProjection
        From :func:`fit_projection` with ``method='umap'``.
    X_new : np.ndarray, shape (m, d)
        Same features, same order as the map's training rows.

    Returns
    -------
    np.ndarray, shape (m, 2)
    """
    if fitted.method != "umap":
        raise ParameterError("A t-SNE map cannot place new songs (t-SNE has no transform); "
                             "use a UMAP map, or recompute the t-SNE map with the new songs included.")
    X_new = np.atleast_2d(np.asarray(X_new, dtype=np.float64))
    if X_new.shape[1] != fitted.fill_.shape[0]:
        raise ParameterError(f"The map was made from {fitted.fill_.shape[0]} features per song; "
                             f"the new songs have {X_new.shape[1]}.")
    Z = fitted.scaler_.transform(_fill_missing(X_new, fitted.fill_))
    with _quiet_single_thread():
        return np.asarray(fitted.reducer_.transform(Z), dtype=np.float64)


# ------------------------------------------------------------------ the index

def load_static_model(path=None):
    """The shipped static model, whose TNN embedding the ``tnn`` maps show.

    Loaded once per process and again only when its files change.
    """
    from emolab.config import MODELS_DIR

    from emolab.models.static import StaticEmotionModel
    path = Path(path or MODELS_DIR / "static")
    card = path / "model.json"
    stamp = (str(path), card.stat().st_mtime_ns if card.exists() else None)
    if stamp not in _STATIC_MODELS:
        _STATIC_MODELS.clear()
        _STATIC_MODELS[stamp] = StaticEmotionModel.load(path)  # ModelError says how to train it
    return _STATIC_MODELS[stamp]


def family_matrix(index, family: str, *, embedder=None):
    """The rows a map of ``family`` is made of.

    Parameters
    ----------
    index : emolab.index.Index
    family : {'deam74', 'librosa', 'tnn'}
    embedder : StaticEmotionModel, optional
        For ``tnn``: anything with ``embed(X)``, ``feature_columns`` and ``version``;
        default the shipped static model.

    Returns
    -------
    song_ids : np.ndarray, shape (n,)
    X : np.ndarray, shape (n, d)
    version : dict
        What the rows depend on (the cache key includes it).
    """
    from emolab.index import projections, vectors

    if family not in FAMILIES:
        raise ParameterError(f"Unknown feature space '{family}'; choose one of {', '.join(FAMILIES)}.")
    con = index.con
    source = "deam74" if family == "tnn" else family
    version = projections.feature_data_version(con, source)
    ids, X, _ = vectors.get_features(con, source)
    if family != "tnn":
        return ids, X.astype(np.float64), version
    model = embedder if embedder is not None else load_static_model()
    columns = vectors.family_columns(con, "deam74") or []
    missing = [c for c in model.feature_columns if c not in columns]
    if len(ids) and missing:
        raise ModelError(f"The static model needs DEAM features the index does not hold "
                         f"({', '.join(missing[:3])}...); retrain it with python -m emolab train-static.")
    version = {**version, "model": model_fingerprint(model)}
    if not len(ids):
        return ids, np.zeros((0, 2)), version
    X = X[:, [columns.index(c) for c in model.feature_columns]].astype(np.float64)
    complete = np.all(np.isfinite(X), axis=1)  # the model refuses songs with missing values
    return ids[complete], np.asarray(model.embed(X[complete]), dtype=np.float64), version


def family_sizes(index) -> dict:
    """How many songs have each raw feature family (``{"deam74": n, "librosa": m}``)."""
    from emolab.index import projections

    return {f: projections.feature_data_version(index.con, f)["rows"] for f in ("deam74", "librosa")}


def model_fingerprint(model) -> str:
    """The model's version plus a digest of its training record.

    The version names only the training day, so a model retrained the same day still
    gets a new fingerprint (and fresh ``tnn`` maps).
    """
    record = json.dumps([getattr(model, "trained_on", None), getattr(model, "cv_scores", None)],
                        sort_keys=True, default=str)
    return f"{getattr(model, 'version', 'unknown')}-{hashlib.sha1(record.encode()).hexdigest()[:8]}"


def _model_version(family: str, embedder) -> str:
    if family != "tnn":
        return ""
    return model_fingerprint(embedder if embedder is not None else load_static_model())


def map_key(family: str, method: str, params: dict, version: dict) -> tuple[str, str]:
    """``(stem, key)`` of a map: the stem names family, method and parameters."""
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    stem = f"{family}:{method}:{digest}:"
    tag = f"r{version['rows']}-m{version['max_song_id']}"
    if version.get("model"):
        tag += f"-{version['model']}"
    return stem, stem + tag


def emotion_labels(index, song_ids, *, source: str = "human") -> pd.DataFrame:
    """Title, artist, origin and static valence/arousal of songs, in the order given.

    ``source='human'`` averages the songs' static annotations; ``'predicted'`` takes the
    newest static prediction. Songs without a value get NaN.
    """
    from emolab.index import songs

    if source not in ("human", "predicted"):
        raise ParameterError("Colour the map by 'human' annotations or 'predicted' values.")
    prefix = "human" if source == "human" else "pred"
    table = songs.song_table(index.con).set_index("song_id")
    table = table.reindex(np.asarray(song_ids, dtype=np.int64))
    return pd.DataFrame({
        "song_id": np.asarray(song_ids, dtype=np.int64),
        "title": table["title"].to_numpy(), "artist": table["artist"].to_numpy(),
        "origin": table["origin"].to_numpy(),
        "valence": table[f"{prefix}_valence"].to_numpy(dtype=np.float64),
        "arousal": table[f"{prefix}_arousal"].to_numpy(dtype=np.float64),
    })


def _scores(index, song_ids, coords) -> dict:
    scores = {}
    for source in ("human", "predicted"):
        labels = emotion_labels(index, song_ids, source=source)
        scores[source] = knn_emotion_score(coords, labels["valence"], labels["arousal"])
    return scores


def _remember(key: str, fitted: FittedProjection) -> None:
    _FITTED[key] = fitted
    _FITTED.move_to_end(key)
    while len(_FITTED) > _FITTED_MAX:
        _FITTED.popitem(last=False)


def _frame(coords: pd.DataFrame, key: str, meta: dict, cached: bool) -> pd.DataFrame:
    coords = coords.reset_index(drop=True)
    coords.attrs.update({"key": key, "params": meta["params"], "score": meta["score"],
                         "created_at": meta["created_at"], "cached": cached})
    return coords


def get_or_compute_map(index, *, family: str, method: str = "umap", params: dict | None = None,
                       embedder=None, random_state: int = 0) -> pd.DataFrame:
    """A 2-D map of one feature space, from the index or computed and stored there.

    Parameters
    ----------
    index : emolab.index.Index
        A writable index (the map is stored in it).
    family : {'deam74', 'librosa', 'tnn'}
    method : {'umap', 'tsne'}
    params : dict, optional
        Method parameters (see :func:`fit_projection`).
    embedder : StaticEmotionModel, optional
        For ``tnn`` (default: the shipped static model).

    Returns
    -------
    pd.DataFrame
        Columns ``song_id``, ``x``, ``y``. ``attrs`` holds ``key``, ``params``,
        ``score`` (k-NN R² against human and predicted emotion when the map was made),
        ``created_at`` and ``cached`` (False when computed by this call).
    """
    from emolab.index import projections

    params = {**method_params(method, params), "random_state": int(random_state)}
    if family not in FAMILIES:
        raise ParameterError(f"Unknown feature space '{family}'; choose one of {', '.join(FAMILIES)}.")
    source = "deam74" if family == "tnn" else family
    with _LOCK:
        version = projections.feature_data_version(index.con, source)
        if family == "tnn":
            version["model"] = _model_version(family, embedder)
        stem, key = map_key(family, method, params, version)
        stored = projections.get_projection(index.con, key)
        if stored is not None:
            return _frame(stored[0], key, stored[1], cached=True)
        return _compute(index, family=family, method=method, params=params, embedder=embedder,
                        stem=stem, key=key)


def _compute(index, *, family, method, params, embedder, stem, key) -> pd.DataFrame:
    from emolab.index import projections

    ids, X, version = family_matrix(index, family, embedder=embedder)
    if len(ids) < MIN_SONGS:
        raise ParameterError(f"Only {len(ids)} songs have {family} features; a map needs at least "
                             f"{MIN_SONGS}. Add music or import a dataset first"
                             + (" (the librosa vector is stored only when asked for: "
                                "emolab ingest --librosa)." if family == "librosa" else "."))
    fit_args = {k: v for k, v in params.items() if k != "random_state"}
    coords, fitted = fit_projection(X, method=method, random_state=params["random_state"], **fit_args)
    fitted.song_ids_ = ids
    score = _scores(index, ids, coords)
    stored_params = {"family": family, "method": method, **params, "data_version": version}
    with index.transaction() as con:
        projections.put_projection(con, key, ids, coords, params=stored_params, score=score, stem=stem)
    _remember(key, fitted)
    stored = projections.get_projection(index.con, key)
    return _frame(stored[0], key, stored[1], cached=False)


def place_new(index, X_new, *, family: str, params: dict | None = None, embedder=None,
              random_state: int = 0) -> np.ndarray:
    """Place new songs on the stored UMAP map of ``family`` (by ``transform``, no refit).

    Parameters
    ----------
    X_new : np.ndarray, shape (m, d)
        The new songs' features of ``family`` (for ``tnn``: their ``deam74`` rows, in
        the index's ``deam74`` column order).

    Returns
    -------
    np.ndarray, shape (m, 2)

    When this process has not fitted the map yet (it was read from the index), it is
    fitted again with the same seed and stored again so map and placement agree.
    """
    from emolab.index import vectors

    frame = get_or_compute_map(index, family=family, method="umap", params=params, embedder=embedder,
                               random_state=random_state)
    key = frame.attrs["key"]
    if key not in _FITTED:
        with _LOCK:
            stem = key[: key.rindex(":") + 1]
            all_params = {**method_params("umap", params), "random_state": int(random_state)}
            _compute(index, family=family, method="umap", params=all_params, embedder=embedder,
                     stem=stem, key=key)
    X_new = np.atleast_2d(np.asarray(X_new, dtype=np.float64))
    if family == "tnn":
        model = embedder if embedder is not None else load_static_model()
        columns = vectors.family_columns(index.con, "deam74") or []
        X_new = np.asarray(model.embed(X_new[:, [columns.index(c) for c in model.feature_columns]]))
    return project_new(_FITTED[key], X_new)


def paired_maps(index, *, method: str = "umap", params: dict | None = None, color_by: str = "valence",
                source: str = "human", raw_family: str = "deam74", embedder=None) -> pd.DataFrame:
    """The raw feature space and the TNN embedding mapped side by side, for the same songs.

    Parameters
    ----------
    method : {'umap', 'tsne'}
    params : dict, optional
        Method parameters (see :func:`fit_projection`).
    color_by : {'valence', 'arousal'}
        Which value goes to the ``colour`` column.
    source : {'human', 'predicted'}
        Human annotations (averaged) or the newest predictions.
    raw_family : {'deam74', 'librosa'}
        The raw space drawn beside the TNN embedding.

    Returns
    -------
    pd.DataFrame
        One row per song present in both maps: ``song_id``, ``title``, ``artist``,
        ``origin``, ``valence``, ``arousal``, ``colour``, ``raw_x``, ``raw_y``, ``tnn_x``,
        ``tnn_y``. ``attrs``: ``raw_score`` and ``tnn_score`` (k-NN R² of these songs'
        ``source`` values in each map; each says what it was scored on in ``scored_on``),
        ``raw_key``, ``tnn_key``, ``source``, ``color_by``. The TNN map is scored only on
        songs whose labels did not train the embedding (:func:`embedder_saw`), since the
        others sit where their own labels put them; ``tnn_score`` adds ``n_seen`` and
        ``n_unseen``.
    """
    if color_by not in ("valence", "arousal"):
        raise ParameterError("Colour the map by 'valence' or 'arousal'.")
    if raw_family not in ("deam74", "librosa"):
        raise ParameterError("The raw space is 'deam74' or 'librosa'.")
    raw = get_or_compute_map(index, family=raw_family, method=method, params=params)
    tnn = get_or_compute_map(index, family="tnn", method=method, params=params, embedder=embedder)
    both = raw.rename(columns={"x": "raw_x", "y": "raw_y"}).merge(
        tnn.rename(columns={"x": "tnn_x", "y": "tnn_y"}), on="song_id")
    labels = emotion_labels(index, both["song_id"], source=source)
    out = labels.assign(colour=labels[color_by], raw_x=both["raw_x"].to_numpy(),
                        raw_y=both["raw_y"].to_numpy(), tnn_x=both["tnn_x"].to_numpy(),
                        tnn_y=both["tnn_y"].to_numpy())
    seen = embedder_saw(index, out["song_id"], embedder=embedder)
    raw_score = knn_emotion_score(out[["raw_x", "raw_y"]].to_numpy(), out["valence"], out["arousal"])
    raw_score["scored_on"] = "all songs (5-fold cross-validation)"
    tnn_score = knn_emotion_score(out[["tnn_x", "tnn_y"]].to_numpy(), out["valence"], out["arousal"],
                                  score_on=~seen)
    tnn_score.update({"scored_on": "only songs the embedding never saw (leave-one-out)",
                      "n_seen": int(seen.sum()), "n_unseen": int((~seen).sum())})
    out.attrs.update({
        "raw_score": raw_score, "tnn_score": tnn_score,
        "raw_key": raw.attrs["key"], "tnn_key": tnn.attrs["key"], "source": source, "color_by": color_by,
    })
    return out
