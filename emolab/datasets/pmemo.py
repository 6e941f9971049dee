"""PMEmo (2018/2019, choruses of chart songs): static ratings and 2 Hz curves.

Layout: the 2019 release (``annotations/static_annotations.csv``, ``static_annotations_std.csv``,
``dynamic_annotations.csv``, ``metadata.csv``, ``chorus/<id>.mp3``), the 2018 files
(``annotations_2018/A_static.csv``, ``V_static.csv``, ``metadata.csv``) and the authors'
per-song JSON documents (``samples_docs/<id>.json`` with ``valence_mean``, ``arousal_mean``,
``dynamic{t,v,a}``). PMEmo's [0, 1] values map to [-1, 1] by ``2 x - 1`` (std ``2 x``).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from emolab.datasets._common import (DatasetTables, _audio_files, _column, _combine_static,
                                     _first_existing, _id_order, _ids, _key, _numeric,
                                     _require_root, _songs_frame, _static_frame, _text, read_csv_stripped)
from emolab.exceptions import DatasetError

NAME = "pmemo"
AUDIO_FOLDERS = ("chorus", "samples_docs", "audio")


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
    audio = _audio_files(root, AUDIO_FOLDERS)
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
