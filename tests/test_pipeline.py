import json
import sys
from pathlib import Path

import numpy as np
import pytest

from emolab import ingest, pipeline
from emolab.features.deam import DEAM74_COLUMNS
from emolab.features.deam_fast import RUNTIME_COLUMNS
from emolab.index import songs, vectors
from tests import crash_harness
from tests.conftest import chord, encode, tone


def make_folder(folder: Path, n_good=17, n_bad=3, seconds=2.0) -> Path:
    """A small music folder: generated songs in several formats, some broken files, non-audio."""
    folder.mkdir(parents=True, exist_ok=True)
    formats = ["wav", "flac", "ogg", "mp3"]
    rng = np.random.default_rng(0)
    for i in range(n_good):
        sr = [22050, 44100, 16000, 48000][i % 4]
        freqs = 220 * 2 ** (rng.integers(0, 12, size=3) / 12)
        y = chord(tuple(freqs), seconds=seconds, sr=sr) + 0.01 * rng.standard_normal(int(seconds * sr))
        sub = folder / ("sub" if i % 5 == 0 else "")
        sub.mkdir(exist_ok=True)
        fmt = formats[i % 4]
        (sub / f"song{i:02d}.{fmt}").write_bytes(encode(y.astype(np.float32), sr, fmt.upper()))
    bad = [b"", b"RIFF\x00\x00garbage" * 10, encode(tone(seconds=2), 22050, "FLAC")[:100]]
    for i in range(n_bad):
        (folder / f"broken{i}.{['wav', 'mp3', 'flac'][i % 3]}").write_bytes(bad[i % 3])
    (folder / "cover.jpg").write_bytes(b"\xff\xd8 not audio")
    return folder


def test_analyse_returns_features_and_a_summary():
    data = encode(chord(seconds=4.0, sr=44100), 44100, "FLAC")
    analysis = pipeline.analyse(data, name="c.flac", with_librosa=True)
    assert analysis.duration == pytest.approx(4.0, abs=0.05) and analysis.sample_rate == 44100
    # the fast extractor fills exactly its columns; the others are missing, never made up
    computed = [c for c, v in zip(DEAM74_COLUMNS, analysis.deam74) if np.isfinite(v)]
    assert analysis.deam74.shape == (74,) and computed == [c for c in DEAM74_COLUMNS if c in RUNTIME_COLUMNS]
    assert analysis.librosa.size >= 1000 and np.isfinite(analysis.librosa).all()
    summary = json.loads(json.dumps(analysis.summary(), allow_nan=False))
    assert summary["features"]["deam74_dims"] == 74
    assert summary["features"]["deam74_computed"] == len(RUNTIME_COLUMNS)
    assert pipeline.analyse(data, name="c.flac").librosa is None  # only when asked for


def test_add_to_index_is_idempotent_by_content(index):
    data = encode(chord(seconds=3.0), 22050)
    analysis = pipeline.analyse(data, name="chord.wav")
    a = pipeline.add_to_index(index, analysis, title="Chord")
    b = pipeline.add_to_index(index, analysis, title="Chord again")
    assert a == b and songs.stats(index.con)["songs"] == 1
    ids, X, _ = vectors.get_features(index.con, "deam74")
    assert ids.tolist() == [a] and X.shape == (1, 74)


def test_ingest_folder_reports_failures_and_resumes(tmp_path, index):
    folder = make_folder(tmp_path / "music")
    report = ingest.ingest([folder], index=index, workers=2, with_models=False,
                             progress=lambda *a: None)
    assert len(report.added) == 17 and len(report.failed) == 3
    failed = dict(report.failed)
    assert all(Path(p).name.startswith("broken") for p in failed)
    assert all(reason and "Traceback" not in reason for reason in failed.values())
    again = ingest.ingest([folder], index=index, workers=2, with_models=False,
                            progress=lambda *a: None)
    assert again.added == [] and len(again.skipped) == 17
    assert songs.stats(index.con)["songs"] == 17


@pytest.mark.slow
def test_ingest_killed_at_random_points_then_resumed_equals_a_clean_run(tmp_path):
    """SIGKILL ``emolab ingest`` 20 times at seeded random moments of its stages (startup,
    schema creation, opening, warm-up, writing; see ``tests/crash_harness.py``). After every
    kill the index is consistent, holds no song twice and no fewer songs than before;
    resumed to completion it equals a clean run's."""
    folder = make_folder(tmp_path / "music", n_good=8, n_bad=0, seconds=1.0)
    report = crash_harness.crash_round(folder, tmp_path / "clean.duckdb", tmp_path / "killed.duckdb",
                                       kills=20, seed=7)
    assert report.violations == []
    assert report.duplicates == 0
    assert report.differences == []
    assert report.kills == 20 and report.stages["schema"] == 1 and report.stages["startup"] >= 1
    assert report.during_writes >= 1  # some kills landed after songs had been written


def test_workers_never_rerun_the_callers_main_script(tmp_path, index, monkeypatch):
    """Inside Streamlit, ``__main__`` is a page; spawned workers must not execute it."""
    import types

    marker = tmp_path / "page-was-run"
    page = tmp_path / "page.py"
    page.write_text(f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit(3)\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    folder = make_folder(tmp_path / "music", n_good=2, n_bad=0, seconds=1.0)
    report = ingest.ingest([folder], index=index, workers=2, with_models=False,
                             progress=lambda *a: None)
    assert len(report.added) == 2 and not marker.exists()


def test_one_feature_pass_serves_the_song_vector_and_the_curve():
    """The curve read from the analysis's own frames equals the dynamic model's own pass."""
    from emolab import predict

    models = predict.load_models()
    y = np.concatenate([chord(seconds=6.0, sr=22050), tone(seconds=6.0, sr=22050)])
    columns, frames, vector = pipeline.deam_features(y, 22050)
    assert frames.shape[1] == len(RUNTIME_COLUMNS) and frames.shape[0] >= 20  # 12 s, every 0.5 s
    where = [list(DEAM74_COLUMNS).index(c) for c in columns]
    np.testing.assert_allclose(vector[where], frames.mean(axis=0), rtol=1e-6)
    own = predict.predict_dynamic_band(y, 22050, model=models.dynamic)
    shared = predict.predict_dynamic_band(y, 22050, model=models.dynamic, frames=(columns, frames))
    for key in ("times", "valence", "arousal", "valence_std", "arousal_std"):
        np.testing.assert_allclose(shared[key], own[key], atol=1e-12, err_msg=key)


def test_a_silent_file_gets_no_emotion_anywhere_and_is_never_stored(tmp_path, index):
    from emolab import predict
    from emolab.exceptions import SongIndexError

    silence = encode(np.zeros(3 * 22050, dtype=np.float32), 22050)
    analysis = pipeline.analyse(silence, models=predict.load_models(), name="quiet.wav")
    assert analysis.silent and analysis.static is None and analysis.dynamic is None
    assert any("silent" in note for note in analysis.notes)
    with pytest.raises(SongIndexError, match="silent"):
        pipeline.add_to_index(index, analysis)
    # a folder with one silent and one musical file: the silent one is reported, nothing stored for it
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "quiet.wav").write_bytes(silence)
    (folder / "chord.wav").write_bytes(encode(chord(seconds=3.0), 22050))
    report = ingest.ingest([folder], index=index, workers=1, with_models=True, progress=lambda *a: None)
    assert [Path(p).name for p in report.added] == ["chord.wav"]
    assert [(Path(p).name, "silent" in why) for p, why in report.failed] == [("quiet.wav", True)]
    assert songs.stats(index.con)["songs"] == 1
