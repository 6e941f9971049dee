"""The song index: a DuckDB file. This package holds every SQL statement of EmoLab.

Submodules take a DuckDB cursor (``index.con``) so several calls can share one
transaction::

    idx = open_index("songs.duckdb")
    with idx.transaction() as con:
        song_id = songs.add_song(con, title="Prelude", origin="ingested")
        vectors.put_features(con, song_id, "librosa", x)
"""
from emolab.index import annotations, backup, emotion, integrity, query_guard, songs, vectors
from emolab.index.connection import Index, open_for_reading, open_index
from emolab.index.schema import SCHEMA_VERSION

__all__ = ["Index", "open_for_reading", "open_index", "SCHEMA_VERSION", "annotations", "backup", "emotion",
           "integrity", "query_guard", "songs", "vectors"]
