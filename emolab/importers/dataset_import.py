"""Dataset imports: a dataset read from its own layout, stored in the index.

:func:`import_dataset` reads DEAM, emoMusic or PMEmo with :mod:`emolab.datasets` and stores,
in one transaction per dataset (all or nothing):

* one song per dataset song (``origin='dataset'``, ``dataset``, ``dataset_id``, title,
  artist, genre, ``source_path``/``has_audio`` when the dataset folder has the audio);
* its static human label as an annotation whose annotator is the dataset's name
  (``deam``, ``emomusic``, ``pmemo``), with ``valence_std``/``arousal_std``;
* its human curves (``source='human'``, ``model_version`` = the dataset's name);
* DEAM-layout song-level feature rows (family ``deam74``, ``origin='dataset'``).

**Songs shared by DEAM and emoMusic** (ids 2–1000 are the same songs under the same ids)
are stored once. The first dataset imported owns the song row (its ``dataset`` and
``dataset_id``); the second one finds it, fills fields the song lacks (title, genre, audio)
and adds its own labels under its own annotator name. So the song ``emomusic``/``5``
carries both an ``emomusic`` and a ``deam`` static annotation, and as the ids are the same
in both datasets, ``dataset_id`` traces the song back to either. Importing a dataset twice
changes nothing: songs are matched by (dataset, id), unchanged labels are not rewritten.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from emolab.datasets import DatasetTables, read_dataset, same_song_datasets
from emolab.exceptions import DatasetError, ParameterError
from emolab.importers._common import _partners, _same_values
from emolab.index import annotations, bulk, vectors


def import_dataset(index, name: str, root, *, progress=None) -> dict:
    """Import one dataset's songs, static labels, curves and feature rows into the index.

    Parameters
    ----------
    index : emolab.index.Index
    name : {'emomusic', 'deam', 'pmemo'}
    root : str or Path
        The dataset's folder in its own layout (see :mod:`emolab.datasets`).
    progress : callable, optional
        Called as ``progress(fraction, message)`` as the import advances.

    Returns
    -------
    dict
        ``songs`` (in the dataset), ``songs_added``, ``songs_shared`` (stored once with
        another dataset's song), ``with_audio``, ``static_added``, ``static_updated``,
        ``curves``, ``features``.
    """
    tell = progress or (lambda fraction, message: None)
    tell(0.0, f"reading {name} from {root}")
    tables = read_dataset(name, root)
    tell(0.4, f"writing {len(tables.songs)} songs")
    with index.transaction() as con:
        song_ids, counts = _store_songs(con, tables)
        tell(0.6, "writing static labels")
        counts.update(_store_static(con, tables, song_ids))
        tell(0.8, "writing curves and features")
        counts["curves"] = _store_curves(con, tables, song_ids)
        counts["features"] = _store_features(con, tables, song_ids)
    tell(1.0, "done")
    return counts


def _store_songs(con, tables: DatasetTables) -> tuple[dict[str, int], dict]:
    """Add missing songs, complete existing ones; return ``{dataset_id: song_id}``."""
    name, songs = tables.name, tables.songs
    known = bulk.dataset_song_map(con, [name, *_partners(name)])
    song_ids, new_rows, shared = {}, [], 0
    for row in songs.itertuples(index=False):
        song_id = known.get((name, row.dataset_id))
        if song_id is None:
            for other in same_song_datasets(name, row.dataset_id):
                song_id = known.get((other, row.dataset_id))
                if song_id is not None:
                    shared += 1
                    break
        if song_id is None:
            new_rows.append(row)
        else:
            song_ids[row.dataset_id] = song_id
    if new_rows:
        new = pd.DataFrame(new_rows, columns=songs.columns)
        bulk.insert_songs(con, pd.DataFrame({
            "origin": "dataset", "dataset": name, "dataset_id": new.dataset_id,
            "title": new.title, "artist": new.artist, "genre": new.genre,
            "source_path": new.audio_path, "has_audio": new.audio_path.notna(),
        }))
        own = bulk.dataset_song_map(con, [name])
        song_ids.update({row.dataset_id: own[(name, row.dataset_id)] for row in new_rows})
    existing = songs[~songs.dataset_id.isin([r.dataset_id for r in new_rows])]
    bulk.fill_song_gaps(con, pd.DataFrame({
        "song_id": [song_ids[i] for i in existing.dataset_id],
        "title": list(existing.title), "artist": list(existing.artist),
        "genre": list(existing.genre), "source_path": list(existing.audio_path),
        "has_audio": list(existing.audio_path.notna()),
    }, dtype=object))
    counts = {"songs": len(songs), "songs_added": len(new_rows), "songs_shared": shared,
              "with_audio": int(songs.audio_path.notna().sum())}
    return song_ids, counts


def _store_static(con, tables: DatasetTables, song_ids: dict[str, int]) -> dict:
    """Static labels as annotations by ``tables.name``; unchanged ones are left alone."""
    annotator = tables.name
    current = bulk.static_annotations_of(con, annotator).set_index("song_id")
    inserts, updates = [], []
    for row in tables.static.itertuples(index=False):
        try:
            clean = annotations.validate({
                "song_id": song_ids[row.dataset_id], "annotator": annotator, "kind": "static",
                "valence": row.valence, "arousal": row.arousal,
                "valence_std": _finite_or_none(row.valence_std),
                "arousal_std": _finite_or_none(row.arousal_std),
            })
        except ParameterError as exc:
            raise DatasetError(f"{annotator} song {row.dataset_id}: {exc}") from exc
        if clean["song_id"] not in current.index:
            inserts.append(clean)
            continue
        old = current.loc[clean["song_id"]]
        if not _same_values(old, clean):
            updates.append({**clean, "annotation_id": int(old.annotation_id),
                            "expected_revision": int(old.revision)})
    bulk.insert_annotations(con, pd.DataFrame(inserts, columns=list(annotations.FIELDS)), who=annotator)
    if updates:
        bulk.update_annotations(con, pd.DataFrame(updates), who=annotator)
    return {"static_added": len(inserts), "static_updated": len(updates)}


def _store_curves(con, tables: DatasetTables, song_ids: dict[str, int]) -> int:
    rows = [
        {"song_id": song_ids[i], "source": "human", "model_version": tables.name,
         "t0": t0, "hop": hop, "valence": v, "arousal": a}
        for i, (t0, hop, v, a) in tables.curves.items() if i in song_ids
    ]
    bulk.put_curves(con, pd.DataFrame(rows))
    return len(rows)


def _store_features(con, tables: DatasetTables, song_ids: dict[str, int]) -> int:
    """DEAM-layout feature rows; family ``deam74`` when the table has DEAM's 74 columns."""
    features = tables.features
    if features is None or features.empty:
        return 0
    features = features[features.index.isin(list(song_ids))]
    family = "deam74" if features.shape[1] == 74 else f"deam{features.shape[1]}"
    registered = vectors.family_columns(con, family)
    if registered is not None and set(registered) == set(features.columns):
        features = features[registered]  # same columns, stored in the family's order
    vectors.register_family(con, family, list(features.columns))
    bulk.put_feature_rows(con, family, [song_ids[i] for i in features.index],
                          features.to_numpy(dtype=np.float32), origin="dataset")
    return len(features)


def _finite_or_none(value):
    return None if value is None or not np.isfinite(value) else float(value)
