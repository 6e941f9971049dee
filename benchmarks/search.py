"""Emotion search speed on synthetic indices of 10k, 100k and 1M songs.

Usage::

    .venv/bin/python benchmarks/search.py [--sizes 10000,100000,1000000] [--queries 30]
                                          [--workdir /tmp/emolab-search-bench] [--keep]

Each index is made on the fly (never committed) by perturbing the 744 real emoMusic
human curves (random base song, a smooth ±10 % time warp, a random level shift and a
slow random-walk deviation; 61 frames at 2 Hz like the originals) and gives every song
a static annotation near its curve's mean. Without the shared data, random walks stand
in. Each size is then searched in a fresh process (so its peak memory is its own):
cold start (first query: loading the curves and building the sketches), then p50/p95
latency of ``nearest_point``, ``match_profile`` whole-song (DTW and Euclidean) and
segment mode (a 10 s profile, DTW). Prints a Markdown table.

Targets on 2 cores: point ≤ 20 ms at 1M; whole-song ≤ 100 ms at 100k and ≤ 1 s at 1M;
segment ≤ 1 s at 100k.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emolab import search  # noqa: E402
from emolab.index import open_index, search_sql  # noqa: E402

EMOMUSIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "emomusic" / "annotations"
FRAMES, HOP, T0 = 61, 0.5, 15.0
CHUNK = 100_000


def base_curves(rng) -> np.ndarray:
    """Real emoMusic curves (744, 2, 61), or random walks when the data are absent."""
    try:
        import pandas as pd

        v = pd.read_csv(EMOMUSIC / "valence_cont_average.csv", index_col=0).to_numpy()
        a = pd.read_csv(EMOMUSIC / "arousal_cont_average.csv", index_col=0).to_numpy()
        return np.stack([v, a], axis=1)
    except OSError:
        print("shared emoMusic data absent: using random walks", file=sys.stderr)
        walks = np.cumsum(rng.normal(0, 0.04, (744, 2, FRAMES)), axis=2)
        return np.clip(walks + rng.uniform(-0.5, 0.5, (744, 2, 1)), -1, 1)


def perturbed(base: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` curves (n, 2, FRAMES) made from random base curves."""
    picks = base[rng.integers(0, len(base), n)]
    u = np.linspace(0.0, 1.0, FRAMES)
    warped = u[None] + rng.uniform(-0.1, 0.1, (n, 1)) * np.sin(np.pi * u)[None]
    position = np.clip(warped, 0, 1) * (FRAMES - 1)
    left = np.minimum(position.astype(int), FRAMES - 2)
    frac = (position - left)[:, None, :]
    rows = np.arange(n)[:, None, None]
    dims = np.arange(2)[None, :, None]
    left = left[:, None, :]
    curves = (1 - frac) * picks[rows, dims, left] + frac * picks[rows, dims, left + 1]
    drift = np.cumsum(rng.normal(0, 0.01, curves.shape), axis=2)
    shift = rng.normal(0, 0.1, (n, 2, 1))
    return np.clip(curves + drift + shift, -1, 1).astype(np.float32)


def list_column(values: np.ndarray) -> pa.Array:
    flat = pa.array(values.reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1]).cast(pa.list_(pa.float32()))


