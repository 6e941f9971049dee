"""The shipped demo library: analysed once by the project, loaded into a new index in seconds.

Rendering and analysing the demo pieces (:mod:`emolab.demo`) takes minutes, so the
project ships its result under ``data/demo/``: ``songs.json.gz`` holds, for every piece,
its labels, the content hash and length of its rendering, its DEAM and librosa feature
vectors and the shipped models' static prediction and emotion curve; ``manifest.json``
says which models (versions and file checksums) and feature columns made them, and how
the predictions spread over the valence–arousal plane.

:func:`build` remakes both files from scratch (``python -m emolab build-demo --out
data/demo/``); :func:`load_demo` adds the songs to an index without any audio;
:func:`ensure_audio` renders one piece's audio when it is first played and
:func:`render_missing` renders all of them (the app does this in the background).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from emolab import demo, pipeline
from emolab.config import DATA_DIR, MODELS_DIR
from emolab.exceptions import ModelError, ParameterError

#: Where the shipped demo data lives.
DEMO_DATA_DIR = DATA_DIR / "demo"
SONGS_FILE = "songs.json.gz"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
BUILD_COMMAND = "python -m emolab build-demo --out data/demo/"
_STALE = f"rerun {BUILD_COMMAND} (it takes a few minutes) and commit data/demo/."


# ------------------------------------------------------------------ model fingerprints

def model_fingerprint(models_dir=None) -> dict:
    """SHA-256 of every file of the static, dynamic and valence models, by model.

    Returns
    -------
    dict
        ``{"static": {file name: sha256}, "dynamic": {...}, "valence": {...}}``; empty dicts for a model
        that is not trained.
    """
    models_dir = Path(models_dir or MODELS_DIR)
    out = {}
    for kind in ("static", "dynamic", "valence"):
        folder = models_dir / kind
        files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        out[kind] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    return out


def stale_reasons(manifest: dict, *, models_dir=None) -> list[str]:
    """Why the shipped demo data no longer matches the code and models (empty when it does)."""
    from emolab.features import deam, spectral

    reasons = []
    now = model_fingerprint(models_dir)
    for kind in ("static", "dynamic", "valence"):
        if manifest["model_files"].get(kind) != now[kind]:
            reasons.append(f"the {kind} model's files changed since the demo data was built")
    if manifest["feature_columns"]["deam74"] != list(deam.DEAM74_COLUMNS):
        reasons.append("the DEAM feature columns changed")
    if manifest["feature_columns"]["librosa"] != list(spectral.SONG_VECTOR_NAMES):
        reasons.append("the librosa song-vector columns changed")
    if manifest["pieces"] != [piece_record(p) for p in demo.DEMO_PIECES]:
        reasons.append("the list of demo pieces or their renderings changed")
    return reasons


def piece_record(piece: demo.DemoPiece) -> dict:
    """A piece's settings as stored in the manifest."""
    from dataclasses import asdict

    return {"key": piece.key, **asdict(piece)}


# ------------------------------------------------------------------ building

def build(out_dir=None, *, audio_dir=None, workers: int = 2, progress=None) -> dict:
    """Render every demo piece, analyse it with the shipped models and write the demo data.

    Parameters
    ----------
    out_dir : path, optional
        Folder for ``songs.json.gz`` and ``manifest.json``; default ``data/demo``.
    audio_dir : path, optional
        Where the renderings go (kept, so the app need not render them again);
        default ``data/demo_audio``.
    workers : int
        Processes rendering and analysing in parallel.
    progress : callable(done, total, message), optional

    Returns
    -------
    dict
        The manifest written.
    """
    from emolab.index import open_index
    from emolab.predict import load_models

    models = load_models()
    if models.static is None or models.dynamic is None:
        raise ModelError("The demo data needs both shipped models: "
                         f"{models.static_error or models.dynamic_error}")
    versions = {"static": str(models.static.version), "dynamic": str(models.dynamic.version)}
    del models
    out_dir = Path(out_dir or DEMO_DATA_DIR)
    audio_dir = Path(audio_dir or demo.DEFAULT_AUDIO_DIR)
    with tempfile.TemporaryDirectory(prefix="emolab-demo-") as tmp:
        with open_index(Path(tmp) / "demo.duckdb") as index:
            report = demo.build_demo_library(index, audio_dir=audio_dir, workers=workers,
                                             progress=progress)
            if report["failed"]:
                raise ParameterError("Demo pieces could not be built: " + "; ".join(
                    f"{name}: {reason}" for name, reason in report["failed"]))
            records = export_songs(index)
    for record in records:
        record["model_versions"] = versions
    manifest = write(records, out_dir, versions=versions)
    return manifest


