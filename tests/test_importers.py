"""Dataset imports into a real DuckDB index, and the annotation CSV round trip and checks."""
from __future__ import annotations

import io
import threading
import time

import numpy as np
import pandas as pd
import pytest

from emolab.cli import main
from emolab.exceptions import DatasetError
from emolab.importers import CSV_COLUMNS, export_annotations, import_annotations, import_dataset
from emolab.index import annotations, emotion, songs, vectors
from tests.conftest import shared_path
from tests.test_datasets import FEATURE_COLUMNS, make_deam, make_emomusic, make_pmemo


def snapshot(index) -> dict:
    """Everything an import may touch, in a comparable form."""
    con = index.con
    out = {}
    for table in ("songs", "annotations", "annotation_history", "curves", "features", "feature_families"):
        out[table] = con.execute(f"SELECT * FROM {table} ORDER BY ALL").df().to_csv()
    return out


@pytest.fixture
def trees(tmp_path):
    return {
        "emomusic": make_emomusic(tmp_path / "emomusic"),
        "deam": make_deam(tmp_path / "deam"),
        "pmemo": make_pmemo(tmp_path / "pmemo"),
    }


def song_by_dataset(index, dataset, dataset_id):
    return songs.song_id_by_dataset(index.con, dataset, dataset_id)


# --------------------------------------------------------------------------- datasets

def test_import_emomusic(index, trees):
    counts = import_dataset(index, "emomusic", trees["emomusic"])
    assert counts["songs_added"] == 3 and counts["static_added"] == 3 and counts["curves"] == 3
    assert songs.stats(index.con) == {"songs": 3, "with_audio": 1, "with_human_static": 3,
                                      "with_human_curves": 3, "with_predictions": 0, "annotations": 3}
    song = songs.get_song(index.con, song_by_dataset(index, "emomusic", "2"))
    assert song["origin"] == "dataset" and song["has_audio"] and song["source_path"].endswith("2.wav")
    assert song["title"] == "Tonight  A Lonely Century"
    curves = emotion.get_curves(index.con, source="human")
    assert {len(v) for v in curves.valence} == {61} and set(curves.t0) == {15.0}
    ann = annotations.list_annotations(index.con)
    five = ann[ann.dataset_id == "5"].iloc[0]
    assert five.annotator == "emomusic"
    assert (five.valence, five.arousal) == pytest.approx((0.5, -0.5))
    assert five.valence_std == pytest.approx(0.2)
    assert len(annotations.history(index.con)) == 3  # every insert has its history row


def test_deam_swap_reaches_the_index(index, trees):
    import_dataset(index, "deam", trees["deam"])
    ann = annotations.list_annotations(index.con).set_index("dataset_id")
    assert (ann.loc["5", "valence"], ann.loc["5", "arousal"]) == pytest.approx((-0.5, 0.5))
    assert (ann.loc["1500", "valence"], ann.loc["1500", "arousal"]) == pytest.approx((0.5, -0.5))


def test_deam_feature_rows_are_stored_in_the_header_order(index, trees):
    counts = import_dataset(index, "deam", trees["deam"])
    assert counts["features"] == 4
    assert vectors.family_columns(index.con, "deam74") == FEATURE_COLUMNS
    ids, X, origins = vectors.get_features(index.con, "deam74")
    assert X.shape == (4, 74) and set(origins) == {"dataset"}
    table = pd.read_csv(trees["deam"] / "features" / "deam_features_74.csv", skipinitialspace=True)
    row = table[table.track_id == 1500][FEATURE_COLUMNS].to_numpy(dtype=np.float32)[0]
    np.testing.assert_allclose(X[list(ids).index(song_by_dataset(index, "deam", "1500"))], row, rtol=1e-6)


@pytest.mark.parametrize("first,second", [("emomusic", "deam"), ("deam", "emomusic")])
def test_songs_shared_by_deam_and_emomusic_are_one_song(index, trees, first, second):
    import_dataset(index, first, trees[first])
    counts = import_dataset(index, second, trees[second])
    assert counts["songs_shared"] == 2  # ids 2 and 5
    table = songs.song_table(index.con)
    ids = {(r.dataset, r.dataset_id) for r in table.itertuples()}
    assert ids == {(first, "2"), (first, "5"), ("emomusic", "10"), ("deam", "1500"), ("deam", "2001")}
    five = annotations.list_annotations(index.con, song_id=song_by_dataset(index, first, "5"))
    assert sorted(five.annotator) == ["deam", "emomusic"]
    by_annotator = five.set_index("annotator")
    assert by_annotator.loc["deam", "valence"] == pytest.approx(-0.5)     # DEAM's labels, swap fixed
    assert by_annotator.loc["emomusic", "valence"] == pytest.approx(0.5)  # emoMusic's own labels


