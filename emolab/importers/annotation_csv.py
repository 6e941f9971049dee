"""Annotation CSV files: export from the index and import back (all rows or none).

:func:`export_annotations` writes, and :func:`import_annotations` reads, one annotation
per row with these columns (UTF-8, comma-separated, header row first):

============== ==============================================================
column         meaning
============== ==============================================================
annotation_id  the index's id of the annotation; empty for a new annotation
song_id        the index's id of the song
dataset        the song's dataset (``deam``, ``emomusic``, ``pmemo``) or empty
dataset_id     the song's id in that dataset
title, artist  for reading only; ignored on import
annotator      who made the annotation (required)
kind           ``static`` (the whole song) or ``segment`` (from t0 to t1)
t0, t1         segment start and end in seconds (empty for static rows)
valence        on [-1, 1] (negative … positive)
arousal        on [-1, 1] (calm … excited)
valence_std    spread of the ratings behind the value, same scale (optional)
arousal_std    idem (optional)
tags           free tags separated by semicolons, e.g. ``nostalgic;strings``
note           free text
revision       the annotation's revision when it was exported
updated_at     when it was last changed (for reading only; ignored on import)
============== ==============================================================

Values are on [-1, 1]; ``scale="1-9"`` on import (or export) maps 1–9 ratings by
``(x - 5) / 4`` (standard deviations by ``x / 4``). A song is identified by ``song_id``
or by ``dataset`` + ``dataset_id``. Import rules:

* a row with an ``annotation_id`` updates that annotation; if its ``revision`` differs
  from the index's, someone changed it since the export and the row is refused;
* a row without ``annotation_id`` updates the annotation with the same song, annotator
  and kind (and the same t0, t1 for segments) if there is one, else adds a new one;
* every row is checked (columns, delimiter ``,``/``;``/TAB, encoding UTF-8/UTF-8 with
  BOM/UTF-16/Latin-1, file size, song, kind, numbers, ranges, times, duplicates); if any
  row is bad **nothing is imported** and the report lists every bad row with its line
  number and reason.
"""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emolab.config import rating_to_unit, unit_to_rating
from emolab.datasets import same_song_datasets
from emolab.exceptions import ConflictError, ParameterError
from emolab.importers._common import _partners, _same_values
from emolab.index import annotations, bulk

CSV_COLUMNS = (
    "annotation_id", "song_id", "dataset", "dataset_id", "title", "artist", "annotator", "kind",
    "t0", "t1", "valence", "arousal", "valence_std", "arousal_std", "tags", "note", "revision",
    "updated_at",
)
SCALES = ("unit", "1-9")
#: Largest annotation CSV accepted (bytes).
MAX_CSV_BYTES = 20 * 1024 * 1024
DELIMITERS = (",", ";", "\t")
_VALUE_COLUMNS = ("valence", "arousal", "valence_std", "arousal_std")


# =========================================================================== CSV export

def export_annotations(index, path_or_buffer, *, annotator: str | None = None,
                       kind: str | None = None, scale: str = "unit") -> int:
    """Write annotations to CSV in the documented columns (see the module docstring).

    Parameters
    ----------
    index : emolab.index.Index
    path_or_buffer : str, Path or file object (text or binary)
    annotator : str, optional
        Only this annotator's annotations.
    kind : {'static', 'segment'}, optional
        Only this kind.
    scale : {'unit', '1-9'}
        Scale of valence and arousal in the file.

    Returns
    -------
    int
        Number of rows written.
    """
    _check_scale(scale)
    if kind is not None and kind not in annotations.KINDS:
        raise ParameterError(f"Annotation kind must be 'static' or 'segment', not {kind!r}.")
    df = annotations.list_annotations(index.con)
    if annotator is not None:
        df = df[df.annotator == annotator]
    if kind is not None:
        df = df[df.kind == kind]
    out = pd.DataFrame({col: (df[col] if col in df.columns else None) for col in CSV_COLUMNS})
    out["tags"] = [";".join(_tag_list(t)) for t in df["tags"]]
    out["updated_at"] = [v.isoformat() if hasattr(v, "isoformat") else v for v in df["updated_at"]]
    if scale == "1-9":
        for col in ("valence", "arousal"):
            out[col] = unit_to_rating(out[col].astype(float))
        for col in ("valence_std", "arousal_std"):
            out[col] = out[col].astype(float) * 4.0
    text = out.to_csv(index=False, lineterminator="\n")
    _write_text(path_or_buffer, text)
    return len(out)


