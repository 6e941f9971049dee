"""Static emotion: the shipped model, its conformal intervals, its checkpoint, predict-features."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from emolab.cli import main
from emolab.config import MODELS_DIR
from emolab.exceptions import ModelError, ParameterError
from emolab.models.static import (INTERVAL_LEVELS, StaticConfig, StaticEmotionModel, conformal_halfwidths,
                                  model_columns, recomputable_columns)
from emolab.models.tnn import TripletConfig
from tests.conftest import shared_path

COLUMNS = [f"feat_{i}" for i in range(8)]
TINY = StaticConfig(n_members=2, tnn=TripletConfig(n_components=3, hidden_units=8, epochs=2))


def songs(n=120, seed=0):
    """Features where dims 0-1 drive valence and dim 2 arousal; labels on [-1, 1]."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(COLUMNS))) * 3 + 10
    Y = np.column_stack([np.tanh((X[:, 0] - 10) / 3 + (X[:, 1] - 10) / 6),
                         np.tanh((X[:, 2] - 10) / 3)])
    return X, Y + rng.normal(scale=0.05, size=Y.shape)


@pytest.fixture(scope="module")
def tiny_model():
    X, Y = songs()
    return StaticEmotionModel(TINY).fit(X, Y, COLUMNS)


def test_model_predicts_with_uncertainty(tiny_model):
    X, Y = songs(seed=1)
    mean, std = tiny_model.predict(X)
    assert mean.shape == std.shape == (120, 2)
    assert np.all(std >= 0) and np.all(np.isfinite(std))
    assert np.corrcoef(mean[:, 1], Y[:, 1])[0, 1] > 0.8
    assert tiny_model.embed(X).shape == (120, 3)
    assert set(tiny_model.cv_scores) >= {"r2_valence", "r2_arousal"}
    assert tiny_model.version.startswith("static-svr-ridge-hgb-20")


def test_songs_far_outside_the_training_range_stay_on_the_scale(tiny_model):
    X, _ = songs(n=4, seed=4)
    X[0] *= 100.0
    X[1] = -X[1]
    mean, std = tiny_model.predict(X)
    assert np.all(np.abs(mean) <= 1.0) and np.all(np.isfinite(std))


