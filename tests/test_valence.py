"""The 4Q valence second stage (emolab.models.valence), artist-grouped folds and the combined
training on a tiny 4Q tree over the shipped DEAM static model (emolab.experiments.quadrants)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from emolab import audio, predict
from emolab.exceptions import ModelError, ParameterError
from emolab.experiments import quadrants
from emolab.models.static import StaticEmotionModel
from emolab.models.valence import ValenceModel, ValenceSecondStage, load_for
from tests.conftest import write_audio
from tests.test_datasets import make_deam
from tests.test_fourq import make_fourq


def synthetic(n=120, seed=0):
    """First stage that knows arousal but not valence; an extra feature that knows valence."""
    rng = np.random.default_rng(seed)
    signs = np.column_stack([rng.choice([-1, 1], n), rng.choice([-1, 1], n)])
    first = np.column_stack([rng.normal(0, 0.2, n) - 0.1, 0.3 * signs[:, 1] + rng.normal(0, 0.1, n)])
    extra = np.column_stack([signs[:, 0] + rng.normal(0, 0.7, n), rng.normal(size=(n, 3))])
    groups = np.repeat(np.arange(n // 2), 2)
    return first, extra, signs, groups


def test_second_stage_learns_the_sign_and_stays_a_bounded_rating():
    first, extra, signs, groups = synthetic()
    tr, te = np.arange(80), np.arange(80, 120)
    stage = ValenceSecondStage(bound={"valence": 0.25, "arousal": 0.2}).fit(
        first[tr], extra[tr], signs[tr], groups=groups[tr])
    out = stage.predict(first[te], extra[te])
    assert out.shape == (40, 2) and np.all(np.abs(out) <= 1.0)
    assert stage.bound_["valence"] in (0.125, 0.25, 0.5) and stage.bound_["arousal"] in (0.1, 0.2, 0.4)
    assert np.all(np.abs(out[:, 0] - first[te, 0]) <= stage.bound_["valence"] + 1e-12)
    assert np.all(np.abs(out[:, 1] - first[te, 1]) <= stage.bound_["arousal"] + 1e-12)
    before = roc_auc_score(signs[te, 0] > 0, first[te, 0])
    after = roc_auc_score(signs[te, 0] > 0, out[:, 0])
    assert before < 0.7 < after  # the first stage is near chance on valence, the corrected one is not
    assert stage.C_["valence"] in stage.Cs


def test_uncorrected_target_passes_through_and_round_trip():
    first, extra, signs, groups = synthetic()
    stage = ValenceSecondStage(targets=("valence",)).fit(first, extra, signs, groups=groups)
    out = stage.predict(first, extra)
    np.testing.assert_array_equal(out[:, 1], first[:, 1])
    assert np.isnan(stage.decision_function(first, extra)[:, 1]).all()
    again = ValenceSecondStage.from_dict(stage.to_dict())
    np.testing.assert_allclose(again.predict(first, extra), out)


def test_second_stage_refuses_bad_input():
    first, extra, signs, _ = synthetic(20)
    with pytest.raises(ParameterError, match="signs"):
        ValenceSecondStage().fit(first, extra, signs * 2)
    with pytest.raises(ParameterError, match="same sign"):
        ValenceSecondStage().fit(first, extra, np.ones_like(signs))
    with pytest.raises(ModelError, match="not trained"):
        ValenceSecondStage().predict(first, extra)


def test_artist_folds_never_split_an_artist():
    rng = np.random.default_rng(1)
    artists = np.array([f"artist{i}" for i in rng.integers(0, 40, 160)])
    quadrant = np.array([f"Q{1 + i % 4}" for i in range(160)])
    folds = quadrants.artist_folds(quadrant, artists, n_splits=5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested) == list(range(160))
    for train, test in folds:
        assert not set(artists[train]) & set(artists[test])
        assert set(quadrant[test]) == {"Q1", "Q2", "Q3", "Q4"}


def test_scores_against_trivial_and_perfect_answers():
    signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]] * 5)
    const = quadrants.scores(np.zeros(20), np.zeros(20), signs)
    assert const == {"quadrant_accuracy": 0.25, "valence_auc": 0.5, "arousal_auc": 0.5}
    perfect = quadrants.scores(0.3 * signs[:, 0], 0.2 * signs[:, 1], signs)
    assert perfect == {"quadrant_accuracy": 1.0, "valence_auc": 1.0, "arousal_auc": 1.0}


def _chord(minor: bool, loud: bool, seconds=2.5, sr=22050, seed=0):
    """A triad on A3 (minor or major); loud ones add fast noise bursts."""
    t = np.arange(int(seconds * sr)) / sr
    third = 2 ** ((3 if minor else 4) / 12)
    y = sum(np.sin(2 * np.pi * 220.0 * r * t) for r in (1.0, third, 1.5)) / 3
    if loud:
        rng = np.random.default_rng(seed)
        y = 0.8 * y + 0.4 * rng.normal(size=len(t)) * (np.sin(2 * np.pi * 8 * t) > 0.5)
    else:
        y = 0.15 * y
    return (0.8 * y / max(1e-9, np.abs(y).max()) * (1.0 if loud else 0.2)).astype(np.float32)


@pytest.fixture
def tiny_4q(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOLAB_CACHE", str(tmp_path / "cache"))
    clips = [(f"MT{i:010d}", f"artist{i // 2}", f"Q{1 + i % 4}") for i in range(16)]
    root = make_fourq(tmp_path / "4q", clips, audio=False)
    for i, (song, _, quadrant) in enumerate(clips):
        folder = root / "audio" / quadrant
        folder.mkdir(parents=True, exist_ok=True)
        write_audio(folder / f"{song}.wav", _chord(minor=quadrant in ("Q2", "Q3"), loud=quadrant in ("Q1", "Q2"),
                                                   seed=i), 22050)
    make_deam(tmp_path / "deam")
    return root


def test_combined_training_on_a_tiny_4q_tree(tiny_4q, tmp_path):
    static = StaticEmotionModel.load()
    model = quadrants.train_valence_model(tiny_4q, deam_root=tmp_path / "deam", static_model=static, jobs=1,
                                          command="python -m emolab train-valence 4q")
    assert model.static_version == static.version
    assert model.extra_kinds == ["tonal-v1"]
    data = quadrants.load_data(tiny_4q, static_model=static, jobs=1, vibenet=False)  # now from the cache
    assert len(list((tmp_path / "cache" / "4q").glob("tonal-v1-mid12s/*.npy"))) == 16
    f = model.stage.decision_function(data.static, data.extra(model.extra_kinds))
    assert roc_auc_score(data.signs[:, 0] > 0, f[:, 0]) > 0.9  # major vs minor learnt on the training clips
    out = model.stage.predict(data.static, data.extra(model.extra_kinds))
    bound = model.stage.bound_
    assert np.all(np.abs(out[:, 0] - data.static[:, 0]) <= bound["valence"] + 1e-12)
    assert 0.05 < model.stage.bound["valence"] < 1.0  # DEAM's rating spread of the tiny DEAM tree

    assert model.excerpt_s == quadrants.EXCERPT_S == 12.0  # read at prediction as at fitting
    folder = model.save(tmp_path / "models" / "valence")
    loaded, message = load_for(static, folder)
    assert loaded.excerpt_s == 12.0
    assert message is None and static.valence_stage is loaded
    clip = audio.load(data.clips.audio_path.iloc[0], sr=None)
    with_stage = predict.predict_static(clip.y, clip.sr, model=static)
    del static.valence_stage
    alone = predict.predict_static(clip.y, clip.sr, model=static)
    extra = loaded.extra_vector(clip.y, clip.sr)
    assert (with_stage["valence"], with_stage["arousal"]) == pytest.approx(
        loaded.correct(alone["valence"], alone["arousal"], extra))
    assert abs(with_stage["valence"] - alone["valence"]) <= bound["valence"] + 1e-9


def test_valence_model_only_rides_on_its_own_static_model(tmp_path):
    first, extra, signs, groups = synthetic()
    stage = ValenceSecondStage().fit(first, extra, signs, groups=groups)
    ValenceModel(stage, static_version="static-some-other-version", extra_kinds=["tonal-v1"]).save(tmp_path / "v")
    static = StaticEmotionModel.load()
    model, message = load_for(static, tmp_path / "v")
    assert model is None and "retrain it" in message and not hasattr(static, "valence_stage")
    model, message = load_for(static, tmp_path / "absent")
    assert model is None and "No valence model" in message


def test_shipped_valence_stage_rides_on_the_shipped_static_model():
    models = predict.load_models()
    assert models.valence is not None, models.valence_error
    assert models.static.valence_stage is models.valence
    assert models.valence.static_version == models.static.version
    assert set(models.valence.stage.coef_) == {"valence"}  # arousal passes through


def test_the_stage_reads_the_middle_of_a_recording_as_it_was_fitted(tmp_path):
    from emolab import pipeline
    from emolab.features import tonal

    first, extra, signs, groups = synthetic()
    stage = ValenceSecondStage().fit(first, extra, signs, groups=groups)
    model = ValenceModel(stage, static_version="v", extra_kinds=["tonal-v1"], excerpt_s=12.0)
    sr = 22050
    middle = _chord(minor=True, loud=False, seconds=12.0, seed=1)
    y = np.concatenate([_chord(minor=False, loud=True, seconds=9.0, seed=2), middle,
                        _chord(minor=False, loud=True, seconds=9.0, seed=3)])
    np.testing.assert_array_equal(model.extra_vector(y, sr), tonal.tonal_vector(middle, sr))
    assert not np.allclose(tonal.tonal_vector(y, sr), tonal.tonal_vector(middle, sr))
    # the pipeline's tonal pass (beside the DEAM features) computes the same vector
    np.testing.assert_array_equal(pipeline._tonal_in_thread(y, sr).result(), model.extra_vector(y, sr))
    # a file without the field (older models) reads the whole recording
    model.excerpt_s = None
    folder = model.save(tmp_path / "v")
    doc = (folder / "model.json").read_text()
    (folder / "model.json").write_text(doc.replace('"excerpt_s": null,', ""))
    old = ValenceModel.load(folder)
    assert old.excerpt_s is None
    np.testing.assert_array_equal(old.extra_vector(y, sr), tonal.tonal_vector(y, sr))
