"""Does scaling the SVR's inputs by their relevance help? (single-model ranking)

The SVR head alone (C 4, gamma 0.1 / n_columns) on the 55 fast columns, Yeo-Johnson
transformed (values clipped to the training range), its inputs scaled per target by nothing,
by |correlation with the target| or by |ridge coefficient| (each normalised to a root mean
square of 1); 5-fold KFold, seed 100, R² of the out-of-fold predictions. A fast ranking, not
the nested figure (data/models/README.md). Run from the repository root::

    python scripts/svr_scaling_ranking.py ../shared/data/deam/features/deam_features_74.csv
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from sklearn.preprocessing import PowerTransformer
from sklearn.svm import SVR

from emolab.cli.static import _labelled_table
from emolab.features.deam_fast import FAST_COLUMNS

feats, Y = _labelled_table(sys.argv[1])
X = feats[FAST_COLUMNS].to_numpy()
d = X.shape[1]
P = {name: np.zeros_like(Y) for name in ("none", "correlation", "ridge")}
for train, test in KFold(5, shuffle=True, random_state=100).split(X):
    low, high = X[train].min(axis=0), X[train].max(axis=0)
    transform = PowerTransformer().fit(X[train])
    Z, Z_test = transform.transform(X[train]), transform.transform(np.clip(X[test], low, high))
    for j in range(2):
        y = Y[train, j]
        weights = {"none": np.ones(d),
                   "correlation": np.abs([np.corrcoef(Z[:, k], y)[0, 1] for k in range(d)]),
                   "ridge": np.abs(RidgeCV(alphas=np.logspace(-2, 3, 11)).fit(Z, y).coef_)}
        for name, w in weights.items():
            s = w / np.sqrt((w ** 2).mean())
            P[name][test, j] = SVR(C=4, gamma=0.1 / d).fit(Z * s, y).predict(Z_test * s)
for name, pred in P.items():
    v, a = (r2_score(Y[:, j], np.clip(pred[:, j], -1, 1)) for j in range(2))
    print(f"SVR, inputs scaled by {name:12s} valence {v:.3f}  arousal {a:.3f}")
