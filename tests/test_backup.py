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


def _damage(path):
    """Flip 16 bytes inside the index's first data block (after the three 4 kB headers)."""
    with open(path, "r+b") as f:
        f.seek(12288 + 100)
        chunk = f.read(16)
        f.seek(12288 + 100)
        f.write(bytes(b ^ 0xFF for b in chunk))


def test_a_damaged_index_says_so_and_a_backup_replaces_it_keeping_the_damaged_file(tmp_path):
    db = tmp_path / "index.duckdb"
    with open_index(db) as idx:
        songs.add_song(idx.con, title="Elegy", origin="ingested")
    assert main(["backup", str(tmp_path / "copy.duckdb"), "--db", str(db)]) == 0
    with open_index(db) as idx:
        idx.checkpoint()
    _damage(db)
    damaged = db.read_bytes()
    with pytest.raises(SongIndexError, match="is damaged and cannot be opened") as caught:
        open_index(db)
    assert "emolab restore" in str(caught.value)
    assert db.read_bytes() == damaged  # nothing changed
    assert main(["restore", str(tmp_path / "copy.duckdb"), "--db", str(db)]) == 0
    with open_index(db) as idx:
        assert songs.song_table(idx.con).title.tolist() == ["Elegy"]
    aside = list(tmp_path.glob("index.duckdb.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged


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
