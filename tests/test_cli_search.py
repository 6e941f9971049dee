"""``emolab search-profile`` reads a profile that starts with a minus as a value."""
import json

import pytest

from emolab.cli import main
from tests.app_harness import fill_index


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli-search.duckdb"
    fill_index(path, n_songs=5)
    return path


@pytest.mark.parametrize("args", [
    ["--valence", "-0.2,0.1,0.5", "--arousal", "-0.5,-0.1,0.3"],
    ["--valence=-0.2,0.1,0.5", "--arousal=-0.5,-0.1,0.3"],
    ["--valence", "-0.2, 0.1, 0.5"],
])
def test_search_profile_takes_a_profile_starting_with_a_minus(db, capsys, args):
    code = main(["search-profile", *args, "--source", "predicted", "--k", "3", "--json",
                 "--db", str(db)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = json.loads(captured.out)["results"]
    assert len(rows) == 3
    distances = [row["distance"] for row in rows]
    assert distances == sorted(distances)


def test_search_profile_still_refuses_an_unknown_option(db, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["search-profile", "--valence", "-0.2,0.1", "--nonsense", "--db", str(db)])
    assert stop.value.code == 2
