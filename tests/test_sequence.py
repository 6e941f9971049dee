"""Dynamic emotion: the 0.5 s grid, the sequence heads, the shipped model's contract."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from emolab.config import MODELS_DIR
from emolab.exceptions import ModelError, ParameterError
from emolab.experiments.dynamic import DynamicExperiment, band_coverage, curve_scores, summarise
from emolab.models.dynamic import DynamicEmotionModel, WindowConfig, smooth, windowed_static_curve
from emolab.models.dynamic_training import LabelledSong, curve_on_grid
from emolab.models.sequence import (
    AnchorConfig,
    SequenceConfig,
    SequenceRegressor,
    VaeLstmModel,
    anchor_curve,
    frame_times,
    logmel_sequence,
    n_frames_for,
)
from emolab.models.vae import PatchVAE, VAEConfig

torch.set_num_threads(1)
SR = 22050
MAJOR = (261.63, 329.63, 392.0)  # C major
MINOR = (220.0, 261.63, 329.63)  # A minor


def chord_audio(segments, *, seconds=2.0, sr=SR):
    """Concatenated chords; ``segments`` is a list of (mode, loud) pairs."""
    t = np.arange(int(seconds * sr)) / sr
    pieces = []
    for mode, loud in segments:
        freqs = MAJOR if mode == "major" else MINOR
        tone = sum(np.sin(2 * np.pi * f * h * t) / h for f in freqs for h in (1, 2, 3))
        pieces.append((0.25 if loud else 0.01) * tone / 6)
    return np.concatenate(pieces).astype(np.float32)


def chord_targets(segments, *, seconds=2.0):
    """Valence follows the mode, arousal the loudness, per 0.5 s frame (NaN across changes)."""
    y_len = len(segments) * seconds
    n = n_frames_for(y_len)
    start = frame_times(n) - 0.5
    out = np.full((n, 2), np.nan)
    for i, s in enumerate(start):
        a, b = int(s // seconds), int((s + 0.999) // seconds)
        if a == b:
            mode, loud = segments[a]
            out[i] = (0.6 if mode == "major" else -0.6, 0.6 if loud else -0.6)
    return out


def random_segments(rng, n):
    return [(rng.choice(["major", "minor"]), bool(rng.integers(2))) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny_model():
    """A dynamic model with a barely trained VAE and head (for shape/contract tests)."""
    rng = np.random.default_rng(0)
    segs = random_segments(rng, 6)
    patches = logmel_sequence(chord_audio(segs), SR)
    encoder = PatchVAE(VAEConfig(epochs=1, channels=(4, 8, 8), latent_dim=8)).fit([patches, patches])
    head = SequenceRegressor(SequenceConfig(epochs=1, hidden_size=8)).fit(
        [encoder.transform(patches)], [chord_targets(segs)])
    return VaeLstmModel(encoder, head, version="test")


def test_frame_grid_starts_at_half_a_second_every_half_second():
    assert n_frames_for(0.2) == 1 and n_frames_for(1.0) == 1 and n_frames_for(1.49) == 1
    assert n_frames_for(1.5) == 2 and n_frames_for(45.0) == 89
    np.testing.assert_allclose(frame_times(4), [0.5, 1.0, 1.5, 2.0])


def test_logmel_sequence_is_the_same_in_chunks_and_whole():
    y = chord_audio(random_segments(np.random.default_rng(1), 4))  # 8 s
    whole = logmel_sequence(y, SR, chunk_seconds=60.0)
    chunked = logmel_sequence(y, SR, chunk_seconds=2.0)
    assert len(whole) == n_frames_for(8.0) == 15
    assert chunked.shape == whole.shape
    np.testing.assert_allclose(chunked, whole, atol=1e-3)


def test_predict_curve_shapes_and_time_alignment(tiny_model):
    y = chord_audio([("major", True)] * 3, seconds=1.1)  # 3.3 s
    times, valence, arousal = tiny_model.predict_curve(y, SR)
    assert len(times) == len(valence) == len(arousal) == n_frames_for(3.3) == 5
    np.testing.assert_allclose(times, 0.5 + 0.5 * np.arange(5))
    assert np.all(np.abs(valence) <= 1) and np.all(np.abs(arousal) <= 1)


def test_very_short_audio_gives_one_point(tiny_model):
    for seconds in (0.0, 0.05, 0.8, 1.9):
        y = chord_audio([("minor", True)], seconds=seconds) if seconds else np.zeros(0, np.float32)
        times, valence, arousal = tiny_model.predict_curve(y, SR)
        assert len(times) == n_frames_for(seconds) and times[0] == 0.5
        assert np.all(np.isfinite(valence)) and np.all(np.isfinite(arousal))


def test_other_sample_rates_give_the_same_grid(tiny_model):
    y = chord_audio([("major", True)] * 2, sr=44100)
    times, _, _ = tiny_model.predict_curve(y, 44100)
    assert len(times) == n_frames_for(4.0)


def test_long_quiet_audio_is_processed_in_bounded_time(tiny_model):
    rng = np.random.default_rng(0)
    y = (0.001 * rng.standard_normal(10 * 60 * SR)).astype(np.float32)  # 10 minutes
    start = time.perf_counter()
    times, valence, _ = tiny_model.predict_curve(y, SR)
    assert time.perf_counter() - start < 600  # catches a hang only, not a speed target
    assert len(times) == n_frames_for(600.0) == 1199
    assert np.all(np.isfinite(valence))


def test_model_round_trip_predicts_identically(tiny_model, tmp_path):
    tiny_model.save(tmp_path / "dynamic")
    again = DynamicEmotionModel.load(tmp_path / "dynamic")  # a model.pt folder loads as VAE-LSTM
    assert isinstance(again, VaeLstmModel)
    y = chord_audio([("minor", False), ("major", True)])
    for a, b in zip(tiny_model.predict_curve(y, SR), again.predict_curve(y, SR)):
        np.testing.assert_array_equal(a, b)
    assert again.version == "test"


def anchored(model, *, gain, static_model=None):
    """The same encoder and head, anchored with ``gain``."""
    return VaeLstmModel(model.encoder, model.head, version="anchored", static_model=static_model,
                               anchor=AnchorConfig(anchored=True, gain=gain))


def test_anchoring_moves_the_mean_to_the_level_and_scales_the_movement():
    curve = np.stack([np.linspace(-0.2, 0.4, 9), 0.5 * np.sin(np.arange(9))], axis=1)
    out = anchor_curve(curve, (0.3, -0.5), gain=0.5)
    np.testing.assert_allclose(out.mean(axis=0), [0.3, -0.5])
    np.testing.assert_allclose(out - out.mean(axis=0), 0.5 * (curve - curve.mean(axis=0)), atol=1e-12)
    np.testing.assert_allclose(anchor_curve(curve, (0.3, -0.5), gain=0.0), np.tile([0.3, -0.5], (9, 1)))
    assert anchor_curve(curve, (0.95, 0.0), gain=1.0)[:, 0].max() == 1.0  # clipped to [-1, 1]
    with pytest.raises(ParameterError):
        anchor_curve(curve, (np.nan, 0.0), gain=0.5)


def test_anchored_model_centres_its_curve_on_the_given_level(tiny_model):
    y = chord_audio([("minor", False), ("major", True)] * 2)
    times, valence, arousal = tiny_model.predict_curve(y, SR)
    for gain in (0.25, 1.0):
        a_times, a_valence, a_arousal = anchored(tiny_model, gain=gain).predict_curve(y, SR, level=(0.2, -0.1))
        np.testing.assert_array_equal(a_times, times)
        assert a_valence.mean() == pytest.approx(0.2) and a_arousal.mean() == pytest.approx(-0.1)
        np.testing.assert_allclose(a_valence - 0.2, gain * (valence - valence.mean()), atol=1e-9)
        np.testing.assert_allclose(a_arousal + 0.1, gain * (arousal - arousal.mean()), atol=1e-9)


def test_anchored_model_on_very_short_audio_gives_the_level(tiny_model):
    model = anchored(tiny_model, gain=0.5)
    for y in (np.zeros(0, np.float32), chord_audio([("major", True)], seconds=0.3)):
        times, valence, arousal = model.predict_curve(y, SR, level=(-0.4, 0.7))
        np.testing.assert_allclose(times, [0.5])
        np.testing.assert_allclose([valence[0], arousal[0]], [-0.4, 0.7])


def test_anchored_model_computes_the_level_with_its_static_model(tiny_model):
    from emolab.features.deam import DEAM74_COLUMNS
    from emolab.features.deam_fast import deam_song_vector

    static = LinearStatic(DEAM74_COLUMNS[:2])
    y = chord_audio([("major", True)] * 2)
    vector = deam_song_vector(y, SR, columns=static.feature_columns)
    level, _ = static.predict(vector[None, :])
    _, valence, arousal = anchored(tiny_model, gain=0.5, static_model=static).predict_curve(y, SR)
    assert valence.mean() == pytest.approx(level[0, 0]) and arousal.mean() == pytest.approx(level[0, 1])


def test_round_trip_keeps_the_anchoring(tiny_model, tmp_path):
    anchored(tiny_model, gain=0.25).save(tmp_path / "dynamic")
    assert VaeLstmModel.load(tmp_path / "dynamic").anchor_ == AnchorConfig(anchored=True, gain=0.25)
    tiny_model.save(tmp_path / "plain")
    assert not VaeLstmModel.load(tmp_path / "plain").anchor_.anchored


def test_missing_model_says_how_to_train_it(tmp_path):
    with pytest.raises(ModelError, match="train-dynamic"):
        DynamicEmotionModel.load(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="train-vae-lstm"):
        VaeLstmModel.load(tmp_path / "nowhere")


def test_head_learns_loudness_and_mode_from_generated_audio():
    """Arousal follows loudness, valence follows major vs minor: a CNN-LSTM learns both."""
    rng = np.random.default_rng(42)
    train = [random_segments(rng, 8) for _ in range(6)]
    test = [("major", True), ("minor", False), ("minor", True), ("major", False)] * 2
    head = SequenceRegressor(SequenceConfig(front_end="cnn", epochs=40, hidden_size=16,
                                            segment_frames=16, batch_size=8, dropout=0.0))
    head.fit([logmel_sequence(chord_audio(s), SR) for s in train], [chord_targets(s) for s in train])
    pred = head.predict(logmel_sequence(chord_audio(test), SR))
    scores = curve_scores(pred, chord_targets(test))
    assert scores["r_arousal"] > 0.8 and scores["r_valence"] > 0.8
    assert scores["rmse_arousal"] < 0.35 and scores["rmse_valence"] < 0.35


def test_head_rejects_wrong_shapes():
    with pytest.raises(ParameterError):
        SequenceRegressor(SequenceConfig(front_end="opensmile")).fit([np.zeros((5, 2, 2))], [np.zeros((5, 2))])
    with pytest.raises(ParameterError):
        SequenceRegressor(SequenceConfig(front_end="nope")).fit([np.zeros((5, 2))], [np.zeros((5, 2))])


def test_fine_tuning_continues_from_the_fitted_head():
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(40, 4)).astype(np.float32) for _ in range(3)]
    y = [np.tanh(xi[:, :2]) for xi in x]
    head = SequenceRegressor(SequenceConfig(front_end="opensmile", epochs=5, segment_frames=20)).fit(x, y)
    before = head.predict(x[0])
    head.warm_start = True
    head.fit(x, y)
    after = head.predict(x[0])
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(head.mean_, np.concatenate(x).mean(axis=0))


def test_human_curve_lands_on_the_frame_grid():
    # emoMusic: 61 points from 15.0 s every 0.5 s; a 45 s clip has 89 frames.
    curve = (15.0, 0.5, np.linspace(-0.5, 0.5, 61), np.zeros(61))
    grid = curve_on_grid(curve, 89)
    first = np.flatnonzero(~np.isnan(grid[:, 0]))[0]
    assert frame_times(89)[first] == 15.0 and grid[first, 0] == -0.5
    assert np.isnan(grid[:first]).all() and np.sum(~np.isnan(grid[:, 0])) == 60  # 45.0 s has no frame


class LinearStatic:
    """A stand-in static model honouring the contract (``feature_columns``, ``predict``)."""

    def __init__(self, columns):
        self.feature_columns = list(columns)

    def predict(self, x):
        mean = np.tanh(np.stack([x[:, 0], x[:, 1]], axis=1))
        return mean, np.zeros_like(mean)


def test_windowed_static_averages_windows_then_smooths():
    columns = ["a", "b", "c"]
    frames = np.zeros((40, 3))
    frames[20:, 0] = 1.0  # valence feature jumps half-way
    curve = windowed_static_curve(frames, LinearStatic(["a", "b"]), frame_columns=columns,
                                  window_seconds=4.0, smoothing_seconds=1.0)
    assert curve.shape == (40, 2)
    assert curve[0, 0] == 0 and curve[-1, 0] == pytest.approx(np.tanh(1.0))
    assert np.all(np.diff(curve[:, 0]) >= -1e-12)  # a ramp, not a step
    assert 0 < curve[20, 0] < np.tanh(1.0)
    np.testing.assert_allclose(smooth(np.ones((5, 2)), frames=3), np.ones((5, 2)))


def test_experiment_scores_every_method_and_the_floor():
    rng = np.random.default_rng(0)
    songs = []
    for k in range(3):
        targets = np.full((30, 2), np.nan)
        targets[10:] = rng.uniform(-0.5, 0.5, size=2) + 0.02 * rng.normal(size=(20, 2))
        song = LabelledSong(f"toy:{k}", "", (5.5, 0.5, targets[10:, 0], targets[10:, 1]), targets=targets)
        song.inputs["patches"] = rng.normal(size=(30, 64, 32)).astype(np.float32)
        song.inputs["opensmile"] = rng.normal(size=(30, 6)).astype(np.float32)
        songs.append(song)
    experiment = DynamicExperiment(config=SequenceConfig(epochs=2, segment_frames=10, batch_size=4))
    scores = experiment.run(songs)
    table = summarise(scores)
    assert set(table.index) == {"song mean (floor)", "mean curve", "CNN-LSTM", "BLSTM openSMILE-260"}
    assert len(scores) == 4 * 3
    floor = table.loc["song mean (floor)"]
    assert floor["rmse_mean"] == table["rmse_mean"].min()


def toy_songs(n, *, frames_dim=2, seed=1):
    rng = np.random.default_rng(seed)
    songs = []
    for k in range(n):
        targets = np.tile(rng.uniform(-0.5, 0.5, size=2), (20, 1))
        song = LabelledSong(f"toy:{k}", "", (0.5, 0.5, targets[:, 0], targets[:, 1]), targets=targets)
        song.inputs["patches"] = rng.normal(size=(20, 64, 32)).astype(np.float32)
        song.inputs["frames"] = rng.normal(size=(20, frames_dim))
        songs.append(song)
    return songs


def test_experiment_adds_the_shipped_windowed_and_anchored_rows(tiny_model):
    from emolab.features.deam import DEAM74_COLUMNS

    static = LinearStatic(DEAM74_COLUMNS[:2])
    dynamic = DynamicEmotionModel(WindowConfig(6.0, 2.0), static_model=static, version="toy")
    experiment = DynamicExperiment(static_model=static, front_ends=(), vae_lstm=anchored(tiny_model, gain=0.25),
                                   anchor_gains=(0.0, 1.0), dynamic=dynamic, window_grid=((4.0, 0.0),))
    scores = experiment.run(toy_songs(2))
    assert {"shipped: toy", "flat line at the song's static level", "windowed static 4 s, smoothed 0 s",
            "VAE-LSTM teacher–student anchored on the static level, gain 0",
            "VAE-LSTM teacher–student anchored on the static level, gain 1"} <= set(scores["method"])
    assert set(experiment.coverage_) == {"points", "valence", "arousal"}


def test_band_coverage_counts_points_inside_the_band():
    mean = [np.zeros((4, 2))]
    std = [np.full((4, 2), 0.1)]
    truth = [np.array([[0.05, 0.0], [0.15, 0.0], [-0.19, 0.3], [np.nan, np.nan]])]
    cov = band_coverage(mean, std, truth)
    assert cov["valence"][1.0] == pytest.approx(1 / 3) and cov["valence"][1.96] == pytest.approx(1.0)
    assert cov["arousal"][1.0] == pytest.approx(2 / 3) and cov["points"] == 3


def test_shipped_model_predicts_finite_values_and_their_uncertainty():
    model = DynamicEmotionModel.load()
    assert isinstance(model, DynamicEmotionModel) and model.version.startswith("windowed-static")
    y = chord_audio([("major", True), ("minor", False)] * 2)
    times, valence, arousal = model.predict_curve(y, SR)
    assert len(times) == n_frames_for(8.0) and times[0] == 0.5
    for curve in (valence, arousal):
        assert np.all(np.isfinite(curve)) and np.all(np.abs(curve) <= 1)
    band = model.predict_band(y, SR)
    np.testing.assert_array_equal(band["valence"], valence)
    assert np.all(band["valence_std"] > 0) and np.all(band["arousal_std"] > 0)


def test_windowed_model_steps_where_the_features_step():
    """A curve that steps at a join: the windowed model's curve moves by the static step,
    within the window's half-width of the join; anchoring only shifts it."""
    columns = ["a", "b"]
    frames = np.zeros((80, 2))
    frames[40:] = [0.8, -0.6]  # the music changes at frame 40 (20.5 s)
    static = LinearStatic(columns)
    model = DynamicEmotionModel(WindowConfig(window_seconds=6.0, smoothing_seconds=2.0), static_model=static)
    mean, std = model.curve_from_frames(frames)
    np.testing.assert_allclose(mean[:25], 0.0, atol=1e-12)
    np.testing.assert_allclose(mean[55:], np.tile(np.tanh([0.8, -0.6]), (25, 1)), atol=1e-12)
    moved = np.flatnonzero(np.abs(mean[:, 0]) >= np.tanh(0.8) / 2)[0]
    assert abs(moved - 40) <= 6  # within 3 s
    shifted, _ = DynamicEmotionModel(WindowConfig(6.0, 2.0, anchored=True), static_model=static).curve_from_frames(
        frames, level=(0.1, 0.2))
    np.testing.assert_allclose(shifted.mean(axis=0), [0.1, 0.2], atol=1e-12)
    np.testing.assert_allclose(shifted - shifted.mean(axis=0), mean - mean.mean(axis=0), atol=1e-12)


