"""The one Streamlit-aware module of EmoLab: cached resources and small page helpers.

Pages call these helpers and ``emolab`` functions; nothing here holds SQL or scoring.
The index connection and the models are loaded once per server process
(``st.cache_resource``); tables read from the index are cached per *generation*, a
counter bumped by :func:`index_changed` after every write the app makes.
"""
from __future__ import annotations

import importlib
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from emolab.config import MAX_FILE_BYTES, default_db_path
from emolab.exceptions import EmolabError

UPLOAD_TYPES = ["wav", "mp3", "flac", "ogg"]
SONG_KEY = "song_id"
_WARM_LOCK = threading.Lock()
_WARM_MODELS: dict = {}


# ------------------------------------------------------------------ resources

@st.cache_resource(show_spinner=False)
def _open_index(path: str):
    from emolab.index import open_index

    return open_index(path)


def get_index():
    """The app's writable index at ``$EMOLAB_DB`` (one connection per server process)."""
    return _open_index(str(default_db_path()))


@st.cache_resource(show_spinner="Loading the emotion models…")
def get_models():
    """The shipped static and dynamic models (``None`` where not trained yet)."""
    with _WARM_LOCK:  # the warm-up thread may be loading them right now
        if "models" in _WARM_MODELS:
            return _WARM_MODELS.pop("models")
    from emolab.predict import load_models

    return load_models()


@st.cache_resource(show_spinner=False)
def analysis_worker():
    """The process that analyses uploads under a time limit (one per server)."""
    from emolab.worker import AnalysisWorker

    return AnalysisWorker()


@st.cache_resource(show_spinner=False)
def _generations() -> dict:
    return {}


def generation() -> int:
    """How many times the app has written to the current index."""
    return _generations().get(str(default_db_path()), 0)


def index_changed() -> None:
    """Call after writing to the index so cached tables are read again."""
    gens = _generations()
    key = str(default_db_path())
    gens[key] = gens.get(key, 0) + 1


@st.cache_data(show_spinner=False, max_entries=8)
def _song_table(path: str, gen: int) -> pd.DataFrame:
    from emolab.index import songs

    return songs.song_table(get_index().con)


@st.cache_data(show_spinner=False, max_entries=8)
def _stats(path: str, gen: int) -> dict:
    from emolab.index import songs

    return songs.stats(get_index().con)


def song_table() -> pd.DataFrame:
    """Every song with its human and predicted static emotion (cached)."""
    table = _song_table(str(default_db_path()), generation()).copy()
    table["label"] = [song_label(row) for row in table.itertuples()]
    return table


def library_stats() -> dict:
    return _stats(str(default_db_path()), generation())


def song_label(row) -> str:
    title = getattr(row, "title", None) or "Untitled"
    artist = getattr(row, "artist", None)
    artist = artist if isinstance(artist, str) and artist else None
    return f"{title} — {artist}" if artist else str(title)