def export_songs(index, pieces=None) -> list[dict]:
    """The demo songs of an index as records, in the order of ``pieces``
    (default :data:`emolab.demo.DEMO_PIECES`)."""
    from emolab.features import FAMILY_DEAM74, FAMILY_LIBROSA
    from emolab.index import emotion, songs, vectors

    con = index.con
    table = songs.song_table(con)
    by_file = {Path(p).name: int(s) for s, p in zip(table.song_id, table.source_path)}
    features = {}
    for family in (FAMILY_DEAM74, FAMILY_LIBROSA):
        ids, X, _ = vectors.get_features(con, family)
        features[family] = dict(zip(ids.tolist(), X))
    pred = table.set_index("song_id")
    records = []
    for piece in (demo.DEMO_PIECES if pieces is None else pieces):
        song_id = by_file[f"{piece.key}.{demo.AUDIO_FORMAT}"]
        song = songs.get_song(con, song_id)
        curves = emotion.get_song_curves(con, song_id)
        curves = curves[curves.source == "predicted"]
        row = pred.loc[song_id]
        records.append({
            "key": piece.key,
            "file": f"{piece.key}.{demo.AUDIO_FORMAT}",
            "title": song["title"], "artist": song["artist"],
            "content_hash": song["content_hash"],
            "duration": round(float(song["duration"]), 4),
            "sample_rate": int(song["sample_rate"]),
            "deam74": _rounded(features[FAMILY_DEAM74][song_id]),
            "librosa": _rounded(features[FAMILY_LIBROSA][song_id]),
            "static": None if row.isna()["pred_valence"] else {
                k: round(float(row[f"pred_{k}"]), 5)
                for k in ("valence", "arousal", "valence_std", "arousal_std")},
            "curve": None if len(curves) < 2 else {
                "t0": float(curves.time.iloc[0]),
                "hop": float(curves.time.iloc[1] - curves.time.iloc[0]),
                "valence": _rounded(curves.valence.to_numpy(), 5),
                "arousal": _rounded(curves.arousal.to_numpy(), 5)},
        })
    return records


def _rounded(x, digits: int = 7) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in np.asarray(x, dtype=np.float64).ravel()]


def spread(records: list[dict]) -> dict:
    """Where the demo's static predictions fall: songs per quadrant, lowest and highest V and A."""
    predicted = [r["static"] for r in records if r["static"] is not None]
    if not predicted:
        return {"songs": len(records), "quadrants": {}, "valence": None, "arousal": None}
    v = np.array([p["valence"] for p in predicted])
    a = np.array([p["arousal"] for p in predicted])
    quadrants = {
        "happy/excited (V+ A+)": int(np.sum((v >= 0) & (a >= 0))),
        "tense/angry (V- A+)": int(np.sum((v < 0) & (a >= 0))),
        "sad/depressed (V- A-)": int(np.sum((v < 0) & (a < 0))),
        "calm/content (V+ A-)": int(np.sum((v >= 0) & (a < 0))),
    }
    return {"songs": len(records), "quadrants": quadrants,
            "valence": [round(float(v.min()), 2), round(float(v.max()), 2)],
            "arousal": [round(float(a.min()), 2), round(float(a.max()), 2)]}


def readme_lines(spread_: dict, versions: dict) -> str:
    """The two lines of README.md's demo paragraph that give the spread."""
    q = ", ".join(f"{name}: {n}" for name, n in spread_["quadrants"].items())
    (v0, v1), (a0, a1) = spread_["valence"], spread_["arousal"]
    return (f"- {q} of {spread_['songs']};\n"
            f"- valence {v0:+.2f} … {v1:+.2f}, arousal {a0:+.2f} … {a1:+.2f} "
            f"(static model `{versions['static']}`).")


