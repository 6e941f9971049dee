"""Retraining on a library's labels writes a new versioned model, never the shipped one."""
from dataclasses import replace

import numpy as np
import pytest

from emolab import retrain
from emolab.config import MODELS_DIR
from emolab.exceptions import ModelError
from emolab.models.static import StaticConfig, StaticEmotionModel
from emolab.map_scores import embedder_saw
from tests.app_harness import add_features, fill_index
from emolab.index import open_index


@pytest.fixture
def labelled(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOLAB_HOME", str(tmp_path / "home"))
    path = tmp_path / "retrain.duckdb"
    fill_index(path, n_songs=40)  # every other song has a human label: 20
    add_features(path)
    return path


def small_config():
    config = StaticConfig(n_members=2, heads=("ridge",))
    return replace(config, tnn=replace(config.tnn, epochs=1, positive_threshold=0.6,
                                       negative_threshold=0.7))


def test_retrained_model_goes_to_a_dated_user_folder(labelled, tmp_path):
    shipped = {p.name: p.stat().st_mtime_ns for p in (MODELS_DIR / "static").iterdir()}
    with open_index(labelled) as index:
        model, folder = retrain.retrain_static(index, config=small_config())
    assert folder.parent == tmp_path / "home" / "models"
    assert folder.name.startswith("static-") and (folder / "model.json").is_file()
    assert retrain.retrained_models() == [folder]
    assert {p.name: p.stat().st_mtime_ns for p in (MODELS_DIR / "static").iterdir()} == shipped
    loaded = StaticEmotionModel.load(folder)
    assert loaded.version == model.version and loaded.version.startswith("static-retrained-")
    assert len(loaded.trained_on["song_ids"]) == 20
    # A model that records its songs tells the maps exactly which songs it saw.
    with open_index(labelled) as index:
        seen = embedder_saw(index, np.arange(1, 41), embedder=loaded)
    assert seen.sum() == 20 and list(np.flatnonzero(seen) + 1) == loaded.trained_on["song_ids"]


def test_retraining_refuses_the_shipped_folder_and_too_few_labels(labelled, tmp_path):
    with open_index(labelled) as index:
        with pytest.raises(ModelError, match="apart from the shipped"):
            retrain.retrain_static(index, out_dir=MODELS_DIR, config=small_config())
        index.con.execute("DELETE FROM annotations WHERE song_id > 10")
        with pytest.raises(ModelError, match="at least 10"):
            retrain.retrain_static(index, config=small_config())


def test_user_models_dir_follows_emolab_home(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOLAB_HOME", str(tmp_path))
    assert retrain.user_models_dir() == tmp_path / "models"
    monkeypatch.delenv("EMOLAB_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert retrain.user_models_dir() == tmp_path / "xdg" / "emolab" / "models"


def test_a_retrained_model_can_be_put_in_use_and_taken_back(labelled):
    from emolab import predict
    from tests.conftest import chord

    assert retrain.models_dir_in_use() is None and retrain.static_model_in_use() is None
    with open_index(labelled) as index:
        model, folder = retrain.retrain_static(index, config=small_config())
    with pytest.raises(ModelError, match="not one of your retrained models"):
        retrain.use_static_model(MODELS_DIR / "static")
    broken = folder.parent / "static-broken"
    broken.mkdir()
    (broken / "model.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot be used"):
        retrain.use_static_model(broken)
    assert retrain.models_dir_in_use() is None  # a refused choice changes nothing
    models_dir = retrain.use_static_model(folder)
    assert models_dir == retrain.models_dir_in_use() and retrain.static_model_in_use() == folder.name
    models = predict.load_models(models_dir)
    assert models.static.version == model.version
    assert models.valence is None  # the 4Q correction belongs to the shipped static model
    band = predict.predict_dynamic_band(chord(seconds=12.0), 22050, model=models.dynamic)
    assert len(band["times"]) > 0 and np.isfinite(band["valence"]).all()
    assert retrain.use_static_model(None) is None and retrain.models_dir_in_use() is None
    assert predict.load_models().static.version != model.version