def optional(module: str):
    """Import an EmoLab module that another part of the project may not have landed yet."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def missing(what: str, how: str) -> None:
    """Say plainly that something is not available yet and how to get it."""
    st.info(f"{what}  \nHow to get it: {how}", icon=":material/construction:")


def show_error(exc: Exception) -> None:
    """A sentence for the musicologist; never a traceback."""
    if isinstance(exc, EmolabError):
        st.error(str(exc), icon=":material/error:")
    else:
        st.error(f"Something went wrong ({type(exc).__name__}): {exc}", icon=":material/error:")


# ------------------------------------------------------------------ songs and audio

def select_song(song_id: int | None) -> None:
    """Remember the song the user opened; other pages start from it."""
    st.session_state[SONG_KEY] = None if song_id is None else int(song_id)


def selected_song() -> int | None:
    return st.session_state.get(SONG_KEY)


def song_picker(table: pd.DataFrame, *, key: str, label: str = "Song") -> int | None:
    """A searchable select box over the library; defaults to the song opened last."""
    if table.empty:
        return None
    ids = table["song_id"].astype(int).tolist()
    labels = dict(zip(ids, table["label"]))
    current = selected_song()
    index = ids.index(current) if current in ids else 0
    song_id = st.selectbox(label, ids, index=index, format_func=lambda i: labels.get(i, str(i)),
                           key=key)
    if song_id is not None and song_id != current:
        select_song(song_id)
    return song_id


def read_upload(uploaded) -> bytes:
    """The bytes of an ``st.file_uploader`` file, refusing empty or oversized ones."""
    from emolab.exceptions import AudioTooLongError, EmptyAudioError

    data = uploaded.getvalue()
    if not data:
        raise EmptyAudioError(f"'{uploaded.name}' is empty (0 bytes).")
    if len(data) > MAX_FILE_BYTES:
        raise AudioTooLongError(f"'{uploaded.name}' is larger than {MAX_FILE_BYTES // 2**20} MB.")
    return data


def upload_dir() -> Path:
    """Where uploaded audio added to the library is kept: beside the index file."""
    return default_db_path().resolve().parent / "uploads"


def save_upload(data: bytes, name: str, content_hash: str) -> Path:
    """Keep an uploaded recording so the library can play it later; return its path."""
    suffix = Path(name).suffix.lower()
    if suffix not in {f".{t}" for t in UPLOAD_TYPES}:
        suffix = ".wav"
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{content_hash[:32]}{suffix}"  # the user's file name never becomes a path
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)  # atomic: a crash never leaves half a file under the final name
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return path


def play(source_path, *, start: float = 0.0, autoplay: bool = False) -> bool:
    """An audio player for a song's file, starting at ``start`` seconds; False if none.

    A demo song whose audio is not rendered yet is rendered first (a few seconds).
    """
    if not file_exists(source_path):
        return False
    st.audio(source_path, start_time=int(max(0.0, start)), autoplay=autoplay)
    return True


def file_exists(path) -> bool:
    """Whether a song's audio file is there; a demo song's missing audio is rendered now."""
    if not isinstance(path, str) or not path:
        return False
    if Path(path).is_file():
        return True
    from emolab import demo_data

    if demo_data.piece_for(path) is None:
        return False
    with st.spinner("Rendering this demo piece's audio from its score (a few seconds)…"):
        try:
            return demo_data.ensure_audio(path)
        except EmolabError:
            return False


@st.cache_data(show_spinner=False, max_entries=32)
def waveform_of(source: bytes | str, sr: int = 4000):
    """``(y, sr)`` of a recording at a low rate, for drawing its waveform; None if unreadable."""
    from emolab import audio

    try:
        if isinstance(source, str):
            return audio.load(source, sr=sr).y, sr
        return audio.decode(source, sr=sr).y, sr
    except EmolabError:
        return None


def song_curves(song_id: int) -> pd.DataFrame:
    """A song's human and newest predicted curves in the long format of the curve charts."""
    return _song_curves(str(default_db_path()), generation(), int(song_id))


@st.cache_data(show_spinner=False, max_entries=64)
def _song_curves(path: str, gen: int, song_id: int) -> pd.DataFrame:
    from emolab.index import emotion

    wide = emotion.get_song_curves(get_index().con, song_id, newest_only=True)
    if wide.empty:
        return pd.DataFrame(columns=["time", "dimension", "value", "source"])
    long = wide.melt(id_vars=["time", "source"], value_vars=["valence", "arousal"],
                     var_name="dimension", value_name="value")
    std = wide.melt(id_vars=["time", "source"], value_vars=["valence_std", "arousal_std"],
                    var_name="dimension", value_name="std")
    return long.assign(std=std["std"].to_numpy())  # same row order: the band of the curves


# ------------------------------------------------------------------ chart selections

def picked(event, name: str) -> list[dict]:
    """The points a user picked in a chart's named selection (empty when none)."""
    if not event:
        return []
    selection = event.get("selection", {}) if isinstance(event, dict) else event.selection
    value = selection.get(name) if selection else None
    if isinstance(value, list):
        return value
    return []


def picked_interval(event, name: str) -> dict:
    """``{field: [low, high]}`` of an interval selection (empty when none)."""
    if not event:
        return {}
    selection = event.get("selection", {}) if isinstance(event, dict) else event.selection
    value = selection.get(name) if selection else None
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------------ sketches

