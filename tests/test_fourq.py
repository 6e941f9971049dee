"""The 4Q reader (emolab.datasets.fourq) on tiny trees written in 4Q's own layout."""
from __future__ import annotations

import numpy as np
import pytest

from emolab.datasets import QUADRANT_SIGNS, read_fourq, read_fourq_clips
from emolab.datasets.fourq import quadrant_of
from emolab.exceptions import DatasetError
from tests.conftest import shared_path, tone, write_audio

META_HEADER = ('"Song","Artist","Title","Quadrant","PQuad","MoodsTotal","Moods","MoodsFoundStr","MoodsStr",'
               '"MoodsStrSplit","Genres","GenresStr","Sample","SampleURL"\n')


def make_fourq(root, clips, *, audio=True, folder_of=None):
    """clips: list of (song, artist, quadrant). Audio: 1.5 s tones in audio/<quadrant>/<song>.wav."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "panda_dataset_taffc_annotations.csv").write_text(
        "Song,Quadrant\n" + "".join(f"{s},{q}\n" for s, _, q in clips))
    rows = [f'"{s}","{a}","Title, of {s}","{q}",0.75,4,3,"happy","Happy","Happy",2,"Pop/Rock; Jazz",1,"http://x"\n'
            for s, a, q in clips]
    (root / "panda_dataset_taffc_metadata.csv").write_text(META_HEADER + "".join(rows))
    if audio:
        for i, (song, _, quadrant) in enumerate(clips):
            folder = root / "audio" / ((folder_of or {}).get(song, quadrant))
            folder.mkdir(parents=True, exist_ok=True)
            write_audio(folder / f"{song}.wav", tone(220.0 * (1 + i % 5), seconds=1.5), 22050)
    return root


CLIPS = [("MT0000000003", "Ann", "Q3"), ("MT0000000001", "Bob", "Q1"), ("MT0000000002", "Ann", "Q2"),
         ("MT0000000004", "Cy, Dee & Co", "Q4")]


def test_layout_quadrants_signs_and_artists(tmp_path):
    clips = read_fourq_clips(make_fourq(tmp_path / "4q", CLIPS))
    assert list(clips.dataset_id) == ["MT0000000001", "MT0000000002", "MT0000000003", "MT0000000004"]
    assert list(clips.quadrant) == ["Q1", "Q2", "Q3", "Q4"]
    # Q1 = +V +A, Q2 = -V +A, Q3 = -V -A, Q4 = +V -A
    assert list(clips.valence_sign) == [1, -1, -1, 1]
    assert list(clips.arousal_sign) == [1, 1, -1, -1]
    assert list(clips.artist) == ["Bob", "Ann", "Ann", "Cy, Dee & Co"]
    assert clips.title.iloc[0] == "Title, of MT0000000001"
    assert clips.pquad.tolist() == [0.75] * 4
    for row in clips.itertuples():
        assert row.audio_path.endswith(f"audio/{row.quadrant}/{row.dataset_id}.wav")


def test_quadrant_signs_round_trip():
    for quadrant, (v, a) in QUADRANT_SIGNS.items():
        assert quadrant_of([v], [a])[0] == quadrant
    assert list(quadrant_of([0.2, -0.1, -0.3, 0.4], [0.5, 0.1, -0.2, -0.6])) == ["Q1", "Q2", "Q3", "Q4"]


def test_dataset_tables_hold_signs_not_ratings(tmp_path):
    tables = read_fourq(make_fourq(tmp_path / "4q", CLIPS))
    assert tables.name == "4q" and tables.labels == "signs"
    assert tables.static.set_index("dataset_id").loc["MT0000000002", ["valence", "arousal"]].tolist() == [-1.0, 1.0]
    assert tables.static.valence_std.isna().all()
    assert tables.summary()["with_audio"] == 4
    assert tables.songs.set_index("dataset_id").loc["MT0000000004", "artist"] == "Cy, Dee & Co"


def test_clip_in_the_wrong_quadrant_folder_is_refused(tmp_path):
    root = make_fourq(tmp_path / "4q", CLIPS, folder_of={"MT0000000001": "Q3"})
    with pytest.raises(DatasetError, match="another quadrant"):
        read_fourq_clips(root)


def test_bad_quadrant_and_missing_files(tmp_path):
    root = make_fourq(tmp_path / "4q", CLIPS + [("MT0000000009", "Eve", "Q5")], audio=False)
    with pytest.raises(DatasetError, match="Q1, Q2, Q3 or Q4"):
        read_fourq_clips(root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="does not look like the 4Q dataset"):
        read_fourq_clips(tmp_path / "empty")


def test_without_audio_or_artist(tmp_path):
    root = make_fourq(tmp_path / "4q", [("MT1", "", "Q1"), ("MT2", "Zed", "Q4")], audio=False)
    clips = read_fourq_clips(root)
    assert clips.audio_path.isna().all()
    assert list(clips.artist) == ["MT1", "Zed"]  # an unknown artist never groups with another


def test_shared_4q_has_100_clips_per_quadrant():
    clips = read_fourq_clips(shared_path("4q"))
    assert len(clips) == 400 and clips.audio_path.notna().all()
    assert clips.quadrant.value_counts().tolist() == [100] * 4
    assert clips.artist.nunique() > 300
    assert np.all(clips.valence_sign.to_numpy() * clips.arousal_sign.to_numpy()
                  == np.where(clips.quadrant.isin(["Q1", "Q3"]), 1, -1))