def _write_text(path_or_buffer, text: str) -> None:
    if isinstance(path_or_buffer, (str, os.PathLike)):
        try:
            Path(path_or_buffer).write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            raise ParameterError(f"Could not write '{path_or_buffer}': {exc.strerror or exc}.") from exc
        return
    try:
        path_or_buffer.write(text)
    except TypeError:
        path_or_buffer.write(text.encode("utf-8"))


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ParameterError(f"The scale must be 'unit' ([-1, 1]) or '1-9', not {scale!r}.")


# =========================================================================== CSV import

@dataclass
class RowProblem:
    """Why one line of an annotation CSV cannot be imported (line 1 is the header)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


@dataclass
class ImportReport:
    """What :func:`import_annotations` did, or why it did nothing."""

    ok: bool = False
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def message(self) -> str:
        if self.ok:
            return (f"Imported {self.rows} rows: {self.inserted} new, {self.updated} updated, "
                    f"{self.unchanged} unchanged.")
        bad_lines = {p.line for p in self.problems if p.line > 1}
        if bad_lines:
            return (f"Nothing was imported: {len(bad_lines)} of {self.rows} rows have problems. "
                    "The file is applied all or nothing; fix these rows and import it again.")
        return "Nothing was imported:"

    def to_frame(self) -> pd.DataFrame:
        """The problems as a table: line, reason."""
        return pd.DataFrame([(p.line, p.reason) for p in self.problems], columns=["line", "reason"])

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  {p}" for p in self.problems)])


def import_annotations(index, path_or_buffer, *, annotator_default: str | None = None,
                       scale: str = "unit", max_bytes: int = MAX_CSV_BYTES) -> ImportReport:
    """Check an annotation CSV row by row and apply it all or nothing.

    Parameters
    ----------
    index : emolab.index.Index
    path_or_buffer : str, Path, bytes or file object (text or binary)
    annotator_default : str, optional
        Annotator of rows whose ``annotator`` cell is empty (or when the column is absent).
    scale : {'unit', '1-9'}
        Scale of valence and arousal in the file.
    max_bytes : int
        Larger files are refused.

    Returns
    -------
    ImportReport
        ``ok`` is True when every row was valid and the file was applied; otherwise
        ``problems`` lists each bad line and nothing was written.
    """
    _check_scale(scale)
    report = ImportReport()
    data = _read_limited(path_or_buffer, max_bytes, report)
    text = None if data is None else _decode(data, report)
    if text is None:
        return report
    parsed = _parse_table(text, report, has_default_annotator=bool(annotator_default))
    if parsed is None:
        return report
    header, records = parsed
    report.rows = len(records)
    if not records:
        report.problems.append(RowProblem(0, "The file has a header but no annotation rows."))
        return report
    try:
        with index.transaction() as con:
            rows = [_parse_row(line, dict(zip(header, cells)), annotator_default, scale, report)
                    for line, cells in records]
            rows = _resolve(con, [r for r in rows if r is not None], report)
            if report.problems:
                report.problems.sort(key=lambda p: p.line)
                return report
            _apply(con, rows, report)
    except ConflictError as exc:  # the transaction rolled back: nothing was written
        report.problems.append(RowProblem(0, str(exc)))
        report.inserted = report.updated = report.unchanged = 0
        return report
    report.ok = True
    return report


def _read_limited(source, max_bytes: int, report: ImportReport) -> bytes | None:
    limit_text = f"{max_bytes / 1e6:.0f} MB"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size if path.is_file() else None
        except (OSError, ValueError):  # a name too long for a path, a NUL byte...
            size = None
        if size is None:
            report.problems.append(RowProblem(0, f"There is no file '{_shorten(str(path))}'."))
            return None
        if size > max_bytes:
            report.problems.append(RowProblem(
                0, f"The file is {size / 1e6:.0f} MB; the limit is {limit_text}. "
                   "Split it into smaller files."))
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            report.problems.append(RowProblem(0, f"Could not read '{path}': {exc.strerror or exc}."))
            return None
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source[: max_bytes + 1])
    elif callable(getattr(source, "read", None)):
        data = source.read(max_bytes + 1)
    else:
        raise ParameterError("Give the annotation CSV as a file path, an open file or bytes, "
                             f"not {type(source).__name__}.")
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        report.problems.append(RowProblem(
            0, f"The file is larger than the limit of {limit_text}. Split it into smaller files."))
        return None
    return data


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _decode(data: bytes, report: ImportReport) -> str | None:
    """UTF-16 when it has a BOM, else UTF-8 (with or without BOM), else Latin-1."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        candidates = ("utf-16",)
    elif b"\x00" in data:
        report.problems.append(RowProblem(0, "This is not a text file (it holds binary data); "
                                             "save the table as CSV."))
        return None
    else:
        candidates = ("utf-8-sig", "latin-1")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        report.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        return text.lstrip("\ufeff")
    report.problems.append(RowProblem(0, "The file's text encoding could not be read; save it as UTF-8."))
    return None