def test_import_is_idempotent(index, trees):
    for name in ("emomusic", "deam", "pmemo"):
        import_dataset(index, name, trees[name])
    before = snapshot(index)
    for name in ("deam", "emomusic", "pmemo"):
        counts = import_dataset(index, name, trees[name])
        assert counts["songs_added"] == counts["static_added"] == counts["static_updated"] == 0
    assert snapshot(index) == before


def test_changed_dataset_labels_update_with_history(index, tmp_path):
    root = make_emomusic(tmp_path / "emo")
    import_dataset(index, "emomusic", root)
    path = root / "annotations" / "static_annotations.csv"
    path.write_text(path.read_text().replace("5,3,1.2,7,0.8", "5,3,1.2,9,0.8"))
    counts = import_dataset(index, "emomusic", root)
    assert counts["static_updated"] == 1 and counts["static_added"] == 0
    ann = annotations.list_annotations(index.con).set_index("dataset_id").loc["5"]
    assert ann.valence == pytest.approx(1.0) and ann.revision == 2
    assert list(annotations.history(index.con).action).count("update") == 1


def test_import_is_all_or_nothing(index, tmp_path):
    before = snapshot(index)
    with pytest.raises(DatasetError, match="1500"):
        import_dataset(index, "deam", make_deam(tmp_path / "deam", bad_value=True))
    assert snapshot(index) == before


def test_audio_of_the_second_dataset_completes_a_shared_song(index, trees):
    import_dataset(index, "deam", trees["deam"])
    import_dataset(index, "emomusic", trees["emomusic"])
    song = songs.get_song(index.con, song_by_dataset(index, "deam", "2"))
    assert song["has_audio"] and song["source_path"].endswith("2.wav")
    assert song["dataset"] == "deam"  # the first importer owns the row


def test_import_pmemo(index, trees):
    counts = import_dataset(index, "pmemo", trees["pmemo"])
    assert counts["songs"] == 3 and counts["static_added"] == 2 and counts["curves"] == 1
    ann = annotations.list_annotations(index.con).set_index("dataset_id")
    assert pd.isna(ann.loc["621", "valence"]) and ann.loc["621", "arousal"] == pytest.approx(-0.5)


# --------------------------------------------------------------------------- CSV round trip

@pytest.fixture
def annotated(index, trees):
    import_dataset(index, "emomusic", trees["emomusic"])
    song = song_by_dataset(index, "emomusic", "2")
    with index.transaction() as con:
        annotations.insert(con, {"song_id": song, "annotator": "clara", "kind": "segment", "t0": 16.0,
                                 "t1": 20.5, "valence": 0.25, "arousal": -0.5, "tags": ["strings", "dark"],
                                 "note": 'she wrote "slow",\nthen left'})
    return index


def export_frame(index, **kwargs) -> pd.DataFrame:
    buf = io.StringIO()
    export_annotations(index, buf, **kwargs)
    return pd.read_csv(io.StringIO(buf.getvalue()), dtype=str, keep_default_na=False)


def to_csv(frame: pd.DataFrame, **kwargs) -> io.StringIO:
    return io.StringIO(frame.to_csv(index=False, **kwargs))


def test_export_columns_and_filters(annotated):
    frame = export_frame(annotated)
    assert tuple(frame.columns) == CSV_COLUMNS and len(frame) == 4
    segment = frame[frame.kind == "segment"].iloc[0]
    assert segment.tags == "strings;dark" and segment.note == 'she wrote "slow",\nthen left'
    assert (segment.dataset, segment.dataset_id, segment.t0) == ("emomusic", "2", "16.0")
    assert len(export_frame(annotated, annotator="clara")) == 1
    assert set(export_frame(annotated, kind="static").kind) == {"static"}
    assert float(export_frame(annotated, annotator="clara", scale="1-9").valence.iloc[0]) == pytest.approx(6.0)


