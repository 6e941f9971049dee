"""The shipped static model in prediction-only form: numpy arrays, no scikit-learn, no torch.

Loading :class:`emolab.models.static.StaticEmotionModel` imports scikit-learn (with
scipy.stats) and torch and unpickles its fold models: most of a fresh analysis process's
start (seconds). Predicting needs none of it: :mod:`emolab.models.fast_heads` already
applies the fitted parameters with numpy. :func:`load_static` keeps those parameters, per
model content, as a plain ``.npz`` under ``~/.cache/emolab/models/`` (the folder of
:func:`emolab.models.fastload.cache_dir`), keyed by the SHA-256 of the model's files, so a
retrained model never meets a stale copy. The first load after a (re)training builds it
from the full model; every later process reads only ``model.json`` and the arrays.

:class:`FastStaticModel` predicts exactly as the full model (a test compares them to
1e-12). Anything else asked of it (``embed`` for the maps, ``members``, ...) loads the full
model on first use and answers from it.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from emolab.config import MODELS_DIR
from emolab.exceptions import ModelError
from emolab.models.fast_heads import walk_trees, yeo_johnson

#: Bumped whenever the layout of the cached arrays changes.
LAYOUT = "static-fast-v2"
_FILES = ("model.json", "heads.joblib", "embedders.pt")



def check_rows(X, feature_columns) -> np.ndarray:
    """``X`` as float64 rows of ``len(feature_columns)`` finite values (one song may be 1-d).

    Raises
    ------
    ModelError
        Wrong number of values, or missing / infinite ones.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != len(feature_columns):
        raise ModelError(f"The static model expects {len(feature_columns)} DEAM feature values per song "
                         f"(its feature_columns) but was given {X.shape[-1]}.")
    bad = ~np.all(np.isfinite(X), axis=1)
    if bad.any():
        raise ModelError(f"{int(bad.sum())} song(s) have missing (NaN) or infinite feature values; "
                         "the static model cannot predict them.")
    return X

class FastStaticModel:
    """Prediction-only static model (see the module docstring).

    Attributes
    ----------
    feature_columns : list of str
    version : str
    interval_halfwidths, cv_scores, trained_on : dict
    feature_mean, feature_std : np.ndarray, shape (len(feature_columns),)
    valence_stage : ValenceModel or None
        Set by :func:`emolab.models.valence.load_for`, as on the full model.
    """

    def __init__(self, path: Path, meta: dict, arrays: dict):
        self._path = path
        self._full = None
        self._arrays = arrays
        self.feature_columns = list(meta["feature_columns"])
        self.version = meta["version"]
        self.config_dict = meta["config"]
        self.interval_halfwidths = {k: list(v) for k, v in meta["interval_halfwidths"].items()}
        self.feature_mean = np.asarray(meta["feature_mean"], dtype=np.float64)
        self.feature_std = np.asarray(meta["feature_std"], dtype=np.float64)
        self.cv_scores = meta["cv_scores"]
        self.trained_on = meta["trained_on"]
        self.valence_stage = None
        self._members = _unpack(arrays)
        n_heads = len(self._members[0]["heads"][0]) if self._members else 0
        if "stack_weights" in meta:  # how the heads are combined (a plain mean before stacking)
            self.stack_weights_ = np.asarray(meta["stack_weights"], dtype=np.float64)
            self.stack_intercept_ = np.asarray(meta["stack_intercept"], dtype=np.float64)
        else:
            self.stack_weights_ = np.full((2, n_heads), 1.0 / max(n_heads, 1))
            self.stack_intercept_ = np.zeros(2)

    # ---- prediction (what the analysis path uses)
    def _check_input(self, X) -> np.ndarray:
        return check_rows(X, self.feature_columns)

    def predict(self, X):
        """Same as :meth:`emolab.models.static.StaticEmotionModel.predict`.

        Returns
        -------
        mean, std : np.ndarray, shape (n, 2)
        """
        mean = self._combine(self.head_predictions(X))
        return mean, np.broadcast_to(self._halfwidth(0.68), mean.shape).copy()

    def head_predictions(self, X) -> np.ndarray:
        """Each head's prediction averaged over the fold models, shape (n, 2, heads)."""
        X = self._check_input(X)
        return np.mean([_member_heads(m, X) for m in self._members], axis=0)

    def _combine(self, P) -> np.ndarray:
        """As :meth:`emolab.models.static.StaticEmotionModel._combine` (its stacking weights)."""
        P = np.asarray(P, dtype=np.float64)
        if self.stack_weights_.shape[1] > P.shape[2]:  # each target's stack also reads the others' heads
            t = P.shape[1]
            P = np.stack([np.concatenate([P[:, j]] + [P[:, k] for k in range(t) if k != j], axis=1)
                          for j in range(t)], axis=1)
        return (np.einsum("ntk,tk->nt", P, self.stack_weights_) + self.stack_intercept_).clip(-1.0, 1.0)

    def _halfwidth(self, level) -> np.ndarray:
        key = f"{level:g}"
        if key not in self.interval_halfwidths:
            from emolab.exceptions import ParameterError

            raise ParameterError(f"No interval at {level:g}; this model stores "
                                 f"{', '.join(self.interval_halfwidths)}.")
        return np.asarray(self.interval_halfwidths[key], dtype=np.float64)

    def interval(self, X, *, level: float = 0.9):
        """Conformal prediction interval at ``level``; shapes (n, 2), clipped to [-1, 1]."""
        mean, _ = self.predict(X)
        half = self._halfwidth(level)
        return np.clip(mean - half, -1.0, 1.0), np.clip(mean + half, -1.0, 1.0)

    # ---- everything else: the full model, loaded on first need
    def full(self):
        """The full :class:`~emolab.models.static.StaticEmotionModel` (imports scikit-learn and torch)."""
        if self._full is None:
            from emolab.models.static import StaticEmotionModel

            self._full = StaticEmotionModel.load(self._path)
            self._full.valence_stage = self.valence_stage
        return self._full

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_full", "_path", "_arrays", "_members"):
            raise AttributeError(name)
        return getattr(self.full(), name)