def _parse_table(text: str, report: ImportReport, *, has_default_annotator: bool):
    """Header check and the records as ``(line, cells)``; None (with problems) if unusable."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first_line = text.split("\n", 1)[0]
    delimiter, header = max(
        ((d, [h.strip().lower() for h in next(csv.reader([first_line], delimiter=d), [])])
         for d in DELIMITERS),
        key=lambda dh: sum(h in CSV_COLUMNS for h in dh[1]),
    )
    known = [h for h in header if h in CSV_COLUMNS]
    if len(known) < 2:
        report.problems.append(RowProblem(1, (
            "The first line is not a recognised header. Expected columns such as "
            f"{', '.join(CSV_COLUMNS)}, separated by commas, semicolons or tabs.")))
        return None
    report.delimiter = delimiter
    problems = _header_problems(header, has_default_annotator)
    if problems:
        report.problems.extend(RowProblem(1, p) for p in problems)
        return None
    records, line = [], 1
    reader = csv.reader(io.StringIO(text.split("\n", 1)[1] if "\n" in text else ""),
                        delimiter=delimiter)
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                report.problems.append(RowProblem(
                    start, f"has {len(cells)} cells, the header has {len(header)}."))
                continue
            records.append((start, cells))
    except csv.Error as exc:
        report.problems.append(RowProblem(line + 1, f"cannot be read as CSV ({exc})."))
    return header, records


def _header_problems(header: list[str], has_default_annotator: bool) -> list[str]:
    problems = []
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        problems.append(f"Unknown column(s) {', '.join(repr(h) for h in unknown)}; the columns are "
                        f"{', '.join(CSV_COLUMNS)}.")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        problems.append(f"Column(s) {', '.join(duplicated)} appear more than once.")
    missing = [c for c in ("kind", "valence", "arousal") if c not in header]
    if "song_id" not in header and not {"dataset", "dataset_id"} <= set(header):
        missing.append("song_id (or dataset and dataset_id)")
    if "annotator" not in header and not has_default_annotator:
        missing.append("annotator")
    if missing:
        problems.append(f"Missing column(s): {', '.join(missing)}.")
    return problems


class _BadCell(Exception):
    pass


def _parse_row(line: int, cells: dict, annotator_default, scale: str, report: ImportReport):
    """One CSV row → a dict of typed values, or None after recording why it is bad."""
    try:
        row = {
            "line": line,
            "annotation_id": _integer(cells.get("annotation_id"), "annotation_id"),
            "song_id": _integer(cells.get("song_id"), "song_id"),
            "dataset": (cells.get("dataset") or "").strip().lower() or None,
            "dataset_id": (cells.get("dataset_id") or "").strip() or None,
            "annotator": (cells.get("annotator") or "").strip() or annotator_default,
            "kind": (cells.get("kind") or "").strip().lower(),
            "t0": _number(cells.get("t0"), "t0"),
            "t1": _number(cells.get("t1"), "t1"),
            "tags": [t.strip() for t in (cells.get("tags") or "").split(";") if t.strip()],
            "note": cells.get("note") or None,
            "revision": _integer(cells.get("revision"), "revision"),
        }
        for key in _VALUE_COLUMNS:
            row[key] = _scaled(_number(cells.get(key), key), key, scale)
        if not row["annotator"]:
            raise _BadCell("has no annotator.")
        if row["kind"] not in annotations.KINDS:
            raise _BadCell(f"kind must be 'static' or 'segment', not {cells.get('kind')!r}.")
        if row["song_id"] is None and not (row["dataset"] and row["dataset_id"]):
            raise _BadCell("names no song: give song_id, or dataset and dataset_id.")
        if row["kind"] == "static" and (row["t0"] is not None or row["t1"] is not None):
            raise _BadCell("a static annotation covers the whole song and has no t0/t1; "
                           "use kind 'segment' for a part of the song.")
        cleaned = annotations.validate({**row, "song_id": row["song_id"] or 0})
    except _BadCell as exc:
        report.problems.append(RowProblem(line, str(exc)))
        return None
    except ParameterError as exc:
        report.problems.append(RowProblem(line, _lower_first(str(exc))))
        return None
    return {**row, **{k: cleaned[k] for k in ("annotator", "t0", "t1", "tags", "note")}}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _integer(cell, name: str) -> int | None:
    cell = (cell or "").strip()
    if not cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        raise _BadCell(f"{name} must be a whole number, not {cell!r}.") from None
    if not value.is_integer() or value < 0:
        raise _BadCell(f"{name} must be a whole number, not {cell!r}.")
    return int(value)


def _number(cell, name: str) -> float | None:
    cell = (cell or "").strip()
    if not cell:
        return None
    try:
        value = float(cell.replace(",", ".") if cell.count(",") == 1 and "." not in cell else cell)
    except ValueError:
        raise _BadCell(f"{name} must be a number, not {cell!r}.") from None
    if not math.isfinite(value):
        raise _BadCell(f"{name} must be a number, not {cell!r} (leave the cell empty if unknown).")
    return value


def _scaled(value, name: str, scale: str):
    """Check the range on the file's scale and return the value on [-1, 1]."""
    if value is None:
        return None
    is_std = name.endswith("_std")
    low, high = (0.0, 2.0) if is_std else (-1.0, 1.0)
    if scale == "1-9":
        low, high = (0.0, 8.0) if is_std else (1.0, 9.0)
    if not low <= value <= high:
        hint = ""
        if scale == "unit" and not is_std and 1.0 <= value <= 9.0:
            hint = " It looks like a 1–9 rating: import the file with the 1–9 scale."
        raise _BadCell(f"{name} {value:g} is outside [{low:g}, {high:g}].{hint}")
    if scale == "1-9":
        return value / 4.0 if is_std else float(rating_to_unit(value))
    return value