def stroke_points(json_data: dict | None) -> np.ndarray:
    """The (x, y) canvas points of every free-hand stroke in a drawable-canvas drawing.

    Anything else in the drawing (other shapes, malformed entries, points that are not
    finite numbers) is skipped.

    Returns
    -------
    np.ndarray, shape (n, 2)
        Points in canvas pixels, in drawing order.
    """
    points = []
    objects = json_data.get("objects") if isinstance(json_data, dict) else None
    for obj in objects if isinstance(objects, list) else []:
        if not isinstance(obj, dict) or str(obj.get("type", "")).lower() != "path":
            continue
        commands = obj.get("path")
        for command in commands if isinstance(commands, list) else []:
            if not isinstance(command, (list, tuple)):
                continue
            numbers = [_coordinate(c) for c in command[1:]
                       if isinstance(c, (int, float)) and not isinstance(c, bool)]
            points.extend((x, y) for x, y in zip(numbers[0::2], numbers[1::2])
                          if x is not None and y is not None)
    return np.asarray(points, dtype=float).reshape(-1, 2)


def _coordinate(value) -> float | None:
    """A finite canvas coordinate, or None."""
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if np.isfinite(value) else None


def stroke_to_curve(json_data: dict | None, *, width: int, height: int,
                    n: int = 64) -> np.ndarray | None:
    """Turn a drawn stroke into a curve of ``n`` values on [-1, 1] over its left-right extent.

    The top of the canvas is +1, the bottom -1; points are ordered by x, so a stroke
    drawn right to left reads the same. Returns None when nothing usable was drawn.
    """
    pts = stroke_points(json_data)
    if len(pts) < 2:
        return None
    x = np.clip(pts[:, 0] / width, 0.0, 1.0)
    y = np.clip(1.0 - 2.0 * (pts[:, 1] / height), -1.0, 1.0)
    if np.ptp(x) < 0.05:
        return None
    bins = np.linspace(x.min(), x.max(), n)
    order = np.argsort(x, kind="stable")
    return np.interp(bins, x[order], y[order]).astype(np.float32)


