"""emolab.index.emotion: predictions and curves, and the one rule for "the newest model"."""
from __future__ import annotations

import time

import duckdb
import numpy as np
import pytest

from emolab import search
from emolab.exceptions import ParameterError
from emolab.index import emotion, open_index, search_sql, songs
from emolab.index.schema import MIGRATIONS, SCHEMA_VERSION

OLD, NEW = "vae-lstm-ts-anchored0.25", "vae-lstm-ts-20261201"  # NEW is stored later, sorts first


def song(index, title="s") -> int:
    with index.transaction() as con:
        return songs.add_song(con, title=title, origin="ingested")


def later() -> None:
    time.sleep(0.01)  # a distinct created_at, whatever the clock's resolution


def test_static_newest_is_the_one_stored_last_not_the_largest_name(index):
    sid = song(index)
    emotion.put_static_prediction(index.con, sid, OLD, 0.5, 0.5, 0.1, 0.1)
    later()
    emotion.put_static_prediction(index.con, sid, NEW, -0.5, -0.25, 0.2, 0.2)
    assert NEW < OLD  # string order would pick OLD
    assert emotion.latest_model_version(index.con, "static") == NEW
    assert emotion.latest_model_version(index.con, "static", song_id=sid) == NEW
    row = songs.song_table(index.con).iloc[0]
    assert (row.pred_valence, row.pred_arousal, row.pred_valence_std) == (-0.5, -0.25, 0.2)
    ids, v, a = search_sql.static_values(index.con, "predicted")
    assert ids.tolist() == [sid] and (v[0], a[0]) == (-0.5, -0.25)
    near = search.nearest_point(index, -0.5, -0.25, k=1, source="predicted")
    assert near.distance.iloc[0] == pytest.approx(0.0)


def test_dynamic_newest_is_the_one_stored_last_everywhere(index):
    sid, other = song(index, "a"), song(index, "b")
    rising, falling = np.linspace(-0.8, 0.8, 30), np.linspace(0.8, -0.8, 30)
    emotion.put_curve(index.con, sid, source="predicted", model_version=OLD, t0=0.0, hop=0.5,
                      valence=np.zeros(30), arousal=rising)
    emotion.put_curve(index.con, other, source="predicted", model_version=OLD, t0=0.0, hop=0.5,
                      valence=np.zeros(30), arousal=np.zeros(30))
    later()
    emotion.put_curve(index.con, sid, source="predicted", model_version=NEW, t0=0.0, hop=0.5,
                      valence=np.zeros(30), arousal=falling)
    assert emotion.latest_model_version(index.con, "dynamic") == NEW
    assert emotion.latest_model_version(index.con, "dynamic", song_id=other) == OLD
    curves = emotion.get_curves(index.con, source="predicted").set_index("song_id")
    np.testing.assert_allclose(curves.arousal[sid], falling, atol=1e-6)
    np.testing.assert_allclose(search_sql.curve_table(index.con, "predicted")
                               .to_pandas().set_index("song_id").arousal[sid], falling, atol=1e-6)
    one = emotion.get_song_curves(index.con, sid, newest_only=True)
    assert set(one.model_version) == {NEW} and len(one) == 30
    assert set(emotion.get_song_curves(index.con, sid).model_version) == {OLD, NEW}
    found = search.match_profile(index, None, falling, k=1, source="predicted")
    assert found.song_id.iloc[0] == sid and found.distance.iloc[0] < 1e-3
    # storing the older model's same curve again changes nothing; a new curve from it is the newest
    later()
    emotion.put_curve(index.con, sid, source="predicted", model_version=OLD, t0=0.0, hop=0.5,
                      valence=np.zeros(30), arousal=rising)
    assert emotion.latest_model_version(index.con, "dynamic", song_id=sid) == NEW
    emotion.put_curve(index.con, sid, source="predicted", model_version=OLD, t0=0.0, hop=0.5,
                      valence=np.zeros(30), arousal=-rising)
    assert emotion.latest_model_version(index.con, "dynamic", song_id=sid) == OLD


