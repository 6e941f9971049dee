"""Second stage that corrects the DEAM static model on commercial music, learnt from 4Q's signs.

The static model (:mod:`emolab.models.static`) learns DEAM's continuous ratings from 67
openSMILE columns; on commercial recordings its valence is weak (the columns carry little
harmony or mode). The 4Q dataset gives, for real commercial clips, only the **signs** of
valence and arousal (quadrants). :class:`ValenceSecondStage` joins both sources:

1. the DEAM model's (valence, arousal) rating of the clip, ``r`` (first stage, unchanged);
2. for each corrected target, an L2 logistic regression on the standardised
   ``[r_valence, r_arousal, tonal features]`` learns the sign of
   that target on 4Q, its strength ``C`` chosen by an inner cross-validation grouped by
   artist, giving a decision value ``f`` (log-odds of a positive sign);
3. the output is a **rating**, not a class probability:
   ``clip(r + bound * tanh(f / 2), -1, 1)`` — DEAM's rating plus a correction of at most
   ``bound`` towards the side the 4Q classifier believes (``tanh(f/2) = 2p - 1``). The bound
   is 0.5, 1 or 2 times the standard deviation of DEAM's ratings of that target (chosen by
   the inner CV), so a clip the classifier is unsure of keeps its DEAM rating and a clear
   case moves by at most two DEAM standard deviations.

The second stage only applies to new audio; the DEAM-trained first stage, and therefore its
DEAM cross-validation, are unchanged. It is saved as JSON (``data/models/valence/model.json``:
coefficients, scaler, bound, the static model version it was fitted on, scores, command).
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np

from emolab.exceptions import ModelError, ParameterError

TARGETS = ("valence", "arousal")
FORMAT_VERSION = 1
DEFAULT_CS = (0.01, 0.03, 0.1, 0.3)
#: The correction's bound is ``bound[target]`` (DEAM's rating spread) times one of these,
#: chosen with C by the inner grouped CV: at most two DEAM standard deviations.
BOUND_FACTORS = (0.5, 1.0, 2.0)


def _sigmoid_gap(f: np.ndarray) -> np.ndarray:
    """``2 p - 1`` for log-odds ``f`` (= tanh(f / 2))."""
    return np.tanh(np.asarray(f, dtype=float) / 2.0)


class ValenceSecondStage:
    """Bounded, sign-trained correction of first-stage (DEAM) ratings on commercial music.

    Parameters
    ----------
    targets : tuple of str
        Which of ``valence``, ``arousal`` to correct; the others pass through.
    bound : dict, optional
        ``target -> base of the largest correction``; default 0.3 for each (set it to DEAM's
        rating standard deviation, as :func:`emolab.experiments.quadrants.train_valence_model`
        does).
    bound_factors : tuple of float
        The largest correction is ``bound * factor``, the factor chosen by the inner CV.
    Cs : tuple of float
        Inverse L2 strengths searched by the inner grouped cross-validation.
    inner_folds : int
    random_state : int

    Attributes
    ----------
    columns_ : list of str
        Names of the inputs after the two first-stage ratings.
    mean_, scale_ : np.ndarray, shape (n_inputs,)
        Standardisation of the inputs (training clips).
    coef_ : dict
        ``target -> np.ndarray, shape (n_inputs,)``.
    intercept_ : dict
        ``target -> float``.
    C_ : dict
        ``target -> chosen C``.
    bound_ : dict
        ``target -> largest correction`` (chosen factor times ``bound``).
    """

    def __init__(self, *, targets=TARGETS, bound: dict | None = None, bound_factors=BOUND_FACTORS, Cs=DEFAULT_CS,
                 inner_folds: int = 3, random_state: int = 0):
        self.targets = tuple(targets)
        self.bound = dict(bound or {t: 0.3 for t in TARGETS})
        self.bound_factors = tuple(bound_factors)
        self.Cs = tuple(Cs)
        self.inner_folds = inner_folds
        self.random_state = random_state

    # ---- inputs
    @staticmethod
    def _inputs(first_stage, extra) -> np.ndarray:
        first_stage = np.asarray(first_stage, dtype=np.float64)
        extra = np.asarray(extra, dtype=np.float64)
        if first_stage.ndim != 2 or first_stage.shape[1] != 2:
            raise ParameterError(f"first_stage must have shape (n, 2) (valence, arousal), not {first_stage.shape}.")
        if extra.ndim != 2 or len(extra) != len(first_stage):
            raise ParameterError(f"extra features must have shape ({len(first_stage)}, d), not {extra.shape}.")
        X = np.hstack([first_stage, extra])
        if not np.all(np.isfinite(X)):
            raise ParameterError("Some clips have missing (NaN) or infinite features.")
        return X

    def fit(self, first_stage, extra, signs, *, groups=None, columns=None) -> "ValenceSecondStage":
        """Learn the correction from clips with known signs.

        Parameters
        ----------
        first_stage : np.ndarray, shape (n, 2)
            The DEAM model's (valence, arousal) for each clip.
        extra : np.ndarray, shape (n, d)
            Audio features the DEAM model does not use (e.g. tonal features).
        signs : np.ndarray, shape (n, 2)
            Signs (±1) of valence and arousal (4Q quadrants).
        groups : np.ndarray, shape (n,), optional
            Artist of each clip: the inner cross-validation that picks ``C`` keeps one
            artist's clips on one side.
        columns : list of str, optional
            Names of the ``d`` extra features.

        Returns
        -------
        self
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GroupKFold, StratifiedKFold

        unknown = sorted(set(self.targets) - set(TARGETS))
        if unknown:
            raise ParameterError(f"Unknown target(s) {', '.join(unknown)}; choose from valence, arousal.")
        X = self._inputs(first_stage, extra)
        signs = np.asarray(signs)
        if signs.shape != (len(X), 2) or not np.isin(signs, (-1, 1)).all():
            raise ParameterError("signs must have shape (n, 2) with values -1 or +1.")
        self.mean_ = X.mean(0)
        self.scale_ = np.where(X.std(0) > 1e-12, X.std(0), 1.0)
        Z = (X - self.mean_) / self.scale_
        self.columns_ = list(columns) if columns is not None else [f"x{i}" for i in range(X.shape[1] - 2)]
        self.coef_, self.intercept_, self.C_ = {}, {}, {}
        self.bound_ = {t: float(self.bound[t]) for t in TARGETS}
        for j, target in enumerate(TARGETS):
            if target not in self.targets:
                continue
            y = (signs[:, j] > 0).astype(int)
            if len(np.unique(y)) < 2:
                raise ParameterError(f"All training clips have the same sign of {target}; nothing to learn.")
            folds = min(self.inner_folds, int(np.bincount(y).min()))
            if groups is not None and len(np.unique(groups)) >= folds >= 2:
                splits = list(GroupKFold(n_splits=folds).split(Z, y, groups))
                splits = [s for s in splits if len(np.unique(y[s[0]])) == 2 and len(np.unique(y[s[1]])) == 2]
            else:
                splits = list(StratifiedKFold(max(folds, 2), shuffle=True,
                                              random_state=self.random_state).split(Z, y)) if folds >= 2 else []
            C = self._choose_C(Z, y, splits)
            self.bound_[target] = self._choose_bound(Z, y, X[:, j], splits, C, self.bound[target])
            model = LogisticRegression(C=C, max_iter=2000).fit(Z, y)
            self.coef_[target] = model.coef_[0].copy()
            self.intercept_[target] = float(model.intercept_[0])
            self.C_[target] = C
        return self

    def _choose_C(self, Z, y, splits) -> float:
        """The C of :attr:`Cs` with the best mean ROC AUC over the inner splits."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score

        if len(splits) < 2 or len(self.Cs) < 2:
            return float(self.Cs[len(self.Cs) // 2])
        means = []
        for C in self.Cs:
            aucs = [roc_auc_score(y[te], LogisticRegression(C=C, max_iter=2000).fit(Z[tr], y[tr]).decision_function(Z[te]))
                    for tr, te in splits]
            means.append(np.mean(aucs))
        return float(self.Cs[int(np.argmax(means))])

    def _choose_bound(self, Z, y, rating, splits, C, base) -> float:
        """``base`` times the multiplier of :attr:`bound_factors` with the best inner ROC AUC of the rating."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score

        if len(splits) < 2 or len(self.bound_factors) < 2:
            return float(base * self.bound_factors[0])
        f = np.full(len(y), np.nan)
        for tr, te in splits:
            f[te] = LogisticRegression(C=C, max_iter=2000).fit(Z[tr], y[tr]).decision_function(Z[te])
        seen = ~np.isnan(f)
        aucs = [roc_auc_score(y[seen], rating[seen] + base * m * _sigmoid_gap(f[seen])) for m in self.bound_factors]
        return float(base * self.bound_factors[int(np.argmax(aucs))])

    # ---- prediction
    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise ModelError("This valence second stage is not trained yet.")

    def decision_function(self, first_stage, extra) -> np.ndarray:
        """Log-odds of a positive sign per target (NaN for targets not corrected).

        Returns
        -------
        np.ndarray, shape (n, 2)
        """
        self._check_fitted()
        X = self._inputs(first_stage, extra)
        if X.shape[1] != len(self.mean_):
            raise ModelError(f"The valence second stage expects {len(self.mean_) - 2} extra features, "
                             f"got {X.shape[1] - 2}.")
        Z = (X - self.mean_) / self.scale_
        out = np.full((len(X), 2), np.nan)
        for j, target in enumerate(TARGETS):
            if target in self.coef_:
                out[:, j] = Z @ self.coef_[target] + self.intercept_[target]
        return out

    def predict(self, first_stage, extra) -> np.ndarray:
        """Corrected ratings.

        Returns
        -------
        np.ndarray, shape (n, 2)
            (valence, arousal) on [-1, 1]: ``clip(r + bound * tanh(f / 2), -1, 1)`` for the
            corrected targets, the first stage's rating ``r`` for the others.
        """
        first_stage = np.asarray(first_stage, dtype=np.float64)
        f = self.decision_function(first_stage, extra)
        out = first_stage.copy()
        for j, target in enumerate(TARGETS):
            if target in self.coef_:
                out[:, j] = np.clip(first_stage[:, j] + self.bound_[target] * _sigmoid_gap(f[:, j]), -1.0, 1.0)
        return out

    # ---- checkpoints
    def to_dict(self) -> dict:
        self._check_fitted()
        return {"format_version": FORMAT_VERSION, "targets": list(self.targets), "bound": self.bound,
                "Cs": list(self.Cs), "inner_folds": self.inner_folds, "random_state": self.random_state,
                "columns": self.columns_, "mean": self.mean_.tolist(), "scale": self.scale_.tolist(),
                "coef": {t: c.tolist() for t, c in self.coef_.items()}, "intercept": self.intercept_, "C": self.C_,
                "bound_factors": list(self.bound_factors), "bound_chosen": self.bound_}

    @classmethod
    def from_dict(cls, d: dict) -> "ValenceSecondStage":
        if d.get("format_version") != FORMAT_VERSION:
            raise ModelError("The valence model was saved in another format; retrain it with "
                             "python -m emolab train-valence.")
        model = cls(targets=d["targets"], bound=d["bound"], bound_factors=d["bound_factors"], Cs=d["Cs"],
                    inner_folds=d["inner_folds"], random_state=d["random_state"])
        model.bound_ = {t: float(v) for t, v in d["bound_chosen"].items()}
        model.columns_ = list(d["columns"])
        model.mean_, model.scale_ = np.asarray(d["mean"]), np.asarray(d["scale"])
        model.coef_ = {t: np.asarray(c) for t, c in d["coef"].items()}
        model.intercept_ = {t: float(v) for t, v in d["intercept"].items()}
        model.C_ = dict(d["C"])
        return model


