"""The one Streamlit-aware module of EmoLab: cached resources and small page helpers.

Pages call these helpers and ``emolab`` functions; nothing here holds SQL or scoring.
The index connection and the models are loaded once per server process
(``st.cache_resource``); tables read from the index are cached per *generation*, a
counter bumped by :func:`index_changed` after every write the app makes.
"""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

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


def models_dir() -> Path | None:
    """The models folder the app analyses with: ``None`` for the shipped ``data/models``, or the
    copy of the retrained static model chosen on the Models page (:mod:`emolab.retrain`)."""
    from emolab.retrain import models_dir_in_use

    return models_dir_in_use()


def get_models():
    """The static and dynamic models in use (``None`` where not trained yet)."""
    return _models(str(models_dir() or ""))


@st.cache_resource(show_spinner="Loading the emotion models…")
def _models(folder: str):
    with _WARM_LOCK:  # the warm-up thread may be loading them right now
        if _WARM_MODELS.get("folder") == folder and "models" in _WARM_MODELS:
            return _WARM_MODELS.pop("models")
    from emolab.predict import load_models

    return load_models(folder or None)


_WORKERS: dict = {}
_WORKERS_LOCK = threading.Lock()


def analysis_worker():
    """The process that analyses uploads under a time limit, with the models in use (one per
    server; choosing other models retires the old process once its current upload is done)."""
    from emolab.worker import AnalysisWorker

    key = str(models_dir() or "")
    with _WORKERS_LOCK:
        worker = _WORKERS.get(key)
        if worker is None:
            for old in _WORKERS.values():
                threading.Thread(target=old.close, daemon=True).start()
            _WORKERS.clear()
            worker = _WORKERS[key] = AnalysisWorker(models_dir=key or None)
    return worker


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


def missing(what: str, how: str) -> None:
    """Say plainly that something (a model, data) is not there yet and how to get it."""
    st.info(f"{what}  \nHow to get it: {how}")


def show_error(exc: Exception) -> None:
    """A sentence for the musicologist; never a traceback."""
    if isinstance(exc, EmolabError):
        st.error(str(exc))
    else:
        st.error(f"Something went wrong ({type(exc).__name__}): {exc}")


# ------------------------------------------------------------------ provenance

MODELS_PAGE = "pages/models.py"
#: What "±" after a predicted value means, in words.
PLUS_MINUS = ("“±” is how far off the static model typically is: the half-width of its "
              "calibrated 68 % interval. On songs by artists it never saw, about two "
              "predictions in three lie within that distance of the human rating; it is the "
              "same for every song, so it does not say which songs are harder.")


def default_emotion_source() -> str:
    """``'human'`` when the library holds human labels, else ``'predicted'`` (a first visit
    of the demo library must not show an empty page)."""
    return "human" if library_stats().get("with_human_static", 0) else "predicted"


def model_versions(table: pd.DataFrame) -> list[str]:
    """The static model versions behind the predictions in ``table`` (newest first)."""
    if "pred_model_version" not in table:
        return []
    return sorted(table["pred_model_version"].dropna().astype(str).unique(), reverse=True)


def provenance_caption(table: pd.DataFrame | None = None, *, versions=None,
                       dynamic: str | None = None, plus_minus: bool = False) -> None:
    """Say which model made the predicted numbers on screen, and link to the Models page."""
    versions = list(versions) if versions is not None else model_versions(table)
    parts = []
    if versions:
        parts.append("Predicted values come from the static model "
                     + ", ".join(f"`{v}`" for v in versions[:3])
                     + (" and others" if len(versions) > 3 else ""))
    if dynamic:
        parts.append(f"curves from the dynamic model `{dynamic}`")
    if not parts:
        return
    st.caption("; ".join(parts) + "." + (f" {PLUS_MINUS}" if plus_minus else ""))
    st.page_link(MODELS_PAGE, label="What these models are and how well they do → Models")


def number_columns(*names: str) -> dict:
    """Column settings that keep distance, valence and arousal narrow and readable."""
    names = names or ("valence", "arousal", "distance")
    return {name: st.column_config.NumberColumn(name, format="%+.2f" if name != "distance"
                                                else "%.3f", width="small")
            for name in names}


def tnn_score_note(score: dict) -> str:
    """What the TNN map's k-NN score was computed on, in one sentence."""
    seen, unseen = score.get("n_seen", 0), score.get("n_unseen", 0)
    if not seen:
        return (f"Scored on all {unseen:,} songs: the embedding never saw any of them "
                "(leave-one-out).")
    if score.get("r2_valence") is None and score.get("r2_arousal") is None:
        return (f"No honest score: {seen:,} of these songs trained the embedding (their place "
                "on this map was learnt from their own labels) and too few others remain.")
    return (f"Scored only on the {unseen:,} songs the embedding never saw; the {seen:,} songs "
            "that trained it (DEAM) are neighbours but not scored.")


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


#: Recordings up to this size are embedded in the curve player (with a moving playhead);
#: larger ones get Streamlit's plain player.
PLAYER_MAX_BYTES = 40 * 2**20
_MIME = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg"}