def build(path: Path, size: int, rng) -> float:
    """Write a synthetic index of ``size`` songs to ``path``; return the seconds it took."""
    start = time.perf_counter()
    base = base_curves(rng)
    with open_index(path) as index:
        for first in range(0, size, CHUNK):
            n = min(CHUNK, size - first)
            ids = np.arange(first + 1, first + n + 1, dtype=np.int32)
            curves = perturbed(base, n, rng)
            songs = pa.table({
                "song_id": ids,
                "title": pa.array([f"synthetic {i}" for i in ids]),
                "artist": pa.array([f"artist {i % 5000}" for i in ids]),
                "origin": pa.array(["dataset"] * n),
                "dataset": pa.array(["synthetic"] * n),
                "dataset_id": pa.array([str(i) for i in ids]),
                "duration": np.full(n, 45.0),
                "has_audio": rng.random(n) < 0.5,
            })
            table = pa.table({
                "song_id": ids, "source": pa.array(["human"] * n),
                "model_version": pa.array(["synthetic"] * n),
                "t0": np.full(n, T0), "hop": np.full(n, HOP),
                "valence": list_column(curves[:, 0]), "arousal": list_column(curves[:, 1]),
            })
            static = pa.table({
                "song_id": ids, "annotator": pa.array(["synthetic"] * n),
                "valence": np.clip(curves[:, 0].mean(axis=1) + rng.normal(0, 0.05, n), -1, 1),
                "arousal": np.clip(curves[:, 1].mean(axis=1) + rng.normal(0, 0.05, n), -1, 1),
            })
            with index.transaction() as con:
                search_sql.bulk_load(con, songs, table, static)
        index.checkpoint()
    return time.perf_counter() - start


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return 1000 * (time.perf_counter() - start)


def worker(path: str, n_queries: int, seed: int) -> dict:
    """Search one index; return latencies (ms) and peak memory. Runs in its own process."""
    rng = np.random.default_rng(seed)
    base = base_curves(rng)
    out = {}
    with open_index(path, read_only=True) as index:
        out["cold_point_ms"] = timed(search.nearest_point, index, 0.1, 0.2, 10)
        out["cold_profile_ms"] = timed(search.match_profile, index, np.linspace(-0.3, 0.3, 20),
                                       None, 10)
        search.warm_up(index)
        points = rng.uniform(-0.8, 0.8, (n_queries, 2))
        profiles = perturbed(base, n_queries, rng)
        segments = perturbed(base, n_queries, rng)[:, :, 20:41]  # 21 frames = 10 s
        cases = {
            "point": lambda i: search.nearest_point(index, *points[i], 10),
            "whole_dtw": lambda i: search.match_profile(index, *profiles[i], 10),
            "whole_euclidean": lambda i: search.match_profile(index, *profiles[i], 10,
                                                              metric="euclidean"),
            "segment_dtw": lambda i: search.match_profile(index, *segments[i], 10, mode="segment",
                                                          segment_seconds=10.0),
        }
        for name, run in cases.items():
            times = [timed(run, i) for i in range(n_queries)]
            out[name] = (float(np.percentile(times, 50)), float(np.percentile(times, 95)))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--workdir", default="/tmp/emolab-search-bench")
    parser.add_argument("--keep", action="store_true", help="keep the index files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.queries, args.seed)))
        return
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        path = workdir / f"search_{size}.duckdb"
        if path.exists():
            built = float("nan")
        else:
            built = build(path, size, np.random.default_rng(args.seed))
        print(f"{size:,} songs: index built in {built:.0f} s, "
              f"{path.stat().st_size / 1e6:.0f} MB", file=sys.stderr, flush=True)
        result = subprocess.run(
            [sys.executable, __file__, "--worker", str(path), "--queries", str(args.queries),
             "--seed", str(args.seed + 1)],
            capture_output=True, text=True, check=True)
        stats = json.loads(result.stdout.strip().splitlines()[-1])
        stats.update(size=size, build_s=built)
        print(json.dumps(stats), file=sys.stderr, flush=True)
        rows.append(stats)
        if not args.keep:
            for suffix in ("", ".wal"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| songs | build s | cold start ms (point / profile) | point p50/p95 ms | "
          "whole DTW p50/p95 ms | whole Euclidean p50/p95 ms | segment DTW p50/p95 ms | "
          "peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        pair = lambda key: f"{r[key][0]:.1f} / {r[key][1]:.1f}"  # noqa: E731
        print(f"| {r['size']:,} | {r['build_s']:.0f} | {r['cold_point_ms']:.0f} / "
              f"{r['cold_profile_ms']:.0f} | {pair('point')} | {pair('whole_dtw')} | "
              f"{pair('whole_euclidean')} | {pair('segment_dtw')} | {r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