def _resolve(con, rows: list[dict], report: ImportReport) -> list[dict]:
    """Find each row's song and target annotation; record unknown songs, conflicts, duplicates."""
    datasets = {r["dataset"] for r in rows if r["dataset"]}
    datasets |= {p for d in datasets for p in _partners(d)}
    by_dataset = bulk.dataset_song_map(con, datasets)
    songs = bulk.existing_song_ids(con, [r["song_id"] for r in rows if r["song_id"] is not None])
    for row in rows:
        row["song"] = _song_of(row, songs, by_dataset)
    known_rows = [r for r in rows if isinstance(r["song"], int)]
    existing = bulk.annotation_rows(
        con, annotation_ids=[r["annotation_id"] for r in known_rows if r["annotation_id"]],
        song_ids=[r["song"] for r in known_rows])
    by_id = {int(a.annotation_id): a for a in existing.itertuples(index=False)}
    by_key = {}
    for a in existing.itertuples(index=False):
        by_key.setdefault(_natural_key(a.song_id, a.annotator, a.kind, a.t0, a.t1), a)
    seen_ids, seen_keys, resolved = {}, {}, []
    for row in rows:
        reason = row["song"] if isinstance(row["song"], str) else None
        key = None if reason else _natural_key(row["song"], row["annotator"], row["kind"],
                                               row["t0"], row["t1"])
        if reason is None:
            target, reason = _target(row, by_id, by_key.get(key))
        if reason is None and row["annotation_id"] in seen_ids:
            reason = f"annotation {row['annotation_id']} appears twice (also on line {seen_ids[row['annotation_id']]})."
        elif reason is None and key in seen_keys:
            reason = (f"duplicates line {seen_keys[key]} (same song, annotator, kind"
                      f"{' and times' if row['kind'] == 'segment' else ''}).")
        if reason:
            report.problems.append(RowProblem(row["line"], reason))
            continue
        if row["annotation_id"] is not None:
            seen_ids[row["annotation_id"]] = row["line"]
        seen_keys[key] = row["line"]
        resolved.append({**row, "target": target})
    return resolved