def test_export_import_round_trip(annotated, tmp_path):
    path = tmp_path / "annotations.csv"
    export_annotations(annotated, path)
    before = snapshot(annotated)
    report = import_annotations(annotated, path)
    assert report.ok and report.unchanged == 4 and report.inserted == report.updated == 0
    assert snapshot(annotated) == before  # nothing rewritten

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame.annotator == "clara", "valence"] = "-0.75"
    new = frame.iloc[[0]].copy()
    new[["annotation_id", "song_id", "revision", "updated_at"]] = ""
    new[["annotator", "kind", "t0", "t1", "dataset", "dataset_id"]] = ["ravi", "segment", "1", "2", "deam", "5"]
    report = import_annotations(annotated, to_csv(pd.concat([frame, new])))
    assert report.ok, str(report)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 3)
    after = export_frame(annotated)
    assert float(after[after.annotator == "clara"].valence.iloc[0]) == -0.75
    assert after[after.annotator == "clara"].revision.iloc[0] == "2"
    ravi = after[after.annotator == "ravi"].iloc[0]
    assert (ravi.dataset, ravi.dataset_id) == ("emomusic", "5")  # DEAM id 5 is emoMusic song 5


def test_import_without_ids_matches_existing_annotations(annotated):
    rows = "dataset,dataset_id,annotator,kind,t0,t1,valence,arousal,tags\n" \
           "emomusic,2,clara,segment,16,20.5,0.3,-0.5,strings\n" \
           "emomusic,10,ravi,static,,,0.1,0.2,\n"
    report = import_annotations(annotated, io.StringIO(rows))
    assert report.ok and (report.inserted, report.updated) == (1, 1)
    report = import_annotations(annotated, io.StringIO(rows))
    assert report.ok and report.unchanged == 2  # a second import adds nothing


def test_import_scale_1_9(annotated):
    rows = "song_id,annotator,kind,valence,arousal,valence_std\n1,ravi,static,7,3,2\n"
    report = import_annotations(annotated, io.StringIO(rows), scale="1-9")
    assert report.ok
    ravi = export_frame(annotated, annotator="ravi").iloc[0]
    assert (float(ravi.valence), float(ravi.arousal), float(ravi.valence_std)) == (0.5, -0.5, 0.5)


def test_annotator_default(annotated):
    rows = "song_id,kind,valence,arousal\n1,static,0.1,0.1\n"
    assert not import_annotations(annotated, io.StringIO(rows)).ok
    assert import_annotations(annotated, io.StringIO(rows), annotator_default="ravi").ok


def test_other_delimiters_and_encodings_are_read(annotated):
    frame = export_frame(annotated, annotator="clara")
    frame["note"] = "café crème"
    frame["revision"] = ""
    for sep, encoding in ((";", "utf-8"), ("\t", "latin-1"), (",", "utf-8-sig"), (",", "utf-16")):
        data = frame.to_csv(index=False, sep=sep).encode(encoding)
        report = import_annotations(annotated, io.BytesIO(data))
        assert report.ok, (sep, encoding, str(report))
        assert report.delimiter == sep
    assert export_frame(annotated, annotator="clara").note.iloc[0] == "café crème"


# --------------------------------------------------------------------------- bad CSV files

GOOD = {"song_id": "1", "annotator": "ravi", "kind": "static", "valence": "0.1", "arousal": "0.2"}
BAD_ROWS = {
    "unknown song": ({"song_id": "999"}, "no song 999"),
    "unknown dataset song": ({"song_id": "", "dataset": "deam", "dataset_id": "77"}, "no deam song 77"),
    "nan value": ({"valence": "NaN"}, "must be a number"),
    "text value": ({"arousal": "high"}, "must be a number"),
    "out of range": ({"valence": "1.5"}, "outside"),
    "1-9 value on unit scale": ({"valence": "7"}, "1–9"),
    "negative std": ({"valence_std": "-0.1"}, "outside"),
    "bad kind": ({"kind": "dynamic"}, "kind"),
    "t0 after t1": ({"kind": "segment", "t0": "5", "t1": "3"}, "start < end"),
    "segment without times": ({"kind": "segment"}, "start"),
    "static with times": ({"t0": "1", "t1": "2"}, "static"),
    "missing annotator": ({"annotator": ""}, "annotator"),
    "no values": ({"valence": "", "arousal": ""}, "valence or an arousal"),
    "unknown annotation id": ({"annotation_id": "4242"}, "no annotation 4242"),
    "bad revision": ({"annotation_id": "1", "revision": "x"}, "whole number"),
}


