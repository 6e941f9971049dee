"""TripletEmbedder: estimator contract, mining, learning a separating embedding, seeds."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsRegressor

from emolab.exceptions import ModelError, ParameterError
from emolab.models.tnn import TripletConfig, TripletEmbedder, label_distances, mine_triplets

FAST = dict(hidden_units=16, epochs=3, batch_size=64)


def two_relevant_dims(n=300, d=50, seed=0):
    """Only dims 0 and 1 carry the target; the other 48 are louder noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * 2.0
    X[:, :2] = rng.normal(size=(n, 2))
    y = np.tanh(X[:, 0] + 0.7 * X[:, 1])
    return X.astype(np.float32), y


def test_estimator_contract():
    est = TripletEmbedder(n_components=3, epochs=2, random_state=5)
    assert est.get_params()["n_components"] == 3
    est.set_params(margin=0.5)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "network_")
    X, y = two_relevant_dims(n=60, d=10)
    assert est.fit(X, y) is est
    assert est.n_features_in_ == 10 and est.n_components_ == 3 and est.n_triplets_ > 0
    assert est.fit_transform(X, y).shape == (60, 3)
    assert TripletEmbedder.from_config(est.to_config()).get_params() == est.get_params()


def test_default_size_is_ten_percent_of_inputs():
    X, y = two_relevant_dims(n=60, d=50)
    assert TripletEmbedder(epochs=1).fit(X, y).transform(X).shape == (60, 5)
    assert TripletConfig().n_components is None


@pytest.mark.parametrize("joint", [False, True])
def test_mining_respects_thresholds(joint):
    rng = np.random.default_rng(1)
    y = rng.uniform(-1, 1, size=(200, 2) if joint else 200)
    triplets = mine_triplets(y, positive_threshold=0.15, negative_threshold=0.6, triplets_per_anchor=7,
                             random_state=0)
    dist = label_distances(y)
    a, p, n = triplets.T
    assert triplets.shape[1] == 3 and len(triplets) % 7 == 0
    assert np.all(dist[a, p] <= 0.15) and np.all(a != p)
    assert np.all(dist[a, n] >= 0.6)


def test_mining_skips_anchors_without_positives():
    y = np.array([0.0, 0.05, 0.9, -0.9])  # 0.9 and -0.9 have no neighbour within 0.1
    triplets = mine_triplets(y, positive_threshold=0.1, negative_threshold=0.5, triplets_per_anchor=2,
                             random_state=0)
    assert set(triplets[:, 0]) == {0, 1}


def test_semi_hard_negatives_are_beyond_the_positive_when_possible():
    rng = np.random.default_rng(2)
    y = rng.uniform(-1, 1, 150)
    emb = np.column_stack([y, rng.normal(scale=0.3, size=150)])
    triplets = mine_triplets(y, embedding=emb, semi_hard=True, margin=0.5, random_state=0)
    a, p, n = triplets.T
    d_ap = np.linalg.norm(emb[a] - emb[p], axis=1)
    d_an = np.linalg.norm(emb[a] - emb[n], axis=1)
    assert np.mean((d_an > d_ap) & (d_an < d_ap + 0.5)) > 0.5
    assert np.all(label_distances(y)[a, n] >= 0.5)


def test_embedding_finds_the_two_relevant_dimensions():
    X, y = two_relevant_dims()
    knn = KNeighborsRegressor(10)
    raw = cross_val_score(knn, X, y, cv=5, scoring="r2").mean()
    emb = TripletEmbedder(n_components=4, hidden_units=32, epochs=15, random_state=0).fit(X[:200], y[:200])
    knn.fit(emb.transform(X[:200]), y[:200])
    held_out = knn.score(emb.transform(X[200:]), y[200:])
    assert raw < 0.3
    assert held_out > 0.6


def test_same_seed_same_embedding_other_seed_differs():
    X, y = two_relevant_dims(n=80, d=12)
    a = TripletEmbedder(random_state=3, **FAST).fit(X, y).transform(X)
    b = TripletEmbedder(random_state=3, **FAST).fit(X, y).transform(X)
    c = TripletEmbedder(random_state=4, **FAST).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_state_round_trip_gives_identical_embedding():
    X, y = two_relevant_dims(n=80, d=12)
    est = TripletEmbedder(random_state=0, **FAST).fit(X, y)
    again = TripletEmbedder.from_state(est.state())
    np.testing.assert_array_equal(est.transform(X), again.transform(X))


def test_clear_errors():
    X, y = two_relevant_dims(n=40, d=6)
    with pytest.raises(ParameterError, match="identical"):
        TripletEmbedder(**FAST).fit(X, np.zeros(40))
    with pytest.raises(ParameterError, match="NaN"):
        TripletEmbedder(**FAST).fit(X, np.where(np.arange(40) == 3, np.nan, y))
    with pytest.raises(ParameterError, match="NaN"):
        TripletEmbedder(**FAST).fit(np.where(np.eye(40, 6) > 0, np.nan, X), y)
    with pytest.raises(ParameterError, match="threshold"):
        TripletEmbedder(positive_threshold=0.6, negative_threshold=0.5, **FAST).fit(X, y)
    est = TripletEmbedder(**FAST).fit(X, y)
    with pytest.raises(ModelError, match="6 features"):
        est.transform(X[:, :5])