def _song_of(row: dict, songs: set[int], by_dataset: dict):
    """The row's song id, or a sentence saying why it cannot be found."""
    from_dataset = None
    if row["dataset"] and row["dataset_id"]:
        for dataset in (row["dataset"], *same_song_datasets(row["dataset"], row["dataset_id"])):
            from_dataset = by_dataset.get((dataset, row["dataset_id"]))
            if from_dataset is not None:
                break
    if row["song_id"] is not None:
        if row["song_id"] not in songs:
            return f"there is no song {row['song_id']} in this index."
        if row["dataset"] and from_dataset is not None and from_dataset != row["song_id"]:
            return (f"song_id {row['song_id']} and {row['dataset']} song {row['dataset_id']} are "
                    "different songs of this index.")
        return row["song_id"]
    if from_dataset is None:
        return f"there is no {row['dataset']} song {row['dataset_id']} in this index."
    return from_dataset


def _natural_key(song_id, annotator, kind, t0, t1) -> tuple:
    def r(t):
        return None if t is None or (isinstance(t, float) and math.isnan(t)) else round(float(t), 6)
    return (int(song_id), str(annotator), kind) + ((r(t0), r(t1)) if kind == "segment" else ())


def _target(row: dict, by_id: dict, same_key):
    """``(existing annotation or None, reason or None)`` for one row."""
    if row["annotation_id"] is None:
        return same_key, None
    existing = by_id.get(row["annotation_id"])
    if existing is None:
        return None, (f"there is no annotation {row['annotation_id']} in this index (it may come "
                      "from another index or have been deleted); empty its annotation_id cell to "
                      "add it as a new annotation.")
    if int(existing.song_id) != row["song"]:
        return None, (f"annotation {row['annotation_id']} belongs to song {existing.song_id}, "
                      f"not to song {row['song']}.")
    stale = row["revision"] is not None and row["revision"] != int(existing.revision)
    if stale and not _unchanged(existing, _row_values(row)):
        return None, (f"annotation {row['annotation_id']} was changed in the index after this file "
                      f"was written (revision {row['revision']} in the file, {existing.revision} in "
                      "the index); export again and reapply your change.")
    return existing, None


def _apply(con, rows: list[dict], report: ImportReport) -> None:
    inserts, updates = [], []
    for row in rows:
        values = _row_values(row)
        target = row["target"]
        if target is None:
            inserts.append(values)
        elif _unchanged(target, values):
            report.unchanged += 1
        else:
            updates.append({**values, "annotation_id": int(target.annotation_id),
                            "expected_revision": int(target.revision)})
    for who, group in _by_annotator(inserts):
        report.inserted += len(bulk.insert_annotations(con, group, who=who))
    for who, group in _by_annotator(updates):
        report.updated += bulk.update_annotations(con, group, who=who)


def _row_values(row: dict) -> dict:
    """The annotation fields of a resolved CSV row."""
    return {**{k: row[k] for k in annotations.FIELDS if k != "song_id"}, "song_id": row["song"]}


def _by_annotator(rows: list[dict]):
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    return [(who, group.reset_index(drop=True)) for who, group in frame.groupby("annotator", sort=True)]


def _unchanged(existing, values: dict) -> bool:
    old = existing._asdict()
    if not _same_values(old, values):
        return False
    for key in ("annotator", "kind", "note"):
        a = old[key] if isinstance(old[key], str) else None
        if a != values[key]:
            return False
    if _tag_list(old["tags"]) != _tag_list(values["tags"]):
        return False
    return _natural_key(0, "", old["kind"], old["t0"], old["t1"]) == \
        _natural_key(0, "", values["kind"], values["t0"], values["t1"])


def _tag_list(tags) -> list[str]:
    """Tags as a list of str, whatever DuckDB or pandas handed over (list, array, NA)."""
    return [str(t) for t in tags] if isinstance(tags, (list, tuple, np.ndarray)) else []
