"""Recompute DEAM's 74 song-level openSMILE columns for the emoMusic clips and compare.

Produces the agreement table and the timings of docs/features.md::

    .venv/bin/python scripts/deam_agreement.py --update-doc docs/features.md

Without ``--update-doc`` the Markdown is printed. The clips are the emoMusic excerpts
that are also DEAM songs (ids 2–17); the reference is ``deam_features_74.csv``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emolab import audio  # noqa: E402
from emolab.features import deam  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
DEFAULT_CLIPS = SHARED / "emomusic" / "clips_45seconds_mp3"
DEFAULT_TABLE = SHARED / "deam" / "features" / "deam_features_74.csv"
DEFAULT_IDS = (2, 3, 4, 5, 7, 8, 10, 12, 13, 17)
#: The recomputable columns that do not need openSMILE's pitch and jitter/shimmer chain.
WITHOUT_VOICING = [c for c in deam.RECOMPUTABLE_COLUMNS
                   if not {"pitch", "voice_quality"} & set(deam.groups_for([c]))]
START, END = "<!-- deam-agreement:start -->", "<!-- deam-agreement:end -->"


def read_reference(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path).set_index("track_id")
    return table[deam.DEAM74_COLUMNS]


def recompute(clips: Path, ids) -> tuple[pd.DataFrame, float, float]:
    """DEAM74 vectors of the clips, with CPU seconds spent and seconds of audio."""
    rows, cpu, seconds = {}, 0.0, 0.0
    for song in ids:
        path = clips / f"{song}.mp3"
        if not path.exists():
            continue
        sound = audio.load(path, sr=None)
        start = time.process_time()
        rows[song] = deam.deam_song_vector(sound.y, sound.sr)
        cpu += time.process_time() - start
        seconds += sound.duration
    return pd.DataFrame.from_dict(rows, orient="index", columns=deam.DEAM74_COLUMNS), cpu, seconds


def package_config_seconds(y: np.ndarray) -> float:
    """CPU seconds of the package's own IS13_ComParE.conf at its LLD level (one pass)."""
    import opensmile

    conf = deam._package_config_dir() / "is09-13" / "IS13_ComParE.conf"
    smile = opensmile.Smile(feature_set=str(conf), feature_level="lld")
    start = time.process_time()
    smile.process_signal(y, 44100)
    return time.process_time() - start


def timings(clips: Path, ids, repeats: int) -> list[tuple[str, float, float]]:
    """(configuration, CPU s per minute of audio, max |difference| to the full one)."""
    variants = [
        ("all 130 contours, one pass (opensmile260)", None),
        ("trimmed to the 74 DEAM columns (deam74)", deam.DEAM74_COLUMNS),
        ("trimmed to the 67 recomputable columns", deam.RECOMPUTABLE_COLUMNS),
        ("the 55 of those 67 without pitch and voice quality", WITHOUT_VOICING),
    ]
    cpu = {name: 0.0 for name, _ in variants}
    cpu["package IS13_ComParE.conf, LLDs only (no deltas)"] = 0.0
    diff = {name: 0.0 for name, _ in variants}
    minutes = 0.0
    for song in ids[:repeats]:
        sound = audio.load(clips / f"{song}.mp3", sr=None)
        minutes += sound.duration / 60
        y = deam._prepare(sound.y, sound.sr)
        cpu["package IS13_ComParE.conf, LLDs only (no deltas)"] += package_config_seconds(y)
        full = None
        for name, columns in variants:
            start = time.process_time()
            _, frames = deam.opensmile_frames(y, 44100, columns=columns)
            cpu[name] += time.process_time() - start
            if columns is None:
                full = frames
            else:
                idx = [deam.DEAM_FRAME_COLUMNS.index(c) for c in columns]
                diff[name] = max(diff[name], float(np.abs(frames - full[:, idx]).max()))
    return [(name, cpu[name] / minutes, diff.get(name, float("nan"))) for name in cpu]


def markdown(table: pd.DataFrame, n_songs: int, cpu_per_minute: float, timing_rows) -> str:
    rec = table[table.recomputable]
    lines = [
        f"Songs compared: {n_songs}. Columns with r > 0.9: **{int((table.pearson_r > 0.9).sum())} "
        f"of 74**, **{int((rec.pearson_r > 0.9).sum())} of the 67 recomputable** "
        f"(median r {rec.pearson_r.median():.3f}; median |error| / column std "
        f"{rec.median_abs_error_over_std.median():.2f}). The column std is taken over the "
        "whole table (1,442 songs).",
        "",
        "| column | Pearson r | median \\|error\\| / std | recomputable |",
        "|---|---:|---:|:---:|",
    ]
    for row in table.itertuples():
        lines.append(f"| `{row.column}` | {row.pearson_r:.3f} | "
                     f"{row.median_abs_error_over_std:.2f} | {'yes' if row.recomputable else 'no'} |")
    lines += ["", f"`deam_song_vector` (74 columns, trimmed configuration): "
                  f"{cpu_per_minute:.2f} CPU s per minute of audio over these clips.", ""]
    if timing_rows:
        lines += ["| openSMILE configuration | CPU s per minute of audio | "
                  "max \\|difference\\| to all-contours run |", "|---|---:|---:|"]
        for name, seconds, difference in timing_rows:
            shown = "—" if np.isnan(difference) else f"{difference:.3g}"
            lines.append(f"| {name} | {seconds:.2f} | {shown} |")
    return "\n".join(lines) + "\n"


def update_doc(path: Path, section: str) -> None:
    text = path.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{path} has no {START} … {END} markers.")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{section}{END}{tail}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS)
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--ids", type=int, nargs="+", default=list(DEFAULT_IDS))
    parser.add_argument("--timing-clips", type=int, default=3,
                        help="clips used to time the configurations (0 to skip)")
    parser.add_argument("--update-doc", type=Path, help="rewrite the marked section of this file")
    args = parser.parse_args(argv)

    reference_all = read_reference(args.table)
    ids = [i for i in args.ids if i in reference_all.index and (args.clips / f"{i}.mp3").exists()]
    computed, cpu, seconds = recompute(args.clips, ids)
    table = deam.agreement(computed, reference_all.loc[ids], scale=reference_all.std())
    timing_rows = timings(args.clips, ids, args.timing_clips) if args.timing_clips else []
    section = markdown(table, len(ids), cpu / (seconds / 60), timing_rows)
    if args.update_doc:
        update_doc(args.update_doc, section)
        print(f"Updated {args.update_doc}.")
    else:
        print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
