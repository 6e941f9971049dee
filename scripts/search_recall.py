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
    ("whole, DTW (band 0.1)", dict(mode="whole", metric="dtw", band=0.1)),
    ("whole, Euclidean", dict(mode="whole", metric="euclidean")),
    ("whole, DTW, z-normalised", dict(mode="whole", metric="dtw", band=0.1, znorm=True)),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="index holding the emoMusic curves")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="emoMusic folder")
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--warp", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
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


def distort(curve: np.ndarray, rng, *, sigma: float, warp: float) -> np.ndarray:
    """Time-warp (middle moved by up to ±warp of the duration) and add noise; shape kept."""
    u = np.linspace(0.0, 1.0, len(curve))
    shift = rng.uniform(-warp, warp)
    warped = np.interp(u + shift * np.sin(np.pi * u), u, curve)
    return np.clip(warped + rng.normal(0.0, sigma, len(curve)), -1.0, 1.0)


def report(index, args) -> None:
    curves = emotion.get_curves(index.con, source="human")
    ids = index.con.execute(
        "SELECT song_id FROM songs WHERE dataset = 'emomusic'").fetchnumpy()["song_id"]
    curves = curves[curves.song_id.isin(ids)].reset_index(drop=True)
    print(f"{len(curves)} emoMusic human curves; noise sigma {args.sigma}, warp ±{args.warp:.0%}")
    rng = np.random.default_rng(args.seed)
    queries = [(row.song_id,
                distort(np.asarray(row.valence), rng, sigma=args.sigma, warp=args.warp),
                distort(np.asarray(row.arousal), rng, sigma=args.sigma, warp=args.warp))
               for row in curves.itertuples()]
    search.warm_up(index)
    print("| search | recall@1 | recall@10 | mean ms / query |")
    print("|---|---|---|---|")
    for name, options in CONFIGS:
        hits1 = hits10 = 0
        start = time.perf_counter()
        for song_id, qv, qa in queries:
            found = list(search.match_profile(index, qv, qa, k=10, **options).song_id)
            hits1 += found[:1] == [song_id]
            hits10 += song_id in found
        ms = 1000 * (time.perf_counter() - start) / len(queries)
        print(f"| {name} | {hits1 / len(queries):.3f} | {hits10 / len(queries):.3f} | {ms:.1f} |")


if __name__ == "__main__":
    raise SystemExit(main())
