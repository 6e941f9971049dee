"""The pitch and voice-quality chain (emolab.features.pitch) on generated audio, and against openSMILE."""
import numpy as np
import pytest

from emolab.features import deam
from emolab.features.deam_fast import FAST_PITCH_COLUMNS, PITCH_COLUMNS, deam_frames, raw_frames
from emolab.features.pitch import CONTOURS, pitch_llds, sma_nonzero

SR = 44100


def voice(seconds=3.0, f0=220.0, *, period_jitter=0.0, amp_shimmer=0.0, seed=0):
    """A harmonic tone built period by period: every other period is ``1 + period_jitter`` times
    longer and ``1 + amp_shimmer`` times louder (a zero crossing at each period start)."""
    n = int(seconds * SR)
    periods = []
    total = 0
    k = 0
    while total < n:
        length = SR / f0 * (1.0 + (period_jitter if k % 2 else 0.0))
        periods.append(length)
        total += length
        k += 1
    edges = np.concatenate([[0.0], np.cumsum(periods)])
    t = np.arange(n, dtype=np.float64)
    index = np.searchsorted(edges, t, side="right") - 1
    phase = 2 * np.pi * (index + (t - edges[index]) / np.asarray(periods)[index])
    y = sum(0.3 / h * np.sin(h * phase) for h in range(1, 9))
    y *= np.where(index % 2, 1.0 + amp_shimmer, 1.0)
    y += 0.002 * np.random.default_rng(seed).normal(size=n)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def song(y, columns=PITCH_COLUMNS):
    _, frames = raw_frames(y, SR, columns=columns)
    return dict(zip(columns, frames.mean(axis=0)))


def test_harmonic_tone_gives_its_f0_and_high_voicing():
    for f0 in (110.0, 220.0, 440.0):
        v = song(voice(f0=f0))
        assert v["F0final_sma_amean"] == pytest.approx(f0, rel=0.02), f0
        assert v["voicingFinalUnclipped_sma_amean"] > 0.8
        assert v["F0final_sma_stddev"] < 0.02 * f0


def test_noise_is_less_voiced_than_a_tone():
    noise = (0.2 * np.random.default_rng(1).normal(size=3 * SR)).astype(np.float32)
    tone = song(voice())
    v = song(noise)
    assert v["voicingFinalUnclipped_sma_amean"] < tone["voicingFinalUnclipped_sma_amean"] - 0.1
    assert v["logHNR_sma_amean"] < tone["logHNR_sma_amean"] - 10.0


def test_period_perturbation_raises_jitter_amplitude_perturbation_raises_shimmer():
    steady = song(voice())
    jittery = song(voice(period_jitter=0.03))
    shimmery = song(voice(amp_shimmer=0.3))
    assert jittery["jitterLocal_sma_amean"] > 3 * steady["jitterLocal_sma_amean"]
    assert jittery["jitterDDP_sma_amean"] > 3 * steady["jitterDDP_sma_amean"]
    assert shimmery["shimmerLocal_sma_amean"] > 3 * steady["shimmerLocal_sma_amean"]
    assert shimmery["jitterLocal_sma_amean"] < jittery["jitterLocal_sma_amean"]


def test_silence_and_short_audio_are_finite_and_unvoiced():
    _, frames = deam_frames(np.zeros(SR // 2, np.float32), SR, columns=FAST_PITCH_COLUMNS)
    assert frames.shape == (1, 67) and np.all(np.isfinite(frames))
    v = song(np.zeros(2 * SR, np.float32))
    assert v["F0final_sma_amean"] == 0.0 and v["voicingFinalUnclipped_sma_amean"] == 0.0


def test_sma_nonzero_keeps_zeros_and_averages_the_rest():
    x = np.array([0.0, 2.0, 4.0, 0.0, 6.0, 6.0, 9.0])
    np.testing.assert_allclose(sma_nonzero(x), [0.0, 3.0, 3.0, 0.0, 6.0, 7.0, 7.5])


def test_contours_are_10ms_frames():
    y = voice(seconds=1.5).astype(np.float64)
    n = (y.size - 2646) // 441 + 1
    out = pitch_llds(y, n)
    assert set(out) == set(CONTOURS) and all(v.shape == (n,) for v in out.values())
    assert set(pitch_llds(y, n, voice=False)) == set(CONTOURS[:2])


def test_agrees_with_opensmile_on_generated_audio():
    """Frame by frame (0.5 s frames), raw values against openSMILE's own pitch chain."""
    y = np.concatenate([voice(seconds=2.0, f0=f, period_jitter=j, amp_shimmer=s, seed=i)
                        for i, (f, j, s) in enumerate([(180.0, 0.0, 0.0), (260.0, 0.02, 0.1),
                                                       (140.0, 0.01, 0.3)])])
    y = y + 0.05 * np.random.default_rng(3).normal(size=y.size).astype(np.float32)
    _, fast = raw_frames(y, SR, columns=PITCH_COLUMNS)
    _, smile = deam.opensmile_frames(y, SR, columns=PITCH_COLUMNS)
    for j, column in enumerate(PITCH_COLUMNS):
        a, b = fast[:, j], smile[:, j]
        assert np.allclose(a, b, rtol=0.02, atol=1e-3 * (np.abs(b).max() + 1e-9)) or \
            np.corrcoef(a, b)[0, 1] > 0.99, column


def test_numba_only_when_pitch_columns_are_asked_for_and_never_opensmile():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, numpy as np\n"
            "from emolab.features.deam_fast import deam_frames, PITCH_COLUMNS\n"
            "y = (0.1 * np.random.default_rng(0).normal(size=44100 * 2)).astype('float32')\n"
            "deam_frames(y, 44100)\n"
            "print('numba' in sys.modules)\n"
            "t, f = deam_frames(y, 44100, columns=PITCH_COLUMNS)\n"
            "assert f.shape == (3, 12)\n"
            "print('numba' in sys.modules, 'opensmile' in sys.modules)\n")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "False"]


