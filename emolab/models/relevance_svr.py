"""An RBF support-vector regression on features scaled by their relevance to the target.

A plain RBF kernel weighs every feature alike, so the many DEAM columns that say little
about valence blur the distances between songs. :class:`RelevanceSVR` first fits a ridge
regression (alpha by leave-one-out CV) on the same songs and target, and scales each
(standardised) feature by the size of its ridge coefficient, normalised to a root mean
square of 1 so the kernel's ``gamma`` keeps its meaning; the SVR then works on the scaled
features. It is a cheap stand-in for a kernel with one length-scale per feature (automatic
relevance determination): one closed-form fit instead of an optimisation of 55 length-scales.
Prediction is the SVR's on the scaled features (``emolab.models.fast_heads`` does it in numpy).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.svm import SVR

#: Ridge penalties tried by the relevance ridge (leave-one-out CV).
RIDGE_ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)


class RelevanceSVR(RegressorMixin, BaseEstimator):
    """RBF SVR on features scaled by ``|ridge coefficient|``.

    Parameters
    ----------
    C, epsilon : float
        The SVR's.
    gamma_factor : float
        The RBF kernel's ``gamma`` is ``gamma_factor / n_features``.
    power : float
        Features are scaled by ``|coef| ** power`` (then to a root mean square of 1).

    Attributes
    ----------
    scale_ : np.ndarray, shape (n_features,)
    svr_ : sklearn.svm.SVR
        Fitted on ``X * scale_``.
    """

    def __init__(self, C: float = 4.0, gamma_factor: float = 0.1, epsilon: float = 0.1, power: float = 1.0):
        self.C = C
        self.gamma_factor = gamma_factor
        self.epsilon = epsilon
        self.power = power

    def fit(self, X, y) -> "RelevanceSVR":
        """Fit the relevance ridge, then the SVR on the scaled features.

        Parameters
        ----------
        X : np.ndarray, shape (n, d)
            Standardised features.
        y : np.ndarray, shape (n,)

        Returns
        -------
        self
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        weight = np.abs(RidgeCV(alphas=list(RIDGE_ALPHAS)).fit(X, y).coef_).ravel() ** self.power
        rms = np.sqrt(np.mean(weight ** 2))
        self.scale_ = weight / rms if rms > 0 else np.ones(X.shape[1])
        self.n_features_in_ = X.shape[1]
        self.svr_ = SVR(C=self.C, gamma=self.gamma_factor / X.shape[1], epsilon=self.epsilon).fit(X * self.scale_, y)
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions, shape (n,)."""
        return self.svr_.predict(np.asarray(X, dtype=np.float64) * self.scale_)