#: Seconds from the middle of a recording that the shipped stage's ``extra`` features are
#: computed on: it was fitted and scored on the middle 12 s of each 4Q clip
#: (:mod:`emolab.experiments.quadrants`), so a new recording is read the same way (and a
#: 4-minute song costs a 12 s tonal pass, not a 4-minute one).
EXCERPT_S = 12.0


class ValenceModel:
    """The shipped second stage with what it needs at prediction time.

    Attributes
    ----------
    stage : ValenceSecondStage
    static_version : str
        Version of the static model whose ratings it was fitted on; it is applied only on top
        of that model (another one may rate on a different scale).
    extra_kinds : list of str
        Which feature vectors make its ``extra`` input, in order (``tonal-v1``, ``deam-fast``).
    excerpt_s : float or None
        The ``extra`` features are computed on the middle ``excerpt_s`` seconds of a recording,
        as on the clips the stage was fitted on (None: the whole recording).
    meta : dict
        Scores, data, command, date.
    """

    def __init__(self, stage: ValenceSecondStage, *, static_version: str, extra_kinds,
                 excerpt_s: float | None = None, meta: dict | None = None):
        self.stage = stage
        self.static_version = static_version
        self.extra_kinds = list(extra_kinds)
        self.excerpt_s = None if excerpt_s is None else float(excerpt_s)
        self.meta = dict(meta or {})
        self.version = self.meta.get("version") or f"valence-4q-{date.today().isoformat()}"

    def save(self, path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        doc = {"version": self.version, "static_version": self.static_version, "extra_kinds": self.extra_kinds,
               "excerpt_s": self.excerpt_s, "stage": self.stage.to_dict(),
               **{k: v for k, v in self.meta.items() if k != "version"}}
        (path / "model.json").write_text(json.dumps(doc, indent=2))
        return path

    @classmethod
    def load(cls, path) -> "ValenceModel":
        file = Path(path) / "model.json"
        if not file.exists():
            raise ModelError(f"No valence model in '{path}'. Train it with: python -m emolab train-valence "
                             "../shared/data/4q")
        try:
            doc = json.loads(file.read_text())
        except ValueError as exc:
            raise ModelError(f"The valence model file '{file}' is damaged: {exc}") from exc
        meta = {k: v for k, v in doc.items() if k not in ("static_version", "extra_kinds", "stage", "excerpt_s")}
        return cls(ValenceSecondStage.from_dict(doc["stage"]), static_version=doc["static_version"],
                   extra_kinds=doc["extra_kinds"], excerpt_s=doc.get("excerpt_s"), meta=meta)

    def extra_vector(self, y: np.ndarray, sr: int, *, tonal_vector: np.ndarray | None = None) -> np.ndarray:
        """The ``extra`` input for one recording (computing what is not given).

        ``y`` is the whole recording; the features are computed on its middle
        :attr:`excerpt_s` seconds. A given ``tonal_vector`` must have been computed on that
        excerpt (:func:`emolab.pipeline.analyse` computes it so, beside the DEAM features).
        """
        from emolab.audio import middle_excerpt

        y = middle_excerpt(y, sr, self.excerpt_s)
        parts = []
        for kind in self.extra_kinds:
            if kind == "tonal-v1":
                if tonal_vector is None:
                    from emolab.features import tonal

                    tonal_vector = tonal.tonal_vector(y, sr)
                parts.append(np.asarray(tonal_vector, dtype=np.float64))
            elif kind == "deam-fast67":
                from emolab.features import deam_fast

                parts.append(deam_fast.deam_song_vector(y, sr, columns=list(deam_fast.RUNTIME_COLUMNS)))
            else:
                raise ModelError(f"The valence model needs features '{kind}' that this EmoLab cannot compute.")
        return np.concatenate(parts)

    def correct(self, valence: float, arousal: float, extra: np.ndarray) -> tuple[float, float]:
        """Corrected (valence, arousal) of one recording from the static model's rating."""
        out = self.stage.predict(np.array([[valence, arousal]]), np.asarray(extra, dtype=np.float64)[None, :])
        return float(out[0, 0]), float(out[0, 1])


def load_for(static_model, path) -> tuple[ValenceModel | None, str | None]:
    """Load the valence model of ``path`` and attach it to ``static_model`` if it was fitted on it.

    Returns
    -------
    (model or None, message or None)
        None and the reason when there is no model file, or when it was fitted on another
        static model (its correction would assume another rating scale); the static model
        then predicts alone.
    """
    try:
        model = ValenceModel.load(path)
    except ModelError as exc:
        return None, str(exc)
    if model.static_version != static_model.version:
        return None, (f"The valence model was fitted on the static model '{model.static_version}', not on "
                      f"'{static_model.version}'; retrain it with: python -m emolab train-valence ../shared/data/4q")
    static_model.valence_stage = model
    return model, None
