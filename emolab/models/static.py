"""Static (whole-song) emotion: the Table 1 pipelines and the shipped predictor.

Table 1 of the paper compares three pipelines, one regressor per target:

* ``svr``      standardise → SVR
* ``pca_svr``  standardise → PCA(k) → SVR
* ``tnn_svr``  standardise → triplet embedding (k) → SVR

The SVR's hyper-parameters are chosen by an inner cross-validation on the training
folds only (:class:`TunedSVR`).

:class:`StaticEmotionModel` is the shipped predictor: an ensemble of fold models, each
power-transforming (Yeo-Johnson) the features, embedding them with a
:class:`TripletEmbedder` mined on the joint (valence, arousal) point, and predicting each
target with the average of an SVR, a ridge regression and gradient-boosted trees
(scikit-learn's ``HistGradientBoostingRegressor``). Which inputs the heads see
(features, embedding or both) is a setting; cross-validation on DEAM favoured the
features alone, so by default the embedding serves :meth:`StaticEmotionModel.embed`
(maps of the collection) and not the prediction. The uncertainty is the spread of the
fold models, rescaled so that on held-out songs it matches the size of the actual errors.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PowerTransformer, StandardScaler
from sklearn.svm import SVR
from sklearn.utils.validation import check_is_fitted

from emolab.config import MODELS_DIR
from emolab.exceptions import ModelError, ParameterError
from emolab.models.tnn import TripletConfig, TripletEmbedder, default_n_components

TARGETS = ("valence", "arousal")
PIPELINES = ("svr", "pca_svr", "tnn_svr")
HEADS = ("svr", "ridge", "hgb")
FORMAT_VERSION = 2

#: DEAM columns that openSMILE cannot recompute from audio (kept identical to
#: ``emolab.features.deam``; used only if that module is unavailable).
NON_RECOMPUTABLE_COLUMNS = (
    "pcm_RMSenergy_sma_de_amean",
    "audSpec_Rfilt_sma[0]_amean", "audSpec_Rfilt_sma[0]_stddev",
    "audSpec_Rfilt_sma[1]_amean", "audSpec_Rfilt_sma[1]_stddev",
    "audspecRasta_lengthL1norm_sma_amean", "audspecRasta_lengthL1norm_sma_stddev",
)


def recomputable_columns(columns) -> list[str]:
    """The columns of ``columns`` that EmoLab can recompute from audio, in table order."""
    try:
        from emolab.features.deam import RECOMPUTABLE_COLUMNS
        keep = set(RECOMPUTABLE_COLUMNS)
        return [c for c in columns if c in keep]
    except ImportError:
        return [c for c in columns if c not in NON_RECOMPUTABLE_COLUMNS]


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


#: The embedder used for Table 1 and the shipped model: short training with input noise
#: and dropout, because longer training lets the embedding memorise the training labels
#: and the SVR fitted on top of it then over-trusts it (see docs/results/table1.md).
TABLE1_TNN = TripletConfig(hidden_units=64, epochs=5, dropout=0.3, input_noise=0.5, weight_decay=1e-3)


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


def _check_training_data(X, Y):
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or Y.shape != (X.shape[0], 2):
        raise ParameterError("Expected features (songs × features) and labels (songs × 2); "
                             f"got {X.shape} and {Y.shape}.")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ParameterError("Some feature values or labels are missing (NaN); remove those songs first.")
    if np.any(np.ptp(Y, axis=0) == 0):
        raise ParameterError("A target has the same value for every song: there is nothing to learn from.")
    return X, Y


# --------------------------------------------------------------------------- shipped model
@dataclass(frozen=True)
class StaticConfig:
    """How the shipped static model is trained."""

    n_members: int = 5
    head_inputs: str = "features"  # 'features', 'embedding' or 'both'
    heads: tuple = ("svr", "ridge", "hgb")  # their predictions are averaged
    svr_C: float = 4.0
    svr_gamma_factor: float = 0.1
    svr_epsilon: float = 0.1
    ridge_alphas: tuple = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
    hgb_iterations: int = 300
    hgb_learning_rate: float = 0.03
    hgb_leaves: int = 15
    hgb_min_leaf: int = 20
    hgb_l2: float = 1.0
    tnn: TripletConfig = field(default_factory=lambda: replace(TABLE1_TNN, n_components=8))
    random_state: int = 0


class _Member:
    """One fold model: power transform → joint V/A embedding → averaged heads per target."""

    def __init__(self, config: StaticConfig, seed: int):
        self.config = config
        self.seed = seed

    def fit(self, X, Y):
        self.bounds_ = np.vstack([X.min(axis=0), X.max(axis=0)])
        self.transform_ = PowerTransformer().fit(X)
        Z = self.transform_.transform(X)
        tnn = replace(self.config.tnn, random_state=self.seed)
        self.embedder_ = TripletEmbedder.from_config(tnn).fit(Z, Y)
        E = self.embedder_.transform(Z)
        self.embedding_scale_ = StandardScaler().fit(E)
        H = self._head_inputs(Z, self.embedding_scale_.transform(E))
        self.heads_ = [[self._new_head(name, H.shape[1]).fit(H, Y[:, j]) for name in self.config.heads]
                       for j in range(Y.shape[1])]
        return self

    def _new_head(self, name, n_inputs):
        cfg = self.config
        if name == "svr":
            return SVR(C=cfg.svr_C, gamma=cfg.svr_gamma_factor / n_inputs, epsilon=cfg.svr_epsilon)
        if name == "ridge":
            return RidgeCV(alphas=list(cfg.ridge_alphas))
        if name == "hgb":
            return HistGradientBoostingRegressor(max_iter=cfg.hgb_iterations, learning_rate=cfg.hgb_learning_rate,
                                                 max_leaf_nodes=cfg.hgb_leaves, min_samples_leaf=cfg.hgb_min_leaf,
                                                 l2_regularization=cfg.hgb_l2, early_stopping=False,
                                                 random_state=self.seed)
        raise ParameterError(f"Unknown head '{name}'; choose 'svr', 'ridge' or 'hgb'.")

    def _head_inputs(self, Z, E):
        return {"features": Z, "embedding": E, "both": np.hstack([Z, E])}[self.config.head_inputs]

    def _transform(self, X):
        # Yeo-Johnson powers extrapolate explosively: values outside the training range
        # (common for features recomputed from new audio) are clipped to it first.
        return self.transform_.transform(np.clip(X, self.bounds_[0], self.bounds_[1]))

    def embed(self, X):
        return self.embedder_.transform(self._transform(X))

    def predict(self, X):
        from emolab.models.fast_heads import member_predict

        return member_predict(self, X)  # transform → heads → average, without per-call overhead


class StaticEmotionModel:
    """The shipped static emotion predictor (an ensemble of fold models).

    Parameters
    ----------
    config : StaticConfig

    Attributes
    ----------
    feature_columns : list of str
        The DEAM column names expected by :meth:`predict`, in order.
    version : str
    cv_scores : dict
        Cross-validated R² of the training recipe (filled by :meth:`fit`).
    feature_mean, feature_std : np.ndarray, shape (len(feature_columns),)
        The training songs' raw feature statistics (to spot songs unlike the training set).
    """

    def __init__(self, config: StaticConfig | None = None):
        self.config = config or StaticConfig()
        self.feature_columns: list[str] = []
        self.version = ""
        self.members: list[_Member] = []
        self.std_scale = np.ones(2)
        self.cv_scores: dict = {}
        self.trained_on: dict = {}
        self.feature_mean = np.zeros(0)
        self.feature_std = np.zeros(0)

    # ---- training
    def fit(self, X, Y, feature_columns, *, progress=None) -> "StaticEmotionModel":
        """Train the fold models and calibrate the uncertainty.

        Parameters
        ----------
        X : np.ndarray, shape (n, d)
            Raw DEAM features, columns ``feature_columns``.
        Y : np.ndarray, shape (n, 2)
            Valence and arousal on [-1, 1].
        feature_columns : list of str
        progress : callable(str), optional

        Returns
        -------
        self
        """
        X, Y = _check_training_data(X, Y)
        unknown = sorted(set(self.config.heads) - set(HEADS))
        if unknown or not self.config.heads:
            raise ParameterError(f"Unknown or missing head(s) {', '.join(unknown) or '(none given)'}; "
                                 f"choose from {', '.join(HEADS)}.")
        if X.shape[1] != len(feature_columns):
            raise ParameterError(f"{X.shape[1]} feature columns given but {len(feature_columns)} names.")
        started = time.time()
        cfg = self.config
        held_out = np.zeros_like(Y)
        self.members = []
        splits = KFold(cfg.n_members, shuffle=True, random_state=cfg.random_state).split(X)
        for i, (train, test) in enumerate(splits):
            member = _Member(cfg, seed=cfg.random_state + i).fit(X[train], Y[train])
            self.members.append(member)
            held_out[test] = member.predict(X[test])
            if progress:
                progress(f"fold model {i + 1}/{cfg.n_members} trained ({time.time() - started:.0f} s)")
        spread = np.stack([m.predict(X) for m in self.members]).std(axis=0)
        residual = held_out - Y
        self.std_scale = np.sqrt((residual ** 2).mean(axis=0) / np.maximum((spread ** 2).mean(axis=0), 1e-12))
        self.cv_scores = {
            "protocol": f"{cfg.n_members}-fold cross-validation: each fold model scored on the songs it did not see",
            **{f"r2_{t}": float(r2_score(Y[:, j], held_out[:, j])) for j, t in enumerate(TARGETS)},
            **{f"rmse_{t}": float(np.sqrt((residual[:, j] ** 2).mean())) for j, t in enumerate(TARGETS)},
        }
        self.feature_columns = list(feature_columns)
        self.feature_mean, self.feature_std = X.mean(axis=0), X.std(axis=0)
        uses_embedding = "tnn-" if cfg.head_inputs != "features" else ""
        self.version = f"static-{uses_embedding}{'-'.join(cfg.heads)}-{date.today().isoformat()}"
        self.trained_on = {"n_songs": int(len(X)), "seconds": round(time.time() - started, 1)}
        return self

    # ---- prediction
    def _check_input(self, X) -> np.ndarray:
        if not self.members:
            raise ModelError("This static model is not trained yet. Train it with: python -m emolab train-static")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != len(self.feature_columns):
            raise ModelError(f"The static model expects {len(self.feature_columns)} DEAM feature values per song "
                             f"(its feature_columns) but was given {X.shape[-1]}.")
        bad = ~np.all(np.isfinite(X), axis=1)
        if bad.any():
            raise ModelError(f"{int(bad.sum())} song(s) have missing (NaN) or infinite feature values; "
                             "the static model cannot predict them.")
        return X

    def predict(self, X):
        """Valence and arousal with their uncertainty.

        Parameters
        ----------
        X : np.ndarray, shape (n, len(feature_columns))
            Raw DEAM features.

        Returns
        -------
        mean : np.ndarray, shape (n, 2)
            (valence, arousal) on [-1, 1].
        std : np.ndarray, shape (n, 2)
            Their uncertainty: the fold models' spread, calibrated on held-out songs.
        """
        X = self._check_input(X)
        preds = np.stack([m.predict(X) for m in self.members])
        return preds.mean(axis=0), preds.std(axis=0) * self.std_scale

    def embed(self, X):
        """The triplet embedding of the first fold model.

        Returns
        -------
        np.ndarray, shape (n, k)
        """
        return self.members[0].embed(self._check_input(X))

    # ---- checkpoints
    def save(self, path) -> Path:
        """Write ``model.json`` (config, columns, versions, scores), ``embedders.pt``
        (network state dicts) and ``heads.joblib`` (scikit-learn parts)."""
        import joblib
        import sklearn
        import torch

        if not self.members:
            raise ModelError("Nothing to save: the static model is not trained yet.")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save([m.embedder_.state() for m in self.members], path / "embedders.pt")
        parts = [{"bounds": m.bounds_, "transform": m.transform_, "embedding_scale": m.embedding_scale_,
                  "heads": m.heads_} for m in self.members]
        joblib.dump(parts, path / "heads.joblib", compress=("xz", 9))
        meta = {"format_version": FORMAT_VERSION, "version": self.version, "config": asdict(self.config),
                "feature_columns": self.feature_columns,
                "feature_mean": self.feature_mean.tolist(), "feature_std": self.feature_std.tolist(),
                "std_scale": self.std_scale.tolist(),
                "cv_scores": self.cv_scores, "trained_on": self.trained_on,
                "versions": {"sklearn": sklearn.__version__, "torch": torch.__version__.split("+")[0]}}
        (path / "model.json").write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path=None) -> "StaticEmotionModel":
        """Load a saved model (default ``data/models/static``)."""
        import sklearn
        import torch

        from emolab.models.fastload import load_joblib

        path = Path(path or MODELS_DIR / "static")
        files = [path / n for n in ("model.json", "embedders.pt", "heads.joblib")]
        if not all(f.exists() for f in files):
            raise ModelError(f"No static model in '{path}'. Train it with: python -m emolab train-static "
                             "--features deam_features_74.csv")
        meta = json.loads(files[0].read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"The static model in '{path}' was saved in an older format; retrain it with "
                             "python -m emolab train-static.")
        if meta["versions"]["sklearn"] != sklearn.__version__:
            warnings.warn(f"The static model was saved with scikit-learn {meta['versions']['sklearn']}, "
                          f"this is {sklearn.__version__}; predictions may differ slightly.", stacklevel=2)
        cfg = dict(meta["config"])
        cfg["tnn"] = TripletConfig(**cfg["tnn"])
        cfg.update({k: tuple(cfg[k]) for k in ("heads", "ridge_alphas")})
        model = cls(StaticConfig(**cfg))
        model.feature_columns = list(meta["feature_columns"])
        model.version = meta["version"]
        model.std_scale = np.asarray(meta["std_scale"], dtype=np.float64)
        model.feature_mean = np.asarray(meta["feature_mean"], dtype=np.float64)
        model.feature_std = np.asarray(meta["feature_std"], dtype=np.float64)
        model.cv_scores = meta["cv_scores"]
        model.trained_on = meta["trained_on"]
        try:
            states = torch.load(files[1], weights_only=True)
            parts = load_joblib(files[2])  # joblib.load, through a faster cached copy
        except Exception as exc:  # unpickling fails in many ways across library versions
            raise ModelError(f"The static model in '{path}' could not be read ({exc}); retrain it with "
                             "python -m emolab train-static.") from exc
        if len(states) != len(parts):
            raise ModelError(f"The static model in '{path}' is incomplete (its files disagree); retrain it.")
        for i, (state, part) in enumerate(zip(states, parts)):
            if state["n_features_in"] != len(model.feature_columns) or \
                    part["transform"].n_features_in_ != len(model.feature_columns):
                raise ModelError(f"The static model in '{path}' does not match its own feature list; retrain it.")
            member = _Member(model.config, seed=model.config.random_state + i)
            member.embedder_ = TripletEmbedder.from_state(state)
            member.bounds_ = np.asarray(part["bounds"], dtype=np.float64)
            member.transform_ = part["transform"]
            member.embedding_scale_ = part["embedding_scale"]
            member.heads_ = part["heads"]
            model.members.append(member)
        return model


def nested_cv(X, Y, feature_columns, config: StaticConfig | None = None, *, folds: int = 5, repeats: int = 2,
              seed: int = 100, progress=None) -> pd.DataFrame:
    """Score the shipped recipe as shipped: the ensemble, on songs none of its members saw.

    An outer ``folds`` × ``repeats`` cross-validation (KFold seeds ``seed``, ``seed + 1``, …);
    on each outer training set a whole :class:`StaticEmotionModel` is trained (with its own
    inner fold models) and its averaged prediction scored on the outer test songs.

    Parameters
    ----------
    X : np.ndarray, shape (n, d)
    Y : np.ndarray, shape (n, 2)
    feature_columns : list of str
    config : StaticConfig, optional
    folds, repeats, seed : int
    progress : callable(str), optional

    Returns
    -------
    DataFrame
        Columns ``repeat, fold, target, r2``.
    """
    X, Y = _check_training_data(X, Y)
    config = config or StaticConfig()
    if config.head_inputs == "features":
        # The embedding is not in the prediction path then: a minimal one saves most of the time.
        config = replace(config, tnn=replace(config.tnn, epochs=1, hidden_units=8))
    rows = []
    for r in range(repeats):
        for f, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed + r).split(X)):
            model = StaticEmotionModel(config).fit(X[train], Y[train], feature_columns)
            mean, _ = model.predict(X[test])
            scores = [r2_score(Y[test, j], mean[:, j]) for j in range(2)]
            rows += [(r, f, t, s) for t, s in zip(TARGETS, scores)]
            if progress:
                progress(f"repeat {r + 1}/{repeats} fold {f + 1}/{folds}: R² valence {scores[0]:.3f}, "
                         f"arousal {scores[1]:.3f}")
    return pd.DataFrame(rows, columns=["repeat", "fold", "target", "r2"])
