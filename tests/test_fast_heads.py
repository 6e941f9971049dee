"""The static model's fast fold-model prediction equals scikit-learn's own path."""
from __future__ import annotations

import numpy as np
import pytest

from emolab.models import fast_heads


def _reference(member, X):
    """``_Member.predict`` as scikit-learn computes it (the path fast_heads replaces)."""
    Z = member._transform(X)
    E = member.embedding_scale_.transform(member.embedder_.transform(Z))
    H = member._head_inputs(Z, E)
    return np.column_stack([np.mean([head.predict(H) for head in heads], axis=0)
                            for heads in member.heads_]).clip(-1.0, 1.0)


@pytest.fixture(scope="module")
def shipped():
    from emolab.models.static import StaticEmotionModel

    return StaticEmotionModel.load()


def test_shipped_model_predicts_as_scikit_learn_does(shipped):
    rng = np.random.default_rng(0)
    X = shipped.feature_mean + 2 * shipped.feature_std * rng.standard_normal((40, len(shipped.feature_mean)))
    X[:4] *= 10.0  # far outside the training range: clipped to it first
    for member in shipped.members:
        np.testing.assert_allclose(fast_heads.member_predict(member, X), _reference(member, X), atol=1e-10)
        for j, heads in enumerate(member.heads_):  # and each head on its own
            H = member._transform(X)
            for head, fast in zip(heads, fast_heads.compile_member(member)["heads"][j]):
                np.testing.assert_allclose(fast(H), head.predict(H), atol=1e-10)
    # a constant prediction would pass a loose check: the songs must be told apart
    assert np.ptp(fast_heads.member_predict(shipped.members[0], X), axis=0).min() > 0.1


def test_yeo_johnson_matches_scipy_on_both_signs_and_special_lambdas():
    from scipy import stats

    x = np.linspace(-5, 5, 41)
    for lam in (-1.5, 0.0, 0.7, 2.0, 3.1):
        expected = stats.yeojohnson(x, lmbda=lam)
        got = fast_heads.yeo_johnson(x[:, None], np.array([lam]))[:, 0]
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_boosted_trees_walk_missing_values_as_fitted():
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) * 2 + np.isnan(X[:, 1]) - np.nan_to_num(X[:, 2]) ** 2
    hgb = HistGradientBoostingRegressor(max_iter=50, random_state=0).fit(X, y)
    trees = fast_heads.tree_arrays(hgb)
    expected = hgb.predict(X)
    assert np.ptp(expected) > 1.0  # the trees tell the rows apart: a constant would fail below
    np.testing.assert_allclose(fast_heads.walk_trees(trees, X), expected, atol=1e-10)
    # both walks: numpy's (processes that only predict) and the compiled one (analysis children)
    np.testing.assert_allclose(fast_heads.walk_trees_numpy(trees, X), expected, atol=1e-10)
    np.testing.assert_allclose(fast_heads.walk_trees_compiled(trees, X), expected, atol=1e-10)
    np.testing.assert_allclose(fast_heads.walk_trees_compiled(trees, X[:1]), expected[:1], atol=1e-10)


def test_each_head_of_a_fresh_fold_model_predicts_as_scikit_learn_does():
    from emolab.models.static import StaticConfig, _Member
    from emolab.models.tnn import TripletConfig

    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 6)) * 2 + 5
    Y = np.tanh(np.column_stack([X[:, 0] - 5, X[:, 1] - X[:, 2]]) / 3)
    member = _Member(StaticConfig(tnn=TripletConfig(n_components=2, hidden_units=8, epochs=1)), seed=0).fit(X, Y)
    got = fast_heads.member_head_predictions(member, X)
    assert got.shape == (150, 2, 3)
    H = member._transform(X)
    for j, heads in enumerate(member.heads_):
        for k, head in enumerate(heads):
            np.testing.assert_allclose(got[:, j, k], head.predict(H), atol=1e-10)
    assert np.ptp(got, axis=0).min() > 0.1
