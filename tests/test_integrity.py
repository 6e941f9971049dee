"""Index fingerprints and consistency rules."""
from __future__ import annotations

import pytest

from emolab.index import integrity, open_index
from tests.app_harness import fill_index


@pytest.fixture
def filled(tmp_path):
    fill_index(tmp_path / "i.duckdb", n_songs=6)
    with open_index(tmp_path / "i.duckdb") as index:
        yield index


def test_a_consistent_index_has_no_problems_and_a_stable_checksum(filled):
    assert integrity.problems(filled.con) == []
    assert integrity.checksum(filled.con) == integrity.checksum(filled.con)
    assert integrity.checksum(filled.con)["songs"][0] == 6


def test_one_changed_value_changes_the_checksum_of_its_table_only(filled):
    before = integrity.checksum(filled.con)
    filled.con.execute("UPDATE curves SET hop = 0.25 WHERE song_id = 3 AND source = 'predicted'")
    after = integrity.checksum(filled.con)
    assert [t for t in before if before[t] != after[t]] == ["curves"]


@pytest.mark.parametrize("damage, message", [
    ("DELETE FROM songs WHERE song_id = 1", "belong to no song"),
    ("INSERT INTO songs (title, origin) VALUES ('half', 'ingested')", "half-written"),
    ("UPDATE annotations SET valence = 0.123 WHERE annotation_id = 1", "last history entry"),
    ("DELETE FROM annotation_history WHERE annotation_id = 1", "no history"),
])
def test_damage_is_named(filled, damage, message):
    filled.con.execute(damage)
    assert any(message in p for p in integrity.problems(filled.con))
