"""Versioned schema of the song index. Each migration runs once; the pending ones run in one transaction.

Valence and arousal are stored on [-1, 1]; curves are arrays on a regular grid
(``t0`` + ``hop`` * i seconds).
"""
from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the first schema
    [
        "CREATE SEQUENCE IF NOT EXISTS song_ids START 1",
        """CREATE TABLE songs (
            song_id INTEGER PRIMARY KEY DEFAULT nextval('song_ids'),
            title VARCHAR,
            artist VARCHAR,
            source_path VARCHAR,
            content_hash VARCHAR UNIQUE,
            duration DOUBLE,
            sample_rate INTEGER,
            origin VARCHAR NOT NULL,          -- uploaded | ingested | dataset | demo
            dataset VARCHAR,                  -- e.g. emomusic, deam, pmemo
            dataset_id VARCHAR,               -- the dataset's own song id
            has_audio BOOLEAN NOT NULL DEFAULT FALSE,
            genre VARCHAR,
            added_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            UNIQUE (dataset, dataset_id)
        )""",
        """CREATE TABLE feature_families (
            family VARCHAR PRIMARY KEY,
            columns VARCHAR[] NOT NULL
        )""",
        """CREATE TABLE features (
            song_id INTEGER NOT NULL,
            family VARCHAR NOT NULL,          -- deam74 | opensmile260 | librosa
            origin VARCHAR NOT NULL,          -- computed | dataset
            vector FLOAT[] NOT NULL,
            PRIMARY KEY (song_id, family, origin)
        )""",
        """CREATE TABLE frame_features (
            song_id INTEGER NOT NULL,
            family VARCHAR NOT NULL,          -- logmel | opensmile260
            t0 DOUBLE NOT NULL,
            hop DOUBLE NOT NULL,
            n_dims INTEGER NOT NULL,
            frames FLOAT[] NOT NULL,          -- row-major (n_frames * n_dims)
            PRIMARY KEY (song_id, family)
        )""",
        """CREATE TABLE static_predictions (
            song_id INTEGER NOT NULL,
            model_version VARCHAR NOT NULL,
            valence DOUBLE NOT NULL,
            arousal DOUBLE NOT NULL,
            valence_std DOUBLE,
            arousal_std DOUBLE,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (song_id, model_version)
        )""",
        """CREATE TABLE curves (
            song_id INTEGER NOT NULL,
            source VARCHAR NOT NULL,          -- human | predicted
            model_version VARCHAR NOT NULL,   -- dataset name for human curves
            t0 DOUBLE NOT NULL,
            hop DOUBLE NOT NULL,
            valence FLOAT[] NOT NULL,
            arousal FLOAT[] NOT NULL,
            PRIMARY KEY (song_id, source, model_version)
        )""",
        "CREATE SEQUENCE IF NOT EXISTS annotation_ids START 1",
        """CREATE TABLE annotations (
            annotation_id INTEGER PRIMARY KEY DEFAULT nextval('annotation_ids'),
            song_id INTEGER NOT NULL,
            annotator VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,            -- static | segment
            t0 DOUBLE,
            t1 DOUBLE,
            valence DOUBLE,
            arousal DOUBLE,
            valence_std DOUBLE,
            arousal_std DOUBLE,
            tags VARCHAR[],
            note VARCHAR,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            revision INTEGER NOT NULL DEFAULT 1
        )""",
        "CREATE SEQUENCE IF NOT EXISTS history_ids START 1",
        """CREATE TABLE annotation_history (
            history_id INTEGER PRIMARY KEY DEFAULT nextval('history_ids'),
            annotation_id INTEGER NOT NULL,
            song_id INTEGER NOT NULL,
            action VARCHAR NOT NULL,          -- insert | update | delete
            who VARCHAR NOT NULL,
            changed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            old JSON,
            new JSON
        )""",
        """CREATE TABLE embeddings (
            song_id INTEGER NOT NULL,
            model_version VARCHAR NOT NULL,
            vector FLOAT[] NOT NULL,
            PRIMARY KEY (song_id, model_version)
        )""",
        """CREATE TABLE projections (
            projection_key VARCHAR NOT NULL,
            song_id INTEGER NOT NULL,
            x DOUBLE NOT NULL,
            y DOUBLE NOT NULL,
            PRIMARY KEY (projection_key, song_id)
        )""",
        """CREATE TABLE projection_meta (
            projection_key VARCHAR PRIMARY KEY,
            params JSON,
            score JSON,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        )""",
        "CREATE INDEX annotations_song ON annotations (song_id)",
    ],
    # 2: curves remember when they were stored, so "the newest model" is the one stored last
    # (see emolab.index.emotion.newest_first); curves stored before this get the migration's time
    [
        "ALTER TABLE curves ADD COLUMN created_at TIMESTAMP DEFAULT current_timestamp",
    ],
    # 3: the uncertainty of predicted curves (NULL for human curves and older predictions)
    [
        "ALTER TABLE curves ADD COLUMN valence_std FLOAT[]",
        "ALTER TABLE curves ADD COLUMN arousal_std FLOAT[]",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(con) -> int:
    """Bring a connection's database to :data:`SCHEMA_VERSION`; return the version it had."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    # fetchall, not fetchone: a result read only partly keeps its transaction open on
    # this connection, and an open transaction stops DuckDB from ever checkpointing
    # (the write-ahead log would grow for as long as the app runs).
    current = con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] or 0
    if current >= SCHEMA_VERSION:
        return current
    # All pending migrations in one transaction: a new or upgraded index is either at
    # SCHEMA_VERSION or exactly as it was (a kill between two migrations cannot leave it
    # half-way, e.g. a new index with the first tables but not the later columns).
    con.execute("BEGIN TRANSACTION")
    try:
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?)", [version])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return current
