"""Nested cross-validation of the shipped recipe (emolab.experiments.static_cv)."""
from dataclasses import replace

import numpy as np

from emolab.experiments.static_cv import nested_cv, outer_splits
from tests.test_static import COLUMNS, TINY, songs


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
    assert scores[["coverage_68", "coverage_90"]].notna().all().all()
    assert (scores["coverage_90"] >= scores["coverage_68"]).all()
    # The constant baseline (the outer training mean) scores at most about 0; the model far above it.
    assert scores["r2_constant"].max() < 0.05 and (scores["r2"] > scores["r2_constant"]).all()
    # The recipe's own combination (ridge alone, plain mean) is one of the candidates.
    np.testing.assert_allclose(scores["r2"], scores["r2_mean"])
    assert {"r2_mean", "r2_stack"} <= set(scores.columns)


def test_grouped_outer_splits_never_share_an_artist_and_grouped_cv_runs():
    X, Y = songs(n=80)
    groups = np.repeat(np.arange(16), 5)
    for train, test in outer_splits(80, folds=4, seed=1, groups=groups):
        assert not set(groups[train]) & set(groups[test])
    config = replace(TINY, heads=("ridge",), tnn=replace(TINY.tnn, positive_threshold=0.4))
    scores = nested_cv(X, Y, COLUMNS, config, folds=2, repeats=1, groups=groups)
    assert scores.loc[scores["target"] == "arousal", "r2"].min() > 0.5


def test_static_cv_cli_takes_the_column_set_and_prints_the_candidates_and_the_baseline(tmp_path, capsys):
    import pandas as pd

    from emolab.cli import main
    from emolab.features.deam import DEAM74_COLUMNS

    rng = np.random.default_rng(0)
    n = 60
    X = rng.normal(size=(n, len(DEAM74_COLUMNS)))
    table = pd.DataFrame(X, columns=DEAM74_COLUMNS)
    table.insert(0, "track_id", np.arange(1001, 1001 + n))  # ids above 1000: no DEAM swap
    table["valence_mean"] = 5 + 2 * np.tanh(X[:, 0])
    table["arousal_mean"] = 5 + 2 * np.tanh(X[:, 1])
    table["valence_std"] = table["arousal_std"] = 1.0
    table.to_csv(tmp_path / "deam.csv", index=False)
    common = ["experiment", "static-cv", "--features", str(tmp_path / "deam.csv"), "--folds", "2", "--repeats", "1",
              "--members", "2", "--heads", "ridge"]
    assert main(common + ["--columns", "fast+pitch", "--combine", "stack", "--cross-target"]) == 0
    out = capsys.readouterr().out
    assert "67 feature columns" in out and "(stack with cross-target" in out
    assert "combined by stack+cross" in out and "constant baseline" in out
    assert main(common + ["--columns", "fast"]) == 0
    out = capsys.readouterr().out
    assert "55 feature columns" in out and "(mean, SVR scaling relevance)" in out
    assert main(common) == 0  # the default: all 67, as the shipped model
    assert "67 feature columns" in capsys.readouterr().out
