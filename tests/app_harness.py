"""The app's test harness: a populated index (no models needed), a server, a browser."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from emolab.index import annotations, emotion, open_index, songs

COMPOSERS = ("J. S. Bach", "W. A. Mozart", "L. van Beethoven", "R. Schumann", "S. Joplin",
             "Traditional")
FORMS = ("Chorale", "Minuet", "Sonatina", "Rag", "Nocturne", "Folk tune", "Prelude", "Waltz")


def _tone(path: Path, freq: float, seconds: float, sr: int = 22050) -> None:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t) * np.minimum(1.0, t * 4)
    sf.write(path, y.astype(np.float32), sr)


def fill_index(path, *, n_songs: int = 6, audio_dir=None, seed: int = 0,
               curve_seconds: float = 30.0) -> list[int]:
    """Create an index at ``path`` with songs, predictions, curves and annotations.

    Every song gets a static prediction and a predicted curve; every other song a human
    static label (annotator "ref") and a human curve. With ``audio_dir``, the first six
    songs get a short generated WAV file. Returns the song ids.
    """
    rng = np.random.default_rng(seed)
    ids = []
    with open_index(path) as index, index.transaction() as con:
        for i in range(n_songs):
            wav = None
            if audio_dir is not None and i < 6:
                wav = Path(audio_dir) / f"song{i}.wav"
                _tone(wav, 220.0 * (1 + i / 4), 4.0)
            song_id = songs.add_song(
                con, title=f"{FORMS[i % len(FORMS)]} no. {i + 1}",
                artist=COMPOSERS[i % len(COMPOSERS)], origin="demo" if i % 3 else "dataset",
                dataset=None if i % 3 else "emomusic", dataset_id=None if i % 3 else str(i),
                duration=curve_seconds, has_audio=wav is not None,
                source_path=None if wav is None else str(wav), content_hash=f"hash{i}")
            ids.append(song_id)
            centre = rng.uniform(-0.8, 0.8, size=2)
            emotion.put_static_prediction(con, song_id, "static-test", centre[0], centre[1],
                                          0.1, 0.12)
            n = int(curve_seconds / 0.5)
            walk = np.cumsum(rng.normal(0, 0.05, size=(n, 2)), axis=0)
            curve = np.clip(centre + walk, -1, 1)
            emotion.put_curve(con, song_id, source="predicted", model_version="dynamic-test",
                              t0=0.5, hop=0.5, valence=curve[:, 0], arousal=curve[:, 1])
            if i % 2 == 0:
                human = np.clip(centre + rng.normal(0, 0.1, size=2), -1, 1)
                annotations.insert(con, {"song_id": song_id, "annotator": "ref",
                                         "kind": "static", "valence": human[0],
                                         "arousal": human[1], "tags": ["test"]})
                emotion.put_curve(con, song_id, source="human", model_version="human",
                                  t0=15.0, hop=0.5, valence=curve[30:, 0] * 0.9,
                                  arousal=curve[30:, 1] * 0.9)
    return ids


def add_features(path, *, seed: int = 0, deam_songs: int = 0) -> None:
    """Give every song of the index at ``path`` DEAM74 and librosa feature rows.

    The DEAM74 values are drawn around the shipped static model's training means (so
    its TNN can embed them); the first ``deam_songs`` songs are marked as DEAM songs,
    which trained that embedding.
    """
    from emolab.features import FAMILY_DEAM74, FAMILY_LIBROSA, deam, spectral
    from emolab.index import vectors
    from emolab.projection import load_static_model

    model = load_static_model()
    rng = np.random.default_rng(seed)
    columns = list(deam.DEAM74_COLUMNS)
    with open_index(path) as index, index.transaction() as con:
        vectors.register_family(con, FAMILY_DEAM74, columns)
        vectors.register_family(con, FAMILY_LIBROSA, spectral.SONG_VECTOR_NAMES)
        ids = [int(r[0]) for r in con.execute("SELECT song_id FROM songs ORDER BY song_id").fetchall()]
        for n, song_id in enumerate(ids):
            row = rng.normal(0.0, 1.0, size=len(columns))
            for j, name in enumerate(model.feature_columns):
                k = columns.index(name)
                row[k] = model.feature_mean[j] + 0.8 * model.feature_std[j] * rng.normal()
            vectors.put_features(con, song_id, FAMILY_DEAM74, row.astype(np.float32))
            vectors.put_features(con, song_id, FAMILY_LIBROSA,
                                 rng.normal(size=len(spectral.SONG_VECTOR_NAMES)).astype(np.float32))
            if n < deam_songs:
                songs.update_song(con, song_id, dataset="deam", dataset_id=str(1000 + n))


# ------------------------------------------------------------------ a real server and browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Seconds after which a server, a page or a script run counts as hung. Generous on
#: purpose: the tests check behaviour, not speed (benchmarks/ measures that).
HANG_S = 300


def start_server(db_path, *, port: int, log_path, demo: bool = False,
                 show_error_details: str | None = "full", env: dict | None = None
                 ) -> subprocess.Popen:
    """Start ``streamlit run app.py`` on a loopback port against ``db_path``; wait for health.

    ``demo`` lets the app build its demo library on the first visit; ``show_error_details``
    None keeps the repository's own ``.streamlit/config.toml`` setting.
    """
    env = dict(os.environ, EMOLAB_DB=str(db_path), **(env or {}))
    if demo:
        env.pop("EMOLAB_NO_DEMO", None)
    else:
        env["EMOLAB_NO_DEMO"] = "1"
    args = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true"]
    if show_error_details is not None:
        args += ["--client.showErrorDetails", show_error_details]
    log = open(log_path, "w")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"streamlit did not answer on port {port} within {HANG_S} s; see {log_path}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def launch_chromium(playwright):
    """Headless Chromium from the system package; never downloads a browser."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install the 'chromium' package "
                           "(apt-get install chromium); EmoLab never downloads a browser.")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_idle(page, *, timeout: float = HANG_S * 1000) -> None:
    """Wait until Streamlit has finished running the script after the last interaction."""
    try:
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]',
                               timeout=1000)
    except Exception:
        pass  # the run may already be over
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout)