def load_static(path=None):
    """The static model of folder ``path`` (default ``data/models/static``) for prediction.

    Returns a :class:`FastStaticModel` when the model's heads are all numpy-compilable (the
    shipped recipe), else the full :class:`~emolab.models.static.StaticEmotionModel`.

    Raises
    ------
    ModelError
        No model, or a damaged one (as :meth:`StaticEmotionModel.load`).
    """
    path = Path(path or MODELS_DIR / "static")
    files = [path / n for n in _FILES]
    if not all(f.exists() for f in files):
        from emolab.models.static import StaticEmotionModel

        return StaticEmotionModel.load(path)  # raises the usual "No static model" sentence
    raw = files[0].read_bytes()
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    digest.update(LAYOUT.encode())
    copy = _cache_dir() / f"{digest.hexdigest()}.static.npz"
    meta = json.loads(raw)
    if copy.is_file():
        try:
            with np.load(copy, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            return FastStaticModel(path, meta, arrays)
        except (OSError, ValueError, KeyError):
            pass  # a damaged copy: rebuild it below
    from emolab.models.static import StaticEmotionModel

    full = StaticEmotionModel.load(path)
    arrays = compile_model(full)
    if arrays is None:
        return full
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=copy.parent, suffix=".tmp.npz", delete=False) as f:
            np.savez(f, **arrays)
        os.replace(f.name, copy)  # atomic: a concurrent reader sees the whole copy or none
    except OSError:
        pass  # a read-only home: compile in memory every time
    model = FastStaticModel(path, meta, arrays)
    model._full = full
    return model


def _cache_dir() -> Path:
    from emolab.models.fastload import cache_dir

    return cache_dir()


def compile_model(full) -> dict | None:
    """The full model's fold models as named numpy arrays, or None when one cannot be compiled.

    Keys ``m{i}.{field}`` (member ``i``) and ``m{i}.t{j}.h{k}.{field}`` (head ``k`` of target ``j``).
    """
    from emolab.models.fast_heads import compile_member, head_arrays

    if full.config.head_inputs != "features":
        return None  # heads that read the torch embedding: the full model predicts
    arrays = {"n_members": np.array(len(full.members))}
    for i, member in enumerate(full.members):
        c = compile_member(member)
        arrays[f"m{i}.low"], arrays[f"m{i}.high"], arrays[f"m{i}.lambdas"] = c["low"], c["high"], c["lambdas"]
        if c["mean"] is not None:
            arrays[f"m{i}.mean"], arrays[f"m{i}.scale"] = np.asarray(c["mean"]), np.asarray(c["scale"])
        arrays[f"m{i}.n_targets"] = np.array(len(member.heads_))
        for j, target_heads in enumerate(member.heads_):
            arrays[f"m{i}.t{j}.n_heads"] = np.array(len(target_heads))
            for k, head in enumerate(target_heads):
                fields = head_arrays(head)
                if fields is None:
                    return None
                arrays.update({f"m{i}.t{j}.h{k}.{name}": np.asarray(v) for name, v in fields.items()})
    return arrays


def _unpack(arrays: dict) -> list[dict]:
    members = []
    for i in range(int(arrays["n_members"])):
        m = {"low": arrays[f"m{i}.low"], "high": arrays[f"m{i}.high"], "lambdas": arrays[f"m{i}.lambdas"],
             "mean": arrays.get(f"m{i}.mean"), "scale": arrays.get(f"m{i}.scale"), "heads": []}
        for j in range(int(arrays[f"m{i}.n_targets"])):
            heads = []
            for k in range(int(arrays[f"m{i}.t{j}.n_heads"])):
                prefix = f"m{i}.t{j}.h{k}."
                heads.append({key[len(prefix):]: v for key, v in arrays.items() if key.startswith(prefix)})
            m["heads"].append(heads)
        members.append(m)
    return members


def _head_predict(h: dict, H: np.ndarray) -> np.ndarray:
    kind = str(h["kind"])
    if kind == "svr":
        if "input_scale" in h:  # a relevance-scaled SVR
            H = H * h["input_scale"]
        d2 = (H ** 2).sum(axis=1)[:, None] + h["sv_sq"][None, :] - 2.0 * H @ h["sv"].T
        return np.exp(-float(h["gamma"]) * np.maximum(d2, 0.0)) @ h["dual"] + float(h["intercept"])
    if kind == "ridge":
        return H @ h["coef"] + float(h["intercept"])
    if kind == "hgb":
        return walk_trees(h, H)
    raise ModelError(f"Unknown compiled head '{kind}'; delete ~/.cache/emolab/models and retry.")


def _member_heads(m: dict, X: np.ndarray) -> np.ndarray:
    """One fold model's head predictions, shape (n, targets, heads), unclipped."""
    Z = yeo_johnson(np.clip(X, m["low"], m["high"]), m["lambdas"])
    if m["mean"] is not None:
        Z = (Z - m["mean"]) / m["scale"]
    return np.stack([np.column_stack([_head_predict(h, Z) for h in heads]) for heads in m["heads"]], axis=1)
