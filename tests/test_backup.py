import pytest

from emolab.cli import main
from emolab.exceptions import SongIndexError
from emolab.index import annotations, backup, open_index, songs


def test_backup_and_restore_round_trip(tmp_path):
    db = tmp_path / "index.duckdb"
    with open_index(db) as idx:
        sid = songs.add_song(idx.con, title="Elegy", origin="ingested")
        aid = annotations.insert(idx.con, {"song_id": sid, "annotator": "ana", "kind": "static",
                                           "valence": -0.5, "arousal": -0.2, "tags": ["sad"]})
    assert main(["backup", str(tmp_path / "copy.duckdb"), "--db", str(db)]) == 0
    with open_index(db) as idx:  # lose work after the backup
        annotations.delete(idx.con, aid, expected_revision=1, who="oops")
        assert songs.stats(idx.con)["annotations"] == 0
    assert main(["restore", str(tmp_path / "copy.duckdb"), "--db", str(db)]) == 0
    with open_index(db) as idx:
        table = annotations.list_annotations(idx.con)
        assert table.valence.tolist() == [-0.5] and list(table.tags[0]) == ["sad"]
        new_id = songs.add_song(idx.con, title="next", origin="ingested")
        assert new_id == sid + 1  # sequences survive the copy
        assert len(annotations.history(idx.con)) == 1


def test_backup_refuses_to_overwrite(index, tmp_path):
    (tmp_path / "exists.duckdb").write_bytes(b"x")
    with pytest.raises(SongIndexError, match="exists already"):
        backup.backup(index, tmp_path / "exists.duckdb")


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    bogus = tmp_path / "bogus.duckdb"
    bogus.write_text("hello")
    with pytest.raises(SongIndexError, match="not an EmoLab index backup"):
        backup.restore(bogus, tmp_path / "target.duckdb")
    assert not (tmp_path / "target.duckdb").exists()


def test_backup_is_an_exact_copy_even_while_the_index_is_open(tmp_path):
    from emolab.index import integrity
    from tests.app_harness import fill_index

    db = tmp_path / "index.duckdb"
    fill_index(db, n_songs=6)
    with open_index(db) as idx:
        before = integrity.checksum(idx.con)
        backup.backup(idx, tmp_path / "copy.duckdb")  # the app keeps the index open
    backup.restore(tmp_path / "copy.duckdb", tmp_path / "restored.duckdb")
    with open_index(tmp_path / "restored.duckdb", read_only=True) as copy:
        assert integrity.checksum(copy.con) == before
        assert integrity.problems(copy.con) == []