def write(records: list[dict], out_dir, *, versions: dict, models_dir=None, pieces=None) -> dict:
    """Write ``songs.json.gz`` and ``manifest.json`` (byte-identical for the same input)."""
    from emolab.features import deam, spectral

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format_version": FORMAT_VERSION,
        "command": BUILD_COMMAND,
        "model_versions": versions,
        "model_files": model_fingerprint(models_dir),
        "feature_columns": {"deam74": list(deam.DEAM74_COLUMNS),
                            "librosa": list(spectral.SONG_VECTOR_NAMES)},
        "spread": spread(records),
        "pieces": [piece_record(p) for p in (demo.DEMO_PIECES if pieces is None else pieces)],
    }
    payload = json.dumps(records, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(out_dir / SONGS_FILE, "wb") as raw:  # mtime=0: the same songs give the same bytes
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
            gz.write(payload)
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    return manifest


# ------------------------------------------------------------------ loading

def read(data_dir=None) -> tuple[dict, list[dict]]:
    """``(manifest, song records)`` of the shipped demo data."""
    data_dir = Path(data_dir or DEMO_DATA_DIR)
    try:
        manifest = json.loads((data_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        with gzip.open(data_dir / SONGS_FILE, "rb") as f:
            records = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"The demo data is missing from '{data_dir}'; {_STALE}") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"The demo data in '{data_dir}' is of another format; {_STALE}")
    return manifest, records


def load_demo(index, *, data_dir=None, audio_dir=None, progress=None) -> dict:
    """Add the shipped demo songs (features, predictions, curves) to ``index``.

    No audio is needed: each song's ``source_path`` points into ``audio_dir``, where
    :func:`ensure_audio` or :func:`render_missing` put the rendering later. Songs already
    in the index (same content hash) are left alone.

    Returns
    -------
    dict
        ``added``, ``skipped`` and the manifest's ``spread``.
    """
    from emolab.index import songs

    manifest, records = read(data_dir)
    audio_dir = Path(audio_dir or demo.DEFAULT_AUDIO_DIR).resolve()
    added = skipped = 0
    for done, record in enumerate(records, start=1):
        if songs.song_id_by_hash(index.con, record["content_hash"]) is not None:
            skipped += 1
            continue
        curve = record["curve"]
        dynamic = None if curve is None else (
            curve["t0"] + curve["hop"] * np.arange(len(curve["valence"])),
            np.asarray(curve["valence"]), np.asarray(curve["arousal"]))
        analysis = pipeline.Analysis(
            name=record["file"], content_hash=record["content_hash"],
            duration=record["duration"], sample_rate=record["sample_rate"], channels=1,
            silent=False, deam74=np.asarray(record["deam74"], dtype=np.float32),
            librosa=np.asarray(record["librosa"], dtype=np.float32), static=record["static"],
            dynamic=dynamic,
            model_versions=record["model_versions"],
        )
        pipeline.add_to_index(index, analysis, origin="demo", title=record["title"],
                              artist=record["artist"], source_path=str(audio_dir / record["file"]))
        added += 1
        if progress is not None:
            progress(done, len(records), record["title"])
    return {"added": added, "skipped": skipped, "spread": manifest["spread"]}


# ------------------------------------------------------------------ audio on demand

def piece_for(path) -> demo.DemoPiece | None:
    """The demo piece whose rendering belongs at ``path`` (by file name), else None."""
    name = Path(path).name
    for piece in demo.DEMO_PIECES:
        if name == f"{piece.key}.{demo.AUDIO_FORMAT}":
            return piece
    return None


def ensure_audio(path) -> bool:
    """Render a demo song's audio to ``path`` if it is missing; True when the file exists.

    Paths that are no demo rendering are left alone (False when missing).
    """
    path = Path(path)
    if path.is_file():
        return True
    piece = piece_for(path)
    if piece is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    demo.render_piece(piece, path)
    return path.is_file()


def render_missing(audio_dir=None, *, workers: int = 1, progress=None) -> dict:
    """Render every demo piece that has no audio in ``audio_dir`` yet (worker processes).

    Returns
    -------
    dict
        ``rendered`` (number of files now present) and ``failed`` (list of (name, reason)).
    """
    metadata, failed = demo.render_pieces(demo.DEMO_PIECES, audio_dir or demo.DEFAULT_AUDIO_DIR,
                                          workers=workers, progress=progress)
    return {"rendered": len(metadata), "failed": failed}
