"""Dynamic model speed: seconds to predict the 2 Hz curve of a 4-minute song (warm).

Usage::

    .venv/bin/python benchmarks/dynamic.py [--minutes 4] [--repeats 5] [--threads 2]

Loads the shipped model (``data/models/dynamic``: the static model over sliding windows of
fast-extractor frames), predicts once to warm up, then times ``predict_curve`` on synthetic
audio at 22.05 kHz (the level is ignored by the unanchored windowed model; ``--no-level``
is kept for the VAE-LSTM). Target: ≤ 1 s on 2 cores.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from emolab.config import ANALYSIS_SR
from emolab.models.dynamic import DynamicEmotionModel


def synthetic_song(minutes: float, sr: int = ANALYSIS_SR) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(minutes * 60 * sr)) / sr
    chords = np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277 * t) + np.sin(2 * np.pi * 330 * t)
    swell = 0.5 + 0.5 * np.sin(2 * np.pi * t / 20)
    return (0.1 * swell * chords + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-level", action="store_true", help="let the model compute the static level")
    args = parser.parse_args()
    level = None if args.no_level else (0.1, -0.2)
    torch.set_num_threads(args.threads)
    model = DynamicEmotionModel.load()
    y = synthetic_song(args.minutes)
    model.predict_curve(y[: ANALYSIS_SR * 10], ANALYSIS_SR)  # warm-up
    timings = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        times, _, _ = model.predict_curve(y, ANALYSIS_SR, level=level)
        timings.append(time.perf_counter() - start)
    print(f"| audio | level | points | median s | best s | threads |\n|---|---|---|---|---|---|\n"
          f"| {args.minutes:g} min | {'computed' if level is None else 'given'} | {len(times)} "
          f"| {np.median(timings):.3f} | {min(timings):.3f} | {args.threads} |")


if __name__ == "__main__":
    main()
