"""Readers for the datasets' own layouts (DEAM, emoMusic, PMEmo).

Label conventions live here and only here. In particular DEAM's static annotation
file (and every table derived from it, such as ``deam_features_74.csv``) has valence and
arousal **swapped for song ids 2–1000** (the MediaEval 2013 songs, which are the emoMusic
songs): for those ids ``valence_mean`` holds arousal and ``arousal_mean`` holds valence,
and likewise for the ``_std`` columns. :func:`fix_deam_swap` corrects it; every DEAM
reader calls it.

Every reader returns the same :class:`DatasetTables`, with valence and arousal on
[-1, 1]: DEAM and emoMusic static ratings (1–9) map by ``(x - 5) / 4`` and their standard
deviations by ``x / 4``; PMEmo's [0, 1] values map by ``2 x - 1`` (std ``2 x``); dynamic
curves of DEAM and emoMusic are already on [-1, 1].

The layouts read (paths relative to the dataset's root folder; only the label files are
required, the rest is used when present):

* **emoMusic** — ``annotations/static_annotations.csv``, ``annotations/songs_info.csv``,
  ``annotations/{arousal,valence}_cont_average.csv`` (61 points from 15.0 s, hop 0.5 s),
  audio ``clips_45seconds_mp3/<id>.mp3`` or ``clips_45seconds/`` or ``audio/``.
* **DEAM** — ``**/static_annotations_averaged_songs_*.csv``, ``metadata/metadata_*.csv``,
  ``features/deam_features_74.csv`` (or another song-level table in DEAM's column layout
  under ``features/``), dynamic ``annotations/**/arousal.csv`` and ``valence.csv``
  (``sample_15000ms``… columns), audio ``MEMD_audio/<id>.mp3`` or ``audio/``.
* **PMEmo** — the 2019 release (``annotations/static_annotations.csv``,
  ``static_annotations_std.csv``, ``dynamic_annotations.csv``, ``metadata.csv``,
  ``chorus/<id>.mp3``), the 2018 files (``annotations_2018/A_static.csv``,
  ``V_static.csv``, ``metadata.csv``) and the authors' per-song JSON documents
  (``samples_docs/<id>.json`` with ``valence_mean``, ``arousal_mean``, ``dynamic{t,v,a}``).
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emolab.config import rating_to_unit
from emolab.exceptions import DatasetError

DEAM_SWAPPED_IDS = (2, 1000)  # inclusive range of song ids whose V/A columns are swapped
DEAM_LABEL_COLUMNS = ("valence_mean", "valence_std", "arousal_mean", "arousal_std")

DATASETS = ("emomusic", "deam", "pmemo")
#: Datasets that share songs under the same id: DEAM ids 2–1000 *are* the emoMusic songs.
SAME_SONG_IDS = {frozenset({"deam", "emomusic"}): (2, 1000)}

AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg")
AUDIO_FOLDERS = {
    "emomusic": ("clips_45seconds_mp3", "clips_45seconds", "audio"),
    "deam": ("MEMD_audio", "DEAM_audio/MEMD_audio", "audio"),
    "pmemo": ("chorus", "samples_docs", "audio"),
}
SONG_COLUMNS = ("dataset_id", "title", "artist", "genre", "audio_path")
STATIC_COLUMNS = ("dataset_id", "valence", "arousal", "valence_std", "arousal_std")
EMOMUSIC_CURVE_T0 = 15.0  # emoMusic drops the first 15 s of every clip
EMOMUSIC_CURVE_HOP = 0.5
_MISSING_TEXT = {"", "nan", "none", "n/a", "na", "null"}


@dataclass
class DatasetTables:
    """One dataset read from its own layout, labels on [-1, 1].

    Attributes
    ----------
    name : str
        ``emomusic``, ``deam`` or ``pmemo``.
    songs : DataFrame
        ``dataset_id`` (str), ``title``, ``artist``, ``genre``, ``audio_path`` (str or
        None); one row per song that appears anywhere in the dataset's files.
    static : DataFrame
        ``dataset_id, valence, arousal, valence_std, arousal_std`` on [-1, 1] (NaN where
        the dataset has no value, e.g. PMEmo 2018's arousal-only songs).
    curves : dict
        ``dataset_id -> (t0, hop, valence (n,), arousal (n,))``: human curves on the
        grid ``t0 + hop * i`` seconds, on [-1, 1].
    features : DataFrame or None
        A song-level feature table in DEAM's column layout, indexed by ``dataset_id``
        (str), columns in the table's own order.
    """

    name: str
    songs: pd.DataFrame
    static: pd.DataFrame
    curves: dict = field(default_factory=dict)
    features: pd.DataFrame | None = None

    def summary(self) -> dict:
        """Counts of what was read."""
        return {
            "songs": len(self.songs),
            "with_audio": int(self.songs["audio_path"].notna().sum()),
            "static": len(self.static),
            "curves": len(self.curves),
            "features": 0 if self.features is None else len(self.features),
        }


# --------------------------------------------------------------------------- DEAM swap

def fix_deam_swap(df: pd.DataFrame, *, id_column: str = "song_id") -> pd.DataFrame:
    """Return a copy of a DEAM-convention table with V/A swapped back for ids 2–1000.

    Parameters
    ----------
    df : DataFrame
        Has ``id_column`` and the columns ``valence_mean``, ``arousal_mean`` (and
        optionally ``valence_std``, ``arousal_std``) on DEAM's 1–9 scale.

    Returns
    -------
    DataFrame
        The same rows; for ids 2..1000 ``valence_*`` and ``arousal_*`` exchanged.
    """
    out = df.copy()
    ids = pd.to_numeric(out[id_column], errors="coerce")
    swapped = ids.between(*DEAM_SWAPPED_IDS).to_numpy()
    for stat in ("mean", "std"):
        v, a = f"valence_{stat}", f"arousal_{stat}"
        if v in out.columns and a in out.columns:
            vals = out.loc[swapped, v].to_numpy().copy()
            out.loc[swapped, v] = out.loc[swapped, a].to_numpy()
            out.loc[swapped, a] = vals
    return out


def same_song_datasets(name: str, dataset_id) -> list[str]:
    """Other datasets in which the song ``dataset_id`` of ``name`` is the same song.

    DEAM ids 2–1000 are the emoMusic songs under the same ids, and vice versa.
    """
    try:
        number = int(str(dataset_id).strip())
    except ValueError:
        return []
    out = []
    for pair, (low, high) in SAME_SONG_IDS.items():
        if name in pair and low <= number <= high:
            out.extend(sorted(pair - {name}))
    return out


# --------------------------------------------------------------------------- CSV helpers

def read_csv_stripped(path: Path, **kwargs) -> pd.DataFrame:
    """Read a CSV whose header and text cells may carry spaces or TABs around values."""
    try:
        df = pd.read_csv(path, skipinitialspace=True, **kwargs)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"Could not read '{path}': {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    for col in df.columns:
        if pd.api.types.is_string_dtype(df[col]) or pd.api.types.is_object_dtype(df[col]):
            df[col] = df[col].map(lambda v: v.strip() if isinstance(v, str) else v)
    return df


def load_deam_feature_table(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a song-level feature table in DEAM's layout (e.g. ``deam_features_74.csv``).

    Parameters
    ----------
    path : str or Path
        CSV with ``track_id`` (or ``song_id``), feature columns named as DEAM's
        openSMILE columns, and optionally the four label columns.

    Returns
    -------
    features : DataFrame, shape (n_songs, n_features)
        Indexed by integer song id, sorted.
    labels : DataFrame, shape (n_songs, 4)
        ``valence_mean, valence_std, arousal_mean, arousal_std`` on 1–9 with the DEAM
        swap corrected; empty columns if the table has no labels.
    """
    path = Path(path)
    df = read_csv_stripped(path)
    id_col = "track_id" if "track_id" in df.columns else "song_id"
    if id_col not in df.columns:
        raise DatasetError(f"'{path.name}' has no track_id or song_id column.")
    df[id_col] = pd.to_numeric(df[id_col], errors="coerce")
    df = df.dropna(subset=[id_col])
    df[id_col] = df[id_col].astype(int)
    df = df.drop_duplicates(subset=[id_col]).sort_values(id_col)
    has_labels = all(c in df.columns for c in DEAM_LABEL_COLUMNS)
    if has_labels:
        df = fix_deam_swap(df, id_column=id_col)
    df = df.set_index(id_col)
    df.index.name = "song_id"
    feature_cols = [c for c in df.columns
                    if c not in DEAM_LABEL_COLUMNS and np.issubdtype(df[c].dtype, np.number)]
    labels = df[list(DEAM_LABEL_COLUMNS)] if has_labels else pd.DataFrame(index=df.index)
    return df[feature_cols].astype(float), labels.astype(float)


def _key(name) -> str:
    """Header key that ignores case, spaces and underscores (``valence_ max_mean``)."""
    return re.sub(r"[\s_]+", "", str(name).lower())


def _column(df: pd.DataFrame, *names, required: str | None = None):
    """The first column of ``df`` whose key matches one of ``names``; None if absent."""
    keys = {_key(c): c for c in df.columns}
    for name in names:
        if _key(name) in keys:
            return df[keys[_key(name)]]
    if required:
        raise DatasetError(f"'{required}' has no column {names[0]!r}.")
    return None


def _text(values) -> list:
    """Strip text cells; empty, 'nan' and 'n/a' become None."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
            continue
        s = str(v).strip()
        out.append(None if s.lower() in _MISSING_TEXT else s)
    return out


def _ids(values) -> list[str]:
    """Dataset song ids as canonical strings ('2', not '2.0' or ' 2')."""
    out = []
    for v in values:
        s = str(v).strip()
        try:
            f = float(s)
            s = str(int(f)) if f.is_integer() else s
        except ValueError:
            pass
        out.append(s)
    return out


def _numeric(series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _id_order(ids) -> list[str]:
    """Numeric ids in numeric order (files list them in string order), others after."""
    return sorted(set(ids), key=lambda s: (0, int(s), s) if s.isdigit() else (1, 0, s))


def _require_root(root, name: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"The {name} folder '{root}' does not exist.")
    return root


def _first_existing(root: Path, *relative) -> Path | None:
    for rel in relative:
        path = root / rel
        if path.exists():
            return path
    return None


def _audio_files(root: Path, folders) -> dict[str, str]:
    """``{stem: path}`` of the audio files in the first folders that exist."""
    found: dict[str, str] = {}
    for folder in folders:
        path = root / folder
        if not path.is_dir():
            continue
        for file in sorted(path.iterdir()):
            if file.suffix.lower() in AUDIO_EXTENSIONS and file.is_file():
                found.setdefault(file.stem.strip(), str(file.resolve()))
    return found


def _static_frame(ids, valence, arousal, valence_std=None, arousal_std=None) -> pd.DataFrame:
    n = len(ids)
    nan = np.full(n, np.nan)
    return pd.DataFrame({
        "dataset_id": list(ids),
        "valence": nan if valence is None else np.asarray(valence, dtype=float),
        "arousal": nan if arousal is None else np.asarray(arousal, dtype=float),
        "valence_std": nan if valence_std is None else np.asarray(valence_std, dtype=float),
        "arousal_std": nan if arousal_std is None else np.asarray(arousal_std, dtype=float),
    })


def _combine_static(*frames: pd.DataFrame) -> pd.DataFrame:
    """Merge static tables; for each id and column the first frame with a value wins."""
    frames = [f.drop_duplicates("dataset_id").set_index("dataset_id") for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(STATIC_COLUMNS))
    out = frames[0]
    for frame in frames[1:]:
        out = out.combine_first(frame)
    out = out.dropna(how="all", subset=["valence", "arousal"])
    out = out.loc[_id_order(out.index)].reset_index()
    return out[list(STATIC_COLUMNS)]


def _songs_frame(ids, meta: pd.DataFrame | None, audio: dict[str, str]) -> pd.DataFrame:
    """One row per id; metadata (indexed by dataset_id) and audio where known."""
    order = _id_order(ids)
    songs = pd.DataFrame({"dataset_id": order})
    for col in ("title", "artist", "genre"):
        lookup = meta[col].to_dict() if meta is not None and col in meta.columns else {}
        songs[col] = pd.Series(_text([lookup.get(i) for i in order]), dtype=object)
    songs["audio_path"] = pd.Series([audio.get(i) for i in order], dtype=object)
    return songs[list(SONG_COLUMNS)]


def _curve_table(path: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """A wide dynamic-annotation CSV: times (s) from ``sample_<ms>ms`` headers and values."""
    df = read_csv_stripped(path)
    id_col = _column(df, "song_id", "musicId", required=path.name)
    times, cols = [], []
    for col in df.columns:
        match = re.fullmatch(r"sample_(\d+(?:\.\d+)?)ms", col.strip())
        if match:
            times.append(float(match.group(1)) / 1000.0)
            cols.append(col)
    if not cols:
        raise DatasetError(f"'{path.name}' has no sample_<ms>ms columns.")
    values = df[cols].apply(pd.to_numeric, errors="coerce")
    values.index = _ids(id_col)
    return np.asarray(times), values


def _pair_curves(times, valence: pd.DataFrame, arousal: pd.DataFrame) -> dict:
    """Curves of songs present in both tables, cut to their common non-missing prefix."""
    hop = float(np.median(np.diff(times))) if len(times) > 1 else EMOMUSIC_CURVE_HOP
    v_rows = {song: i for i, song in reversed(list(enumerate(valence.index)))}
    a_rows = {song: i for i, song in reversed(list(enumerate(arousal.index)))}
    v_values, a_values = valence.to_numpy(dtype=float), arousal.to_numpy(dtype=float)
    curves = {}
    for song in _id_order(set(v_rows) & set(a_rows)):
        v, a = v_values[v_rows[song]], a_values[a_rows[song]]
        valid = ~(np.isnan(v) | np.isnan(a))
        n = int(np.argmin(valid)) if not valid.all() else len(valid)
        if n > 0:
            curves[song] = (float(times[0]), hop, v[:n], a[:n])
    return curves


# --------------------------------------------------------------------------- emoMusic

def read_emomusic(root) -> DatasetTables:
    """Read the emoMusic ("1000 songs", MediaEval 2013) layout.

    Parameters
    ----------
    root : str or Path
        Folder holding ``annotations/`` (and optionally ``clips_45seconds_mp3/``).

    Returns
    -------
    DatasetTables
        Static labels from ``static_annotations.csv`` (emoMusic's own columns are
        correct: ``mean_arousal`` is arousal), 61-point curves from 15.0 s (hop 0.5 s).
    """
    root = _require_root(root, "emoMusic")
    ann = _first_existing(root, "annotations", ".")
    static_path = _first_existing(ann, "static_annotations.csv")
    if static_path is None:
        raise DatasetError(f"'{root}' does not look like emoMusic: annotations/static_annotations.csv "
                           "is missing.")
    df = read_csv_stripped(static_path)
    ids = _ids(_column(df, "song_id", required=static_path.name))
    static = _static_frame(
        ids,
        rating_to_unit(_numeric(_column(df, "mean_valence", required=static_path.name))),
        rating_to_unit(_numeric(_column(df, "mean_arousal", required=static_path.name))),
        _numeric(_column(df, "std_valence", required=static_path.name)) / 4.0,
        _numeric(_column(df, "std_arousal", required=static_path.name)) / 4.0,
    )
    static = _combine_static(static)

    curves = {}
    v_path, a_path = ann / "valence_cont_average.csv", ann / "arousal_cont_average.csv"
    if v_path.exists() and a_path.exists():
        times, valence = _curve_table(v_path)
        _, arousal = _curve_table(a_path)
        curves = _pair_curves(times, valence, arousal)

    meta = None
    info_path = ann / "songs_info.csv"
    if info_path.exists():
        info = read_csv_stripped(info_path)
        meta = pd.DataFrame({
            "title": _text(_column(info, "Song title", "title")),
            "artist": _text(_column(info, "Artist")),
            "genre": _text(_column(info, "Genre")),
        }, index=_ids(_column(info, "song_id", required=info_path.name)))
        meta = meta[~meta.index.duplicated()]
    audio = _audio_files(root, AUDIO_FOLDERS["emomusic"])
    all_ids = set(static.dataset_id) | set(curves) | (set(meta.index) if meta is not None else set())
    all_ids |= set(audio)
    return DatasetTables("emomusic", _songs_frame(all_ids, meta, audio), static, curves)


# --------------------------------------------------------------------------- DEAM

def read_deam(root) -> DatasetTables:
    """Read the DEAM layout, with valence/arousal swapped back for ids 2–1000.

    Parameters
    ----------
    root : str or Path
        Folder holding ``annotations/`` (static files anywhere below it), and optionally
        ``metadata/``, ``features/``, ``MEMD_audio/``.

    Returns
    -------
    DatasetTables
        Static labels from ``static_annotations_averaged_songs_*.csv`` (falling back on
        the labels of the feature table for songs missing there), curves from the dynamic
        ``arousal.csv``/``valence.csv`` when present, ``features`` from the feature table.
    """
    root = _require_root(root, "DEAM")
    static_files = sorted(root.rglob("static_annotations_averaged_songs*.csv"))
    feature_path = _deam_feature_path(root)
    if not static_files and feature_path is None:
        raise DatasetError(f"'{root}' does not look like DEAM: no "
                           "static_annotations_averaged_songs_*.csv and no features/ table.")
    frames = [_deam_static(path) for path in static_files]

    features = None
    if feature_path is not None:
        table, labels = load_deam_feature_table(feature_path)
        features = table.copy()
        features.index = _ids(table.index)
        features.index.name = "dataset_id"
        if len(labels.columns):
            frames.append(_deam_unit_labels(_ids(labels.index), labels))
    static = _combine_static(*frames)

    curves = _deam_curves(root)
    meta = _deam_metadata(root)
    audio = _audio_files(root, AUDIO_FOLDERS["deam"])
    all_ids = set(static.dataset_id) | set(curves) | set(audio)
    if features is not None:
        all_ids |= set(features.index)
    return DatasetTables("deam", _songs_frame(all_ids, meta, audio), static, curves, features)


def _deam_static(path: Path) -> pd.DataFrame:
    df = read_csv_stripped(path)
    renamed = pd.DataFrame({"song_id": _ids(_column(df, "song_id", required=path.name))})
    for col in DEAM_LABEL_COLUMNS:
        renamed[col] = _numeric(_column(df, col, required=path.name))
    fixed = fix_deam_swap(renamed)
    return _deam_unit_labels(list(fixed.song_id), fixed)


def _deam_unit_labels(ids, labels: pd.DataFrame) -> pd.DataFrame:
    """DEAM 1–9 labels (swap already corrected) as a static table on [-1, 1]."""
    return _static_frame(
        ids,
        rating_to_unit(labels["valence_mean"].to_numpy(dtype=float)),
        rating_to_unit(labels["arousal_mean"].to_numpy(dtype=float)),
        labels["valence_std"].to_numpy(dtype=float) / 4.0,
        labels["arousal_std"].to_numpy(dtype=float) / 4.0,
    )


def _deam_feature_path(root: Path) -> Path | None:
    """``features/deam_features_74.csv``, else another song-level table in DEAM layout.

    DEAM's own per-song frame files (``features/<id>.csv``) are not song-level tables
    and are skipped.
    """
    folder = root / "features"
    if not folder.is_dir():
        return None
    preferred = folder / "deam_features_74.csv"
    if preferred.exists():
        return preferred
    for path in sorted(folder.glob("*.csv")):
        if path.stem.isdigit():
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            header = [_key(c) for c in f.readline().split(",")]
        if ("trackid" in header or "songid" in header) and any(h.endswith("amean") for h in header):
            return path
    return None


def _deam_curves(root: Path) -> dict:
    for a_path in sorted((root / "annotations").rglob("arousal.csv")) if (root / "annotations").is_dir() else []:
        v_path = a_path.with_name("valence.csv")
        if v_path.exists():
            times, arousal = _curve_table(a_path)
            v_times, valence = _curve_table(v_path)
            if len(v_times) != len(times) or not np.allclose(v_times, times):
                raise DatasetError(f"'{a_path.parent}': arousal.csv and valence.csv have different times.")
            return _pair_curves(times, valence, arousal)
    return {}


def _deam_metadata(root: Path) -> pd.DataFrame | None:
    folder = root / "metadata"
    if not folder.is_dir():
        return None
    parts = []
    for path in sorted(folder.glob("*.csv")):
        wanted = {"songid", "title", "artist", "genre"}
        df = read_csv_stripped(path, dtype=str, keep_default_na=False,
                               usecols=lambda c: _key(c) in wanted)
        song_ids = _column(df, "song_id")
        if song_ids is None:
            continue
        part = pd.DataFrame(index=_ids(song_ids))
        for col in ("title", "artist", "genre"):
            values = _column(df, col)
            part[col] = _text(values) if values is not None else None
        parts.append(part)
    if not parts:
        return None
    meta = pd.concat(parts)
    return meta[~meta.index.duplicated()]


# --------------------------------------------------------------------------- PMEmo

def read_pmemo(root) -> DatasetTables:
    """Read PMEmo (2019 release, 2018 CSVs and/or the authors' per-song JSON documents).

    Parameters
    ----------
    root : str or Path
        Folder holding ``annotations/`` and/or ``annotations_2018/``, ``samples_docs/``,
        ``chorus/``, ``metadata.csv``.

    Returns
    -------
    DatasetTables
        Values on [-1, 1] mapped from PMEmo's [0, 1] by ``2 x - 1``. Where several
        sources give a static value the 2019 CSV wins, then the JSON, then the 2018 CSV.
    """
    root = _require_root(root, "PMEmo")
    docs = _pmemo_documents(root)
    frames = [_pmemo_static_2019(root), _pmemo_static_json(docs), _pmemo_static_2018(root)]
    static = _combine_static(*frames)
    curves = {**_pmemo_curves_2019(root)}
    for doc_id, doc in docs.items():
        dyn = doc.get("dynamic") or {}
        if doc_id not in curves and len(dyn.get("t", [])) > 1:
            t = np.asarray(dyn["t"], dtype=float)
            curves[doc_id] = (float(t[0]), float(np.median(np.diff(t))),
                              _unit01(dyn["v"]), _unit01(dyn["a"]))
    meta = _pmemo_metadata(root, docs)
    if not len(static) and not curves:
        raise DatasetError(f"'{root}' does not look like PMEmo: no static annotations, "
                           "no annotations_2018/A_static.csv and no per-song JSON documents.")
    audio = _audio_files(root, AUDIO_FOLDERS["pmemo"])
    all_ids = set(static.dataset_id) | set(curves) | set(docs)
    if meta is not None:
        all_ids |= set(meta.index)
    all_ids |= {i for i in audio if i.isdigit()}
    return DatasetTables("pmemo", _songs_frame(all_ids, meta, audio), static, curves)


def _unit01(x):
    """PMEmo's [0, 1] scale → [-1, 1]."""
    return 2.0 * np.asarray(x, dtype=float) - 1.0


def _pmemo_documents(root: Path) -> dict[str, dict]:
    docs = {}
    for path in sorted(root.rglob("*.json")):
        if not path.stem.isdigit():
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"Could not read the PMEmo document '{path}': {exc}") from exc
        if isinstance(doc, dict):
            docs[str(doc.get("id", path.stem)).strip()] = doc
    return docs


def _pmemo_static_json(docs: dict) -> pd.DataFrame:
    ids = list(docs)
    get = lambda key: [docs[i].get(key, np.nan) for i in ids]  # noqa: E731
    return _static_frame(ids, _unit01(get("valence_mean")), _unit01(get("arousal_mean")))


def _pmemo_static_2019(root: Path) -> pd.DataFrame:
    path = _first_existing(root, "annotations/static_annotations.csv", "static_annotations.csv")
    if path is None:
        return _static_frame([], None, None)
    df = read_csv_stripped(path)
    ids = _ids(_column(df, "musicId", "song_id", required=path.name))
    std = None
    std_path = path.with_name("static_annotations_std.csv")
    if std_path.exists():
        std = read_csv_stripped(std_path)
        std.index = _ids(_column(std, "musicId", "song_id", required=std_path.name))
        std = std[~std.index.duplicated()].reindex(ids)
    pick = lambda frame, *names: (None if frame is None or _column(frame, *names) is None  # noqa: E731
                                  else _numeric(_column(frame, *names)))
    v_std, a_std = pick(std, "Valence(std)"), pick(std, "Arousal(std)")
    return _static_frame(
        ids, _unit01(_numeric(_column(df, "Valence(mean)", required=path.name))),
        _unit01(_numeric(_column(df, "Arousal(mean)", required=path.name))),
        None if v_std is None else 2.0 * v_std, None if a_std is None else 2.0 * a_std)


def _pmemo_static_2018(root: Path) -> pd.DataFrame:
    """``A_static.csv`` / ``V_static.csv`` (musicId, mean_X, std_X), either or both."""
    folder = _first_existing(root, "annotations_2018", "annotations")
    parts = {}
    for dim in ("A", "V"):
        path = None if folder is None else _first_existing(folder, f"{dim}_static.csv")
        if path is not None:
            df = read_csv_stripped(path)
            part = pd.DataFrame({
                "mean": _unit01(_numeric(_column(df, f"mean_{dim}", required=path.name))),
                "std": 2.0 * _numeric(_column(df, f"std_{dim}", required=path.name)),
            }, index=_ids(_column(df, "musicId", "song_id", required=path.name)))
            parts[dim] = part[~part.index.duplicated()]
    if not parts:
        return _static_frame([], None, None)
    ids = _id_order(set().union(*(p.index for p in parts.values())))
    col = lambda dim, c: parts[dim][c].reindex(ids).to_numpy() if dim in parts else None  # noqa: E731
    return _static_frame(ids, col("V", "mean"), col("A", "mean"), col("V", "std"), col("A", "std"))


def _pmemo_curves_2019(root: Path) -> dict:
    path = _first_existing(root, "annotations/dynamic_annotations.csv", "dynamic_annotations.csv")
    if path is None:
        return {}
    df = read_csv_stripped(path)
    ids = _ids(_column(df, "musicId", "song_id", required=path.name))
    frame = pd.DataFrame({
        "id": ids,
        "t": _numeric(_column(df, "frameTime", required=path.name)),
        "a": _numeric(_column(df, "Arousal(mean)", required=path.name)),
        "v": _numeric(_column(df, "Valence(mean)", required=path.name)),
    }).dropna()
    curves = {}
    for song, rows in frame.sort_values(["id", "t"]).groupby("id", sort=False):
        if len(rows) > 1:
            t = rows.t.to_numpy()
            curves[song] = (float(t[0]), float(np.median(np.diff(t))), _unit01(rows.v), _unit01(rows.a))
    return curves


def _pmemo_metadata(root: Path, docs: dict) -> pd.DataFrame | None:
    """Titles and artists; the 2018 file has unquoted commas in titles (4–6 fields a row)."""
    rows = {}
    path = _first_existing(root, "metadata.csv", "annotations_2018/metadata.csv",
                           "annotations/metadata.csv")
    if path is not None:
        rows = _ragged_metadata(path)
    for doc_id, doc in docs.items():
        entry = rows.setdefault(doc_id, {})
        for col in ("title", "artist"):
            entry.setdefault(col, None)
            entry[col] = entry[col] or _text([doc.get(col)])[0]
    if not rows:
        return None
    meta = pd.DataFrame.from_dict(rows, orient="index")
    meta["genre"] = None
    return meta


def _ragged_metadata(path: Path) -> dict[str, dict]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        records = list(csv.reader(f))
    if not records:
        return {}
    header = [_key(h) for h in records[0]]
    id_pos = next((header.index(k) for k in ("musicid", "songid") if k in header), None)
    if id_pos is None:
        raise DatasetError(f"'{path.name}' has no song_id or musicId column.")
    positions = {col: next((header.index(k) for k in keys if k in header), None)
                 for col, keys in (("title", ("songtitle", "title")), ("artist", ("artist",)))}
    rows = {}
    for record in records[1:]:
        if len(record) <= id_pos or not record[id_pos].strip():
            continue
        if len(record) > len(header):  # unquoted commas: the overflow belongs to the last column
            record = record[:len(header) - 1] + [",".join(record[len(header) - 1:])]
        entry = {col: (_text([record[pos]])[0] if pos is not None and pos < len(record) else None)
                 for col, pos in positions.items()}
        rows.setdefault(_ids([record[id_pos]])[0], entry)
    return rows


READERS = {"emomusic": read_emomusic, "deam": read_deam, "pmemo": read_pmemo}


def read_dataset(name: str, root) -> DatasetTables:
    """Read dataset ``name`` (``emomusic``, ``deam`` or ``pmemo``) from its folder."""
    if name not in READERS:
        raise DatasetError(f"Unknown dataset {name!r}; EmoLab reads {', '.join(DATASETS)}.")
    return READERS[name](root)
