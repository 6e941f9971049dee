"""The fast DEAM extractor (emolab.features.deam_fast): its contract, its agreement with openSMILE."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emolab.exceptions import ParameterError
from emolab.features import deam, deam_fast
from emolab.features.deam_fast import FAST_COLUMNS, FAST_PITCH_COLUMNS, deam_frames, deam_song_vector, raw_frames
from tests.conftest import chord

SR = 44100
ROOT = Path(__file__).resolve().parents[1]


def music_like(seconds=4.0, sr=SR, seed=0):
    """A chord with onsets, a noise burst and a level change: every column moves."""
    rng = np.random.default_rng(seed)
    y = chord(seconds=seconds, sr=sr, amp=0.4)
    t = np.arange(y.size) / sr
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t)) + 0.02 * rng.normal(size=y.size)
    y[int(1.5 * sr):int(2.0 * sr)] += 0.2 * rng.normal(size=int(0.5 * sr))
    return y.astype(np.float32)


def test_fast_extractor_never_imports_opensmile():
    code = ("import sys, numpy as np\n"
            "from emolab.features.deam_fast import deam_frames, deam_song_vector\n"
            "y = (0.1 * np.random.default_rng(0).normal(size=44100 * 2)).astype('float32')\n"
            "t, f = deam_frames(y, 44100)\n"
            "v = deam_song_vector(y, 22050)\n"
            "assert f.shape == (3, 55) and v.shape == (55,), (f.shape, v.shape)\n"
            "print('opensmile' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_same_grid_and_columns_as_opensmile():
    y = music_like(seconds=3.3)
    t_fast, fast = deam_frames(y, SR)
    t_smile, smile = deam_frames(y, SR, extractor="opensmile")
    np.testing.assert_array_equal(t_fast, t_smile)
    assert fast.shape == smile.shape == (len(t_fast), 55) and len(t_fast) == 5
    assert np.all(np.isfinite(fast))


def test_raw_columns_follow_opensmile_frame_by_frame():
    """Before calibration, each column tracks openSMILE's over 0.5 s frames of changing audio."""
    y = np.concatenate([music_like(seconds=3.0, seed=s) * g for s, g in ((0, 1.0), (1, 0.3), (2, 0.8))])
    _, fast = raw_frames(y, SR)
    _, smile = deam.opensmile_frames(y, SR, columns=FAST_COLUMNS)
    r = np.array([np.corrcoef(fast[:, j], smile[:, j])[0, 1] for j in range(len(FAST_COLUMNS))])
    worst = FAST_COLUMNS[int(np.argmin(r))]
    assert r.min() > 0.95, f"{worst}: r {r.min():.3f}"
    assert np.median(r) > 0.999


def test_calibration_is_shipped_for_every_column_and_makes_values_match():
    meta = json.loads(deam_fast.CALIBRATION_PATH.read_text())
    assert set(meta["columns"]) == set(FAST_PITCH_COLUMNS) and "feature-calibration" in meta["command"]
    y = music_like(seconds=6.0, seed=3)
    fast = deam_song_vector(y, SR)
    smile = deam_song_vector(y, SR, extractor="opensmile")
    scale = np.maximum(np.abs(smile), 1e-6)
    # After the affine map each song value is within 5 % of openSMILE's for most columns.
    assert np.median(np.abs(fast - smile) / scale) < 0.05


def test_contract_errors_and_short_audio():
    with pytest.raises(ParameterError, match="extractor"):
        deam_frames(music_like(), SR, extractor="librosa")
    with pytest.raises(ParameterError, match="opensmile"):
        deam_frames(music_like(), SR, columns=["audSpec_Rfilt_sma[0]_amean"])
    times, frames = deam_frames(np.zeros(SR // 3, dtype=np.float32), SR)
    assert times.tolist() == [0.5] and np.all(np.isfinite(frames))
    assert deam_song_vector(music_like(), SR, columns=FAST_COLUMNS[:3]).shape == (3,)
