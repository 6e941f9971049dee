"""The static model's fold-model prediction in a few numpy operations.

One song through the shipped static model used to cost a third of a second: every fold
model (5) ran scikit-learn's per-call input checks for its power transform (one scipy call
per column), its triplet embedding (even when the heads do not read it), and its heads —
and the gradient-boosted trees walked their 300 trees one Python call at a time. Here the
same fitted parameters are applied directly: the Yeo-Johnson transform vectorised over
columns, the RBF SVR and the ridge as matrix products, all trees of a boosted head walked
together, level by level. :func:`member_predict` returns what
``emolab.models.static._Member.predict`` did (a test compares them on the shipped model);
:func:`member_head_predictions` gives each head's own prediction (what the model's stacking
weights combine); :func:`compile_member` caches the flattened parameters on the fold model.
"""
from __future__ import annotations

import sys

import numpy as np

from emolab.exceptions import ModelError

# scikit-learn is imported only where fitted estimators are read (compile_member, head_arrays):
# emolab.models.static_fast predicts with these functions in processes that never import it.


def yeo_johnson(X: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """scipy's Yeo-Johnson transform (the one scikit-learn calls), all columns at once."""
    out = np.empty_like(X)
    pos = X >= 0
    lam = np.broadcast_to(lambdas, X.shape)
    tiny = np.spacing(1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pos = np.log1p(np.where(pos, X, 0.0))
        log_neg = np.log1p(np.where(pos, 0.0, -X))
        plain = np.abs(lam) < tiny
        out_pos = np.where(plain, log_pos, np.expm1(lam * log_pos) / np.where(plain, 1.0, lam))
        two = np.abs(lam - 2) <= tiny
        out_neg = np.where(two, -log_neg, -np.expm1((2 - lam) * log_neg) / np.where(two, 1.0, 2 - lam))
    out[pos] = out_pos[pos]
    out[~pos] = out_neg[~pos]
    return out


def tree_arrays(hgb) -> dict:
    """All trees of a fitted ``HistGradientBoostingRegressor`` as flat arrays (see :func:`walk_trees`)."""
    if getattr(hgb, "is_categorical_", None) is not None and np.any(hgb.is_categorical_):
        raise ModelError("Boosted heads with categorical features are not supported.")
    if hgb.n_trees_per_iteration_ != 1:
        raise ModelError("Only single-output boosted heads are supported.")
    trees = [predictors[0].nodes for predictors in hgb._predictors]
    sizes = np.array([len(t) for t in trees])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nodes = np.concatenate(trees)
    shift = np.repeat(offsets, sizes)
    leaf = nodes["is_leaf"].astype(bool)
    return {"kind": np.array("hgb"), "roots": offsets.astype(np.intp),
            "value": nodes["value"].astype(np.float64), "feature": nodes["feature_idx"].astype(np.intp),
            "threshold": nodes["num_threshold"].astype(np.float64),
            "missing_left": nodes["missing_go_to_left"].astype(bool), "leaf": leaf,
            "left": np.where(leaf, 0, nodes["left"].astype(np.intp) + shift),
            "right": np.where(leaf, 0, nodes["right"].astype(np.intp) + shift),
            "depth": np.array(int(nodes["depth"].max()) if len(nodes) else 0),
            "baseline": np.array(float(np.ravel(hgb._baseline_prediction)[0]))}


def walk_trees(t: dict, X: np.ndarray) -> np.ndarray:
    """Sum of all trees of :func:`tree_arrays` for each row of ``X``.

    Each step of a walk is one lookup, ``next[2 node + goes_right]`` (a leaf points to itself
    both ways), built once per head and kept in ``t``. A process that has loaded the compiled
    walk (:func:`emolab.models.tree_kernel.ready`: the analysis children do) walks there, three
    to four times faster; any other walks level by level in numpy (one gather per level for
    all rows and trees), so that a process that only predicts never imports numba. Both give
    the same sums (to the order of the additions).
    """
    kernel = sys.modules.get("emolab.models.tree_kernel")
    if kernel is not None and kernel.is_ready():
        return walk_trees_compiled(t, X)
    return walk_trees_numpy(t, X)


def _steps(t: dict) -> np.ndarray:
    step = t.get("_next")
    if step is None:
        own = np.arange(len(t["leaf"]))
        step = t["_next"] = np.stack([np.where(t["leaf"], own, t["left"]),
                                      np.where(t["leaf"], own, t["right"])], axis=1).ravel()
    return step


def walk_trees_compiled(t: dict, X: np.ndarray) -> np.ndarray:
    """:func:`walk_trees` in :func:`emolab.models.tree_kernel.walk` (loads it if need be)."""
    from emolab.models import tree_kernel

    tree_kernel.ready()
    X = np.ascontiguousarray(X, dtype=np.float64)
    out = np.empty(X.shape[0])
    tree_kernel.walk(t["roots"], t["feature"], t["threshold"], t["missing_left"], _steps(t), t["value"],
                     int(t["depth"]), X, out)
    return float(t["baseline"]) + out


def walk_trees_numpy(t: dict, X: np.ndarray) -> np.ndarray:
    """:func:`walk_trees` level by level in numpy."""
    step = _steps(t)
    feature, threshold = t["feature"], t["threshold"]
    X = np.asarray(X, dtype=np.float64)
    missing = np.isnan(X).any()
    node = np.broadcast_to(t["roots"], (X.shape[0], len(t["roots"]))).copy()
    rows = np.arange(X.shape[0])[:, None] * X.shape[1]
    flat = X.ravel()
    for _ in range(int(t["depth"])):
        x = flat[rows + feature[node]]
        right = ~(x <= threshold[node])
        if missing:
            right &= ~(np.isnan(x) & t["missing_left"][node])
        node = step[2 * node + right]
    return float(t["baseline"]) + t["value"][node].sum(axis=1)


def head_arrays(head) -> dict | None:
    """A fitted head (RBF SVR, RidgeCV, squared-error boosted trees) as named arrays, or None."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.svm import SVR

    from emolab.models.relevance_svr import RelevanceSVR

    if isinstance(head, RelevanceSVR):  # an RBF SVR on relevance-scaled inputs
        fields = head_arrays(head.svr_)
        if fields is not None:
            fields["input_scale"] = np.asarray(head.scale_, dtype=np.float64)
        return fields
    if isinstance(head, SVR) and head.kernel == "rbf":
        sv = np.asarray(head.support_vectors_, dtype=np.float64)
        return {"kind": np.array("svr"), "sv": sv, "sv_sq": (sv ** 2).sum(axis=1),
                "dual": np.asarray(head.dual_coef_[0], dtype=np.float64),
                "intercept": np.array(float(head.intercept_[0])), "gamma": np.array(float(head._gamma))}
    if isinstance(head, RidgeCV):
        return {"kind": np.array("ridge"), "coef": np.ravel(head.coef_).astype(np.float64),
                "intercept": np.array(float(np.ravel(head.intercept_)[0]))}
    if isinstance(head, HistGradientBoostingRegressor) and head.loss == "squared_error":
        return tree_arrays(head)
    return None


def _head(head):
    fields = head_arrays(head)
    if fields is None:
        return head.predict  # anything else: scikit-learn's own path
    kind = str(fields["kind"])
    if kind == "svr":
        sv, sv_sq, dual = fields["sv"], fields["sv_sq"], fields["dual"]
        b, gamma = float(fields["intercept"]), float(fields["gamma"])
        scale = fields.get("input_scale")

        def svr(H):
            if scale is not None:
                H = H * scale
            d2 = (H ** 2).sum(axis=1)[:, None] + sv_sq[None, :] - 2.0 * H @ sv.T
            return np.exp(-gamma * np.maximum(d2, 0.0)) @ dual + b
        return svr
    if kind == "ridge":
        coef, b = fields["coef"], float(fields["intercept"])
        return lambda H: H @ coef + b
    return lambda H: walk_trees(fields, H)


def compile_member(member) -> dict:
    """The fold model's parameters, flattened once (cached on the member)."""
    compiled = getattr(member, "_compiled", None)
    if compiled is None:
        transform = member.transform_
        if transform.method != "yeo-johnson":
            raise ModelError("Only Yeo-Johnson power transforms are supported.")
        scaler = getattr(transform, "_scaler", None) if transform.standardize else None
        compiled = {
            "low": np.asarray(member.bounds_[0], dtype=np.float64),
            "high": np.asarray(member.bounds_[1], dtype=np.float64),
            "lambdas": np.asarray(transform.lambdas_, dtype=np.float64),
            "mean": None if scaler is None else scaler.mean_,
            "scale": None if scaler is None else scaler.scale_,
            "heads": [[_head(h) for h in target_heads] for target_heads in member.heads_],
        }
        member._compiled = compiled
    return compiled


def member_head_predictions(member, X: np.ndarray) -> np.ndarray:
    """Every head's own prediction, shape (n, targets, heads), before any combination or clipping."""
    c = compile_member(member)
    X = np.asarray(X, dtype=np.float64)
    Z = yeo_johnson(np.clip(X, c["low"], c["high"]), c["lambdas"])
    if c["mean"] is not None:
        Z = (Z - c["mean"]) / c["scale"]
    if member.config.head_inputs == "features":
        H = Z
    else:
        E = member.embedding_scale_.transform(member.embedder_.transform(Z))
        H = member._head_inputs(Z, E)
    return np.stack([np.column_stack([head(H) for head in target_heads]) for target_heads in c["heads"]], axis=1)


def member_predict(member, X: np.ndarray) -> np.ndarray:
    """The fold model's plain average of its heads: (valence, arousal) of each row, shape (n, 2), on [-1, 1]."""
    return member_head_predictions(member, X).mean(axis=2).clip(-1.0, 1.0)
