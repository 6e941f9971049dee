"""Feature-space maps: fitting, scoring, UMAP placement and the cache in the index."""
from __future__ import annotations

import json

import numpy as np
import pytest

from emolab import projection
from emolab.exceptions import ModelError, ParameterError
from emolab.index import annotations, projections, songs, vectors

FAST_UMAP = {"n_neighbors": 8, "n_epochs": 60}
FAST_TSNE = {"perplexity": 8, "max_iter": 500}
N_FEATURES = 6
COLUMNS = [f"feature_{i}" for i in range(N_FEATURES)]


def emotional_features(n, *, seed=0):
    """Valence and arousal on [-1, 1] and features that mix them (dims 0 and 1: one each)."""
    rng = np.random.default_rng(seed)
    valence, arousal = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    mixing = np.vstack([[1.0, 0.0], [0.0, 1.0], rng.uniform(-1, 1, (N_FEATURES - 2, 2))])
    X = np.column_stack([valence, arousal]) @ mixing.T + 0.05 * rng.standard_normal((n, N_FEATURES))
    return X, valence, arousal


def fill_index(index, X, valence, arousal, *, start=0):
    with index.transaction() as con:
        vectors.register_family(con, "deam74", COLUMNS)
        for i, (x, v, a) in enumerate(zip(X, valence, arousal), start=start):
            song_id = songs.add_song(con, title=f"Song {i}", artist=f"Composer {i % 3}", origin="dataset",
                                     dataset="synthetic", dataset_id=str(i))
            vectors.put_features(con, song_id, "deam74", x, origin="dataset")
            annotations.insert(con, {"song_id": song_id, "annotator": "rater", "kind": "static",
                                     "valence": float(v), "arousal": float(a)})


def test_a_map_of_the_emotion_dimensions_scores_higher_than_a_map_of_noise():
    X, valence, arousal = emotional_features(120)
    noise = np.random.default_rng(1).standard_normal((120, N_FEATURES))
    signal_map, _ = projection.fit_projection(X[:, :2], method="umap", **FAST_UMAP)
    noise_map, _ = projection.fit_projection(noise, method="umap", **FAST_UMAP)
    good = projection.knn_emotion_score(signal_map, valence, arousal)
    bad = projection.knn_emotion_score(noise_map, valence, arousal)
    assert signal_map.shape == (120, 2)
    assert good["r2_valence"] > 0.6 and good["r2_arousal"] > 0.6
    assert bad["r2_valence"] < good["r2_valence"] - 0.4
    assert bad["r2_arousal"] < good["r2_arousal"] - 0.4


def test_score_leaves_out_songs_without_values_and_needs_enough_of_them():
    coords = np.random.default_rng(0).standard_normal((40, 2))
    valence = coords[:, 0].copy()
    valence[:10] = np.nan
    arousal = np.full(40, np.nan)
    arousal[:5] = 0.3
    score = projection.knn_emotion_score(coords, valence, arousal, k=5)
    assert score["n_valence"] == 30 and score["r2_valence"] > 0.5
    assert score["n_arousal"] == 5 and score["r2_arousal"] is None


def test_umap_transform_places_a_duplicate_next_to_its_original():
    X, _, _ = emotional_features(100, seed=2)
    coords, fitted = projection.fit_projection(X, method="umap", **FAST_UMAP)
    placed = projection.project_new(fitted, X[[7, 42]])
    spread = np.linalg.norm(np.ptp(coords, axis=0))
    assert placed.shape == (2, 2)
    for point, original in zip(placed, (7, 42)):
        distances = np.linalg.norm(coords - point, axis=1)
        assert original in np.argsort(distances)[:5]
        assert distances[original] < 0.1 * spread


def test_tsne_cannot_place_new_songs_and_says_so():
    X, _, _ = emotional_features(40)
    coords, fitted = projection.fit_projection(X, method="tsne", **FAST_TSNE)
    assert coords.shape == (40, 2) and np.all(np.isfinite(coords))
    with pytest.raises(ParameterError, match="t-SNE"):
        projection.project_new(fitted, X[:1])


def test_bad_requests_are_refused_with_a_sentence():
    X, _, _ = emotional_features(20)
    with pytest.raises(ParameterError, match="at least"):
        projection.fit_projection(X[:3], method="tsne")
    with pytest.raises(ParameterError, match="no parameter"):
        projection.fit_projection(X, method="tsne", n_neighbors=5)
    with pytest.raises(ParameterError, match="umap"):
        projection.fit_projection(X, method="pca")


def test_missing_feature_values_do_not_break_a_map():
    X, _, _ = emotional_features(30)
    X[3, 2] = np.nan
    X[:, 4] = np.nan  # a column nobody has
    coords, _ = projection.fit_projection(X, method="tsne", **FAST_TSNE)
    assert np.all(np.isfinite(coords))


