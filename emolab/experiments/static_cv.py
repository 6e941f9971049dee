"""Nested cross-validation of the shipped static recipe, as shipped (the whole ensemble).

An outer ``folds`` × ``repeats`` cross-validation; on each outer training set a whole
:class:`~emolab.models.static.StaticEmotionModel` is trained (with its own inner fold
models and conformal intervals) and scored on the outer test songs: R² of its averaged
prediction and the coverage of its 68 % and 90 % intervals, beside the R² of the constant
baseline (the outer training songs' mean, which scores just below 0). With ``groups`` (DEAM's
artists) both the outer and the inner folds keep each artist's songs on one side.

The ways of combining the heads (:data:`CANDIDATES`: their plain mean, stacking on each
target's own heads, stacking with the other target's heads too) are a small set declared
before the run. Each is scored on the same fitted heads of every outer model, its weights
learnt on that model's inner out-of-fold predictions only; the coverage columns are those
of the recipe's own ``combine``.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, KFold

from emolab.models.static import (TARGETS, StaticConfig, StaticEmotionModel, _check_training_data, fit_stack,
                                  mean_stack, stack_inputs)

#: Interval levels whose coverage is measured on the outer test songs.
COVERAGE_LEVELS = (0.68, 0.9)
#: The ways of combining the heads compared on the same fitted heads: name → (combine, cross_target).
CANDIDATES = {"mean": ("mean", False), "stack": ("stack", False), "stack+cross": ("stack", True)}


def outer_splits(n: int, *, folds: int, seed: int, groups=None):
    """Outer (train, test) index pairs: KFold, or GroupKFold when ``groups`` are given."""
    index = np.arange(n)
    if groups is None:
        return KFold(folds, shuffle=True, random_state=seed).split(index)
    return GroupKFold(folds, shuffle=True, random_state=seed).split(index, groups=np.asarray(groups))


def nested_cv(X, Y, feature_columns, config: StaticConfig | None = None, *, folds: int = 5, repeats: int = 2,
              seed: int = 100, groups=None, progress=None) -> pd.DataFrame:
    """Score the shipped recipe as shipped: the ensemble, on songs none of its members saw.

    Parameters
    ----------
    X : np.ndarray, shape (n, d)
    Y : np.ndarray, shape (n, 2)
    feature_columns : list of str
    config : StaticConfig, optional
    folds, repeats, seed : int
        Outer splits use seeds ``seed``, ``seed + 1``, …
    groups : array-like, shape (n,), optional
        Artist of each song: no artist on both sides of any split (outer or inner).
    progress : callable(str), optional

    Returns
    -------
    DataFrame
        Columns ``repeat, fold, target, r2, r2_constant, coverage_68, coverage_90``, and
        ``r2_<candidate>`` for each of :data:`CANDIDATES` (same heads, other combination).
    """
    X, Y = _check_training_data(X, Y)
    config = config or StaticConfig()
    if config.head_inputs == "features":
        # The embedding is not in the prediction path then: a minimal one saves most of the time.
        config = replace(config, tnn=replace(config.tnn, epochs=1, hidden_units=8))
    groups = None if groups is None else np.asarray(groups)
    rows = []
    for r in range(repeats):
        for f, (train, test) in enumerate(outer_splits(len(X), folds=folds, seed=seed + r, groups=groups)):
            model = StaticEmotionModel(config).fit(X[train], Y[train], feature_columns,
                                                   groups=None if groups is None else groups[train])
            mean, _ = model.predict(X[test])
            covered = {}
            for level in COVERAGE_LEVELS:
                low, high = model.interval(X[test], level=level)
                covered[level] = ((Y[test] >= low) & (Y[test] <= high)).mean(axis=0)
            scores = [r2_score(Y[test, j], mean[:, j]) for j in range(2)]
            constant = [r2_score(Y[test, j], np.full(len(test), Y[train, j].mean())) for j in range(2)]
            heads = model.head_predictions(X[test])
            others = {}
            for name, (combine, cross) in CANDIDATES.items():
                if combine == "mean":
                    w, b = mean_stack(2, heads.shape[2])
                else:
                    w, b = fit_stack(model.oof_head_predictions_, Y[train], cross_target=cross)
                pred = (np.einsum("ntk,tk->nt", stack_inputs(heads, cross_target=w.shape[1] > heads.shape[2]), w)
                        + b).clip(-1.0, 1.0)
                others[name] = [r2_score(Y[test, j], pred[:, j]) for j in range(2)]
            rows += [(r, f, t, scores[j], constant[j], covered[0.68][j], covered[0.9][j],
                      *[others[name][j] for name in CANDIDATES]) for j, t in enumerate(TARGETS)]
            if progress:
                progress(f"repeat {r + 1}/{repeats} fold {f + 1}/{folds}: R² valence {scores[0]:.3f}, "
                         f"arousal {scores[1]:.3f}; 90 % interval covers {covered[0.9][0]:.2f} / "
                         f"{covered[0.9][1]:.2f}")
    return pd.DataFrame(rows, columns=["repeat", "fold", "target", "r2", "r2_constant", "coverage_68",
                                       "coverage_90", *[f"r2_{name}" for name in CANDIDATES]])