@st.cache_data(show_spinner=False)
def sketch_background(width: int, height: int, name: str) -> bytes:
    """A PNG with the zero line and the +1 / -1 marks of a sketch canvas."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (253, 252, 249))
    draw = ImageDraw.Draw(image)
    for fraction in (0.25, 0.75):
        y = int(height * fraction)
        draw.line([(0, y), (width, y)], fill=(236, 232, 224), width=1)
    for fraction in np.linspace(0, 1, 11)[1:-1]:
        x = int(width * fraction)
        draw.line([(x, 0), (x, height)], fill=(240, 237, 230), width=1)
    draw.line([(0, height // 2), (width, height // 2)], fill=(170, 170, 170), width=1)
    draw.text((6, 4), f"+1  high {name}", fill=(120, 120, 120))
    draw.text((6, height // 2 - 14), "0", fill=(120, 120, 120))
    draw.text((6, height - 16), f"-1  low {name}", fill=(120, 120, 120))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


# ------------------------------------------------------------------ models

def model_card(model) -> dict:
    """What the Models page shows of a loaded model: version, scores, training facts."""
    card = {"version": getattr(model, "version", "") or "unknown"}
    for name in ("cv_scores", "trained_on", "info"):
        value = getattr(model, name, None)
        if value:
            card[name] = value
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "__dataclass_fields__"):
        from dataclasses import asdict

        card["config"] = asdict(config)
    return card


def retrain_static(index, *, progress=None, out_dir=None):
    """Refit the static model on the index's songs with both DEAM features and human labels.

    Human values average all annotators' static labels. The model is saved to
    ``data/models/static`` (replacing the shipped one) and returned.
    """
    from emolab.config import MODELS_DIR
    from emolab.exceptions import ModelError
    from emolab.index import vectors
    from emolab.models.static import StaticConfig, StaticEmotionModel, model_columns

    con = index.con
    columns = vectors.family_columns(con, "deam74")
    ids, X, _ = vectors.get_features(con, "deam74")
    if columns is None or len(ids) == 0:
        raise ModelError("No song in the index has DEAM features: import DEAM's feature table "
                         "or ingest audio first.")
    labels = song_table().set_index("song_id")[["human_valence", "human_arousal"]].dropna()
    keep = np.isin(ids, labels.index.to_numpy())
    if keep.sum() < 10:
        raise ModelError(f"Only {int(keep.sum())} songs have both DEAM features and human "
                         "labels; retraining needs at least 10.")
    use = model_columns(columns)
    X = X[keep][:, [columns.index(c) for c in use]]
    Y = labels.loc[ids[keep]].to_numpy(dtype=np.float64)
    model = StaticEmotionModel(StaticConfig()).fit(X, Y, use, progress=progress)
    model.save(Path(out_dir or MODELS_DIR / "static"))
    return model


# ------------------------------------------------------------------ warm-up

@st.cache_resource(show_spinner=False)
def warm_up_in_background() -> threading.Thread:
    """Once per server process, after the first page is drawn: prepare the emotion search
    (in-memory stores, compiled kernels), load the models and start the analysis
    process, so the first visit of
    Search, Sketch, Analyse or Models does not wait for them. Failures are left to the
    pages, which report them."""
    index = get_index()

    def work():
        search = optional("emolab.search")
        for source in ("human", "predicted"):
            try:
                if search is not None:
                    search.warm_up(index, source=source)
            except Exception:  # an empty index or a missing piece: the page will say so
                pass
        try:
            from emolab.predict import load_models

            with _WARM_LOCK:
                _WARM_MODELS["models"] = load_models()
        except Exception:
            pass
        try:
            analysis_worker().start()
        except Exception:  # the Analyse page reports it on the first upload
            pass

    thread = threading.Thread(target=work, name="emolab-warm-up", daemon=True)
    thread.start()
    return thread



# ------------------------------------------------------------------ first run

@st.cache_resource(show_spinner=False)
def _demo_audio_job() -> dict:
    """Once per server process: render the demo songs' audio in a background thread."""
    from emolab import demo_data

    job = {"done": 0, "total": 0, "finished": False, "failed": []}

    def progress(done, total, message=""):
        job.update(done=done, total=total)

    def work():
        try:
            job["failed"] = demo_data.render_missing(progress=progress)["failed"]
        except Exception as exc:  # a failed rendering leaves on-demand rendering at playback
            job["failed"] = [("demo audio", f"{type(exc).__name__}: {exc}")]
        job["finished"] = True

    threading.Thread(target=work, name="emolab-demo-audio", daemon=True).start()
    return job


def render_demo_audio_in_background() -> dict:
    """Start (once) rendering the demo songs' audio; returns the job's live progress
    (``done``, ``total``, ``finished``, ``failed``). Until a song's audio exists, playing
    it renders it on the spot."""
    return _demo_audio_job()


def demo_disabled() -> bool:
    """``EMOLAB_NO_DEMO=1`` stops the app from building the demo library on first run."""
    return os.environ.get("EMOLAB_NO_DEMO", "").strip() not in ("", "0")


def warm_up_disabled() -> bool:
    """``EMOLAB_NO_WARMUP=1`` skips the background warm-up (AppTest sets it for speed)."""
    return os.environ.get("EMOLAB_NO_WARMUP", "").strip() not in ("", "0")


# ------------------------------------------------------------------ folder import

@st.cache_resource(show_spinner=False)
def _imports() -> dict:
    return {}


def current_import():
    """The folder import of this server process for the current index (or None)."""
    return _imports().get(str(default_db_path()))


def start_import(folder):
    """Start importing ``folder`` into the app's index in the background; one at a time."""
    from emolab.folder_import import FolderImport

    job = current_import()
    if job is not None and job.running:
        from emolab.exceptions import ParameterError

        raise ParameterError(f"An import of '{job.folder}' is still running; wait for it or "
                             "cancel it first.")
    job = FolderImport(folder, index=get_index()).start()
    _imports()[str(default_db_path())] = job
    return job
