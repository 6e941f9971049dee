"""Static (whole-song) emotion: the shipped predictor.

:class:`StaticEmotionModel` is an ensemble of fold models, each power-transforming
(Yeo-Johnson) the features, embedding them with a :class:`TripletEmbedder` mined on the
joint (valence, arousal) point, and predicting each target with the average of an SVR, a
ridge regression and gradient-boosted trees (scikit-learn's
``HistGradientBoostingRegressor``). The SVR reads the features scaled by their relevance
to its target (:class:`~emolab.models.relevance_svr.RelevanceSVR`, ``svr_scaling``;
``"none"`` is the plain RBF SVR of the models before December 2026). Which inputs the heads see (features, embedding or
both) is a setting; cross-validation on DEAM favoured the features alone, so by default
the embedding serves :meth:`StaticEmotionModel.embed` (maps of the collection) and not the
prediction.

The heads are combined by their plain average (``combine="mean"``, the default) or by
**stacking** (``combine="stack"``): each fold model predicts the songs it did not see, and
non-negative least squares on those out-of-fold head predictions gives one weight per head
and an intercept per target, shared by all fold models; with ``cross_target`` the valence
stack also reads the arousal heads' predictions (valence and arousal are correlated in
DEAM). No head is fitted twice for it. In nested CV on DEAM stacking did not beat the plain
mean (data/models/README.md), so it is an option, not the default.

The uncertainty is a split-conformal interval: the quantiles of the absolute out-of-fold
errors of the fold models (each scored on the songs it did not see) give, per target, the
half-width that held-out songs fall within at 50, 68, 80, 90 and 95 %. ``predict``'s
``std`` is the 68 % half-width (what a standard deviation would be for Gaussian errors);
:meth:`StaticEmotionModel.interval` gives any stored level. The width is the same for
every song of a target: it says how far off the model typically is, not which songs are
harder.

The Table 1 pipelines and the nested cross-validation live in :mod:`emolab.experiments`.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, KFold
from sklearn.preprocessing import PowerTransformer, StandardScaler
from sklearn.svm import SVR

from emolab.config import MODELS_DIR
from emolab.exceptions import ModelError, ParameterError
from emolab.models.relevance_svr import RelevanceSVR
from emolab.models.tnn import TripletConfig, TripletEmbedder

TARGETS = ("valence", "arousal")
HEADS = ("svr", "ridge", "hgb")
#: How the SVR head scales its inputs: by their relevance (|ridge coefficient|) or not at all.
SVR_SCALINGS = ("relevance", "none")
FORMAT_VERSION = 3
#: Coverage levels of the conformal intervals stored with the model.
INTERVAL_LEVELS = (0.5, 0.68, 0.8, 0.9, 0.95)
#: How the heads' predictions are combined.
COMBINES = ("stack", "mean")


def recomputable_columns(columns) -> list[str]:
    """The columns of ``columns`` that openSMILE recomputes from audio, in table order."""
    from emolab.features.deam import RECOMPUTABLE_COLUMNS

    keep = set(RECOMPUTABLE_COLUMNS)
    return [c for c in columns if c in keep]


#: The column sets a static model can be trained on (``train-static --columns``).
COLUMN_SETS = ("fast", "fast+pitch")


def column_set(name: str = "fast+pitch") -> list[str]:
    """The DEAM columns of a named set, in table order.

    ``"fast"``: the 55 outside the pitch chain (``deam_fast.FAST_COLUMNS``);
    ``"fast+pitch"``: those and the 12 of the pitch and voice-quality chain
    (``deam_fast.FAST_PITCH_COLUMNS``, the 67 of ``deam.RECOMPUTABLE_COLUMNS``).
    """
    from emolab.features.deam_fast import FAST_COLUMNS, FAST_PITCH_COLUMNS

    sets = {"fast": FAST_COLUMNS, "fast+pitch": FAST_PITCH_COLUMNS}
    if name not in sets:
        raise ParameterError(f"Unknown column set '{name}'; choose {' or '.join(COLUMN_SETS)}.")
    return list(sets[name])


def model_columns(columns, *, columns_set: str = "fast+pitch") -> list[str]:
    """The columns of ``columns`` a model on ``columns_set`` uses (default: those the fast extractor computes)."""
    keep = set(column_set(columns_set))
    return [c for c in columns if c in keep]


#: The embedder used for Table 1 and the shipped model: short training with input noise
#: and dropout, because longer training lets the embedding memorise the training labels
#: and the SVR fitted on top of it then over-trusts it (see docs/results/table1.md).
TABLE1_TNN = TripletConfig(hidden_units=64, epochs=5, dropout=0.3, input_noise=0.5, weight_decay=1e-3)


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
    heads: tuple = ("svr", "ridge", "hgb")
    combine: str = "mean"  # 'mean' (plain average) or 'stack' (weights learnt on out-of-fold predictions)
    cross_target: bool = False  # the stack of each target also reads the other target's heads
    svr_scaling: str = "relevance"  # 'relevance' (RelevanceSVR) or 'none' (plain RBF SVR)
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
        if name == "svr" and cfg.svr_scaling == "relevance":
            return RelevanceSVR(C=cfg.svr_C, gamma_factor=cfg.svr_gamma_factor, epsilon=cfg.svr_epsilon)
        if name == "svr":
            return SVR(C=cfg.svr_C, gamma=cfg.svr_gamma_factor / n_inputs, epsilon=cfg.svr_epsilon)
        if name == "ridge":
            return RidgeCV(alphas=list(cfg.ridge_alphas))
        if name == "hgb":
            return HistGradientBoostingRegressor(max_iter=cfg.hgb_iterations, learning_rate=cfg.hgb_learning_rate,
                                                 max_leaf_nodes=cfg.hgb_leaves, min_samples_leaf=cfg.hgb_min_leaf,
                                                 l2_regularization=cfg.hgb_l2, early_stopping=False,
                                                 random_state=self.seed)
        raise ParameterError(f"Unknown head '{name}'; choose from {', '.join(HEADS)}.")

    def _head_inputs(self, Z, E):
        return {"features": Z, "embedding": E, "both": np.hstack([Z, E])}[self.config.head_inputs]

    def _transform(self, X):
        # Yeo-Johnson powers extrapolate explosively: values outside the training range
        # (common for features recomputed from new audio) are clipped to it first.
        return self.transform_.transform(np.clip(X, self.bounds_[0], self.bounds_[1]))

    def embed(self, X):
        return self.embedder_.transform(self._transform(X))

    def predict(self, X):
        """The plain average of the heads, clipped: shape (n, 2)."""
        from emolab.models.fast_heads import member_predict

        return member_predict(self, X)  # transform → heads → average, without per-call overhead

    def head_predictions(self, X):
        """Each head's prediction: shape (n, targets, heads)."""
        from emolab.models.fast_heads import member_head_predictions

        return member_head_predictions(self, X)


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
        self.interval_halfwidths: dict = {}
        self.cv_scores: dict = {}
        self.trained_on: dict = {}
        self.feature_mean = np.zeros(0)
        self.feature_std = np.zeros(0)
        self.stack_weights_ = np.zeros((0, 0))
        self.stack_intercept_ = np.zeros(0)

    # ---- training
    def fit(self, X, Y, feature_columns, *, groups=None, progress=None) -> "StaticEmotionModel":
        """Train the fold models and calibrate the uncertainty.

        Parameters
        ----------
        X : np.ndarray, shape (n, d)
            Raw DEAM features, columns ``feature_columns``.
        Y : np.ndarray, shape (n, 2)
            Valence and arousal on [-1, 1].
        feature_columns : list of str
        groups : array-like, shape (n,), optional
            Artist (or other group) of each song: the fold models then never hold one
            artist's songs on both sides, so the out-of-fold errors behind the
            intervals are honest for new artists.
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
        if self.config.svr_scaling not in SVR_SCALINGS:
            raise ParameterError(f"Unknown SVR scaling '{self.config.svr_scaling}'; "
                                 f"choose {' or '.join(SVR_SCALINGS)}.")
        if self.config.combine not in COMBINES:
            raise ParameterError(f"Unknown way to combine the heads '{self.config.combine}'; "
                                 f"choose {' or '.join(COMBINES)}.")
        started = time.time()
        cfg = self.config
        held_out = np.zeros((len(Y), Y.shape[1], len(cfg.heads)))  # each head's out-of-fold prediction
        self.members = []
        if groups is None:
            splits = KFold(cfg.n_members, shuffle=True, random_state=cfg.random_state).split(X)
        else:
            splits = GroupKFold(cfg.n_members, shuffle=True, random_state=cfg.random_state).split(
                X, groups=np.asarray(groups))
        for i, (train, test) in enumerate(splits):
            member = _Member(cfg, seed=cfg.random_state + i).fit(X[train], Y[train])
            self.members.append(member)
            held_out[test] = member.head_predictions(X[test])
            if progress:
                progress(f"fold model {i + 1}/{cfg.n_members} trained ({time.time() - started:.0f} s)")
        if cfg.combine == "stack":
            self.stack_weights_, self.stack_intercept_ = fit_stack(held_out, Y, cross_target=cfg.cross_target)
        else:
            self.stack_weights_, self.stack_intercept_ = mean_stack(Y.shape[1], len(cfg.heads))
        self.oof_head_predictions_ = held_out  # kept for comparing ways to combine (not saved)
        held_out = self._combine(held_out)
        residual = held_out - Y
        self.interval_halfwidths = conformal_halfwidths(residual)
        self.cv_scores = {
            "protocol": f"{cfg.n_members}-fold cross-validation{' grouped by artist' if groups is not None else ''}: "
                        "each fold model scored on the songs it did not see",
            **{f"r2_{t}": float(r2_score(Y[:, j], held_out[:, j])) for j, t in enumerate(TARGETS)},
            **{f"rmse_{t}": float(np.sqrt((residual[:, j] ** 2).mean())) for j, t in enumerate(TARGETS)},
        }
        self.feature_columns = list(feature_columns)
        self.feature_mean, self.feature_std = X.mean(axis=0), X.std(axis=0)
        uses_embedding = "tnn-" if cfg.head_inputs != "features" else ""
        stacked = "-stack" if cfg.combine == "stack" else ""
        self.version = f"static-{uses_embedding}{'-'.join(cfg.heads)}{stacked}-{date.today().isoformat()}"
        self.trained_on = {"n_songs": int(len(X)), "seconds": round(time.time() - started, 1),
                           "grouped_by_artist": groups is not None}
        return self

    # ---- prediction
    def _check_input(self, X) -> np.ndarray:
        if not self.members:
            raise ModelError("This static model is not trained yet. Train it with: python -m emolab train-static")
        from emolab.models.static_fast import check_rows

        return check_rows(X, self.feature_columns)

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
            Half-width of the 68 % conformal interval of each target (the same for every
            song): the true value lies within ``mean ± std`` for about 68 % of held-out
            songs (the coverage measured is in the model card).
        """
        mean = self._combine(self.head_predictions(X))
        return mean, np.broadcast_to(self._halfwidth(0.68), mean.shape).copy()

    def head_predictions(self, X) -> np.ndarray:
        """Each head's prediction averaged over the fold models, before the stack.

        Returns
        -------
        np.ndarray, shape (n, 2, len(config.heads))
        """
        X = self._check_input(X)
        return np.mean([m.head_predictions(X) for m in self.members], axis=0)

    def _combine(self, P) -> np.ndarray:
        """Head predictions (n, targets, heads) → (n, targets) on [-1, 1], by the learnt weights."""
        A = stack_inputs(P, cross_target=self.stack_weights_.shape[1] > P.shape[2])
        return (np.einsum("ntk,tk->nt", A, self.stack_weights_) + self.stack_intercept_).clip(-1.0, 1.0)

    def _halfwidth(self, level) -> np.ndarray:
        key = f"{level:g}"
        if key not in self.interval_halfwidths:
            raise ParameterError(f"No interval at {level:g}; this model stores "
                                 f"{', '.join(self.interval_halfwidths)}.")
        return np.asarray(self.interval_halfwidths[key], dtype=np.float64)

    def interval(self, X, *, level: float = 0.9):
        """Conformal prediction interval at ``level`` (one of :data:`INTERVAL_LEVELS`).

        Returns
        -------
        low, high : np.ndarray, shape (n, 2)
            Clipped to [-1, 1].
        """
        mean, _ = self.predict(X)
        half = self._halfwidth(level)
        return np.clip(mean - half, -1.0, 1.0), np.clip(mean + half, -1.0, 1.0)

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
                "interval_halfwidths": self.interval_halfwidths,
                "stack_weights": self.stack_weights_.tolist(), "stack_intercept": self.stack_intercept_.tolist(),
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
        if "stack_weights" not in meta:  # saved before stacking: the plain average of the heads
            cfg.update(combine="mean", cross_target=False)
        cfg.setdefault("svr_scaling", "none")  # saved before the relevance-scaled SVR
        cfg["tnn"] = TripletConfig(**cfg["tnn"])
        cfg.update({k: tuple(cfg[k]) for k in ("heads", "ridge_alphas")})
        model = cls(StaticConfig(**cfg))
        model.feature_columns = list(meta["feature_columns"])
        model.version = meta["version"]
        model.interval_halfwidths = {k: list(v) for k, v in meta["interval_halfwidths"].items()}
        model.feature_mean = np.asarray(meta["feature_mean"], dtype=np.float64)
        model.feature_std = np.asarray(meta["feature_std"], dtype=np.float64)
        model.cv_scores = meta["cv_scores"]
        model.trained_on = meta["trained_on"]
        if "stack_weights" in meta:
            model.stack_weights_ = np.asarray(meta["stack_weights"], dtype=np.float64)
            model.stack_intercept_ = np.asarray(meta["stack_intercept"], dtype=np.float64)
        else:
            model.stack_weights_, model.stack_intercept_ = mean_stack(len(TARGETS), len(model.config.heads))
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


