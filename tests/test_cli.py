import json

import pytest

from emolab.cli import main
from emolab.index import annotations, open_index, songs
from tests.conftest import chord, encode


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.duckdb"
    with open_index(path) as idx, idx.transaction() as con:
        sid = songs.add_song(con, title="Air", artist="Bach", origin="dataset",
                             dataset="emomusic", dataset_id="2")
        annotations.insert(con, {"song_id": sid, "annotator": "emomusic", "kind": "static",
                                 "valence": 0.25, "arousal": -0.5})
    return path


def test_stats_json(db, capsys):
    assert main(["stats", "--json", "--db", str(db)]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts == {"songs": 1, "with_audio": 0, "with_human_static": 1,
                      "with_human_curves": 0, "with_predictions": 0, "annotations": 1}


def test_query_prints_csv(db, capsys):
    assert main(["query", "SELECT title, artist FROM songs", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines() == ["title,artist", "Air,Bach"]


@pytest.mark.parametrize("sql", ["COPY songs TO '/tmp/x.csv'", "SELECT * FROM read_csv('/etc/passwd')",
                                 "ATTACH '/tmp/a.db'", "INSTALL httpfs", "DELETE FROM songs"])
def test_query_refuses_with_one_line_and_nonzero_exit(db, capsys, sql):
    assert main(["query", sql, "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("emolab: ") and "\n" not in err and "Traceback" not in err


def test_env_var_sets_the_default_index(db, capsys, monkeypatch):
    monkeypatch.setenv("EMOLAB_DB", str(db))
    assert main(["stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["songs"] == 1


def test_analyze_json_reports_duration_and_rate(tmp_path, capsys):
    path = tmp_path / "c.wav"
    path.write_bytes(encode(chord(seconds=3.0, sr=44100), 44100))
    assert main(["analyze", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["duration"] == pytest.approx(3.0, abs=0.01) and out["sample_rate"] == 44100
    # the shipped models are in the repository: both predictions must be there, and be the models' own
    from emolab import audio
    from emolab.predict import load_models, predict_static

    models = load_models()
    clip = audio.decode(path.read_bytes(), sr=None)
    expected = predict_static(clip.y, clip.sr, model=models.static)
    for key in ("valence", "arousal", "valence_std", "arousal_std"):
        assert out["static"][key] == pytest.approx(expected[key], abs=1e-3), key
    dynamic = out["dynamic"]
    assert len(dynamic["times"]) == len(dynamic["valence"]) == len(dynamic["arousal"]) >= 5
    assert dynamic["times"][0] == pytest.approx(0.5) and dynamic["times"][-1] <= 3.0 + 0.5
    assert all(-1.0 <= v <= 1.0 for v in dynamic["valence"] + dynamic["arousal"])
    # the uncertainty of every point (the windowed model: the static model's, per window)
    assert len(dynamic["valence_std"]) == len(dynamic["arousal_std"]) == len(dynamic["times"])
    assert all(s > 0 for s in dynamic["valence_std"] + dynamic["arousal_std"])


def test_analyze_bad_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "x.mp3"
    path.write_text("not audio")
    assert main(["analyze", str(path)]) == 1
    assert "could not be read as audio" in capsys.readouterr().err
