"""Editing human labels as a table: all or nothing, first save wins."""
import pytest

from emolab import curation
from emolab.exceptions import ConflictError, ParameterError
from emolab.index import annotations, open_index, songs


@pytest.fixture
def index(tmp_path):
    idx = open_index(tmp_path / "curation.duckdb")
    with idx.transaction() as con:
        for n in range(2):
            sid = songs.add_song(con, title=f"Song {n}", origin="demo")
            annotations.insert(con, {"song_id": sid, "annotator": "ref", "kind": "static",
                                     "valence": 0.1 * n, "arousal": -0.1, "tags": ["a", "b"]})
    yield idx
    idx.close()


def test_table_has_one_row_per_annotation_with_tags_as_text(index):
    table = curation.annotation_table(index.con)
    assert len(table) == 2 and list(table["tags"]) == ["a, b", "a, b"]
    assert set(curation.COLUMNS) <= set(table.columns)


def test_edits_and_deletions_are_applied(index):
    table = curation.annotation_table(index.con)
    changes = {"edited_rows": {0: {"valence": -0.5, "tags": "x, y"}}, "deleted_rows": [1]}
    done = annotations.save(index, lambda con: curation.apply_table_edits(con, table, changes,
                                                                          who="ana"))
    assert done == {"edited": 1, "deleted": 1}
    after = curation.annotation_table(index.con)
    assert len(after) == 1
    assert after.loc[0, "valence"] == pytest.approx(-0.5) and after.loc[0, "tags"] == "x, y"
    assert after.loc[0, "revision"] == 2


def test_a_stale_table_changes_nothing(index):
    table = curation.annotation_table(index.con)
    first = int(table.loc[0, "annotation_id"])
    annotations.update(index.con, first, {"valence": 0.9}, expected_revision=1, who="other")
    changes = {"edited_rows": {1: {"valence": 0.3}, 0: {"valence": -0.9}}}
    with pytest.raises(ConflictError):
        annotations.save(index, lambda con: curation.apply_table_edits(con, table, changes,
                                                                       who="ana"))
    after = curation.annotation_table(index.con)
    assert list(after["valence"]) == pytest.approx([0.9, 0.1])  # row 1 untouched too


@pytest.mark.parametrize("changes", [{"edited_rows": {0: {"annotator": "me"}}},
                                     {"deleted_rows": [7]}])
def test_locked_columns_and_unknown_rows_are_refused(index, changes):
    table = curation.annotation_table(index.con)
    with pytest.raises(ParameterError):
        annotations.save(index, lambda con: curation.apply_table_edits(con, table, changes,
                                                                       who="ana"))
