"""Table 1 experiment: tuned SVR and the three pipelines (emolab.experiments.table1)."""
import numpy as np
import pytest

from emolab.exceptions import ParameterError
from emolab.experiments.table1 import PIPELINES, SVRGrid, TunedSVR, run_table1, table1_pipeline
from emolab.models.tnn import TripletConfig
from tests.test_static import songs


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