def test_maps_are_cached_in_the_index_until_the_data_changes(index):
    X, valence, arousal = emotional_features(40)
    fill_index(index, X, valence, arousal)
    first = projection.get_or_compute_map(index, family="deam74", method="tsne", params=FAST_TSNE)
    again = projection.get_or_compute_map(index, family="deam74", method="tsne", params=FAST_TSNE)
    assert not first.attrs["cached"] and again.attrs["cached"]
    assert again.attrs["created_at"] == first.attrs["created_at"]
    np.testing.assert_allclose(again[["x", "y"]], first[["x", "y"]])
    assert sorted(first.song_id) == list(range(1, 41))
    assert first.attrs["score"]["human"]["r2_valence"] > 0.3
    assert first.attrs["score"]["predicted"]["r2_valence"] is None  # no predictions stored

    X2, v2, a2 = emotional_features(3, seed=5)
    fill_index(index, X2, v2, a2, start=40)
    fresh = projection.get_or_compute_map(index, family="deam74", method="tsne", params=FAST_TSNE)
    assert not fresh.attrs["cached"] and len(fresh) == 43
    stored = projections.list_projections(index.con)
    assert list(stored.n_songs) == [43]  # the stale map was replaced, not kept beside it

    other = projection.get_or_compute_map(index, family="deam74", method="tsne",
                                          params={**FAST_TSNE, "perplexity": 5})
    assert not other.attrs["cached"]
    assert len(projections.list_projections(index.con)) == 2


def test_project_command_computes_then_reads_the_map(index, capsys):
    from emolab.cli import main

    X, valence, arousal = emotional_features(30)
    fill_index(index, X, valence, arousal)
    assert projection.family_sizes(index) == {"deam74": 30, "librosa": 0}
    path = str(index.path)
    index.close()
    args = ["project", "--method", "tsne", "--perplexity", "8", "--db", path]
    assert main(args) == 0
    assert "computed and stored" in capsys.readouterr().out
    assert main(args + ["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["songs"] == 30 and report["cached"]
    assert report["score"]["human"]["n_valence"] == 30
    assert main(["project", "--family", "librosa", "--db", path]) == 1
    assert "librosa" in capsys.readouterr().err


def test_a_map_of_an_empty_family_explains_what_is_missing(index):
    with pytest.raises(ParameterError, match="librosa"):
        projection.get_or_compute_map(index, family="librosa", method="tsne")
    with pytest.raises(ParameterError, match="feature space"):
        projection.get_or_compute_map(index, family="mfcc", method="tsne")


def test_missing_static_model_says_how_to_train_it(tmp_path):
    with pytest.raises(ModelError, match="train-static"):
        projection.load_static_model(tmp_path / "no-model-here")


@pytest.fixture(scope="module")
def small_static_model():
    from emolab.models.static import StaticConfig, StaticEmotionModel
    from emolab.models.tnn import TripletConfig

    X, valence, arousal = emotional_features(60, seed=3)
    config = StaticConfig(n_members=2, tnn=TripletConfig(n_components=3, epochs=2, hidden_units=16))
    return StaticEmotionModel(config).fit(X[:, 1:], np.column_stack([valence, arousal]), COLUMNS[1:])


def test_paired_maps_show_the_same_songs_in_raw_and_tnn_space(index, small_static_model):
    X, valence, arousal = emotional_features(50)
    fill_index(index, X, valence, arousal)
    pairs = projection.paired_maps(index, method="umap", params=FAST_UMAP, color_by="arousal",
                                   embedder=small_static_model)
    assert len(pairs) == 50 and pairs.song_id.is_unique
    for column in ("title", "artist", "valence", "arousal", "colour", "raw_x", "raw_y", "tnn_x", "tnn_y"):
        assert pairs[column].notna().all(), column
    np.testing.assert_allclose(pairs.colour, pairs.arousal)
    row = pairs.set_index("song_id").loc[1]
    assert row.title == "Song 0" and row.valence == pytest.approx(valence[0])
    assert pairs.attrs["raw_score"]["r2_arousal"] > 0.3
    assert pairs.attrs["tnn_score"]["n_valence"] == 50
    assert pairs.attrs["tnn_key"].startswith("tnn:umap:")

    placed = projection.place_new(index, X[[4]], family="tnn", params=FAST_UMAP, embedder=small_static_model)
    target = pairs.set_index("song_id").loc[5, ["tnn_x", "tnn_y"]].to_numpy(dtype=float)
    spread = np.linalg.norm(np.ptp(pairs[["tnn_x", "tnn_y"]].to_numpy(), axis=0))
    assert np.linalg.norm(placed[0] - target) < 0.1 * spread