def test_tone_cut_by_digital_silence_is_finite():
    """Periods that reach into exact zeros (a correlation over silence) do not break the chain."""
    y = voice(seconds=2.0, f0=150.0)
    y[int(0.7 * SR):int(0.7 * SR) + 300] = 0.0
    y[int(1.3 * SR):] = 0.0
    v = song(y)
    assert all(np.isfinite(x) for x in v.values()) and v["F0final_sma_amean"] > 0


def test_cheaper_settings_agree_with_the_exact_port_on_generated_audio():
    """The default chain is the exact port; the coarse-to-fine period search agrees with it
    frame by frame (0.5 s frames) on tones with perturbations and noise: F0, voicing and HNR
    within 0.1 %, jitter and shimmer within 10 % of the exact song-level mean (the chosen
    period can differ where two correlation peaks are close)."""
    y = np.concatenate([voice(seconds=2.0, f0=f, period_jitter=j, amp_shimmer=s, seed=i)
                        for i, (f, j, s) in enumerate([(180.0, 0.0, 0.0), (260.0, 0.02, 0.1),
                                                       (140.0, 0.01, 0.3)])]).astype(np.float64)
    y = y + 0.02 * np.random.default_rng(4).normal(size=y.size)
    y = np.trunc(np.clip(y, -1.0, 32767 / 32768) * 32768.0) / 32768.0
    n = (y.size - 2646) // 441 + 1
    exact = pitch_llds(y, n, exact=True)
    default = pitch_llds(y, n)
    for name in CONTOURS:
        np.testing.assert_array_equal(default[name], exact[name])
    cheap = pitch_llds(y, n, settings={"coarse": 4, "peaks": 3})
    half = lambda x: x[:n // 50 * 50].reshape(-1, 50).mean(axis=1)  # noqa: E731
    assert half(exact["F0final_sma"]).min() > 100.0     # voiced throughout
    for name in ("F0final_sma", "voicingFinalUnclipped_sma", "logHNR_sma"):
        np.testing.assert_allclose(half(cheap[name]), half(exact[name]), rtol=1e-3)
    for name in ("jitterLocal_sma", "jitterDDP_sma", "shimmerLocal_sma"):
        ratio = cheap[name].mean() / exact[name].mean()
        assert 0.9 < ratio < 1.1, (name, ratio)


def test_threads_give_the_same_contours_and_cut_only_after_unvoiced_frames():
    from emolab.features.pitch import _voiced_stretches

    # voiced stretches of different pitch and jitter, cut by near-silence (unvoiced frames)
    gap = np.zeros(SR // 5, np.float32)
    y = np.concatenate([voice(2.0, 110.0, period_jitter=0.02), gap, voice(2.5, 240.0, amp_shimmer=0.2),
                        gap, voice(2.0, 180.0, seed=3)])
    y = np.trunc(y.astype(np.float64) * 32768.0) / 32768.0
    n = (y.size - 2646) // 441 + 1
    one = pitch_llds(y, n, threads=1)
    for threads in (2, 3):
        many = pitch_llds(y, n, threads=threads)
        for name in CONTOURS:
            np.testing.assert_array_equal(many[name], one[name], err_msg=f"{name}, {threads} threads")
    f0 = np.array([200.0, 200.0, 0.0, 210.0, 210.0, 0.0, 0.0, 190.0, 190.0, 190.0])
    stretches = _voiced_stretches(f0, 3)
    assert stretches[0][0] == 0 and stretches[-1][1] == f0.size
    assert all(b == c for (_, b), (c, _) in zip(stretches[:-1], stretches[1:]))
    assert len(stretches) == 3 and all(f0[a - 1] == 0 for a, _ in stretches[1:])
    assert _voiced_stretches(np.full(10, 200.0), 4) == [(0, 10)]  # never voiced-to-voiced
