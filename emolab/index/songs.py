"""Songs: adding, finding and listing them.

``source_path`` is stored relative to the index file's folder when the audio lies under
it (uploads, a demo folder beside the index), so moving the folder with its index keeps
playback working; other paths stay absolute. Readers get absolute paths back.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from emolab.exceptions import ParameterError
from emolab.index.emotion import newest_first

if TYPE_CHECKING:  # pandas is imported where a frame is made (ingest never needs it)
    import pandas as pd

SONG_COLUMNS = (
    "title", "artist", "source_path", "content_hash", "duration", "sample_rate",
    "origin", "dataset", "dataset_id", "has_audio", "genre",
)
ORIGINS = ("uploaded", "ingested", "dataset", "demo")


def add_song(con, **fields) -> int:
    """Insert a song and return its ``song_id``. ``con`` is a cursor inside a transaction."""
    unknown = set(fields) - set(SONG_COLUMNS)
    if unknown:
        raise ParameterError(f"A song has no field {', '.join(sorted(unknown))}; "
                             f"its fields are {', '.join(SONG_COLUMNS)}.")
    fields = _relative_paths(con, fields)
    names = list(fields)
    placeholders = ", ".join("?" for _ in names)
    row = con.execute(
        f"INSERT INTO songs ({', '.join(names)}) VALUES ({placeholders}) RETURNING song_id",
        [fields[n] for n in names],
    ).fetchone()
    return int(row[0])


def update_song(con, song_id: int, **fields) -> None:
    """Set some columns of one song."""
    unknown = set(fields) - set(SONG_COLUMNS)
    if unknown:
        raise ParameterError(f"A song has no field {', '.join(sorted(unknown))}; "
                             f"its fields are {', '.join(SONG_COLUMNS)}.")
    if not fields:
        return
    fields = _relative_paths(con, fields)
    assignments = ", ".join(f"{n} = ?" for n in fields)
    con.execute(f"UPDATE songs SET {assignments} WHERE song_id = ?", [*fields.values(), song_id])


def index_folder(con) -> Path | None:
    """The folder of the index file ``con`` works on (None for an in-memory index)."""
    row = con.execute("SELECT path FROM duckdb_databases() "
                      "WHERE database_name = current_database()").fetchone()
    return Path(row[0]).resolve().parent if row and row[0] else None


def _relative_paths(con, fields: dict) -> dict:
    path = fields.get("source_path")
    if not isinstance(path, str) or not Path(path).is_absolute():
        return fields
    folder = index_folder(con)
    if folder is None:
        return fields
    try:
        relative = Path(path).resolve().relative_to(folder)
    except ValueError:  # not under the index's folder: keep it absolute
        return fields
    return {**fields, "source_path": relative.as_posix()}


def absolute_source_path(con, stored) -> str | None:
    """The absolute path of a stored ``source_path`` (relative ones are under the index's folder)."""
    return _absolute(stored, index_folder(con))


def _absolute(stored, folder: Path | None) -> str | None:
    if not isinstance(stored, str) or not stored:
        return None
    if Path(stored).is_absolute() or folder is None:
        return stored
    return str(folder / stored)


def song_id_by_hash(con, content_hash: str) -> int | None:
    row = con.execute("SELECT song_id FROM songs WHERE content_hash = ?", [content_hash]).fetchone()
    return None if row is None else int(row[0])


def content_hashes(con) -> list[str]:
    """The content hash of every song (how a distributed ingest tells known files)."""
    return [r[0] for r in con.execute(
        "SELECT content_hash FROM songs WHERE content_hash IS NOT NULL").fetchall()]


def song_id_by_dataset(con, dataset: str, dataset_id) -> int | None:
    row = con.execute(
        "SELECT song_id FROM songs WHERE dataset = ? AND dataset_id = ?", [dataset, str(dataset_id)]
    ).fetchone()
    return None if row is None else int(row[0])


def dataset_song_ids(con, dataset: str) -> dict[str, int]:
    """``{dataset_id: song_id}`` for every song of one dataset."""
    rows = con.execute("SELECT dataset_id, song_id FROM songs WHERE dataset = ?", [dataset]).fetchall()
    return {str(d): int(s) for d, s in rows}


def get_song(con, song_id: int) -> dict | None:
    df = con.execute("SELECT * FROM songs WHERE song_id = ?", [song_id]).df()
    if df.empty:
        return None
    song = df.iloc[0].to_dict()
    song["source_path"] = absolute_source_path(con, song["source_path"])
    return song


def song_table(con) -> pd.DataFrame:
    """One row per song with its human and predicted static emotion on [-1, 1].

    Human values average the song's static annotations; predicted values are the newest
    model's (:func:`emolab.index.emotion.newest_first`); ``pred_model_version`` is the model
    that made it. ``source_path`` is absolute.
    """
    table = con.execute(
        f"""
        WITH human AS (
            SELECT song_id, avg(valence) AS human_valence, avg(arousal) AS human_arousal,
                   count(*) AS n_annotations, list(DISTINCT annotator) AS annotators
            FROM annotations WHERE kind = 'static' GROUP BY song_id
        ), pred AS (
            SELECT song_id, valence AS pred_valence, arousal AS pred_arousal,
                   valence_std AS pred_valence_std, arousal_std AS pred_arousal_std,
                   model_version AS pred_model_version
            FROM static_predictions
            QUALIFY row_number() OVER (PARTITION BY song_id ORDER BY {newest_first()}) = 1
        )
        SELECT s.song_id, s.title, s.artist, s.origin, s.dataset, s.dataset_id, s.duration,
               s.has_audio, s.genre, s.source_path,
               h.human_valence, h.human_arousal, coalesce(h.n_annotations, 0) AS n_annotations,
               h.annotators, p.pred_valence, p.pred_arousal, p.pred_valence_std, p.pred_arousal_std,
               p.pred_model_version
        FROM songs s LEFT JOIN human h USING (song_id) LEFT JOIN pred p USING (song_id)
        ORDER BY s.song_id
        """
    ).df()
    if len(table):
        folder = index_folder(con)
        table["source_path"] = [_absolute(p, folder) for p in table["source_path"]]
    return table


def stats(con) -> dict:
    """Counts shown on the Library page and by ``emolab stats --json``."""
    row = con.execute(
        """
        SELECT
          (SELECT count(*) FROM songs),
          (SELECT count(*) FROM songs WHERE has_audio),
          (SELECT count(DISTINCT song_id) FROM annotations WHERE kind = 'static'),
          (SELECT count(DISTINCT song_id) FROM curves WHERE source = 'human'),
          (SELECT count(DISTINCT song_id) FROM static_predictions),
          (SELECT count(*) FROM annotations)
        """
    ).fetchone()
    keys = ("songs", "with_audio", "with_human_static", "with_human_curves",
            "with_predictions", "annotations")
    return {k: int(v) for k, v in zip(keys, row)}
