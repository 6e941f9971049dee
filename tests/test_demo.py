"""The demo library: music21 scores rendered with a GM soundfont, then ingested once."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from emolab import demo, demo_data, demo_pieces
from emolab.features import deam, deam_fast
from emolab.index import emotion, songs, vectors

# two short pieces: a folk tune titled by its tune book, a chorale titled by the table
FOLK = demo.DemoPiece("essenFolksong/altdeu10.abc", None, "Traditional (German)", number=1, qpm=100)
CHORALE = demo.DemoPiece("bach/bwv1.6.mxl", "Chorale BWV 1.6 (F major)", "Johann Sebastian Bach",
                         program=demo_pieces.ORGAN)


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


# ------------------------------------------------------------------ renderings that span the plane

def test_a_performance_sets_instrument_register_touch_and_drums():
    import io

    import pretty_midi

    plain, _, _ = demo.piece_midi(FOLK, seconds=6.0)
    loud = demo.DemoPiece(FOLK.corpus_path, None, FOLK.composer, number=1, qpm=100, program=61,
                          transpose=-12, velocity=120, drums=True)
    played, _, _ = demo.piece_midi(loud, seconds=6.0)
    before = pretty_midi.PrettyMIDI(io.BytesIO(plain))
    after = pretty_midi.PrettyMIDI(io.BytesIO(played))
    tuned = [i for i in after.instruments if not i.is_drum]
    assert {i.program for i in tuned} == {61}
    assert [n.pitch for n in tuned[0].notes] == [n.pitch - 12 for n in before.instruments[0].notes]
    assert {n.velocity for n in tuned[0].notes} == {120}
    drums = [i for i in after.instruments if i.is_drum]
    assert len(drums) == 1 and len(drums[0].notes) >= 4 * 6 * 100 / 60  # kick/snare + hats per beat


def test_quiet_and_driven_renderings_differ_in_level(tmp_path):
    soft = demo.DemoPiece(FOLK.corpus_path, None, FOLK.composer, number=1, qpm=100, level=0.2)
    hard = demo.DemoPiece(FOLK.corpus_path, None, FOLK.composer, number=1, qpm=100, drive=4.0)
    rms = {}
    for name, piece in (("soft", soft), ("hard", hard)):
        demo.render_piece(piece, tmp_path / f"{name}.flac", seconds=6.0)
        y, _ = sf.read(tmp_path / f"{name}.flac")
        rms[name] = np.sqrt(np.mean(y ** 2))
        assert np.max(np.abs(y)) == pytest.approx(piece.level, abs=0.01)
    assert rms["hard"] > 4 * rms["soft"]


def test_rendering_twice_gives_the_same_file(tmp_path):
    from emolab import audio

    demo.render_piece(FOLK, tmp_path / "a.flac", seconds=6.0)
    demo.render_piece(FOLK, tmp_path / "b.flac", seconds=6.0)
    assert (audio.content_hash((tmp_path / "a.flac").read_bytes())
            == audio.content_hash((tmp_path / "b.flac").read_bytes()))


# ------------------------------------------------------------------ the shipped demo data

def test_shipped_demo_data_was_made_with_the_shipped_models():
    manifest, records = demo_data.read()
    reasons = demo_data.stale_reasons(manifest)
    assert not reasons, (f"The shipped demo data is out of date ({'; '.join(reasons)}): rerun "
                         f"{demo_data.BUILD_COMMAND} and commit data/demo/.")
    assert [r["key"] for r in records] == [p.key for p in demo.DEMO_PIECES]


def test_shipped_demo_data_is_small_and_spans_all_four_quadrants():
    manifest, records = demo_data.read()
    size = sum(f.stat().st_size for f in demo_data.DEMO_DATA_DIR.iterdir())
    assert size < 3 * 2 ** 20
    spread = demo_data.spread(records)
    assert spread == manifest["spread"]
    assert all(n >= 3 for n in spread["quadrants"].values()), spread
    assert spread["valence"][1] - spread["valence"][0] > 0.5
    assert spread["arousal"][1] - spread["arousal"][0] > 0.8


def test_the_readme_lists_the_shipped_spread():
    from emolab.config import PROJECT_ROOT

    manifest, _ = demo_data.read()
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    lines = demo_data.readme_lines(manifest["spread"], manifest["model_versions"])
    assert lines in readme, f"README.md's demo paragraph must list:\n{lines}"


def test_the_shipped_demo_loads_into_a_new_index_without_audio(index, tmp_path):
    report = demo_data.load_demo(index, audio_dir=tmp_path / "audio")
    n = len(demo.DEMO_PIECES)
    assert report["added"] == n and report["skipped"] == 0
    counts = songs.stats(index.con)
    assert counts["songs"] == counts["with_predictions"] == counts["with_audio"] == n
    table = songs.song_table(index.con)
    assert set(table.origin) == {"demo"}
    assert table.pred_arousal.max() > 0 > table.pred_arousal.min()
    assert table.pred_valence.max() > 0 > table.pred_valence.min()
    assert all(p.startswith(str((tmp_path / "audio").resolve())) for p in table.source_path)
    curves = emotion.get_curves(index.con, source="predicted")
    assert len(curves) == n and all(len(v) > 20 for v in curves.valence)
    ids, X, _ = vectors.get_features(index.con, "deam74")
    assert X.shape == (n, 74)
    # the fast extractor's columns are all there; the others are NaN, never made up
    computed = np.isin(deam.DEAM74_COLUMNS, deam_fast.RUNTIME_COLUMNS)
    assert np.isfinite(X[:, computed]).all() and np.isnan(X[:, ~computed]).all()
    assert demo_data.load_demo(index, audio_dir=tmp_path / "audio")["skipped"] == n


def test_a_demo_songs_audio_is_rendered_when_first_needed(tmp_path):
    piece = demo.DEMO_PIECES[0]
    path = tmp_path / f"{piece.key}.{demo.AUDIO_FORMAT}"
    assert demo_data.piece_for(path) == piece
    assert demo_data.piece_for(tmp_path / "mine.flac") is None
    assert not demo_data.ensure_audio(tmp_path / "mine.flac")
    assert demo_data.ensure_audio(path) and path.is_file()
    _, records = demo_data.read()
    from emolab import audio

    # the same bytes the shipped analysis was made from (deterministic rendering)
    assert audio.content_hash(path.read_bytes()) == records[0]["content_hash"]


def test_demo_data_round_trips_and_is_byte_identical(tmp_path):
    from emolab.index import open_index

    with open_index(tmp_path / "a.duckdb") as built:
        report = demo.build_demo_library(built, audio_dir=tmp_path / "audio", pieces=[FOLK],
                                         seconds=6.0, workers=1)
        assert report["added"] == 1
        records = demo_data.export_songs(built, pieces=[FOLK])
        original = songs.song_table(built.con)
    for record in records:
        record["model_versions"] = {"static": "s", "dynamic": "d"}
    for out in ("one", "two"):
        demo_data.write(records, tmp_path / out, versions={"static": "s", "dynamic": "d"},
                        pieces=[FOLK])
    for name in (demo_data.SONGS_FILE, demo_data.MANIFEST_FILE):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    with open_index(tmp_path / "b.duckdb") as loaded:
        demo_data.load_demo(loaded, data_dir=tmp_path / "one", audio_dir=tmp_path / "audio")
        table = songs.song_table(loaded.con)
    assert table.title.tolist() == original.title.tolist() == ["Das Hildebrandslied"]
    for column in ("pred_valence", "pred_arousal"):
        if original[column].notna().all():  # predictions exist when the models are shipped
            assert table[column].iloc[0] == pytest.approx(original[column].iloc[0], abs=1e-4)


def test_the_app_opens_on_the_demo_library(tmp_path, monkeypatch):
    """First run: an empty index, the Library page fills it from the shipped demo data
    (no rendering, no analysis) and shows every demo song."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EMOLAB_DB", str(tmp_path / "first.duckdb"))
    monkeypatch.delenv("EMOLAB_NO_DEMO", raising=False)
    monkeypatch.setenv("EMOLAB_NO_WARMUP", "1")
    app = Path(__file__).resolve().parents[1] / "app.py"
    at = AppTest.from_file(str(app), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Songs"] == str(len(demo.DEMO_PIECES))
    assert metrics["With predictions"] == str(len(demo.DEMO_PIECES))
    assert len(at.dataframe[0].value) == len(demo.DEMO_PIECES)


def test_cli_demo_adds_the_shipped_demo_in_one_command(tmp_path, capsys):
    from emolab.cli import main
    from emolab.index import open_index

    db = tmp_path / "cli.duckdb"
    assert main(["demo", "--db", str(db), "--audio-dir", str(tmp_path / "audio")]) == 0
    assert f"{len(demo.DEMO_PIECES)} demo songs added" in capsys.readouterr().out
    with open_index(db) as index:
        assert songs.stats(index.con)["with_predictions"] == len(demo.DEMO_PIECES)
    assert not (tmp_path / "audio").exists()  # no audio unless asked for
