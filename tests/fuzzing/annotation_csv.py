"""The ``csv`` door: annotation CSV files that must be imported all or nothing.

:func:`emolab.importers.import_annotations`: every generated file holds at least one
bad row or is unusable as a whole, so nothing may be written (all or nothing).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from emolab.exceptions import EmolabError
from tests.fuzzing.harness import APPLIED, REFUSED, Breach, Case, _pick, check_message

# =========================================================================== CSV door

class CsvDoor:
    """Annotation CSV files: ``importers.import_annotations`` must apply all or nothing.

    Parameters
    ----------
    index : emolab.index.Index
        A populated index (songs, annotations); compared after every input by run_door.
    workdir : Path
    big_file : bool
        Also make one 100 MB file on disk (refused by its size, without being read).
    """

    name = "csv"

    def __init__(self, index, workdir, *, big_file: bool = False):
        from emolab.importers import export_annotations

        self.index = index
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.big_file = big_file
        con = index.con
        self.song_ids = [int(r[0]) for r in con.execute("SELECT song_id FROM songs ORDER BY 1").fetchall()]
        self.dataset_songs = [(d, i) for d, i in con.execute(
            "SELECT dataset, dataset_id FROM songs WHERE dataset IS NOT NULL ORDER BY 1, 2").fetchall()]
        buf = io.StringIO()
        export_annotations(index, buf)
        self.exported = list(csv.DictReader(io.StringIO(buf.getvalue())))
        self._n = 0

    # ---------------------------------------------------------------- generation
    def cases(self, rng, n: int) -> Iterator[Case]:
        specials = list(self._special_cases()) if self.big_file else []
        for i in range(n):
            if specials and i % max(1, n // (len(specials) + 1)) == 0 and i:
                yield specials.pop(0)
            else:
                yield self._random_case(rng)

    def _special_cases(self) -> Iterator[Case]:
        path = self.workdir / "annotations_100MB.csv"
        if not path.exists():
            from emolab.importers import CSV_COLUMNS

            line = ",".join(["", str(self.song_ids[0]), "", "", "t", "a", "big", "static", "", "",
                             "0.1", "0.2", "", "", "", "x" * 200, "", ""]) + "\n"
            chunk = (line * 10_000).encode()
            with open(path, "wb") as f:
                f.write((",".join(CSV_COLUMNS) + "\n").encode())
                while f.tell() < 100 * 10**6:
                    f.write(chunk)
        yield Case("too big", f"a {path.stat().st_size / 1e6:.0f} MB file on disk",
                   {"source": "path", "path": str(path), "scale": "unit"})

    def _valid_row(self, rng, seen: set) -> dict:
        from emolab.importers import CSV_COLUMNS

        for _ in range(20):
            row = dict.fromkeys(CSV_COLUMNS, "")
            if self.exported and rng.random() < 0.3:
                row.update(self.exported[int(rng.integers(len(self.exported)))])
                key = ("id", row["annotation_id"])
            else:
                song = int(_pick(rng, self.song_ids))
                if self.dataset_songs and rng.random() < 0.2:
                    row["dataset"], row["dataset_id"] = self.dataset_songs[
                        int(rng.integers(len(self.dataset_songs)))]
                    song = ("ds", row["dataset"], row["dataset_id"])
                else:
                    row["song_id"] = str(song)
                row["annotator"] = str(_pick(rng, ["fuzz", "clara", "Ödön", "ref", "a b"]))
                row["kind"] = str(_pick(rng, ["static", "segment"]))
                if row["kind"] == "segment":
                    t0 = round(float(rng.uniform(0, 25)), 2)
                    row["t0"], row["t1"] = _num(rng, t0), _num(rng, t0 + round(float(rng.uniform(0.5, 5)), 2))
                for col in ("valence", "arousal"):
                    row[col] = _num(rng, float(rng.uniform(-1, 1)))
                if rng.random() < 0.3:
                    row["valence_std"] = _num(rng, float(rng.uniform(0, 0.5)))
                row["tags"] = str(_pick(rng, ["", "calm", "dark;strings", "ünï;♪", " a ; b "]))
                row["note"] = str(_pick(rng, ["", "fine", 'said "slow",\nthen left', "ß" * 50]))
                key = (song, row["annotator"], row["kind"], row["t0"], row["t1"])
            if key not in seen:
                seen.add(key)
                return row
        return row

    def _random_case(self, rng) -> Case:
        from emolab.importers import CSV_COLUMNS

        self._n += 1
        seen: set = set()
        rows = [self._valid_row(rng, seen) for _ in range(int(rng.integers(1, 25)))]
        header = list(CSV_COLUMNS)
        notes = []
        scale = "unit"
        family = "bad rows"
        r = rng.random()
        # ---- benign column choices (the importer reads them)
        if rng.random() < 0.4:
            keep = [c for c in header if c in ("song_id", "dataset", "dataset_id", "annotator",
                                               "kind", "valence", "arousal", "t0", "t1")
                    or rng.random() < 0.5]
            if len(keep) != len(header):
                notes.append(f"only columns {','.join(keep)}")
                header = keep
        if rng.random() < 0.3:
            order = list(rng.permutation(len(header)))
            header = [header[i] for i in order]
            notes.append("columns shuffled")
        # ---- what makes the file bad
        if r < 0.55:
            for _ in range(int(rng.integers(1, 4))):
                notes.append(self._corrupt_row(rng, rows, header))
        elif r < 0.7:
            family = "bad header"
            notes.append(_corrupt_header(rng, header, rows))
        elif r < 0.78:
            family = "wrong scale"
            scale = "1-9"
            notes.append("unit values imported with the 1-9 scale")
            if rng.random() < 0.5:
                scale = "unit"
                for row in rows:
                    for col in ("valence", "arousal"):
                        if row[col]:
                            row[col] = _num(rng, float(rng.uniform(1, 9)))
                notes[-1] = "1-9 ratings imported with the unit scale"
        else:
            family = "unusable file"
        ruin = family == "unusable file"  # ruined from a plain UTF-8, comma, LF file
        delimiter = "," if ruin else str(_pick(rng, [",", ",", ",", ";", "\t"]))
        quoting = csv.QUOTE_ALL if rng.random() < 0.2 else csv.QUOTE_MINIMAL
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator="\n")
        writer.writerow([h.upper() if rng.random() < 0.05 else h for h in header])
        for row in rows:
            writer.writerow([row.get(h, "") for h in header])
            if rng.random() < 0.03:
                buf.write("\n")
        text = buf.getvalue()
        if delimiter != ",":
            notes.append(f"delimiter {delimiter!r}")
        line_end = "\n" if ruin else _pick(rng, ["\n", "\n", "\r\n", "\r"])
        if line_end != "\n":
            text = text.replace("\n", str(line_end))
            notes.append(f"line ends {line_end!r}")
        encoding = "utf-8" if ruin else str(_pick(rng, [
            "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "latin-1",
            "cp1252"]))
        data = _encode_text(text, encoding)
        if encoding != "utf-8":
            notes.append(f"encoding {encoding}")
        if ruin:
            description, data = _ruin_file(rng, data, text)
            notes.append(description)
        elif rng.random() < 0.05:
            description, data = _damage_bytes(rng, data)
            notes.append(description)
        try:
            as_text = data.decode("utf-8")
        except UnicodeDecodeError:
            as_text = None
        payload = {"data": data, "scale": scale, "text": as_text,
                   "max_bytes": None, "annotator_default": None}
        r = rng.random()
        payload["source"] = ("buffer" if r < 0.55 else "path" if r < 0.75 else
                             "text" if r < 0.9 and payload["text"] is not None else "file")
        if rng.random() < 0.05:
            payload["max_bytes"] = int(max(1, len(data) - int(rng.integers(1, 10))))
            notes.append(f"max_bytes {payload['max_bytes']} for {len(data)} bytes")
            family = "too big"
        if rng.random() < 0.15:
            payload["annotator_default"] = _pick(rng, ["default-person", "", "  "])
        if rng.random() < 0.02:
            payload["source"] = str(_pick(rng, ["none", "int", "bytes", "csv_as_path", "folder",
                                                "missing"]))
            notes.append(f"handed over as {payload['source']}")
            family = "wrong source"
        if rng.random() < 0.01:
            payload["scale"] = str(_pick(rng, ["0-1", "", "1–9"]))
            notes.append(f"scale {payload['scale']!r}")
        return Case(family, f"{len(rows)} rows; " + "; ".join(notes), payload)

    def _corrupt_row(self, rng, rows: list[dict], header: list[str]) -> str:
        i = int(rng.integers(len(rows)))
        row = rows[i]
        choice = int(rng.integers(16))
        col = str(_pick(rng, ["valence", "arousal"]))
        if choice == 0:
            value = str(_pick(rng, ["1.5", "-7", "9", "5", "1e300", "-1.0001", "2", "10", "-1e-300e"]))
        elif choice == 1:
            value = str(_pick(rng, ["nan", "NaN", "-nan", "inf", "-Infinity", "1e999", "+inf"]))
        elif choice == 2:
            value = str(_pick(rng, ["high", "0.5.5", "1/2", "½", "0x1", "٥", "1_0", "0,5,5", "—",
                                    "'0.3", "0.3'", "TRUE", "None", "\x00", "0.2 0.3"]))
        elif choice == 3:
            row["valence"] = row["arousal"] = ""
            return f"row {i + 1}: no valence nor arousal"
        elif choice == 4:
            col, value = "song_id", str(_pick(rng, ["999999", "-1", "1.5", "abc", "0", "1e3",
                                                    "99999999999999999999999", "nan", "inf"]))
            row["dataset"] = row["dataset_id"] = ""
        elif choice == 5:
            col, value = "annotation_id", str(_pick(rng, ["999999", "-5", "2.5", "x",
                                                          "1e30", str(int(rng.integers(1, 200)))]))
        elif choice == 6:
            row["song_id"] = ""
            row["dataset"] = str(_pick(rng, ["nosuch", "emomusic", "deam", "pmemo", "EMOMUSIC"]))
            row["dataset_id"] = str(_pick(rng, ["999999", "", "-1", "x y", "１"]))
            return f"row {i + 1}: unknown dataset song {row['dataset']}/{row['dataset_id']}"
        elif choice == 7:
            col, value = "kind", str(_pick(rng, ["", "dynamic", "segments", "stat", "1", "Static-"]))
        elif choice == 8:
            row["kind"] = "static"
            row["t0"], row["t1"] = "1", "2"
            return f"row {i + 1}: static row with times"
        elif choice == 9:
            row["kind"] = "segment"
            row["t0"], row["t1"] = [(""), ("5")] if rng.random() < 0.3 else \
                [str(x) for x in _pick(rng, [("5", "2"), ("3", "3"), ("-1", "2"), ("0", "inf"),
                                              ("abc", "2"), ("1", "")])]
            return f"row {i + 1}: segment times {row['t0']!r}-{row['t1']!r}"
        elif choice == 10:
            col = str(_pick(rng, ["valence_std", "arousal_std"]))
            value = str(_pick(rng, ["-0.1", "3", "nan", "x", "-inf"]))
        elif choice == 11:
            if "annotator" not in header:
                header.append("annotator")
            col, value = "annotator", ""
        elif choice == 12:
            if self.exported:
                row.update(self.exported[int(rng.integers(len(self.exported)))])
                row["revision"] = str(int(row["revision"] or 1) + int(rng.integers(1, 5)))
                row["valence"] = _num(rng, float(rng.uniform(-1, 1)))
                header.extend(c for c in ("annotation_id", "revision", "valence") if c not in header)
                return f"row {i + 1}: stale revision {row['revision']}"
            col, value = "revision", "x"
        elif choice == 13:
            rows.append(dict(row))
            return f"row {i + 1} duplicated"
        elif choice == 14:
            col, value = "revision", str(_pick(rng, ["abc", "-1", "1.5"]))
        else:
            row["__extra__"] = "junk"
            header.append("__extra__") if "__extra__" not in header else None
            return f"row {i + 1}: extra cell (unknown column)"
        row[col] = value
        if col not in header:
            header.append(col)
        return f"row {i + 1}: {col} = {value!r}"

    # ---------------------------------------------------------------- judging
    def attempt(self, case: Case) -> str:
        from emolab.importers import import_annotations

        p = case.payload
        source = self._source(p)
        kwargs = {"scale": p["scale"]}
        if p.get("max_bytes"):
            kwargs["max_bytes"] = p["max_bytes"]
        try:
            report = import_annotations(self.index, source,
                                        annotator_default=p.get("annotator_default"), **kwargs)
        except EmolabError as exc:
            check_message(exc)
            return REFUSED
        finally:
            if hasattr(source, "close"):
                source.close()
        # the report must be printable, whatever happened
        str(report), report.message, report.to_frame()
        if report.ok:
            if report.problems:
                raise Breach("report.ok with problems listed")
            return APPLIED
        if not report.problems:
            raise Breach("nothing imported, but no problem listed")
        for problem in report.problems:
            if not isinstance(problem.line, int) or not str(problem.reason).strip():
                raise Breach(f"unreadable problem {problem!r}")
        if report.inserted or report.updated:
            raise Breach(f"refused file reports {report.inserted} inserted, {report.updated} updated")
        return REFUSED

    def _source(self, p: dict):
        kind = p["source"]
        if kind == "buffer":
            return io.BytesIO(p["data"])
        if kind == "text":
            return io.StringIO(p["text"])
        if kind in ("path", "file"):
            path = Path(p["path"]) if p.get("path") else self.workdir / f"input{self._n % 3}.csv"
            if not p.get("path"):
                path.write_bytes(p["data"])
            return open(path, "rb") if kind == "file" else path
        if kind == "none":
            return None
        if kind == "int":
            return 42
        if kind == "bytes":
            return p["data"]
        if kind == "csv_as_path":
            return (p["text"] or p["data"].decode("latin-1"))[:5000]
        if kind == "folder":
            return self.workdir
        return self.workdir / "no such file.csv"


def _num(rng, x: float) -> str:
    """A number written in one of the ways a spreadsheet might."""
    style = int(rng.integers(8))
    if style == 0:
        return f"{x:.1f}"
    if style == 1:
        return f"{x:e}"
    if style == 2:
        return f" {x:.3f} "
    if style == 3 and x >= 0:
        return f"+{x:.2f}"
    if style == 4:
        return repr(float(x))
    return f"{x:.4f}"


def _corrupt_header(rng, header: list[str], rows: list[dict]) -> str:
    choice = int(rng.integers(7))
    if choice == 0:
        col = str(_pick(rng, ["kind", "valence", "arousal", "song_id"]))
        if col == "song_id":
            for c in ("song_id", "dataset", "dataset_id"):
                if c in header:
                    header.remove(c)
            return "no song column"
        header.remove(col)
        return f"column {col} missing"
    if choice == 1:
        i = int(rng.integers(len(header)))
        old = header[i]
        header[i] = str(_pick(rng, ["mood", "valence ", "Valenz", "song id", "", "ärousal"]))
        for row in rows:
            row[header[i]] = row.get(old, "")
        return f"column {old} renamed {header[i]!r}"
    if choice == 2:
        col = str(_pick(rng, header))
        header.insert(int(rng.integers(len(header) + 1)), col)
        return f"column {col} twice"
    if choice == 3:
        header.append("mood")
        return "unknown column mood"
    if choice == 4:
        header[:] = [h for h in header if h in ("valence",)] + ["x"]
        return "header with one known column"
    if choice == 5:
        header[:] = [str(v) for v in rows[0].values()][: len(header)] if rows else ["1"]
        return "data row instead of header"
    header[:] = [h.replace("_", " ") for h in header]
    return "spaces instead of underscores in the header"


def _encode_text(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding, errors="replace")


def _damage_bytes(rng, data: bytes) -> tuple[str, bytes]:
    b = bytearray(data)
    choice = int(rng.integers(4))
    if choice == 0 and b:
        pos = int(rng.integers(len(b)))
        b[pos:pos] = b"\xc3\x28\xff\xfe"
        return "invalid UTF-8 bytes inserted", bytes(b)
    if choice == 1 and b:
        pos = int(rng.integers(len(b)))
        b[pos:pos] = b'"'
        return "an unbalanced quote inserted", bytes(b)
    if choice == 2 and b:
        for pos in rng.integers(0, len(b), size=int(rng.integers(1, 6))):
            b[pos] = int(rng.integers(256))
        return "random bytes replaced", bytes(b)
    return "cut in the middle", bytes(b[: len(b) // 2])


def _ruin_file(rng, data: bytes, text: str) -> tuple[str, bytes]:
    choice = int(rng.integers(12))
    if choice == 0:
        return "empty file", b""
    if choice == 1:
        return "only blank lines", b"\n\r\n  \n"
    if choice == 2:
        return "pipe-separated", text.replace(",", "|").encode()
    if choice == 3:
        return "UTF-16 without BOM", text.encode("utf-16-le")
    if choice == 4:
        pos = int(rng.integers(len(data) + 1))
        return "a NUL byte inside", data[:pos] + b"\x00" + data[pos:]
    if choice == 5:
        return "random bytes", rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes()
    if choice == 6:
        return "binary junk before the header", b"\x89PNG\r\n\x1a\n\x00\x00" + data
    if choice == 7:
        return "header only", text.split("\n", 1)[0].encode()
    if choice == 8:
        return "a huge single line (2 MB) after the header", (
            text.split("\n", 1)[0] + "\n" + "x" * 2_000_000).encode()
    if choice == 9:
        lines = text.split("\n")
        return "an unbalanced quote in the first row", (
            "\n".join([lines[0], '"' + (lines[1] if len(lines) > 1 else "")] + lines[2:])).encode()
    if choice == 10:
        return "a spreadsheet's XML", b'<?xml version="1.0"?><Workbook><Row/></Workbook>'
    return "header row cut in half", text[: max(1, len(text.split("\n", 1)[0]) // 2)].encode()