def test_storing_the_same_static_prediction_again_keeps_its_time(index):
    sid = song(index)
    emotion.put_static_prediction(index.con, sid, OLD, 0.5, 0.5)
    later()
    emotion.put_static_prediction(index.con, sid, NEW, 0.1, 0.1)
    before = search_sql.static_fingerprint(index.con, "predicted")
    later()
    emotion.put_static_prediction(index.con, sid, OLD, 0.5, 0.5)
    assert emotion.latest_model_version(index.con, "static") == NEW
    assert search_sql.static_fingerprint(index.con, "predicted") == before
    emotion.put_static_prediction(index.con, sid, OLD, 0.5, 0.4)  # a changed value: stored anew
    assert emotion.latest_model_version(index.con, "static") == OLD
    assert search_sql.static_fingerprint(index.con, "predicted") != before


def test_one_transaction_ties_are_broken_by_version_name(index):
    sid = song(index)
    with index.transaction() as con:  # current_timestamp is the transaction's start: a tie
        emotion.put_static_prediction(con, sid, "m-a", 0.1, 0.1)
        emotion.put_static_prediction(con, sid, "m-b", 0.2, 0.2)
    assert emotion.latest_model_version(index.con, "static") == "m-b"
    assert songs.song_table(index.con).pred_valence.iloc[0] == pytest.approx(0.2)


def test_human_curves_keep_the_dataset_order(index):
    sid = song(index)
    for dataset in ("emomusic", "deam"):  # deam stored last, emomusic still shown
        later()
        emotion.put_curve(index.con, sid, source="human", model_version=dataset, t0=0.0, hop=0.5,
                          valence=np.zeros(4), arousal=np.zeros(4))
    assert set(emotion.get_song_curves(index.con, sid, newest_only=True).model_version) == {"emomusic"}


def test_no_prediction_and_unknown_kind(index):
    assert emotion.latest_model_version(index.con, "dynamic") is None
    with pytest.raises(ParameterError, match="static, dynamic"):
        emotion.latest_model_version(index.con, "tempo")


def test_curves_of_an_older_index_get_a_creation_time(tmp_path):
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statement in MIGRATIONS[0]:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("INSERT INTO songs (song_id, origin) VALUES (1, 'ingested')")
    con.execute("INSERT INTO curves VALUES (1, 'predicted', 'old', 0, 0.5, [0.1, 0.2], [0.3, 0.4])")
    con.close()
    with open_index(path) as idx:
        assert idx.con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        assert idx.con.execute("SELECT count(*) FROM curves WHERE created_at IS NOT NULL").fetchone()[0] == 1
        later()
        emotion.put_curve(idx.con, 1, source="predicted", model_version="a-new", t0=0.0, hop=0.5,
                          valence=[0.0, 0.0], arousal=[0.0, 0.0])
        assert emotion.latest_model_version(idx.con, "dynamic") == "a-new"


def test_bad_curves_are_refused_in_words(index):
    sid = song(index)
    with pytest.raises(ParameterError, match="source must be one of human, predicted"):
        emotion.put_curve(index.con, sid, source="guess", model_version="m", t0=0.0, hop=0.5,
                          valence=[0.0], arousal=[0.0])
    with pytest.raises(ParameterError, match="same length .got 2 and 3 points"):
        emotion.put_curve(index.con, sid, source="human", model_version="m", t0=0.0, hop=0.5,
                          valence=[0.0, 0.1], arousal=[0.0, 0.1, 0.2])


def test_unknown_song_fields_are_refused_in_words(index):
    with pytest.raises(ParameterError, match="no field composer"):
        with index.transaction() as con:
            songs.add_song(con, title="x", origin="ingested", composer="Bach")
    sid = song(index)
    with pytest.raises(ParameterError, match="no field tempo"):
        songs.update_song(index.con, sid, tempo=120)