def test_save_load_round_trip_is_identical(tiny_model, tmp_path):
    X, _ = songs(seed=2)
    tiny_model.save(tmp_path / "static")
    loaded = StaticEmotionModel.load(tmp_path / "static")
    assert loaded.feature_columns == COLUMNS and loaded.version == tiny_model.version
    assert loaded.config == tiny_model.config
    for a, b in zip(tiny_model.predict(X), loaded.predict(X)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(tiny_model.embed(X), loaded.embed(X), rtol=1e-6)


def test_clear_errors(tiny_model, tmp_path):
    X, _ = songs()
    with pytest.raises(ModelError, match="expects 8"):
        tiny_model.predict(X[:, :7])
    X[3, 2] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        tiny_model.predict(X)
    with pytest.raises(ModelError, match="train-static"):
        StaticEmotionModel.load(tmp_path / "nowhere")
    with pytest.raises(ParameterError, match="NaN"):
        StaticEmotionModel(TINY).fit(X, songs()[1], COLUMNS)


def test_heads_are_checked_before_training_and_any_subset_trains():
    X, Y = songs(n=60)
    with pytest.raises(ParameterError, match="forest"):
        StaticEmotionModel(replace(TINY, heads=("svr", "forest"))).fit(X, Y, COLUMNS)
    ridge_only = StaticEmotionModel(replace(TINY, heads=("ridge",))).fit(X, Y, COLUMNS)
    assert ridge_only.version.startswith("static-ridge-")
    assert np.corrcoef(ridge_only.predict(X)[0][:, 1], Y[:, 1])[0, 1] > 0.8


def test_recomputable_columns_drop_the_seven_others_and_the_fast_set_the_pitch_chain():
    from emolab.features.deam import DEAM74_COLUMNS

    kept = recomputable_columns(DEAM74_COLUMNS)
    assert len(kept) == 67 and "audSpec_Rfilt_sma[0]_amean" not in kept
    assert model_columns(DEAM74_COLUMNS) == kept  # the default set: all 67, pitch chain included
    used = model_columns(DEAM74_COLUMNS, columns_set="fast")
    assert len(used) == 55 and "F0final_sma_amean" not in used and "logHNR_sma_stddev" not in used
    assert set(used) < set(kept)


def test_predict_features_cli(tiny_model, tmp_path, capsys):
    tiny_model.save(tmp_path / "model")
    X, _ = songs(n=5, seed=3)
    table = pd.DataFrame(X, columns=COLUMNS)
    table.insert(0, "track_id", [11, 12, 13, 14, 15])
    table["comment"] = "extra columns are ignored"
    table.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.csv"
    assert main(["predict-features", str(tmp_path / "in.csv"), "--out", str(out),
                 "--model", str(tmp_path / "model")]) == 0
    result = pd.read_csv(out)
    assert list(result.columns) == ["track_id", "valence", "arousal", "valence_std", "arousal_std"]
    assert list(result["track_id"]) == [11, 12, 13, 14, 15]
    mean, _ = tiny_model.predict(X)
    np.testing.assert_allclose(result["arousal"], mean[:, 1] * 4 + 5, atol=1e-3)

    table.drop(columns=["feat_4"]).to_csv(tmp_path / "short.csv", index=False)
    assert main(["predict-features", str(tmp_path / "short.csv"), "--out", str(out),
                 "--model", str(tmp_path / "model")]) == 1
    assert "feat_4" in capsys.readouterr().err


def test_shipped_model_spreads_its_predictions_and_its_intervals_grow_with_the_level():
    model = StaticEmotionModel.load()
    assert model.feature_columns == model_columns(model.feature_columns) and len(model.feature_columns) == 67
    rng = np.random.default_rng(0)
    X = model.feature_mean + rng.normal(size=(20, len(model.feature_columns))) * model.feature_std
    mean, std = model.predict(X)
    # Songs unlike each other get different predictions (a constant output would pass a range check).
    assert np.all(mean.std(axis=0) > 0.02) and np.all(np.abs(mean) <= 1.0)
    half = np.array([model.interval_halfwidths[f"{level:g}"] for level in INTERVAL_LEVELS])
    assert np.all(np.diff(half, axis=0) > 0) and np.all(half[0] > 0.05) and np.all(half[-1] < 1.0)
    np.testing.assert_allclose(std, np.broadcast_to(half[INTERVAL_LEVELS.index(0.68)], std.shape))


def test_shipped_model_tracks_human_arousal_on_the_emomusic_clips():
    """Quality pin: the shipped model, fed by the fast extractor, on the 10 emoMusic clips with labels.

    These songs are DEAM songs 2-17, so they were among the training songs: the figure is
    flattering, and the tolerance is wide; it catches a broken extractor, calibration or
    column order (those give r near 0), not a small drift.
    """
    from emolab import audio
    from emolab.datasets import read_emomusic
    from emolab.features.deam_fast import deam_song_vector

    root = shared_path("emomusic")
    tables = read_emomusic(root)
    songs = tables.songs.dropna(subset=["audio_path"]).merge(tables.static, on="dataset_id")
    assert len(songs) == 10
    model = StaticEmotionModel.load()
    X = np.stack([deam_song_vector(*_decoded(audio.load(p, sr=None)), columns=model.feature_columns)
                  for p in songs["audio_path"]])
    mean, _ = model.predict(X)
    r_arousal = np.corrcoef(mean[:, 1], songs["arousal"])[0, 1]
    r_valence = np.corrcoef(mean[:, 0], songs["valence"])[0, 1]
    # Measured with the shipped model (static-svr-ridge-hgb-2026-12-02, 67 columns): r 0.79
    # (arousal), 0.85 (valence); mean absolute error 0.12 / 0.11 (scripts/valence_emomusic_check.py).
    # A broken extractor, calibration or column order gives r near 0.
    assert r_arousal >= 0.6
    assert r_valence >= 0.65
    rmse = np.sqrt(((mean - songs[["valence", "arousal"]].to_numpy()) ** 2).mean(axis=0))
    assert np.all(rmse < songs[["valence", "arousal"]].std(ddof=0).to_numpy())


def _decoded(sound):
    return sound.y, sound.sr


def test_conformal_halfwidths_cover_their_level():
    rng = np.random.default_rng(0)
    residual = rng.normal(scale=[0.1, 0.3], size=(2000, 2))
    half = conformal_halfwidths(residual)
    assert set(half) == {f"{level:g}" for level in INTERVAL_LEVELS}
    np.testing.assert_allclose(half["0.68"], [0.1 * 0.994, 0.3 * 0.994], rtol=0.08)
    fresh = np.abs(rng.normal(scale=[0.1, 0.3], size=(20000, 2)))
    for level in INTERVAL_LEVELS:
        coverage = (fresh <= np.array(half[f"{level:g}"])).mean(axis=0)
        assert np.all(np.abs(coverage - level) < 0.03)


def test_interval_contains_the_prediction_and_widens_with_the_level(tiny_model):
    X, _ = songs(n=10, seed=5)
    mean, std = tiny_model.predict(X)
    low68, high68 = tiny_model.interval(X, level=0.68)
    low95, high95 = tiny_model.interval(X, level=0.95)
    assert np.all(low95 <= low68) and np.all(low68 <= mean) and np.all(mean <= high68) and np.all(high68 <= high95)
    assert np.all(high95 - low95 > high68 - low68) or np.all(np.abs(mean) > 0.9)
    with pytest.raises(ParameterError, match="0.68"):
        tiny_model.interval(X, level=0.7)


def test_grouped_fold_models_keep_each_artist_on_one_side():
    X, Y = songs(n=60)
    groups = np.repeat(np.arange(12), 5)
    model = StaticEmotionModel(replace(TINY, heads=("ridge",))).fit(X, Y, COLUMNS, groups=groups)
    assert model.trained_on["grouped_by_artist"] and "grouped by artist" in model.cv_scores["protocol"]
    assert model.cv_scores["r2_arousal"] > 0.5


def test_table1_cli_writes_the_report(tmp_path, capsys):
    X, Y = songs(n=40)
    table = pd.DataFrame(X, columns=COLUMNS)
    table.insert(0, "track_id", np.arange(1001, 1041))  # ids above 1000: no DEAM swap
    table["valence_mean"], table["arousal_mean"] = Y[:, 0] * 4 + 5, Y[:, 1] * 4 + 5
    table["valence_std"] = table["arousal_std"] = 1.0
    table.to_csv(tmp_path / "deam.csv", index=False)
    out = tmp_path / "table1.md"
    assert main(["experiment", "table1", "--features", str(tmp_path / "deam.csv"), "--folds", "2",
                 "--pipelines", "svr,pca_svr", "--components", "2", "--all-columns", "--out", str(out)]) == 0
    report = out.read_text()
    assert "| SVR on standardised features |" in report and "| PCA(k) → SVR |" in report
    assert "TNN(k)" not in report and "40 DEAM songs" in report
    assert "--folds 2" in report and "0.614" in report  # the command and the paper's figures
    assert main(["train-static", "--features", str(tmp_path / "deam.csv"), "--out", str(tmp_path / "m")]) == 1
    assert "recompute" in capsys.readouterr().err


def test_damaged_checkpoint_is_a_model_error(tiny_model, tmp_path):
    tiny_model.save(tmp_path / "m")
    (tmp_path / "m" / "heads.joblib").write_bytes(b"not a joblib file")
    with pytest.raises(ModelError, match="retrain"):
        StaticEmotionModel.load(tmp_path / "m")


def test_stack_weights_recover_the_heads_mix_and_never_subtract_an_own_head():
    from emolab.models.static import fit_stack, stack_inputs

    rng = np.random.default_rng(0)
    n = 500
    truth = rng.normal(size=(n, 2))
    good, noisy = truth + rng.normal(scale=0.3, size=(n, 2)), truth + rng.normal(scale=1.0, size=(n, 2))
    anti = -truth + rng.normal(scale=0.1, size=(n, 2))  # a head worse than useless
    P = np.stack([good, noisy, anti], axis=2)  # (n, targets, heads)
    Y = 0.5 * truth + 0.2
    w, b = fit_stack(P, Y, cross_target=False)
    assert w.shape == (2, 3) and np.all(w >= 0)
    assert np.all(w[:, 2] == 0) and np.all(w[:, 0] > 4 * w[:, 1])  # the reversed head is left out
    np.testing.assert_allclose(b, 0.2, atol=0.05)
    # With cross_target, valence may read arousal's heads, with either sign.
    Y2 = np.column_stack([truth[:, 0] - 0.5 * truth[:, 1], truth[:, 1]])
    w2, _ = fit_stack(P[:, :, :2], Y2, cross_target=True)
    assert w2.shape == (2, 4) and np.all(w2[:, :2] >= 0) and w2[0, 2:].sum() < -0.3
    assert stack_inputs(P, cross_target=True).shape == (n, 2, 6)
    # the valence stack reads valence's heads first, then arousal's
    np.testing.assert_array_equal(stack_inputs(P, cross_target=True)[:, 0, 3:], P[:, 1])


def test_stacking_learns_from_held_out_songs_and_mean_is_the_old_recipe():
    X, Y = songs(n=160)
    stacked = StaticEmotionModel(replace(TINY, combine="stack", cross_target=True)).fit(X, Y, COLUMNS)
    plain = StaticEmotionModel(TINY).fit(X, Y, COLUMNS)
    assert plain.config.combine == "mean" and stacked.version.startswith("static-svr-ridge-hgb-stack-")
    assert stacked.stack_weights_.shape == (2, 6) and plain.stack_weights_.shape == (2, 3)
    np.testing.assert_allclose(plain.stack_weights_, 1 / 3)
    # Same seeds, same heads: the stack, fitted on those out-of-fold predictions, fits them at least as well.
    for t in ("valence", "arousal"):
        assert stacked.cv_scores[f"r2_{t}"] >= plain.cv_scores[f"r2_{t}"] - 1e-9
    X2, _ = songs(n=10, seed=7)
    np.testing.assert_allclose(plain.predict(X2)[0], plain.head_predictions(X2).mean(axis=2).clip(-1, 1))
    with pytest.raises(ParameterError, match="stack"):
        StaticEmotionModel(replace(TINY, combine="median")).fit(X, Y, COLUMNS)


def test_model_saved_before_stacking_loads_as_the_plain_mean(tmp_path):
    import json

    X, Y = songs(n=80)
    plain = StaticEmotionModel(replace(TINY, combine="mean")).fit(X, Y, COLUMNS)
    plain.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    for key in ("stack_weights", "stack_intercept"):
        del meta[key]
    for key in ("combine", "cross_target", "svr_scaling"):
        del meta["config"][key]
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    loaded = StaticEmotionModel.load(tmp_path / "old")
    assert loaded.config.combine == "mean" and not loaded.config.cross_target
    assert loaded.config.svr_scaling == "none"  # what the models before it had
    np.testing.assert_allclose(loaded.predict(X)[0], plain.predict(X)[0], atol=1e-12)


def test_column_sets_name_the_fast_and_the_fast_plus_pitch_columns():
    from emolab.features.deam import DEAM74_COLUMNS
    from emolab.models.static import column_set

    assert len(column_set("fast")) == 55 and len(column_set("fast+pitch")) == 67
    assert model_columns(DEAM74_COLUMNS, columns_set="fast+pitch") == recomputable_columns(DEAM74_COLUMNS)
    with pytest.raises(ParameterError, match="fast"):
        column_set("all")