def _audio_url(audio) -> str | None:
    """A ``data:`` URL of a recording given as a path or ``(bytes, name)``; None if too big."""
    import base64

    if audio is None:
        return None
    if isinstance(audio, tuple):
        data, name = audio
    else:
        if Path(audio).stat().st_size > PLAYER_MAX_BYTES:
            return None
        data, name = Path(audio).read_bytes(), str(audio)
    if len(data) > PLAYER_MAX_BYTES:
        return None
    mime = _MIME.get(Path(name).suffix.lower(), "audio/wav")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def curve_player(curves: pd.DataFrame, *, audio=None, segments=None, duration=None,
                 key: str, height: int = 200) -> None:
    """The emotion curves with an audio player whose playhead moves over them.

    ``audio`` is a file path or ``(bytes, name)``; ``segments`` saved segment labels
    (drawn as bands). Clicking the curves plays from there. Works offline: everything is
    inline in the page.
    """
    from emolab import plots

    url = _audio_url(audio)
    if curves.empty and url is None:
        st.caption("No audio file is stored for this song.")
        return
    page = plots.curve_player_html(curves, audio_url=url, segments=segments, duration=duration,
                                   height=height, element_id=f"emolab-{key}")
    st.html(page, unsafe_allow_javascript=True)  # our own markup only; names are escaped
    if url is None and audio is not None:  # too large to embed: a plain player
        st.audio(audio[0] if isinstance(audio, tuple) else audio)


def segment_labels(song_id: int) -> pd.DataFrame:
    """The song's saved segment annotations (``t0``, ``t1``, ``valence``, ``arousal``, ``annotator``)."""
    from emolab.index import annotations

    labels = annotations.list_annotations(get_index().con, song_id=int(song_id))
    labels = labels[labels["kind"] == "segment"]
    return labels[["t0", "t1", "valence", "arousal", "annotator"]].dropna(
        subset=["t0", "t1", "valence", "arousal"]).reset_index(drop=True)


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
        return pd.DataFrame(columns=["time", "dimension", "value", "source", "model_version"])
    long = wide.melt(id_vars=["time", "source", "model_version"],
                     value_vars=["valence", "arousal"], var_name="dimension", value_name="value")
    std = wide.melt(id_vars=["time", "source"], value_vars=["valence_std", "arousal_std"],
                    var_name="dimension", value_name="std")
    return long.assign(std=std["std"].to_numpy())  # same row order: the band of the curves


def curve_versions(song_ids) -> list[str]:
    """The dynamic model versions behind the predicted curves of these songs."""
    versions = set()
    for song_id in song_ids:
        curves = song_curves(int(song_id))
        versions |= set(curves.loc[curves["source"] == "predicted", "model_version"].dropna())
    return sorted(versions, reverse=True)


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

@st.cache_data(show_spinner=False)
def sketch_background(width: int, height: int, name: str) -> bytes:
    """A PNG with the zero line and the +1 / -1 marks of a sketch canvas (cached)."""
    from emolab import sketch

    return sketch.background_png(width, height, name)


# ------------------------------------------------------------------ models

def portable_paths(value):
    """``value`` with the paths of this machine written as a user writes them
    (``~/…`` for the home folder, relative for the project), recursively."""
    from emolab.config import PROJECT_ROOT

    if isinstance(value, dict):
        return {k: portable_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable_paths(v) for v in value]
    if isinstance(value, str):
        for root, short in ((str(PROJECT_ROOT), "."), (str(Path.home()), "~")):
            if value == root or value.startswith(root + os.sep):
                return short + value[len(root):]
    return value


def model_card(model) -> dict:
    """What the Models page shows of a loaded model: version, scores, training facts."""
    card = {"version": getattr(model, "version", "") or "unknown"}
    for name in ("cv_scores", "trained_on", "info"):
        value = getattr(model, name, None)
        if value:
            card[name] = portable_paths(value)
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "__dataclass_fields__"):
        from dataclasses import asdict

        card["config"] = asdict(config)
    return card


def model_card_section(kind: str) -> str | None:
    """The model's card: ``data/models/<kind>/card.md``, else its section of
    ``data/models/README.md`` (``## Static model`` / ``## Dynamic model``)."""
    from emolab.config import MODELS_DIR

    own = MODELS_DIR / kind / "card.md"
    if own.is_file():
        return own.read_text(encoding="utf-8")
    readme = MODELS_DIR / "README.md"
    if not readme.is_file():
        return None
    sections = readme.read_text(encoding="utf-8").split("\n## ")
    for section in sections[1:]:
        heading, _, body = section.partition("\n")
        if heading.strip().lower().startswith(kind):
            return body.strip()
    return None


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
        from emolab import search

        for source in ("human", "predicted"):
            try:
                search.warm_up(index, source=source)
            except EmolabError:  # an empty index: the page will say so
                pass
        try:
            from emolab.predict import load_models

            folder = str(models_dir() or "")
            with _WARM_LOCK:
                _WARM_MODELS.update(models=load_models(folder or None), folder=folder)
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
    job = FolderImport(folder, index=get_index(), models_dir=models_dir()).start()
    _imports()[str(default_db_path())] = job
    return job
