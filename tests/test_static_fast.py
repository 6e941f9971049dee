"""The static model's prediction-only form (emolab.models.static_fast) against the full model."""
import shutil
import subprocess
import sys

import numpy as np
import pytest

from emolab.config import MODELS_DIR
from emolab.models import static_fast

SHIPPED = MODELS_DIR / "static"
pytestmark = pytest.mark.skipif(not (SHIPPED / "heads.joblib").exists(), reason="no shipped static model")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def _songs(model, n=40, seed=0):
    rng = np.random.default_rng(seed)
    return model.feature_mean + model.feature_std * rng.standard_normal((n, len(model.feature_columns))) * 1.5


def test_fast_model_predicts_as_the_full_model(cache):
    from emolab.models.static import StaticEmotionModel

    full = StaticEmotionModel.load(SHIPPED)
    built = static_fast.load_static(SHIPPED)          # compiles and writes the cached arrays
    assert list(cache.glob("*.static.npz"))
    read = static_fast.load_static(SHIPPED)           # reads them back, never touching the full model
    assert isinstance(read, static_fast.FastStaticModel) and read._full is None
    X = _songs(full)
    X[0] = full.feature_mean + 50 * full.feature_std  # outside the training range: clipped alike
    want_mean, want_std = full.predict(X)
    for model in (built, read):
        mean, std = model.predict(X)
        np.testing.assert_allclose(mean, want_mean, atol=1e-12)
        np.testing.assert_array_equal(std, want_std)
        low, high = model.interval(X[:3], level=0.9)
        np.testing.assert_allclose(low, full.interval(X[:3], level=0.9)[0], atol=1e-12)
    assert read.predict(X)[0].std(axis=0).min() > 0.01  # not a constant answer
    assert read.feature_columns == full.feature_columns and read.version == full.version
    assert read._full is None


def test_fast_model_answers_the_rest_from_the_full_model(cache):
    read = static_fast.load_static(SHIPPED)
    read = static_fast.load_static(SHIPPED)
    X = _songs(read, n=3)
    assert read.embed(X).shape[0] == 3               # the maps' embedding: the full model, loaded now
    assert read._full is not None


def test_a_changed_model_gets_a_new_copy(cache, tmp_path):
    folder = tmp_path / "static"
    shutil.copytree(SHIPPED, folder)
    static_fast.load_static(folder)
    meta = (folder / "model.json").read_text().replace('"version": "', '"version": "changed-', 1)
    (folder / "model.json").write_text(meta)
    assert static_fast.load_static(folder).version.startswith("changed-")
    assert len(list(cache.glob("*.static.npz"))) == 2


def test_prediction_process_imports_neither_sklearn_nor_torch(cache):
    static_fast.load_static(SHIPPED)  # the cached copy exists
    code = ("import sys, numpy as np; from emolab import predict; m = predict.load_models(); "
            "x = m.static.feature_mean[None, :]; m.static.predict(x); "
            "print(sorted({k.split('.')[0] for k in sys.modules} & {'sklearn', 'torch', 'librosa', 'numba'}))")
    import os

    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]


def test_a_stacked_relevance_svr_model_predicts_as_its_full_model(cache, tmp_path):
    """The recipe's options (relevance-scaled SVR, stacking weights across targets) survive the numpy form."""
    from dataclasses import replace

    from emolab.models.static import StaticConfig, StaticEmotionModel
    from emolab.models.tnn import TripletConfig

    full_columns = StaticEmotionModel.load(SHIPPED).feature_columns
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, len(full_columns))) * 2 + 5
    Y = np.tanh(np.column_stack([X[:, 0] - 5, X[:, 1] - X[:, 2]]) / 3)
    config = replace(StaticConfig(tnn=TripletConfig(n_components=2, hidden_units=8, epochs=1)),
                     svr_scaling="relevance", combine="stack", cross_target=True, hgb_iterations=20)
    model = StaticEmotionModel(config).fit(X, Y, list(full_columns))
    folder = model.save(tmp_path / "static")
    fast = static_fast.load_static(folder)
    fast = static_fast.load_static(folder)
    assert isinstance(fast, static_fast.FastStaticModel) and fast._full is None
    assert fast.stack_weights_.shape[1] > 3  # cross-target stack: more inputs than heads
    Xn = X[:10] + rng.normal(size=(10, X.shape[1]))
    np.testing.assert_allclose(fast.predict(Xn)[0], model.predict(Xn)[0], atol=1e-12)
