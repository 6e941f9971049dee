"""Real-curve check of profile search on the 744 human emoMusic curves.

Each song's own curve is distorted and used as the query: a random smooth time warp
that moves the middle of the song by up to ±10 % of its duration
(``u -> u + d sin(pi u)``, ``d ~ U(-0.1, 0.1)``), then Gaussian noise of sigma 0.1 on
[-1, 1] (clipped to the scale). Recall@k is the share of queries whose own song is
among the first k results.

    python scripts/search_recall.py                      # imports emoMusic into a temp index
    python scripts/search_recall.py --db data/emolab.duckdb   # an index that has it already
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emolab import search  # noqa: E402
from emolab.index import emotion, open_index, songs  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "emomusic"
CONFIGS = (
    ("whole, DTW (band 0.1, step penalty 0.005: the default)", dict(mode="whole", metric="dtw")),
    ("whole, plain DTW (band 0.1, no step penalty)",
     dict(mode="whole", metric="dtw", step_penalty=0)),
    ("whole, Euclidean", dict(mode="whole", metric="euclidean")),
    ("whole, DTW, z-normalised", dict(mode="whole", metric="dtw", znorm=True)),
)
SEGMENT_SECONDS = 10.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="index holding the emoMusic curves")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="emoMusic folder")
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--warp", type=float, default=0.1)
    parser.add_argument("--seeds", default="0,1,2", help="one run per seed, averaged")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        index = open_index(args.db) if args.db else _imported_index(Path(tmp), Path(args.data))
        try:
            report(index, args)
        finally:
            index.close()
    return 0


def _imported_index(tmp: Path, data: Path):
    index = open_index(tmp / "emomusic.duckdb")
    try:
        from emolab.importers import import_dataset

        counts = import_dataset(index, "emomusic", data)
        print(f"imported with import-dataset: {counts['curves']} curves")
    except ImportError:
        _load_curves_directly(index, data)
    return index


def _load_curves_directly(index, data: Path) -> None:
    """Fallback when the importer is missing: the two average-curve CSVs, nothing else."""
    import pandas as pd

    v = pd.read_csv(data / "annotations" / "valence_cont_average.csv", index_col=0)
    a = pd.read_csv(data / "annotations" / "arousal_cont_average.csv", index_col=0)
    with index.transaction() as con:
        for sid in v.index:
            song_id = songs.add_song(con, title=str(sid), origin="dataset", dataset="emomusic",
                                     dataset_id=str(sid))
            emotion.put_curve(con, song_id, source="human", model_version="emomusic", t0=15.0,
                              hop=0.5, valence=v.loc[sid].to_numpy(), arousal=a.loc[sid].to_numpy())
    print(f"loaded {len(v)} curves from the CSV files")


def distort(valence, arousal, rng, *, sigma: float, warp: float):
    """One time warp of the song (middle moved by up to ±warp of the duration) applied to
    both curves, then independent noise; shapes kept."""
    u = np.linspace(0.0, 1.0, len(valence))
    warped_time = u + rng.uniform(-warp, warp) * np.sin(np.pi * u)
    return tuple(
        np.clip(np.interp(warped_time, u, curve) + rng.normal(0.0, sigma, len(curve)), -1.0, 1.0)
        for curve in (np.asarray(valence), np.asarray(arousal)))


def report(index, args) -> None:
    curves = emotion.get_curves(index.con, source="human")
    ids = index.con.execute(
        "SELECT song_id FROM songs WHERE dataset = 'emomusic'").fetchnumpy()["song_id"]
    curves = curves[curves.song_id.isin(ids)].reset_index(drop=True)
    seeds = [int(x) for x in args.seeds.split(",")]
    print(f"{len(curves)} emoMusic human curves; noise sigma {args.sigma}, warp ±{args.warp:.0%}, "
          f"seeds {seeds} (mean ± sd over seeds)")
    search.warm_up(index)
    print("| search | recall@1 | recall@10 | mean ms / query |")
    print("|---|---|---|---|")
    for name, options in CONFIGS:
        scores = [whole_song_recall(index, curves, np.random.default_rng(seed), args, options)
                  for seed in seeds]
        print(_row(name, scores), flush=True)
    scores = [segment_recall(index, curves, np.random.default_rng(seed), args) for seed in seeds]
    print(f"\nSegment mode, a random {SEGMENT_SECONDS:g} s excerpt of each song plus noise "
          f"(no warp):\n")
    print("| search | own song first | ... and start within 0.5 s | mean ms / query |")
    print("|---|---|---|---|")
    print(_row("segment, DTW (defaults)", scores))


def whole_song_recall(index, curves, rng, args, options):
    queries = [(row.song_id, *distort(row.valence, row.arousal, rng, sigma=args.sigma,
                                      warp=args.warp))
               for row in curves.itertuples()]
    hits1 = hits10 = 0
    start = time.perf_counter()
    for song_id, qv, qa in queries:
        found = list(search.match_profile(index, qv, qa, k=10, **options).song_id)
        hits1 += found[:1] == [song_id]
        hits10 += song_id in found
    ms = 1000 * (time.perf_counter() - start) / len(queries)
    return hits1 / len(queries), hits10 / len(queries), ms


def segment_recall(index, curves, rng, args):
    """A random excerpt of each song plus noise, searched in segment mode.

    Returns the share of queries whose song comes first, whose song comes first *and*
    is placed within 0.5 s of the excerpt's true start, and the mean time per query.
    """
    song_first = placed = 0
    start_time = time.perf_counter()
    for row in curves.itertuples():
        frames = int(SEGMENT_SECONDS / row.hop) + 1
        first = int(rng.integers(0, len(row.valence) - frames + 1))
        qv, qa = (np.clip(np.asarray(c)[first:first + frames] + rng.normal(0, args.sigma, frames),
                          -1, 1) for c in (row.valence, row.arousal))
        found = search.match_profile(index, qv, qa, k=1, mode="segment",
                                     segment_seconds=SEGMENT_SECONDS)
        if len(found) and found.song_id.iloc[0] == row.song_id:
            song_first += 1
            placed += abs(found.start.iloc[0] - (row.t0 + row.hop * first)) <= 0.5
    ms = 1000 * (time.perf_counter() - start_time) / len(curves)
    return song_first / len(curves), placed / len(curves), ms


def _row(name, scores) -> str:
    scores = np.asarray(scores)
    mean, sd = scores.mean(axis=0), scores.std(axis=0)
    return (f"| {name} | {mean[0]:.3f} ± {sd[0]:.3f} | {mean[1]:.3f} ± {sd[1]:.3f} | "
            f"{mean[2]:.1f} |")


if __name__ == "__main__":
    raise SystemExit(main())
