"""Table 1 of the paper: SVR, PCA → SVR and TNN → SVR under K-fold cross-validation.

Three pipelines, one regressor per target:

* ``svr``      standardise → SVR
* ``pca_svr``  standardise → PCA(k) → SVR
* ``tnn_svr``  standardise → triplet embedding (k) → SVR

The SVR's hyper-parameters are chosen by an inner cross-validation on the training
folds only (:class:`TunedSVR`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.decomposition import PCA
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from sklearn.utils.validation import check_is_fitted

from emolab.exceptions import ParameterError
from emolab.models.static import TABLE1_TNN, TARGETS, _check_training_data
from emolab.models.tnn import TripletConfig, TripletEmbedder, default_n_components

PIPELINES = ("svr", "pca_svr", "tnn_svr")


# --------------------------------------------------------------------------- SVR head
@dataclass(frozen=True)
class SVRGrid:
    """The SVR hyper-parameters searched by inner cross-validation.

    ``gamma`` is ``factor / n_dims`` for each factor (inputs are standardised, so the RBF
    kernel's scale grows with the number of dimensions).
    """

    C: tuple = (0.3, 1.0, 3.0)
    gamma_factors: tuple = (0.1, 0.3, 1.0)
    epsilon: tuple = (0.1,)
    inner_folds: int = 3


class TunedSVR(RegressorMixin, BaseEstimator):
    """An RBF SVR whose C, gamma and epsilon are chosen by inner K-fold CV (R²).

    Attributes
    ----------
    svr_ : SVR
        Refitted on all the data given to ``fit`` with the best parameters.
    best_params_ : dict
    """

    def __init__(self, C=(0.3, 1.0, 3.0), gamma_factors=(0.1, 0.3, 1.0), epsilon=(0.1,), inner_folds=3,
                 random_state=0):
        self.C = C
        self.gamma_factors = gamma_factors
        self.epsilon = epsilon
        self.inner_folds = inner_folds
        self.random_state = random_state

    @classmethod
    def from_grid(cls, grid: SVRGrid, random_state=0) -> "TunedSVR":
        return cls(C=grid.C, gamma_factors=grid.gamma_factors, epsilon=grid.epsilon,
                   inner_folds=grid.inner_folds, random_state=random_state)

    def fit(self, X, y, sample_weight=None):
        X = np.asarray(X, dtype=np.float64)
        gammas = [float(f) / X.shape[1] for f in self.gamma_factors]
        grid = {"C": list(self.C), "gamma": gammas, "epsilon": list(self.epsilon)}
        if len(grid["C"]) * len(gammas) * len(grid["epsilon"]) == 1:
            self.best_params_ = {k: v[0] for k, v in grid.items()}
        else:
            search = GridSearchCV(SVR(), grid, scoring="r2", refit=False,
                                  cv=KFold(self.inner_folds, shuffle=True, random_state=self.random_state))
            search.fit(X, y, sample_weight=sample_weight)
            self.best_params_ = search.best_params_
        self.svr_ = SVR(**self.best_params_).fit(X, y, sample_weight=sample_weight)
        return self

    def predict(self, X):
        check_is_fitted(self, "svr_")
        return self.svr_.predict(np.asarray(X, dtype=np.float64))


# --------------------------------------------------------------------------- Table 1
def table1_pipeline(kind: str, *, n_components: int, grid: SVRGrid = SVRGrid(),
                    tnn: TripletConfig | None = None, random_state: int = 0) -> Pipeline:
    """One of the three Table 1 pipelines for one target.

    Parameters
    ----------
    kind : {'svr', 'pca_svr', 'tnn_svr'}
    n_components : int
        Dimension of the PCA / triplet embedding.
    grid : SVRGrid
    tnn : TripletConfig, optional
        Embedder settings (``n_components`` and ``random_state`` are overridden).
    random_state : int

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    head = ("svr", TunedSVR.from_grid(grid, random_state=random_state))
    if kind == "svr":
        return Pipeline([("scale", StandardScaler()), head])
    if kind == "pca_svr":
        return Pipeline([("scale", StandardScaler()), ("pca", PCA(n_components, random_state=random_state)),
                         ("rescale", StandardScaler()), head])
    if kind == "tnn_svr":
        config = replace(tnn or TABLE1_TNN, n_components=n_components, random_state=random_state)
        return Pipeline([("scale", StandardScaler()), ("tnn", TripletEmbedder.from_config(config)),
                         ("rescale", StandardScaler()), head])
    raise ParameterError(f"Unknown pipeline '{kind}'; choose one of {', '.join(PIPELINES)}.")


def run_table1(X: np.ndarray, Y: np.ndarray, *, folds: int = 10, seed: int = 0, n_components: int | None = None,
               pipelines=PIPELINES, grid: SVRGrid = SVRGrid(), tnn: TripletConfig | None = None,
               progress=None) -> pd.DataFrame:
    """K-fold cross-validation of the Table 1 pipelines (same folds for all).

    Parameters
    ----------
    X : np.ndarray, shape (n, d)
        Raw features.
    Y : np.ndarray, shape (n, 2)
        Valence and arousal on [-1, 1].
    folds, seed : int
    n_components : int, optional
        PCA / TNN dimension; default about 10 % of ``d``.
    progress : callable(str), optional
        Called with a line after each fold.

    Returns
    -------
    DataFrame
        Columns ``pipeline, target, fold, r2``.
    """
    X, Y = _check_training_data(X, Y)
    k = n_components or default_n_components(X.shape[1])
    rows = []
    for fold, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(X)):
        for kind in pipelines:
            for j, target in enumerate(TARGETS):
                model = table1_pipeline(kind, n_components=k, grid=grid, tnn=tnn, random_state=seed + fold)
                model.fit(X[train], Y[train, j])
                rows.append((kind, target, fold, r2_score(Y[test, j], model.predict(X[test]))))
            if progress:
                last = [r[3] for r in rows[-2:]]
                progress(f"fold {fold + 1}/{folds} {kind}: R² valence {last[0]:.3f}, arousal {last[1]:.3f}")
    return pd.DataFrame(rows, columns=["pipeline", "target", "fold", "r2"])