def test_windowed_model_round_trip(tmp_path):
    model = DynamicEmotionModel(WindowConfig(4.0, 1.0, True, "opensmile"), version="v", info={"command": "x"})
    model.save(tmp_path / "dynamic")
    again = DynamicEmotionModel.load(tmp_path / "dynamic")
    assert again.config == model.config and again.version == "v" and again.info == {"command": "x"}
    (tmp_path / "dynamic" / "model.json").write_text("{}")
    with pytest.raises(ModelError, match="damaged"):
        DynamicEmotionModel.load(tmp_path / "dynamic")


def deam_fixture(root, sr=SR):
    """A tiny tree in DEAM's layout: MEMD_audio/<id>.wav, static and dynamic annotations."""
    from tests.conftest import write_audio

    rng = np.random.default_rng(3)
    (root / "MEMD_audio").mkdir(parents=True)
    ann = root / "annotations" / "annotations averaged per song"
    (ann / "song_level").mkdir(parents=True)
    (ann / "dynamic (per second annotations)").mkdir(parents=True)
    times = [f"sample_{ms}ms" for ms in range(1000, 7500, 500)]
    static, rows = ["song_id, valence_mean, valence_std, arousal_mean, arousal_std"], {"v": [], "a": []}
    for song in (1001, 1002, 1003):
        segs = random_segments(rng, 4)
        write_audio(root / "MEMD_audio" / f"{song}.wav", chord_audio(segs), sr)
        target = chord_targets(segs)[1:1 + len(times)]
        target = np.where(np.isnan(target), 0.0, target)
        static.append(f"{song}, 5, 1, 5, 1")
        rows["v"].append(f"{song}," + ",".join(f"{x:.3f}" for x in target[:, 0]))
        rows["a"].append(f"{song}," + ",".join(f"{x:.3f}" for x in target[:, 1]))
    (ann / "song_level" / "static_annotations_averaged_songs_1_2000.csv").write_text("\n".join(static) + "\n")
    for dim, name in (("v", "valence.csv"), ("a", "arousal.csv")):
        text = "song_id," + ",".join(times) + "\n" + "\n".join(rows[dim]) + "\n"
        (ann / "dynamic (per second annotations)" / name).write_text(text)
    return root


