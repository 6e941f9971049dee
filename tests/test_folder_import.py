"""Importing a folder in the background: progress, failures, cancel, resume; and from the app."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from emolab.exceptions import ParameterError
from emolab.folder_import import CANCELLED, FINISHED, FolderImport
from emolab.index import songs
from tests.test_pipeline import make_folder

ROOT = Path(__file__).resolve().parents[1]


def test_a_folder_is_imported_with_its_failures_listed(tmp_path, index):
    folder = make_folder(tmp_path / "music")
    seen = []
    job = FolderImport(folder, index=index, workers=2, with_models=False)
    assert job.found == 20 and job.running and job.fraction == 0.0
    job.start()
    while not job.wait(0.05):
        seen.append(job.done)
    assert job.state == FINISHED, job.error
    assert job.added == 17 and job.skipped == 0 and job.fraction == 1.0
    assert sorted(name for name, _ in job.failures) == ["broken0.wav", "broken1.mp3", "broken2.flac"]
    assert all(reason and "Traceback" not in reason for _, reason in job.failures)
    assert seen == sorted(seen) and job.total >= 17  # progress only moves forward
    assert "17 added" in job.summary() and "3 could not be imported" in job.summary()


def test_cancel_stops_soon_and_importing_again_resumes(tmp_path, index):
    folder = make_folder(tmp_path / "music", n_good=17, seconds=4.0)
    job = FolderImport(folder, index=index, workers=1, with_models=False).start()
    while job.done < 2 and job.running:
        time.sleep(0.02)
    job.cancel()
    assert job.wait(120), "a cancelled import must stop after the file in hand"
    assert job.state == CANCELLED and "resume" in job.summary()
    kept = songs.stats(index.con)["songs"]
    assert kept < 17  # (the first files done may be broken ones)

    again = FolderImport(folder, index=index, workers=2, with_models=False).start()
    assert again.wait(600)
    assert again.state == FINISHED and again.added == 17 - kept and again.skipped == kept
    assert len(again.failures) == 3 and songs.stats(index.con)["songs"] == 17


@pytest.mark.parametrize("folder", ["", "   ", "/no/such/folder/anywhere"])
def test_a_missing_folder_is_refused_with_a_sentence(folder, index):
    with pytest.raises(ParameterError, match="folder"):
        FolderImport(folder, index=index)


def test_the_app_imports_a_folder_while_the_cli_reads_the_index(tmp_path, monkeypatch):
    """Done-when of issue 13: 20 files (3 broken) imported from the app show progress and
    list the 3 failures, and ``emolab stats --json`` run meanwhile answers."""
    db = tmp_path / "app.duckdb"
    monkeypatch.setenv("EMOLAB_DB", str(db))
    monkeypatch.setenv("EMOLAB_NO_DEMO", "1")
    monkeypatch.setenv("EMOLAB_NO_WARMUP", "1")
    folder = make_folder(tmp_path / "music")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/import_folder.py").run()
    assert not at.exception and at.title[0].value == "Import a folder"
    at.text_input(key="import_folder").input(str(folder))
    at.button(key="import_start").click().run()
    assert not at.exception, [e.value for e in at.exception]

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    stats = subprocess.run([sys.executable, "-m", "emolab", "stats", "--json", "--db", str(db)],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["songs"] <= 17  # the app holds the index: a snapshot

    progress_texts = []
    deadline = time.time() + 900
    while time.time() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        progress_texts += [p.proto.text for p in at.get("progress")]
        if at.success or at.error:
            break
        time.sleep(1.0)
    assert at.success and "17 added" in at.success[0].value
    assert any("new files" in text or "Looking at" in text for text in progress_texts)
    failures = at.dataframe[0].value
    assert sorted(failures["file"]) == ["broken0.wav", "broken1.mp3", "broken2.flac"]
    stats = subprocess.run([sys.executable, "-m", "emolab", "stats", "--json", "--db", str(db)],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert stats.returncode == 0 and json.loads(stats.stdout)["songs"] == 17, stats.stderr
