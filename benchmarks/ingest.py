"""Ingest speed: seconds per minute of audio for each stage, and end-to-end real-time factor.

Usage::

    .venv/bin/python benchmarks/ingest.py [--songs 8] [--minutes 4] [--workers 2]
    .venv/bin/python benchmarks/ingest.py --engine ray [--songs 8] [--minutes 4] [--repeats 1]

Generates a folder of synthetic songs (chord progressions with drums and noise, 44.1 kHz
FLAC) in a temp dir, times each stage on one song, then ingests the whole folder with
1 worker (the baseline) and with ``--workers`` workers, and prints a Markdown table.
Target: ≥ 100× real time end to end on 2 cores. With ``--engine ray`` it compares the local
pool with Ray actors instead (:func:`compare_engines`); target: Ray's throughput per worker
within 15 % of the local pool's.
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
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="ray: the local pool against Ray actors, same folder, same run")
    parser.add_argument("--repeats", type=int, default=1, help="with --engine ray: rounds (best kept)")
    args = parser.parse_args()
    if args.engine == "ray":
        return compare_engines(args)
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


def compare_engines(args) -> None:
    """``--engine ray``: the local pool and Ray actors (1 and ``--workers``) on one folder.

    Each run ingests the folder into a fresh index, features and predictions. Throughput is
    measured in the steady state (from the moment every worker has finished its first file
    to the last file), so that starting processes and loading models, paid once per worker
    however large the collection, do not count; the wall time including them is shown too.
    The overhead per file is Ray's extra steady-state seconds per file with one worker.
    Rounds run the configurations in turn; each keeps its best round (the machine is shared).
    """
    import os

    from emolab import cluster

    ray = cluster.connect()  # a Ray cluster on this machine, every core
    cores = int(ray.cluster_resources()["CPU"])
    configs = [(engine, w) for w in sorted({1, args.workers}) for engine in ("local", "ray")]
    best: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "music"
        folder.mkdir()
        bases = [synth_song(args.minutes * 60, i) for i in range(min(4, args.songs))]
        for i in range(args.songs):  # distinct files (shifted, rescaled) from a few syntheses
            y = np.roll(bases[i % len(bases)], 997 * i) * (1 - 0.02 * (i // len(bases)))
            sf.write(folder / f"song{i}.flac", y, SR)
        for round_ in range(args.repeats):
            for engine, workers in configs:
                done: list[float] = []
                load = os.getloadavg()[0]
                start = time.perf_counter()
                run = ingest.ingest if engine == "local" else cluster.ingest
                with open_index(Path(tmp) / f"{engine}{workers}-{round_}.duckdb") as idx:
                    report = run([folder], index=idx, workers=workers,
                                    progress=lambda *a: done.append(time.perf_counter()))
                wall = time.perf_counter() - start
                assert len(report.added) == args.songs, report.summary()
                steady = (len(done) - workers) / (done[-1] - done[workers - 1])  # files/s
                row = {"wall": wall, "first": done[0] - start, "steady": steady,
                       "load": (load + os.getloadavg()[0]) / 2}
                print(f"round {round_}: {engine} × {workers}: {row}", flush=True)
                if steady > best.get((engine, workers), {"steady": 0})["steady"]:
                    best[(engine, workers)] = row
    ray.shutdown()
    seconds = args.minutes * 60
    print(f"\n## Local pool against Ray: {args.songs} songs × {args.minutes:g} min, features + "
          f"predictions, {cores} cores, best of {args.repeats}\n")
    print("| engine | workers | wall s (with start-up) | first song after s | steady × real time "
          "per worker | per worker vs local | load (1-min avg) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for engine, workers in configs:
        row = best[(engine, workers)]
        per_worker = row["steady"] / workers
        ratio = per_worker / (best[("local", workers)]["steady"] / workers)
        print(f"| {engine} | {workers} | {row['wall']:.1f} | {row['first']:.1f} "
              f"| {per_worker * seconds:.0f}× | {ratio:.2f} | {row['load']:.1f} |")
    overhead = 1 / best[("ray", 1)]["steady"] - 1 / best[("local", 1)]["steady"]
    print(f"\nRay overhead per file (one worker, steady state): {overhead * 1000:+.0f} ms "
          f"on {1 / best[('local', 1)]['steady']:.2f} s per file")


if __name__ == "__main__":
    main()