def test_one_command_compares_front_ends_on_a_deam_layout(tmp_path):
    """``experiment dynamic --dataset deam ROOT``: VAE-, AE-, CNN-LSTM and BLSTM-features rows."""
    from emolab.cli import main

    root = deam_fixture(tmp_path / "DEAM")
    corpus = [logmel_sequence(chord_audio(random_segments(np.random.default_rng(k), 3)), SR) for k in range(2)]
    for name, variational in (("vae", True), ("ae", False)):
        PatchVAE(VAEConfig(epochs=1, channels=(4, 8, 8), variational=variational)).fit(corpus).save(
            tmp_path / f"{name}.pt")
    out = tmp_path / "dynamic.md"
    code = main(["experiment", "dynamic", "--dataset", "deam", str(root), "--vae", str(tmp_path / "vae.pt"),
                 "--ae", str(tmp_path / "ae.pt"), "--epochs", "2", "--out", str(out),
                 "--cache", str(tmp_path / "cache")])
    assert code == 0
    report = out.read_text()
    for row in ("VAE-LSTM", "AE-LSTM", "CNN-LSTM", "BLSTM openSMILE-260", "mean curve", "song mean (floor)",
                "flat line at the song's static level"):
        assert f"| {row} |" in report
    assert "**3**" in report and "tiny" in report


def test_corpus_is_sampled_from_every_package_in_turn(tmp_path):
    from emolab.models.dynamic_training import audio_files, interleave_by_folder

    for package, n in (("a-music", 3), ("b-music", 1)):
        folder = tmp_path / package / "usr" / "share"
        folder.mkdir(parents=True)
        for k in range(n):
            (folder / f"{k}.ogg").write_bytes(b"x")
    order = [p.relative_to(tmp_path).parts[0] for p in interleave_by_folder(audio_files(tmp_path), tmp_path)]
    assert order == ["a-music", "b-music", "a-music", "a-music"]
