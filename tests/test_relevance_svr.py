"""The SVR on relevance-scaled features (emolab.models.relevance_svr)."""
import numpy as np
from sklearn.metrics import r2_score
from sklearn.svm import SVR

from emolab.models.relevance_svr import RelevanceSVR


def _data(n, seed):
    """3 features drive the target (one of them non-linearly); 30 are noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 33))
    y = np.tanh(X[:, 0] + 0.5 * X[:, 1] + 0.3 * X[:, 2] ** 3) + rng.normal(scale=0.1, size=n)
    return X, y


def test_relevant_features_get_the_weight_and_the_fit_beats_a_plain_svr():
    X, y = _data(400, 0)
    X_new, y_new = _data(400, 1)
    model = RelevanceSVR(C=4.0, gamma_factor=0.1)
    assert model.fit(X, y) is model
    assert model.scale_.shape == (33,) and np.isclose(np.sqrt(np.mean(model.scale_ ** 2)), 1.0)
    assert model.scale_[:3].min() > 3 * model.scale_[3:].max()
    plain = SVR(C=4.0, gamma=0.1 / 33).fit(X, y)
    relevance = r2_score(y_new, model.predict(X_new))
    assert relevance > r2_score(y_new, plain.predict(X_new)) + 0.05
    assert relevance > 0.8  # the constant mean scores 0


def test_a_target_no_feature_explains_leaves_the_features_unscaled():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((100, 5))
    model = RelevanceSVR().fit(X, np.zeros(100))  # ridge coefficients all 0: no scaling
    np.testing.assert_array_equal(model.scale_, np.ones(5))
    np.testing.assert_allclose(model.predict(X), 0.0, atol=1e-9)
