"""The demo library: music21 scores rendered with a GM soundfont, then ingested once."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from emolab import demo
from emolab.index import songs

# two short pieces: a folk tune titled by its tune book, a chorale titled by the table
FOLK = demo.DemoPiece("essenFolksong/altdeu10.abc", None, "Traditional (German)", number=1, qpm=100)
CHORALE = demo.DemoPiece("bach/bwv1.6.mxl", "Chorale BWV 1.6 (F major)", "Johann Sebastian Bach",
                         program=demo.ORGAN)


def test_every_demo_piece_ships_with_music21():
    from music21 import corpus

    for piece in demo.DEMO_PIECES:
        assert corpus.getWork(piece.corpus_path), piece.corpus_path
    keys = [piece.key for piece in demo.DEMO_PIECES]
    assert len(set(keys)) == len(keys) and 24 <= len(keys) <= 36
    assert demo.soundfont_path().name == "TimGM6mb.sf2"


def test_a_rendered_piece_is_a_short_audible_excerpt_with_its_labels(tmp_path):
    path = tmp_path / f"{FOLK.key}.flac"
    labels = demo.render_piece(FOLK, path, seconds=6.0)
    y, sr = sf.read(path)
    assert labels["title"] == "Das Hildebrandslied"  # from the tune book's metadata
    assert labels["artist"] == "Traditional (German)"
    assert 3.0 < len(y) / sr <= 6.0
    assert np.sqrt(np.mean(y ** 2)) > 0.01
    assert json.loads(path.with_suffix(".json").read_text())["title"] == "Das Hildebrandslied"


def test_trim_cuts_the_silent_tail_and_fades_a_long_piece():
    sr = 1000
    y = np.concatenate([np.ones(3 * sr, dtype=np.float32), np.zeros(5 * sr, dtype=np.float32)])
    assert len(demo.trim(y, sr, seconds=10)) == int(3.5 * sr)
    cut = demo.trim(y, sr, seconds=2, fade=1)
    assert len(cut) == 2 * sr and cut[-1] == 0.0 and cut[0] == 1.0


def test_the_demo_library_is_built_once(index, tmp_path):
    calls = []
    assert demo.demo_needed(index)
    report = demo.build_demo_library(index, audio_dir=tmp_path / "audio", pieces=[FOLK, CHORALE],
                                     seconds=6.0, workers=1, progress=lambda *a: calls.append(a))
    assert report["added"] == 2 and not report["failed"], report
    table = songs.song_table(index.con).set_index("title")
    assert set(table.index) == {"Das Hildebrandslied", "Chorale BWV 1.6 (F major)"}
    assert table.loc["Chorale BWV 1.6 (F major)", "artist"] == "Johann Sebastian Bach"
    assert set(table.origin) == {"demo"} and table.has_audio.all()
    assert calls[-1][0] == calls[-1][1] == 4  # two renders and two analyses
    assert not demo.demo_needed(index)

    again = demo.build_demo_library(index, audio_dir=tmp_path / "audio", pieces=[FOLK, CHORALE],
                                    seconds=6.0, workers=1)
    assert again["added"] == 0 and again["skipped"] == 2
    assert songs.stats(index.con)["songs"] == 2