def write_rows(rows, columns=None) -> io.StringIO:
    columns = columns or ["annotation_id", "song_id", "dataset", "dataset_id", "annotator", "kind",
                          "t0", "t1", "valence", "arousal", "valence_std", "revision"]
    frame = pd.DataFrame([{c: row.get(c, "") for c in columns} for row in rows])
    return to_csv(frame)


def test_a_bad_row_rejects_the_whole_file(annotated):
    before = snapshot(annotated)
    for case, (change, reason) in BAD_ROWS.items():
        report = import_annotations(annotated, write_rows([GOOD, {**GOOD, "song_id": "2"}, {**GOOD, **change}]))
        assert not report.ok, case
        assert [p.line for p in report.problems] == [4], (case, str(report))
        assert reason in report.problems[0].reason, (case, str(report))
        assert "Nothing was imported" in report.message
    assert snapshot(annotated) == before


def test_every_bad_row_is_listed(annotated):
    rows = [GOOD] + [{**GOOD, **change} for change, _ in BAD_ROWS.values()]
    report = import_annotations(annotated, write_rows(rows))
    assert [p.line for p in report.problems] == list(range(3, 3 + len(BAD_ROWS)))
    assert report.rows == len(rows)


def test_duplicated_rows(annotated):
    before = snapshot(annotated)
    report = import_annotations(annotated, write_rows([GOOD, GOOD]))
    assert [(p.line, "duplicates line 2" in p.reason) for p in report.problems] == [(3, True)]
    report = import_annotations(annotated, write_rows([{**GOOD, "annotation_id": "1"}] * 2))
    assert [p.line for p in report.problems] == [3] and "twice" in report.problems[0].reason
    assert snapshot(annotated) == before


def test_stale_revision_is_refused(annotated):
    frame = export_frame(annotated, annotator="clara")
    song = int(frame.song_id.iloc[0])
    with annotated.transaction() as con:
        annotations.update(con, int(frame.annotation_id.iloc[0]), {"valence": 0.9},
                           expected_revision=1, who="other")
    frame["valence"] = "-0.1"
    before = snapshot(annotated)
    report = import_annotations(annotated, to_csv(frame))
    assert not report.ok and "revision 1 in the file, 2 in the index" in report.problems[0].reason
    assert snapshot(annotated) == before
    assert song == 1


UNUSABLE_FILES = [
    ("song_id,annotator,kind,valence,arousal,mood\n1,a,static,0,0,x\n", "Unknown column"),
    ("song_id,annotator,valence,arousal\n1,a,0,0\n", "Missing column(s): kind"),
    ("annotator,kind,valence,arousal\na,static,0,0\n", "song_id"),
    ("song_id,song_id,annotator,kind,valence,arousal\n1,1,a,static,0,0\n", "more than once"),
    ("a|b|c\n1|2|3\n", "not a recognised header"),
    ("song_id,annotator,kind,valence,arousal\n", "no annotation rows"),
    ("", "not a recognised header"),
]


def test_unusable_files(annotated):
    before = snapshot(annotated)
    for text, reason in UNUSABLE_FILES:
        report = import_annotations(annotated, io.StringIO(text))
        assert not report.ok and reason in str(report), (text, str(report))
    assert snapshot(annotated) == before


def test_wrong_number_of_cells(annotated):
    text = "song_id,annotator,kind,valence,arousal\n1,a,static,0,0\n1,b,static,0\n"
    report = import_annotations(annotated, io.StringIO(text))
    assert [p.line for p in report.problems] == [3] and "5" in report.problems[0].reason


def test_binary_and_oversized_files(annotated, tmp_path):
    report = import_annotations(annotated, io.BytesIO(b"\x00\x01PK\x03\x04" * 100))
    assert not report.ok and "not a text file" in str(report)
    big = tmp_path / "big.csv"
    big.write_text("song_id,annotator,kind,valence,arousal\n" + "1,a,static,0,0\n" * 2000)
    report = import_annotations(annotated, big, max_bytes=10_000)
    assert not report.ok and "limit" in str(report)
    report = import_annotations(annotated, io.BytesIO(big.read_bytes()), max_bytes=10_000)
    assert not report.ok and "limit" in str(report)
    assert not import_annotations(annotated, tmp_path / "missing.csv").ok


