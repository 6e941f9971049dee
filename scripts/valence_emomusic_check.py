"""Does the 4Q valence stage hurt music like DEAM's? Static model alone vs with the stage on emoMusic clips.

Usage: ``python scripts/valence_emomusic_check.py ../shared/data/emomusic`` (prints, and writes
``docs/results/valence_emomusic.md``).

Pearson r and mean absolute error against emoMusic's static ratings (on [-1, 1]) of every clip with audio.
Caveat: emoMusic's songs are DEAM ids 2-1000, i.e. songs the static model was trained on, so
"static alone" is optimistic.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import stats

from emolab import audio, predict
from emolab.datasets import read_emomusic


def main(root: str) -> None:
    tables = read_emomusic(root)
    songs = tables.songs[tables.songs.audio_path.notna()].merge(tables.static, on="dataset_id")
    models = predict.load_models()
    stage = models.static.valence_stage
    rows = []
    for song in songs.itertuples():
        clip = audio.load(song.audio_path, sr=None)
        with_stage = predict.predict_static(clip.y, clip.sr, model=models.static)
        del models.static.valence_stage
        alone = predict.predict_static(clip.y, clip.sr, model=models.static)
        models.static.valence_stage = stage
        rows.append((song.valence, song.arousal, alone["valence"], alone["arousal"],
                     with_stage["valence"], with_stage["arousal"]))
    x = np.array(rows)
    lines = ["# The 4Q valence stage on emoMusic clips (music like DEAM's)", "",
             "Command: `python scripts/valence_emomusic_check.py ../shared/data/emomusic`", "",
             f"{len(x)} emoMusic clips with audio; the stage corrects: {', '.join(stage.stage.coef_)} "
             f"(`{stage.version}` over `{models.static.version}`). Caveat: these songs are DEAM ids 2–1000, on which "
             "the static model was trained, so 'static alone' is optimistic; 10 clips give wide intervals.", "",
             "| prediction | valence r | valence MAE | arousal r | arousal MAE |", "|---|---|---|---|---|"]
    for name, j in (("static alone", 2), ("with the 4Q stage (shipped)", 4)):
        lines.append(f"| {name} | {stats.pearsonr(x[:, 0], x[:, j])[0]:.3f} | {np.abs(x[:, 0] - x[:, j]).mean():.3f} | "
                     f"{stats.pearsonr(x[:, 1], x[:, j + 1])[0]:.3f} | {np.abs(x[:, 1] - x[:, j + 1]).mean():.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(__file__).resolve().parents[1].joinpath("docs", "results", "valence_emomusic.md").write_text(text)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/emomusic")
