"""emolab.predict: loading the shipped models, and what "no model" means."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from emolab.predict import load_models


def test_missing_model_folders_mean_not_trained(tmp_path):
    models = load_models(tmp_path / "no-models-here")
    assert models.static is None and models.dynamic is None
    assert "train-static" in models.static_error
    assert "train-dynamic" in models.dynamic_error


@pytest.mark.parametrize("module", ["emolab.models.static", "emolab.models.dynamic"])
def test_a_broken_import_fails_loudly(tmp_path, monkeypatch, module):
    """A broken model module must not look like a model that is not trained yet."""
    monkeypatch.setitem(sys.modules, module, None)  # the next `import module` raises ImportError
    with pytest.raises(ImportError):
        load_models(tmp_path / "no-models-here")


def test_shipped_models_load():
    """The repository ships both models (data/models): they load, and the curve anchors on the static one."""
    models = load_models()
    assert models.static is not None, models.static_error
    assert models.dynamic is not None, models.dynamic_error
    assert models.dynamic.static_model is models.static


def test_curve_valence_moves_by_the_songs_4q_correction():
    """The 4Q stage corrects a song's valence; its curve moves by the same amount, clipped to [-1, 1]."""
    from emolab.predict import shift_to_static

    curve = np.array([-0.9, 0.0, 0.5, 0.95])
    static = {"valence": 0.3, "arousal": 0.0, "valence_deam": 0.1}
    np.testing.assert_allclose(shift_to_static(curve, static), [-0.7, 0.2, 0.7, 1.0])
    # without a stage the curve is unchanged
    np.testing.assert_allclose(shift_to_static(curve, {"valence": 0.3, "arousal": 0.0}), curve)