def test_concurrent_imports_of_one_annotation_first_save_wins(annotated):
    frame = export_frame(annotated, annotator="clara")
    barrier = threading.Barrier(4)
    reports = []

    def edit(value):
        edited = frame.assign(valence=str(value))
        barrier.wait()
        reports.append(import_annotations(annotated, to_csv(edited)))

    threads = [threading.Thread(target=edit, args=(v,)) for v in (-0.1, -0.2, -0.3, -0.4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.ok for r in reports) == [False, False, False, True]
    assert all(r.problems for r in reports if not r.ok)  # the losers are told why
    clara = export_frame(annotated, annotator="clara").iloc[0]
    assert clara.revision == "2"
    assert list(annotations.history(annotated.con).action).count("update") == 1


# --------------------------------------------------------------------------- CLI

def test_cli_commands(trees, tmp_path, capsys):
    db = str(tmp_path / "cli.duckdb")
    assert main(["import-dataset", "emomusic", str(trees["emomusic"]), "--db", db]) == 0
    assert "songs_added: 3" in capsys.readouterr().out
    out = tmp_path / "out.csv"
    assert main(["export", "--out", str(out), "--db", db]) == 0
    assert len(pd.read_csv(out)) == 3
    assert main(["export", "--kind", "static", "--annotator", "emomusic", "--db", db]) == 0
    assert capsys.readouterr().out.startswith("annotation_id,song_id")
    assert main(["import-annotations", str(out), "--db", db]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("song_id,annotator,kind,valence,arousal\n1,a,static,7,3\n")
    assert main(["import-annotations", str(bad), "--db", db]) == 1
    assert "line 2" in capsys.readouterr().out
    assert main(["import-annotations", str(bad), "--scale", "1-9", "--db", db]) == 0
    assert main(["import-dataset", "deam", str(tmp_path / "nowhere"), "--db", db]) == 1


# --------------------------------------------------------------------------- real data

def test_real_emomusic_then_deam(index):
    emomusic, deam = shared_path("emomusic"), shared_path("deam")
    start = time.perf_counter()
    import_dataset(index, "emomusic", emomusic)
    stats = songs.stats(index.con)
    assert (stats["songs"], stats["with_human_static"], stats["with_human_curves"], stats["with_audio"]) == \
        (744, 744, 744, 10)
    assert {len(v) for v in emotion.get_curves(index.con).valence} == {61}
    counts = import_dataset(index, "deam", deam)
    later = int((pd.to_numeric(read_ids(deam)) > 1000).sum())
    stats = songs.stats(index.con)
    assert stats["songs"] == 744 + later
    assert counts["songs_shared"] == 744
    assert stats["annotations"] == 744 + counts["songs"]
    assert time.perf_counter() - start < 600  # catches a hang only, not a speed target


def read_ids(deam_root):
    from emolab.datasets import read_deam
    return read_deam(deam_root).songs.dataset_id


def test_wrong_kinds_of_source(annotated, tmp_path):
    from emolab.exceptions import ParameterError

    with pytest.raises(ParameterError, match="file path, an open file or bytes"):
        import_annotations(annotated, None)
    text = "song_id,annotator,kind,valence,arousal\n" * 300  # the text itself, not a path
    report = import_annotations(annotated, text)
    assert not report.ok and "There is no file" in str(report)
    buf = io.StringIO()
    export_annotations(annotated, buf)
    assert import_annotations(annotated, buf.getvalue().encode()).ok  # bytes are a file


def test_fuzzed_annotation_csv_is_all_or_nothing(tmp_path):
    """Files with bad rows, headers, encodings, sizes: refused with the reasons, and the
    index unchanged (benchmarks/fuzz.py runs the same generators 1,000 times)."""
    from tests import fuzzing

    index = fuzzing.fuzz_index(tmp_path / "fuzz.duckdb")
    report = fuzzing.run_door(fuzzing.CsvDoor(index, tmp_path / "csv"), 150, seed=3,
                              index=index, time_limit=60)
    index.close()
    fuzzing.assert_clean(report)
    assert report.refused >= 140
