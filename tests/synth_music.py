"""Generated music whose perceived emotion is meant to differ: calm vs energetic, bright vs dark.

Used by the sketch-search tests on predicted curves (nothing here is a real recording).
"""
from __future__ import annotations

import numpy as np

SR = 22050


def _envelope(n, sr, attack=0.01, decay=0.3):
    t = np.arange(n) / sr
    return np.minimum(1.0, t / attack) * np.exp(-t / decay)


def calm(seconds: float, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A sparse, quiet sine pad: one soft low chord every 3 s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = np.zeros(n)
    t = np.arange(int(3 * sr)) / sr
    for start in range(0, n, int(3 * sr)):
        f = rng.choice([110.0, 130.81, 146.83])
        note = sum(np.sin(2 * np.pi * f * k * t) / k ** 2 for k in (1, 2)) * np.sin(np.pi * t / 3) ** 2
        m = min(len(note), n - start)
        y[start:start + m] += 0.08 * note[:m]
    return y.astype(np.float32)


def energetic(seconds: float, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Dense, loud, noisy drums (kick, snare, hi-hats at 150 bpm) over a distorted bass."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = np.zeros(n)
    beat = int(sr * 60 / 150)
    t = np.arange(beat) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    for k, start in enumerate(range(0, n, beat // 2)):
        m = min(beat // 2, n - start)
        hat = rng.standard_normal(m) * _envelope(m, sr, 0.001, 0.03)
        y[start:start + m] += 0.35 * hat
        if k % 2 == 0:
            y[start:start + m] += 0.9 * kick[:m]
        if k % 4 == 2:
            y[start:start + m] += 0.6 * rng.standard_normal(m) * _envelope(m, sr, 0.001, 0.12)
    tt = np.arange(n) / sr
    bass = np.tanh(4 * np.sin(2 * np.pi * 82.4 * tt))
    y += 0.3 * bass
    return (0.9 * y / np.max(np.abs(y))).astype(np.float32)


def _arpeggio(seconds, sr, freqs, *, bpm, amp, bright):
    n = int(seconds * sr)
    y = np.zeros(n)
    step = int(sr * 60 / bpm)
    t = np.arange(step) / sr
    harmonics = (1, 2, 3, 4, 5, 6) if bright else (1, 2)
    for k, start in enumerate(range(0, n, step)):
        f = freqs[k % len(freqs)]
        note = sum(np.sin(2 * np.pi * f * h * t) / h for h in harmonics) * _envelope(step, sr, 0.005, 0.4)
        m = min(step, n - start)
        y[start:start + m] += amp * note[:m]
    return y


def bright(seconds: float, *, sr: int = SR) -> np.ndarray:
    """A quick, high, major-key arpeggio with a rich timbre."""
    freqs = [523.25, 659.25, 783.99, 1046.5, 783.99, 659.25]  # C major
    return (0.5 * _arpeggio(seconds, sr, freqs, bpm=240, amp=1.0, bright=True) / 2.5).astype(np.float32)


def dark(seconds: float, *, sr: int = SR) -> np.ndarray:
    """A slow, low, minor-key arpeggio with a dull timbre."""
    freqs = [110.0, 130.81, 164.81, 130.81]  # A minor
    return (0.5 * _arpeggio(seconds, sr, freqs, bpm=60, amp=1.0, bright=False) / 1.6).astype(np.float32)
