"""What every dataset reader shares: the :class:`DatasetTables` shape and CSV helpers.

Each dataset has its own module (:mod:`emolab.datasets.deam`, ``emomusic``, ``pmemo``,
``fourq``) with one ``read_<name>(root)`` function that returns a :class:`DatasetTables`
with valence and arousal on [-1, 1].
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emolab.exceptions import DatasetError

#: Datasets that share songs under the same id: DEAM ids 2–1000 *are* the emoMusic songs.
SAME_SONG_IDS = {frozenset({"deam", "emomusic"}): (2, 1000)}

AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg")
SONG_COLUMNS = ("dataset_id", "title", "artist", "genre", "audio_path")
STATIC_COLUMNS = ("dataset_id", "valence", "arousal", "valence_std", "arousal_std")
DEFAULT_CURVE_HOP = 0.5  # seconds, when a curve table has a single time column
_MISSING_TEXT = {"", "nan", "none", "n/a", "na", "null"}


@dataclass
class DatasetTables:
    """One dataset read from its own layout, labels on [-1, 1].

    Attributes
    ----------
    name : str
        ``emomusic``, ``deam``, ``pmemo`` or ``4q``.
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
    labels : str
        ``ratings`` (continuous values on [-1, 1]) or ``signs`` (only the signs of valence and
        arousal, ±1, as 4Q's quadrants give them: not ratings, never average them as such).
    """

    name: str
    songs: pd.DataFrame
    static: pd.DataFrame
    curves: dict = field(default_factory=dict)
    features: pd.DataFrame | None = None
    labels: str = "ratings"

    def summary(self) -> dict:
        """Counts of what was read."""
        return {
            "songs": len(self.songs),
            "with_audio": int(self.songs["audio_path"].notna().sum()),
            "static": len(self.static),
            "curves": len(self.curves),
            "features": 0 if self.features is None else len(self.features),
        }


# --------------------------------------------------------------------------- songs shared

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
    hop = float(np.median(np.diff(times))) if len(times) > 1 else DEFAULT_CURVE_HOP
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
