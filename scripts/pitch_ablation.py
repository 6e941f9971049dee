"""Which pitch-chain columns carry the static model's valence? (single-model ablation)

Each subset: Yeo-Johnson → (SVR C 4 + ridge)/2, 5-fold KFold with seeds 100 and 101, R² of the
out-of-fold predictions, averaged over the two seeds (one model per fold, not the nested
ensemble: a fast ranking, not the shipped figure). Run from the repository root::

    python scripts/pitch_ablation.py ../shared/data/deam/features/deam_features_74.csv
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PowerTransformer
from sklearn.svm import SVR
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from emolab.cli.static import _labelled_table
from emolab.features.deam import RECOMPUTABLE_COLUMNS
from emolab.features.deam_fast import FAST_COLUMNS
feats, Y = _labelled_table(sys.argv[1])
def score(cols):
    X = feats[cols].to_numpy()
    out = []
    for j in range(2):
        preds = []
        for seed in (100, 101):
            cv = KFold(5, shuffle=True, random_state=seed)
            a = cross_val_predict(make_pipeline(PowerTransformer(), SVR(C=4, gamma=0.1/len(cols))), X, Y[:, j], cv=cv)
            b = cross_val_predict(make_pipeline(PowerTransformer(), RidgeCV(alphas=np.logspace(-2, 3, 11))), X, Y[:, j], cv=cv)
            preds.append(r2_score(Y[:, j], (a + b) / 2))
        out.append(np.mean(preds))
    return out
pitch = [c for c in RECOMPUTABLE_COLUMNS if c not in FAST_COLUMNS]
subsets = {"67 (today)": list(RECOMPUTABLE_COLUMNS), "55 fast": FAST_COLUMNS}
for name in ("F0final", "voicingFinalUnclipped", "logHNR", "jitterLocal", "jitterDDP", "shimmerLocal"):
    subsets[f"55 + {name}"] = FAST_COLUMNS + [c for c in pitch if c.startswith(name)]
subsets["55 + F0 + voicing"] = FAST_COLUMNS + [c for c in pitch if c.startswith(("F0final", "voicing"))]
subsets["55 + F0 + voicing + HNR"] = FAST_COLUMNS + [c for c in pitch if c.startswith(("F0final", "voicing", "logHNR"))]
for name, cols in subsets.items():
    v, a = score(cols)
    print(f"{name:32s} {len(cols):3d} cols  valence {v:.3f}  arousal {a:.3f}", flush=True)
