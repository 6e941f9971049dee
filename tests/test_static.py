"""Static emotion: Table 1 pipelines, the shipped model's checkpoint, predict-features."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from emolab.cli import main
from emolab.config import MODELS_DIR
from emolab.exceptions import ModelError, ParameterError
from emolab.models.static import (PIPELINES, SVRGrid, StaticConfig, StaticEmotionModel, TunedSVR, nested_cv,
                                  recomputable_columns, run_table1, table1_pipeline)
from emolab.models.tnn import TripletConfig

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


def test_tuned_svr_picks_from_its_grid():
    X, Y = songs()
    svr = TunedSVR(C=(0.1, 10.0), gamma_factors=(1.0,), epsilon=(0.05,)).fit(X[:, :3] / 3, Y[:, 1])
    assert svr.best_params_["C"] in (0.1, 10.0)
    assert svr.best_params_["gamma"] == pytest.approx(1 / 3)
    assert svr.score(X[:, :3] / 3, Y[:, 1]) > 0.8


@pytest.mark.parametrize("kind", PIPELINES)
def test_table1_pipelines_learn_the_signal(kind):
    X, Y = songs()
    grid = SVRGrid(C=(1.0,), gamma_factors=(0.5,), inner_folds=2)
    # 90 songs are few for 0.1-wide positive windows: widen them.
    tnn = TripletConfig(hidden_units=16, epochs=20, positive_threshold=0.3)
    model = table1_pipeline(kind, n_components=3, grid=grid, tnn=tnn).fit(X[:90], Y[:90, 1])
    assert model.score(X[90:], Y[90:, 1]) > 0.2


def test_run_table1_uses_the_same_folds_for_every_pipeline():
    X, Y = songs(n=60)
    grid = SVRGrid(C=(1.0,), gamma_factors=(0.5,))
    scores = run_table1(X, Y, folds=2, n_components=2, pipelines=("svr", "pca_svr"), grid=grid)
    assert len(scores) == 2 * 2 * 2
    assert set(scores["fold"]) == {0, 1} and scores["r2"].notna().all()
    with pytest.raises(ParameterError, match="same value"):
        run_table1(X, np.column_stack([Y[:, 0], np.ones(60)]), folds=2, grid=grid)


def test_model_predicts_with_uncertainty(tiny_model):
    X, Y = songs(seed=1)
    mean, std = tiny_model.predict(X)
    assert mean.shape == std.shape == (120, 2)
    assert np.all(std >= 0) and np.all(np.isfinite(std))
    assert np.corrcoef(mean[:, 1], Y[:, 1])[0, 1] > 0.8
    assert tiny_model.embed(X).shape == (120, 3)
    assert set(tiny_model.cv_scores) >= {"r2_valence", "r2_arousal"}
    assert tiny_model.version.startswith("static-svr-ridge-hgb-")


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


def test_nested_cv_scores_the_ensemble_on_unseen_songs():
    X, Y = songs(n=80)
    # Members see 20 songs each: widen the embedder's positive window so triplets exist.
    config = replace(TINY, heads=("ridge",), tnn=replace(TINY.tnn, positive_threshold=0.4))
    scores = nested_cv(X, Y, COLUMNS, config, folds=2, repeats=2)
    assert len(scores) == 2 * 2 * 2 and set(scores["repeat"]) == {0, 1}
    arousal = scores.loc[scores["target"] == "arousal", "r2"]
    assert arousal.min() > 0.5  # dim 2 explains arousal almost linearly
    repeat0 = nested_cv(X, Y, COLUMNS, config, folds=2, repeats=1)
    np.testing.assert_allclose(repeat0["r2"], scores.loc[scores["repeat"] == 0, "r2"])


def test_recomputable_columns_drop_the_seven_others():
    from emolab.features.deam import DEAM74_COLUMNS

    kept = recomputable_columns(DEAM74_COLUMNS)
    assert len(kept) == 67 and "audSpec_Rfilt_sma[0]_amean" not in kept


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


def test_shipped_model_predicts_sensible_values():
    if not (MODELS_DIR / "static" / "model.json").exists():
        pytest.skip("the static model has not been trained yet (python -m emolab train-static)")
    model = StaticEmotionModel.load()
    assert len(model.feature_columns) == 67
    rng = np.random.default_rng(0)
    X = model.feature_mean + rng.normal(size=(20, 67)) * model.feature_std
    mean, std = model.predict(X)
    assert np.all(np.isfinite(mean)) and np.all(np.abs(mean) <= 1.5)
    assert np.all(np.isfinite(std)) and np.all(std >= 0)


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
