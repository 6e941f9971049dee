"""Ingest speed: seconds per minute of audio for each stage, and end-to-end real-time factor.

Usage::

    .venv/bin/python benchmarks/ingest.py [--songs 8] [--minutes 4] [--workers 2]

Generates a folder of synthetic songs (chord progressions with drums and noise, 44.1 kHz
FLAC) in a temp dir, times each stage on one song, then ingests the whole folder with
1 worker (the baseline) and with ``--workers`` workers, and prints a Markdown table.
Target: ≥ 100× real time end to end on 2 cores.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from emolab import audio, ingest, pipeline
from emolab.config import ANALYSIS_SR
from emolab.features import deam, spectral
from emolab.index import open_index

SR = 44100


def synth_song(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    bar = 2.0
    for start in np.arange(0, seconds, bar):
        root = 110 * 2 ** (rng.integers(0, 12) / 12)
        third = 2 ** ((3 if rng.random() < 0.5 else 4) / 12)
        sl = (t >= start) & (t < start + bar)
        for ratio in (1, third, 1.5, 2):
            y[sl] += np.sin(2 * np.pi * root * ratio * t[sl]) * np.exp(-(t[sl] - start))
    beats = (np.floor(t * 2) != np.floor((t - 1 / SR) * 2))
    y += np.convolve(beats * 1.0, np.exp(-np.arange(2000) / 200), mode="same") * 0.5
    y += 0.02 * rng.standard_normal(t.size)
    return (0.2 * y / np.max(np.abs(y))).astype(np.float32)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    minutes_total = args.songs * args.minutes

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "music"
        folder.mkdir()
        for i in range(args.songs):
            sf.write(folder / f"song{i}.flac", synth_song(args.minutes * 60, i), SR)

        data = (folder / "song0.flac").read_bytes()
        clip, t_decode = timed(audio.decode, data, sr=None)
        _, t_smile_full = timed(deam.opensmile_frames, clip.y, clip.sr)
        _, t_smile = timed(deam.deam_song_vector, clip.y, clip.sr)
        y22, t_resample = timed(audio.resample, clip.y, orig_sr=clip.sr, target_sr=ANALYSIS_SR)
        _, t_librosa = timed(spectral.song_vector, y22, ANALYSIS_SR)
        analysis = pipeline.analyse(data, name="song0.flac")
        with open_index(Path(tmp) / "stage.duckdb") as idx:
            _, t_db = timed(pipeline.add_to_index, idx, analysis)

        per_min = args.minutes
        rows = [
            ("decode (FLAC → float32)", t_decode),
            ("openSMILE, full IS13 LLDs (all 260 frame columns)", t_smile_full),
            ("openSMILE, trimmed (the DEAM74 song vector)", t_smile),
            ("resample to 22.05 kHz", t_resample),
            ("librosa song vector", t_librosa),
            ("DuckDB write (one transaction)", t_db),
        ]
        print(f"## Ingest stages (one {args.minutes:g}-minute song, one core)\n")
        print("| stage | s per minute of audio | × real time |")
        print("|---|---:|---:|")
        for name, seconds in rows:
            print(f"| {name} | {seconds / per_min:.3f} | {60 * per_min / seconds:.0f}× |")
        print(f"\ntrimmed / full openSMILE speed-up: {t_smile_full / t_smile:.2f}×\n")

        results = {}
        for workers in sorted({1, args.workers}):
            with open_index(Path(tmp) / f"w{workers}.duckdb") as idx:
                start = time.perf_counter()
                report = ingest.ingest([folder], index=idx, workers=workers,
                                       progress=lambda *a: None)
                results[workers] = time.perf_counter() - start
                assert len(report.added) == args.songs, report.summary()
        print(f"## End to end: {args.songs} songs × {args.minutes:g} min, features + predictions\n")
        print("| workers | wall s | × real time | speed-up vs 1 worker |")
        print("|---:|---:|---:|---:|")
        for workers, seconds in results.items():
            print(f"| {workers} | {seconds:.1f} | {minutes_total * 60 / seconds:.0f}× "
                  f"| {results[1] / seconds:.2f}× |")


if __name__ == "__main__":
    main()