def stack_inputs(P, *, cross_target: bool) -> np.ndarray:
    """The inputs of each target's stack, shape (n, targets, k).

    Parameters
    ----------
    P : np.ndarray, shape (n, targets, heads)
        Head predictions.
    cross_target : bool
        Also the other targets' heads (after the target's own, in target order).

    Returns
    -------
    np.ndarray, shape (n, targets, heads) or (n, targets, targets × heads)
    """
    P = np.asarray(P, dtype=np.float64)
    if not cross_target:
        return P
    n, t, _ = P.shape
    return np.stack([np.concatenate([P[:, j]] + [P[:, k] for k in range(t) if k != j], axis=1)
                     for j in range(t)], axis=1)


def fit_stack(P, Y, *, cross_target: bool):
    """Stacking weights from out-of-fold head predictions, by least squares.

    A target's own heads get non-negative weights (non-negative least squares: a head is
    used or left out, never subtracted); the other targets' heads (``cross_target``) may
    enter with either sign. Each target has its own intercept.

    Parameters
    ----------
    P : np.ndarray, shape (n, targets, heads)
        Out-of-fold head predictions.
    Y : np.ndarray, shape (n, targets)

    Returns
    -------
    weights : np.ndarray, shape (targets, k)
        ``k`` = heads, or targets × heads with ``cross_target``.
    intercept : np.ndarray, shape (targets,)
    """
    from scipy.optimize import nnls

    A = stack_inputs(P, cross_target=cross_target)
    n_own = P.shape[2]
    weights, intercept = [], []
    for j in range(Y.shape[1]):
        a_mean, y_mean = A[:, j].mean(axis=0), Y[:, j].mean()
        C = A[:, j] - a_mean
        w, _ = nnls(np.hstack([C, -C[:, n_own:]]), Y[:, j] - y_mean)  # free sign: w+ − w−
        w = w[:C.shape[1]] - np.concatenate([np.zeros(n_own), w[C.shape[1]:]])
        weights.append(w)
        intercept.append(y_mean - a_mean @ w)
    return np.array(weights), np.array(intercept)


def mean_stack(n_targets: int, n_heads: int):
    """The weights of the plain average of each target's own heads (``combine="mean"``)."""
    return np.full((n_targets, n_heads), 1.0 / n_heads), np.zeros(n_targets)


def conformal_halfwidths(residual) -> dict:
    """Split-conformal half-widths from out-of-fold residuals, per level and target.

    The half-width at level ``a`` is the ``ceil((n + 1) a) / n`` empirical quantile of
    ``|residual|`` (the finite-sample correction of split conformal prediction).

    Parameters
    ----------
    residual : np.ndarray, shape (n, 2)

    Returns
    -------
    dict
        ``{"0.68": [valence, arousal], ...}`` for every level of :data:`INTERVAL_LEVELS`.
    """
    scores = np.abs(np.asarray(residual, dtype=np.float64))
    n = len(scores)
    out = {}
    for level in INTERVAL_LEVELS:
        q = min(1.0, np.ceil((n + 1) * level) / n)
        out[f"{level:g}"] = [float(np.quantile(scores[:, j], q, method="higher")) for j in range(scores.shape[1])]
    return out