def goto_page(page, title: str, *, attempts: int = 3) -> None:
    """Open a page from the sidebar; a click the busy app missed is repeated."""
    heading = page.get_by_role("heading", name=title).first
    for attempt in range(attempts):
        wait_idle(page)
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
        try:
            heading.wait_for(timeout=HANG_S * 1000 / attempts)
            break
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
    wait_idle(page)


# ------------------------------------------------------------------ what a page must never show or do

#: The text Streamlit shows instead of an exception when ``client.showErrorDetails`` hides it.
REDACTED_ERROR = "This app has encountered an error"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def error_boxes(page, *, errors_allowed: bool = False) -> list[str]:
    """Every error box on the page: exceptions (shown or redacted), tracebacks, and
    ``st.error`` boxes unless ``errors_allowed``."""
    found = [f"exception: {t}" for t in
             page.locator('[data-testid="stException"]').all_inner_texts()]
    body = page.inner_text("body")
    if REDACTED_ERROR in body:
        found.append("redacted exception: " + body[body.index(REDACTED_ERROR):][:200])
    if "Traceback (most recent call last)" in body:
        found.append("traceback")
    if not errors_allowed:
        found += [f"error: {t}" for t in
                  page.locator('[data-testid="stAlertContentError"]').all_inner_texts()]
    return found


def record_requests(page) -> list[str]:
    """Start recording the URL of every request the page (and its frames) makes."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def remote_requests(urls) -> list[str]:
    """The requests that left the machine (anything but loopback, ``data:`` and ``blob:``)."""
    from urllib.parse import urlsplit

    remote = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension"):
            continue
        if parts.hostname not in LOCAL_HOSTS:
            remote.append(url)
    return remote
