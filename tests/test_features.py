"""emolab.features: DEAM-compatible openSMILE columns and librosa spectral features."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emolab import audio
from emolab.exceptions import ParameterError
from emolab.features import (
    DEAM74_COLUMNS,
    DEAM_FRAME_COLUMNS,
    FAMILY_DEAM74,
    FAMILY_LIBROSA,
    FAMILY_OPENSMILE_FRAMES,
    RECOMPUTABLE_COLUMNS,
    SONG_VECTOR_NAMES,
    deam_song_vector,
    logmel_patches,
    opensmile_frames,
    song_level,
    song_vector,
)
from emolab.features import deam
from tests.conftest import chord, shared_path, tone

SR = 22050
EMOMUSIC_IDS = (2, 3, 4, 5, 7, 8, 10, 12, 13, 17)


def noisy_tone(seconds=4.0, sr=SR, freq=220.0):
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def column(name):
    return DEAM_FRAME_COLUMNS.index(name)


@pytest.fixture(scope="module")
def full_frames():
    """All 260 columns of a 4 s noisy tone (computed once for the module)."""
    return opensmile_frames(noisy_tone(), SR)


# ------------------------------------------------------------------------ column lists

def test_column_lists_have_deams_sizes_and_names():
    assert len(DEAM_FRAME_COLUMNS) == len(set(DEAM_FRAME_COLUMNS)) == 260
    assert len(DEAM74_COLUMNS) == len(set(DEAM74_COLUMNS)) == 74
    assert set(DEAM74_COLUMNS) <= set(DEAM_FRAME_COLUMNS)
    assert len(RECOMPUTABLE_COLUMNS) == 67
    assert set(DEAM74_COLUMNS) - set(RECOMPUTABLE_COLUMNS) == {
        "audSpec_Rfilt_sma[0]_amean", "audSpec_Rfilt_sma[0]_stddev",
        "audSpec_Rfilt_sma[1]_amean", "audSpec_Rfilt_sma[1]_stddev",
        "audspecRasta_lengthL1norm_sma_amean", "audspecRasta_lengthL1norm_sma_stddev",
        "pcm_RMSenergy_sma_de_amean",
    }
    assert "pcm_fftMag_mfcc_sma_de[14]_stddev" in DEAM_FRAME_COLUMNS
    assert (FAMILY_DEAM74, FAMILY_OPENSMILE_FRAMES, FAMILY_LIBROSA) == (
        "deam74", "opensmile260", "librosa")


def test_deam74_columns_follow_the_shared_table():
    path = shared_path("deam", "features", "deam_features_74.csv")
    header = list(pd.read_csv(path, nrows=0).columns)
    assert header[1:75] == DEAM74_COLUMNS


# ------------------------------------------------------------------------ openSMILE

def test_frames_lie_on_the_half_second_grid(full_frames):
    times, frames = full_frames
    np.testing.assert_allclose(times, 0.5 * np.arange(7) + 0.5)  # 4 s -> [0,1) ... [3,4)
    assert frames.shape == (7, 260)
    assert np.all(np.isfinite(frames))


def test_pitch_of_a_tone_is_found(full_frames):
    _, frames = full_frames
    f0 = frames[:, column("F0final_sma_amean")]
    np.testing.assert_allclose(f0, 220.0, rtol=0.02)
    assert np.all(frames[:, column("pcm_RMSenergy_sma_amean")] > 0.1)


def test_trimmed_configuration_gives_the_full_numbers(full_frames):
    _, full = full_frames
    y = noisy_tone()
    _, trimmed = opensmile_frames(y, SR, columns=RECOMPUTABLE_COLUMNS)
    index = [column(c) for c in RECOMPUTABLE_COLUMNS]
    np.testing.assert_array_equal(trimmed, full[:, index])
    vector = deam_song_vector(y, SR)
    expected = song_level(full, DEAM_FRAME_COLUMNS, columns=DEAM74_COLUMNS)
    np.testing.assert_allclose(vector, expected, rtol=1e-12, atol=1e-12)


def test_a_configuration_without_pitch_keeps_the_grid(full_frames):
    _, full = full_frames
    columns = ["pcm_RMSenergy_sma_amean", "pcm_RMSenergy_sma_de_stddev"]
    assert deam.groups_for(columns) == ("energy",)
    _, energy = opensmile_frames(noisy_tone(), SR, columns=columns)
    # openSMILE ends the delta differently on the last 20 ms: only the last frame moves.
    np.testing.assert_allclose(energy, full[:, [column(c) for c in columns]], rtol=1e-3)


@pytest.mark.parametrize("name, y, n_frames", [
    ("silence", np.zeros(2 * SR, np.float32), 3),
    ("very short tone", tone(seconds=0.3, sr=SR), 1),
    ("empty", np.zeros(0, np.float32), 1),
    ("full-scale square", np.sign(tone(seconds=1.5, sr=SR)).astype(np.float32), 2),
])
def test_awkward_audio_gives_finite_features(name, y, n_frames):
    times, frames = opensmile_frames(y, SR, columns=RECOMPUTABLE_COLUMNS)
    assert times.shape == (n_frames,) and frames.shape == (n_frames, 67)
    assert np.all(np.isfinite(frames)), name
    vector = deam_song_vector(y, SR, columns=RECOMPUTABLE_COLUMNS)
    assert vector.shape == (67,) and np.all(np.isfinite(vector))


def test_other_rates_are_resampled_to_44k():
    columns = ["F0final_sma_amean", "pcm_RMSenergy_sma_amean"]
    at_22k = deam_song_vector(chord(seconds=2.0, sr=22050), 22050, columns=columns)
    at_44k = deam_song_vector(chord(seconds=2.0, sr=44100), 44100, columns=columns)
    np.testing.assert_allclose(at_22k, at_44k, rtol=0.02)


def test_bad_input_is_refused_with_a_sentence():
    with pytest.raises(ParameterError, match="mono"):
        opensmile_frames(tone(seconds=1.0, channels=2), SR)
    with pytest.raises(ParameterError, match="not a DEAM openSMILE column"):
        opensmile_frames(tone(seconds=1.0), SR, columns=["loudness_amean"])
    with pytest.raises(ParameterError):
        song_level(np.zeros((3, 2)), ["a", "b", "c"])


def test_song_level_is_the_mean_over_frames():
    frames = np.array([[1.0, 10.0], [3.0, 30.0]])
    np.testing.assert_allclose(song_level(frames, ["x", "y"], columns=["y", "x"]), [20.0, 2.0])


def test_recomputed_clips_agree_with_deams_table():
    """The 10 emoMusic clips are DEAM songs: most recomputable columns must track DEAM's.

    Measured (scripts/deam_agreement.py): 58 of the 67 columns correlate > 0.9 across
    the 10 songs, median r 0.97. The assertion leaves some slack for decoder differences.
    """
    clips = shared_path("emomusic", "clips_45seconds_mp3")
    table = pd.read_csv(shared_path("deam", "features", "deam_features_74.csv"))
    table = table.set_index("track_id")[DEAM74_COLUMNS]
    ids = [i for i in EMOMUSIC_IDS if i in table.index and (clips / f"{i}.mp3").exists()]
    assert len(ids) >= 5
    rows = {}
    for song in ids:
        sound = audio.load(clips / f"{song}.mp3", sr=None)
        rows[song] = deam_song_vector(sound.y, sound.sr, columns=RECOMPUTABLE_COLUMNS)
    computed = pd.DataFrame.from_dict(rows, orient="index", columns=RECOMPUTABLE_COLUMNS)
    result = deam.agreement(computed, table.loc[ids], scale=table.std())
    assert len(result) == 67
    assert (result.pearson_r > 0.9).sum() >= 52
    assert result.pearson_r.median() > 0.93
    assert result.median_abs_error_over_std.median() < 0.3


# ------------------------------------------------------------------------ librosa

@pytest.mark.parametrize("seconds", [0.3, 3.0, 61.7])
def test_numpy_logmel_equals_librosas(seconds):
    import librosa

    from emolab.features.spectral import LOGMEL_HOP, LOGMEL_N_FFT, mel_filters, power_spectrogram

    y = (0.3 * np.random.default_rng(1).standard_normal(int(seconds * SR))).astype(np.float32)
    y[: SR // 4] = 0.0  # silence too
    ref = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=LOGMEL_N_FFT, hop_length=LOGMEL_HOP,
                                         n_mels=64, power=2.0)
    ours = mel_filters(SR, LOGMEL_N_FFT, 64) @ power_spectrogram(y, n_fft=LOGMEL_N_FFT, hop=LOGMEL_HOP)
    assert ours.shape == ref.shape
    db = lambda m: 10 * np.log10(np.maximum(m, 1e-10))  # noqa: E731  (the patches' floor)
    assert np.abs(db(ours) - db(ref)).max() < 1e-3
    np.testing.assert_allclose(mel_filters(SR, 2048, 128), librosa.filters.mel(sr=SR, n_fft=2048, n_mels=128),
                               atol=1e-7)


def test_logmel_patches_on_the_grid():
    times, patches = logmel_patches(tone(seconds=3.0, sr=SR), SR)
    np.testing.assert_allclose(times, [0.5, 1.0, 1.5, 2.0, 2.5])
    assert patches.shape == (5, 64, 50) and patches.dtype == np.float32
    assert np.all(np.isfinite(patches))


def test_logmel_patch_i_covers_half_i_to_half_i_plus_one():
    y = np.zeros(4 * SR, np.float32)
    burst = slice(int(2.2 * SR), int(2.4 * SR))
    y[burst] = tone(freq=1000.0, seconds=0.2, sr=SR)
    times, patches = logmel_patches(y, SR)
    loud = patches.max(axis=(1, 2)) > -50
    covering = (0.5 * np.arange(len(times)) <= 2.2) & (0.5 * np.arange(len(times)) + 1 >= 2.4)
    np.testing.assert_array_equal(loud, covering)


@pytest.mark.parametrize("y", [np.zeros(SR, np.float32), np.zeros(10, np.float32)])
def test_logmel_of_silence_and_short_audio_is_finite(y):
    times, patches = logmel_patches(y, SR, n_mels=32)
    assert times.shape == (1,) and patches.shape == (1, 32, 50)
    assert np.all(patches == patches.min()) and np.isfinite(patches.min())


def test_logmel_resamples_other_rates():
    _, at_44k = logmel_patches(tone(seconds=2.0, sr=44100), 44100)
    _, at_22k = logmel_patches(tone(seconds=2.0, sr=SR), SR)
    assert at_44k.shape == at_22k.shape
    np.testing.assert_allclose(at_44k[:, :40], at_22k[:, :40], atol=1.0)


def test_song_vector_names_are_stable_and_the_vector_finite():
    vector, names = song_vector(chord(seconds=3.0, sr=SR), SR)
    assert vector.shape == (len(names),) and len(names) >= 1000
    assert names == SONG_VECTOR_NAMES and len(set(names)) == len(names)
    assert np.all(np.isfinite(vector))
    assert {"mfcc[0]_mean", "mfcc_delta[3]_kurtosis", "chroma[11]_p90", "tonnetz[5]_skew",
            "spectral_contrast[6]_max", "rms_std", "onset_strength_p50", "tempo"} <= set(names)


@pytest.mark.parametrize("y", [np.zeros(2 * SR, np.float32), np.zeros(100, np.float32)])
def test_song_vector_of_silence_is_finite(y):
    vector, _ = song_vector(y, SR)
    assert np.all(np.isfinite(vector))


def test_song_vector_hears_pitch_class_and_tempo():
    vector, names = song_vector(tone(freq=440.0, seconds=3.0, sr=SR), SR)
    chroma = [vector[names.index(f"chroma[{k}]_mean")] for k in range(12)]
    assert int(np.argmax(chroma)) == 9  # A
    clicks = np.zeros(8 * SR, np.float32)
    for k in range(16):  # 120 beats per minute
        clicks[int(k * 0.5 * SR): int(k * 0.5 * SR) + 200] = 0.8
    vector, names = song_vector(clicks, SR)
    assert vector[names.index("tempo")] == pytest.approx(120.0, rel=0.05)
