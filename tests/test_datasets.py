"""Dataset readers on small trees written in each dataset's own layout, quirks included.

The ``make_*`` builders are reused by tests/test_importers.py.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emolab import datasets
from emolab.datasets import (DatasetTables, fix_deam_swap, read_csv_stripped, read_dataset, read_deam,
                             read_emomusic, read_pmemo, same_song_datasets)
from emolab.exceptions import DatasetError
from tests.conftest import shared_path, tone, write_audio

CURVE_COLUMNS = [f"sample_{15000 + 500 * i}ms" for i in range(61)]
#: 74 DEAM-style feature names, deliberately not in alphabetical order.
FEATURE_COLUMNS = [f"pcm_feature{(7 * i) % 74}_sma_{'amean' if i % 2 else 'stddev'}" for i in range(74)]


def _write(path, text: str, *, crlf: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", "\r\n" if crlf else "\n").encode("utf-8"))


def make_emomusic(root, *, with_audio=True):
    """emoMusic: ids 10, 2, 5 (string order), TABs inside quoted cells, 61-point curves."""
    ann = root / "annotations"
    _write(ann / "static_annotations.csv",
           "song_id,mean_arousal,std_arousal,mean_valence,std_valence\n"
           "10,6,1,4,2\n2,3.1,0.99443,3,0.66667\n5,3,1.2,7,0.8\n")
    _write(ann / "songs_info.csv",
           '"song_id","file_name","Artist","Song title","start of the segment (min.sec)",'
           '"end of the segment (min.sec)","Genre","Mediaeval 2013 set"\n'
           '10,"\t10.mp3","Arne Bang Huseby\t","\tStormy Blues\t","\t0.48\t","\t1.33\t","\tBlues\t","development"\n'
           '2,"\t2.mp3","The New Mystikal Troubadours\t","\tTonight  A Lonely Century\t","\t0.48\t","\t1.33\t","\tBlues\t","development"\n'
           '5,"\t5.mp3","My Bubba & Mi\t","\tNothing Much\t","\t0.36\t","\t1.21\t","\tBlues\t","evaluation"\n')
    for dim, offset in (("arousal", 0.1), ("valence", -0.1)):
        lines = ["song_id," + ",".join(CURVE_COLUMNS)]
        for song in (10, 2, 5):
            values = np.linspace(-0.5, 0.5, 61) * (song / 10) + offset
            lines.append(f"{song}," + ",".join(f"{v:.6f}" for v in values))
        _write(ann / f"{dim}_cont_average.csv", "\n".join(lines) + "\n")
    if with_audio:
        clips = root / "clips_45seconds_mp3"
        clips.mkdir()
        write_audio(clips / "2.wav", tone(seconds=0.5, sr=8000), 8000)
    return root


def make_deam(root, *, features=True, dynamic=False, bad_value=False):
    """DEAM: swapped V/A for ids ≤ 1000, header spaces, the ``valence_ max_mean`` typo, CRLF
    feature table in string order of ids, metadata with TABs and trailing empty columns."""
    ann = root / "annotations" / "annotations averaged per song" / "song_level"
    # id 5: valence_mean=7 and arousal_mean=3 are really arousal 7 / valence 3 (swapped);
    # id 1500: not swapped.
    high = "12" if bad_value else "7"
    _write(ann / "static_annotations_averaged_songs_1_2000.csv",
           "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n"
           f"1500,{high},1.2,3,0.4\n2,3.1,0.94,3,0.63\n5,7,2,3,1\n")
    _write(ann / "static_annotations_averaged_songs_2000_2058.csv",
           "song_id, valence_mean, valence_std, valence_ max_mean, valence_max_std, valence_min_mean, "
           "valence_min_std, arousal_mean, arousal_std, arousal_max_mean, arousal_max_std, "
           "arousal_min_mean, arousal_min_std\n"
           "2001,3.2,0.98,5.0,1.41,2.2,0.98,6.6,0.8,8.6,0.49,3.4,1.02\n")
    meta = root / "metadata"
    _write(meta / "metadata_2013.csv",
           'song_id,album,artist,title,Genre\n'
           '2,"\t2.mp3","The New Mystikal Troubadours\t","\tTonight  A Lonely Century\t","\tBlues\t"\n'
           '5,"\t5.mp3","My Bubba & Mi\t","\tNothing Much\t","\tBlues\t"\n')
    _write(meta / "metadata_2014.csv",
           "song_id,artist,album,title,Genre,,,,\n"
           "1500,Samm Bennett,Live on WFMU,My My My,Blues-Folk,oldies,swing,,\n")
    _write(meta / "metadata_2015.csv",
           "song_id,title,artist,album,Genre,,\n2001,Old Tree,Creepoid,n/a,Rock,,\n")
    if features:
        rng = np.random.default_rng(0)
        labels = {"1500": "7,1.2,3,0.4", "2": "3.1,0.94,3,0.63", "5": "7,2,3,1", "2001": "3.2,0.98,6.6,0.8"}
        lines = ["track_id," + ",".join(FEATURE_COLUMNS) + ",valence_mean, valence_std, arousal_mean, arousal_std"]
        for song in sorted(labels):  # string order: 1500, 2, 2001, 5
            lines.append(song + "," + ",".join(f"{x:.6f}" for x in rng.normal(size=74)) + "," + labels[song])
        _write(root / "features" / "deam_features_74.csv", "\n".join(lines) + "\n", crlf=True)
        _write(root / "features" / "7.csv", "frameTime;F0final_sma_amean\n0.5;1.0\n")  # a frame file
    if dynamic:
        dyn = root / "annotations" / "annotations averaged per song" / "dynamic (per second annotations)"
        header = "song_id," + ",".join(CURVE_COLUMNS[:6])
        _write(dyn / "arousal.csv", header + "\n1500,0.1,0.2,0.3,0.4,,\n2001,0.1,0.1,0.1,0.1,0.1,0.1\n")
        _write(dyn / "valence.csv", header + "\n1500,-0.1,-0.2,-0.3,-0.4,,\n2001,0,0,0,0,0,0\n")
    return root


def make_pmemo(root):
    """PMEmo: 2018 arousal-only CSV, ragged metadata, one JSON document with curves, one clip."""
    ann = root / "annotations_2018"
    _write(ann / "A_static.csv", "musicId,mean_A,std_A\n621,0.25,0.2\n108,0.8625,0.1\n")
    _write(ann / "metadata.csv",
           "song_id,file_name,artist,song_title\n"
           "108,108.mp3,Calvin Harris,This Is What You Came For\n"
           "179,179.mp3,DJ Khaled+Jay-Z+Future,I Got the Keys, Part 2\n"
           "621,621.mp3,Someone,Song\n")
    docs = root / "samples_docs"
    docs.mkdir()
    t = [15.5 + 0.5 * i for i in range(6)]
    (docs / "108.json").write_text(json.dumps({
        "id": 108, "title": "This Is What You Came For", "artist": "Calvin Harris",
        "valence_mean": 0.75, "arousal_mean": 0.863,
        "dynamic": {"t": t, "v": [0.5] * 6, "a": [1.0, 0.75, 0.5, 0.25, 0.0, 0.5]}}))
    (docs / "index.json").write_text(json.dumps([{"id": 108, "v": 0.75, "a": 0.863}]))
    write_audio(docs / "108.wav", tone(seconds=0.5, sr=8000), 8000)
    return root


# --------------------------------------------------------------------------- DEAM swap

def test_deam_swap_is_corrected_for_ids_2_to_1000_only(tmp_path):
    tables = read_deam(make_deam(tmp_path))
    static = tables.static.set_index("dataset_id")
    assert static.loc["5", "valence"] == pytest.approx((3 - 5) / 4)   # -0.5
    assert static.loc["5", "arousal"] == pytest.approx((7 - 5) / 4)   # +0.5
    assert static.loc["5", "valence_std"] == pytest.approx(1 / 4)
    assert static.loc["5", "arousal_std"] == pytest.approx(2 / 4)
    assert static.loc["1500", "valence"] == pytest.approx(0.5)
    assert static.loc["1500", "arousal"] == pytest.approx(-0.5)
    assert static.loc["2001", "arousal"] == pytest.approx((6.6 - 5) / 4)


def test_fix_deam_swap_leaves_the_input_alone():
    df = pd.DataFrame({"song_id": [5, 1001], "valence_mean": [7.0, 7.0], "arousal_mean": [3.0, 3.0]})
    fixed = fix_deam_swap(df)
    assert fixed.valence_mean.tolist() == [3.0, 7.0]
    assert df.valence_mean.tolist() == [7.0, 7.0]


def test_same_song_datasets():
    assert same_song_datasets("deam", "5") == ["emomusic"]
    assert same_song_datasets("emomusic", 1000) == ["deam"]
    assert same_song_datasets("deam", "1500") == []
    assert same_song_datasets("pmemo", "5") == []


# --------------------------------------------------------------------------- readers

def test_read_emomusic(tmp_path):
    tables = read_emomusic(make_emomusic(tmp_path))
    assert isinstance(tables, DatasetTables) and tables.name == "emomusic"
    assert tables.songs.dataset_id.tolist() == ["2", "5", "10"]
    song = tables.songs.set_index("dataset_id").loc["2"]
    assert song.title == "Tonight  A Lonely Century" and song.artist == "The New Mystikal Troubadours"
    assert song.genre == "Blues" and song.audio_path.endswith("2.wav")
    assert tables.songs.set_index("dataset_id").loc["5", "audio_path"] is None
    static = tables.static.set_index("dataset_id")
    assert static.loc["5", "valence"] == pytest.approx(0.5)   # mean_valence 7
    assert static.loc["5", "arousal"] == pytest.approx(-0.5)  # mean_arousal 3
    assert static.loc["10", "valence_std"] == pytest.approx(0.5)
    t0, hop, v, a = tables.curves["2"]
    assert (t0, hop, v.shape, a.shape) == (15.0, 0.5, (61,), (61,))
    assert a[0] == pytest.approx(-0.5 * 0.2 + 0.1, abs=1e-6)
    assert tables.summary() == {"songs": 3, "with_audio": 1, "static": 3, "curves": 3, "features": 0}


def test_read_deam_layout_quirks(tmp_path):
    make_deam(tmp_path)
    (tmp_path / "MEMD_audio").mkdir()
    write_audio(tmp_path / "MEMD_audio" / "1500.wav", tone(seconds=0.5, sr=8000), 8000)
    tables = read_deam(tmp_path)
    songs = tables.songs.set_index("dataset_id")
    assert songs.loc["1500", "audio_path"].endswith("MEMD_audio/1500.wav")
    assert songs.loc["5", "audio_path"] is None
    assert list(songs.index) == ["2", "5", "1500", "2001"]
    assert songs.loc["5", "title"] == "Nothing Much"
    assert songs.loc["1500", "artist"] == "Samm Bennett" and songs.loc["1500", "genre"] == "Blues-Folk"
    assert songs.loc["2001", "title"] == "Old Tree"
    assert tables.features.shape == (4, 74)
    assert list(tables.features.columns) == FEATURE_COLUMNS
    assert list(tables.features.index) == ["2", "5", "1500", "2001"]
    assert tables.curves == {}


def test_read_deam_dynamic_annotations(tmp_path):
    tables = read_deam(make_deam(tmp_path, dynamic=True))
    t0, hop, v, a = tables.curves["1500"]
    assert (t0, hop) == (15.0, 0.5)
    np.testing.assert_allclose(a, [0.1, 0.2, 0.3, 0.4])  # the empty tail is cut
    assert len(tables.curves["2001"][2]) == 6


def test_read_deam_from_feature_table_alone(tmp_path):
    make_deam(tmp_path)
    for path in (tmp_path / "annotations").rglob("*.csv"):
        path.unlink()
    static = read_deam(tmp_path).static.set_index("dataset_id")
    assert static.loc["5", "valence"] == pytest.approx(-0.5)  # labels of the table, swap corrected


def test_read_pmemo(tmp_path):
    tables = read_pmemo(make_pmemo(tmp_path))
    songs = tables.songs.set_index("dataset_id")
    assert list(songs.index) == ["108", "179", "621"]
    assert songs.loc["179", "title"] == "I Got the Keys, Part 2"
    assert songs.loc["108", "audio_path"].endswith("108.wav")
    static = tables.static.set_index("dataset_id")
    assert static.loc["108", "valence"] == pytest.approx(0.5)      # JSON 0.75 → 2x - 1
    assert np.isnan(static.loc["621", "valence"])                  # arousal-only song
    assert static.loc["621", "arousal"] == pytest.approx(-0.5)
    assert static.loc["621", "arousal_std"] == pytest.approx(0.4)
    t0, hop, v, a = tables.curves["108"]
    assert (t0, hop) == (15.5, 0.5)
    np.testing.assert_allclose(a, [1.0, 0.5, 0.0, -0.5, -1.0, 0.0])


@pytest.mark.parametrize("name", ["emomusic", "deam", "pmemo"])
def test_readers_refuse_a_folder_of_another_kind(tmp_path, name):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError):
        read_dataset(name, tmp_path / "empty")
    with pytest.raises(DatasetError, match="does not exist"):
        read_dataset(name, tmp_path / "missing")


def test_unknown_dataset_name(tmp_path):
    with pytest.raises(DatasetError, match="Unknown dataset"):
        read_dataset("emotify", tmp_path)


def test_read_csv_stripped_strips_tabs_and_keeps_missing(tmp_path):
    path = tmp_path / "x.csv"
    _write(path, 'id , name\n1,"\tA\t"\n2,\n')
    df = read_csv_stripped(path)
    assert list(df.columns) == ["id", "name"]
    assert df.name.iloc[0] == "A" and pd.isna(df.name.iloc[1])


# --------------------------------------------------------------------------- real data

def test_real_deam_agrees_with_emomusic_after_the_swap():
    deam = read_deam(shared_path("deam")).static.set_index("dataset_id")
    emo = read_emomusic(shared_path("emomusic")).static.set_index("dataset_id")
    shared = emo.index.intersection(deam.index)
    assert len(shared) == 744
    for dim in ("valence", "arousal"):
        r = np.corrcoef(deam.loc[shared, dim], emo.loc[shared, dim])[0, 1]
        assert r > 0.99, dim
    late = deam[[int(i) > 1000 for i in deam.index]]
    assert len(late) == 1058
    assert datasets.DEAM_SWAPPED_IDS == (2, 1000)


def test_read_pmemo_2019_layout(tmp_path):
    ann = tmp_path / "annotations"
    _write(ann / "static_annotations.csv", "musicId,Arousal(mean),Valence(mean)\n1,0.75,0.25\n4,0.5,0.5\n")
    _write(ann / "static_annotations_std.csv", "musicId,Arousal(std),Valence(std)\n1,0.1,0.2\n4,0.1,0.1\n")
    _write(ann / "dynamic_annotations.csv",
           "musicId,frameTime,Arousal(mean),Valence(mean)\n1,15.5,1,0\n1,16.0,0.5,0\n1,16.5,0,0\n")
    _write(tmp_path / "metadata.csv",
           "musicId,fileName,title,artist,album,duration,chorus_start_time,chorus_end_time\n"
           '1,1.mp3,"Good Drank, Live",2 Chainz,Pretty Girls,32.1,02:35,03:05\n')
    (tmp_path / "chorus").mkdir()
    write_audio(tmp_path / "chorus" / "1.wav", tone(seconds=0.5, sr=8000), 8000)
    tables = read_pmemo(tmp_path)
    static = tables.static.set_index("dataset_id")
    assert (static.loc["1", "valence"], static.loc["1", "arousal"]) == pytest.approx((-0.5, 0.5))
    assert static.loc["1", "valence_std"] == pytest.approx(0.4)
    t0, hop, v, a = tables.curves["1"]
    assert (t0, hop) == (15.5, 0.5)
    np.testing.assert_allclose(a, [1.0, 0.0, -1.0])
    songs = tables.songs.set_index("dataset_id")
    assert songs.loc["1", "title"] == "Good Drank, Live" and songs.loc["1", "audio_path"].endswith("1.wav")
    assert list(songs.index) == ["1", "4"]
