"""emolab.cli.search: the search commands."""
from __future__ import annotations

import json
import math

import pytest

from emolab.cli import main
from tests.app_harness import fill_index
from tests.search_fixtures import shapes, static_index  # noqa: F401 (fixtures)


# --- CLI -------------------------------------------------------------------------------

def test_cli_search_point_json(static_index, capsys):
    index, ids = static_index
    path = str(index.path)
    index.close()
    assert main(["search-point", "--valence", "0.6", "--arousal", "0.6", "--k", "2", "--json",
                 "--db", path]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["title"] for r in results] == ["Party", "Calm"]
    assert results[0] == {"song_id": ids["Party"], "dataset": "toy", "dataset_id": "party",
                          "title": "Party", "artist": "Ann", "valence": 0.7, "arousal": 0.7,
                          "distance": pytest.approx(math.hypot(0.1, 0.1))}


def test_cli_search_profile_json_and_table(shapes, capsys):
    index, ids = shapes
    path = str(index.path)
    index.close()
    assert main(["search-profile", "--arousal=-0.5,0,0.5", "--k", "2", "--json",
                 "--db", path]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results[0]["song_id"] == ids["rising"]
    assert set(results[0]) == {"song_id", "dataset", "dataset_id", "title", "artist", "distance"}
    assert main(["search-profile", "--arousal=-0.5,0,0.5", "--mode", "segment",
                 "--seconds", "4", "--k", "1", "--db", path]) == 0
    table = capsys.readouterr().out
    assert "rising" in table and "start" in table


def test_cli_batch_queries(shapes, tmp_path):
    index, ids = shapes
    path = str(index.path)
    index.close()
    queries = tmp_path / "queries.csv"
    queries.write_text("query_id,t,valence,arousal\n"
                       "up,0,,-0.6\nup,1,,0\nup,2,,0.6\n"
                       "down,0,0,0.6\ndown,1,0,-0.6\n")
    out = tmp_path / "out.csv"
    assert main(["search-profile", "--queries", str(queries), "--out", str(out), "--k", "2",
                 "--db", path]) == 0
    import pandas as pd

    table = pd.read_csv(out)
    best = table[table["rank"] == 1].set_index("query_id").song_id
    assert best["up"] == ids["rising"] and best["down"] == ids["falling"]
    assert len(table) == 4


def test_cli_reports_bad_sketch_as_one_line(shapes, capsys):
    index, _ = shapes
    path = str(index.path)
    index.close()
    assert main(["search-profile", "--valence", "0.2", "--db", path]) == 1
    assert "single point" in capsys.readouterr().err


# --- a profile that starts with a minus is a value, not an option ----------------------

@pytest.fixture
def predicted_db(tmp_path):
    path = tmp_path / "cli-search.duckdb"
    fill_index(path, n_songs=5)
    return path


@pytest.mark.parametrize("args", [
    ["--valence", "-0.2,0.1,0.5", "--arousal", "-0.5,-0.1,0.3"],
    ["--valence=-0.2,0.1,0.5", "--arousal=-0.5,-0.1,0.3"],
    ["--valence", "-0.2, 0.1, 0.5"],
])
def test_search_profile_takes_a_profile_starting_with_a_minus(predicted_db, capsys, args):
    code = main(["search-profile", *args, "--source", "predicted", "--k", "3", "--json",
                 "--db", str(predicted_db)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = json.loads(captured.out)["results"]
    assert len(rows) == 3
    distances = [row["distance"] for row in rows]
    assert distances == sorted(distances)


def test_search_profile_still_refuses_an_unknown_option(predicted_db, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["search-profile", "--valence", "-0.2,0.1", "--nonsense", "--db", str(predicted_db)])
    assert stop.value.code == 2
