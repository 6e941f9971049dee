"""Every page of the Streamlit app, run headless with streamlit.testing.v1.AppTest."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from emolab.index import annotations, open_index
from tests.app_harness import add_features, fill_index

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = {
    "library": "Library", "analyse": "Analyse", "explore": "Explore spaces",
    "search": "Search by emotion", "sketch": "Sketch a profile", "query": "Query",
    "annotate": "Annotate & export", "models": "Models",
}
HOSTILE = [
    "COPY songs TO '/tmp/emolab-app-test.csv'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "ATTACH '/tmp/emolab-other.duckdb' AS other",
    "INSTALL httpfs",
    "SELECT * FROM '/etc/passwd'",
    "DELETE FROM songs",
]


def use_index(monkeypatch, path) -> None:
    """Point the app at the index ``path`` ($EMOLAB_DB), without the demo library or warm-up."""
    monkeypatch.setenv("EMOLAB_DB", str(path))
    monkeypatch.setenv("EMOLAB_NO_DEMO", "1")
    monkeypatch.setenv("EMOLAB_NO_WARMUP", "1")


@pytest.fixture
def db(tmp_path, monkeypatch):
    """The index the app opens ($EMOLAB_DB), filled with six songs with audio."""
    path = tmp_path / "app.duckdb"
    use_index(monkeypatch, path)
    fill_index(path, n_songs=6, audio_dir=tmp_path)
    return path


#: Seconds a page may take before the test calls it hung (generous: the machine is shared,
#: and a first map compiles UMAP's kernels).
HANG = 600


def open_page(name: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=HANG)
    for key, value in state.items():
        at.session_state[key] = value
    return at.switch_page(f"pages/{name}.py").run()


def assert_clean(at: AppTest, *, errors_allowed: bool = False) -> None:
    """No exception box; and no error box at all unless the test expects one."""
    assert not at.exception, [e.value for e in at.exception]
    if not errors_allowed:
        assert not at.error, [e.value for e in at.error]


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_every_page_renders(db):
    at = AppTest.from_file(APP, default_timeout=HANG)
    for name, title in PAGES.items():
        at.switch_page(f"pages/{name}.py").run()
        assert_clean(at)
        assert at.title[0].value == title


def test_page_icons_fetch_nothing():
    """A ``:material/…:`` page icon or favicon makes the browser fetch fonts.gstatic.com
    (icons inside pages use Streamlit's bundled font; the newcomer browser test records
    every request)."""
    import ast

    tree = ast.parse(Path(APP).read_text(encoding="utf-8"))
    for call in ast.walk(tree):
        if isinstance(call, ast.Call):
            for keyword in call.keywords:
                if keyword.arg in ("icon", "page_icon") and isinstance(keyword.value, ast.Constant):
                    assert not str(keyword.value.value).startswith(":material/"), keyword.arg


def test_library_counts_and_opens_nothing_by_default(db):
    at = open_page("library")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Songs"] == "6"
    assert metrics["Human static labels"] == "3"
    assert metrics["With predictions"] == "6"
    assert len(at.dataframe[0].value) == 6


def test_library_text_filter(db):
    at = open_page("library")
    at.text_input(key="lib_text").input("mozart").run()
    assert list(at.dataframe[0].value["artist"]) == ["W. A. Mozart"]


def test_empty_library_offers_the_demo_without_building_it(tmp_path, monkeypatch):
    use_index(monkeypatch, tmp_path / "empty.duckdb")
    at = open_page("library")
    assert_clean(at)
    assert "The library is empty." in [i.value for i in at.info]
    assert any("demo library" in b.label for b in at.button)


def test_query_refuses_hostile_sql(db):
    at = open_page("query")
    for sql in HOSTILE:
        at.text_area(key="query_sql").input(sql)
        at.button[0].click().run()
        assert_clean(at, errors_allowed=True)
        assert len(at.error) == 1 and at.error[0].value, sql
        assert not at.dataframe, sql
    assert not Path("/tmp/emolab-app-test.csv").exists()


def test_query_returns_rows_and_csv(db):
    at = open_page("query")
    at.text_area(key="query_sql").input("SELECT title FROM songs ORDER BY song_id")
    at.button[0].click().run()
    assert_clean(at)
    assert not at.error
    assert at.dataframe[0].value["title"].iloc[0] == "Chorale no. 1"
    assert any(b.label == "Download CSV" for b in at.get("download_button"))


def test_search_typed_values_rank_nearest_first(db):
    at = open_page("search")
    at.radio(key="search_source").set_value("model predictions")
    at.number_input(key="search_v").set_value(0.0)
    at.number_input(key="search_a").set_value(0.0).run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["distance", "valence", "arousal"]  # never cut off
    distances = table["distance"].tolist()
    assert len(distances) == 6 and distances == sorted(distances)
    expected = np.hypot(table["valence"], table["arousal"])
    assert np.allclose(distances, expected, atol=1e-3)
    assert "static-test" in captions(at)  # which model made the numbers
    assert "Blue dots" in captions(at) and "Grey" not in captions(at)


def test_search_and_explore_default_to_predictions_without_human_labels(tmp_path, monkeypatch):
    path = tmp_path / "predicted-only.duckdb"
    use_index(monkeypatch, path)
    fill_index(path, n_songs=6, audio_dir=tmp_path)
    with open_index(path) as index:
        index.con.execute("DELETE FROM annotations")
        index.con.execute("DELETE FROM curves WHERE source = 'human'")
    at = open_page("search")
    assert_clean(at)
    assert at.radio(key="search_source").value == "model predictions"
    assert len(at.dataframe[0].value) == 6  # not "No song matches"
    at = open_page("sketch")
    assert_clean(at)
    assert at.radio(key="sketch_source").options == ["predicted"]


@pytest.fixture(scope="module")
def explore_db(tmp_path_factory):
    """30 songs with both feature families; the first 12 are DEAM songs the TNN saw."""
    folder = tmp_path_factory.mktemp("explore")
    path = folder / "explore.duckdb"
    fill_index(path, n_songs=30, audio_dir=folder)
    add_features(path, deam_songs=12)
    return path


EXPLORE_CONTROLS = [(method, colour, source, raw)
                    for method in ("umap", "tsne") for colour in ("valence", "arousal")
                    for source in ("human", "predicted") for raw in ("deam74", "librosa")]


def test_explore_renders_for_every_combination_of_its_controls(explore_db, monkeypatch):
    use_index(monkeypatch, explore_db)
    at = open_page("explore")
    assert_clean(at)
    assert at.radio(key="explore_source").value == "human"  # the index has human labels
    for method, colour, source, raw in EXPLORE_CONTROLS:
        at.segmented_control(key="explore_method").set_value(method)
        at.radio(key="explore_colour").set_value(colour)
        at.radio(key="explore_source").set_value(source)
        at.radio(key="explore_raw_family").set_value(raw)
        at.run()
        where = (method, colour, source, raw)
        assert_clean(at)
        charts = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
        assert len(charts) == 2, where
        metrics = {m.label for m in at.metric}
        assert metrics == {"k-NN R² valence", "k-NN R² arousal"}, where
        text = captions(at)
        # Seen by the TNN: the 12 DEAM songs and the 6 later emoMusic songs (ids 12-27,
        # which are DEAM songs too); 12 songs remain. 6 of them have human labels: too
        # few for an honest score, and the page says so.
        if source == "predicted":
            assert "Scored only on the 12 songs the embedding never saw" in text, where
            assert "static-test" in text, where
        else:
            assert "No honest score: 18 of these songs trained the embedding" in text, where
    for slider, value in (("explore_perp", 5), ("explore_perp", 100)):
        at.slider(key=slider).set_value(value).run()
        assert_clean(at)
    at.segmented_control(key="explore_method").set_value("umap").run()
    at.slider(key="explore_nn").set_value(100).run()
    assert_clean(at)


def test_sketch_without_strokes_asks_for_a_drawing(db):
    at = open_page("sketch")
    assert_clean(at)
    assert any("Draw a curve" in i.value for i in at.info), [i.value for i in at.info]


def test_analyse_library_song_shows_prediction_and_curves(db):
    at = open_page("analyse", song_id=1)
    assert_clean(at)
    assert at.subheader[0].value == "Chorale no. 1 — J. S. Bach"
    caption = captions(at)
    assert "predicted valence" in caption and "human valence" in caption
    assert "static-test" in caption and "dynamic-test" in caption  # provenance
    assert "68 % interval" in caption  # "±" explained in words
    assert any(link.proto.page.endswith("models.py") or "Models" in link.proto.label
               for link in at.get("page_link"))
    charts = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    assert len(charts) >= 2  # plane, waveform (the curves are drawn by the player)
    players = [h for h in at.get("html") if "-playhead" in h.proto.body]
    assert len(players) == 1


def test_analyse_draws_saved_segment_labels_on_the_curves(db):
    with open_index(db) as index:
        annotations.insert(index.con, {"song_id": 1, "annotator": "seg", "kind": "segment",
                                       "t0": 2.0, "t1": 6.0, "valence": 0.3, "arousal": -0.2})
    at = open_page("analyse", song_id=1)
    assert_clean(at)
    page = next(h.proto.body for h in at.get("html") if "-playhead" in h.proto.body)
    assert 'class=\\"segment\\"' in page and "seg: valence +0.30, arousal -0.20" in page
    assert "emolab-song1-playhead" in page and "emolab-song1-player" in page
    assert "data:audio/wav;base64," in page


def test_static_annotation_is_saved(db):
    at = open_page("annotate", song_id=2)
    at.text_input(key="annotator").input("tester").run()
    at.number_input(key="ann_v_2").set_value(-0.4)
    at.number_input(key="ann_a_2").set_value(0.6)
    at.text_input(key="ann_tags_2").input("lament, minor")
    next(b for b in at.button if b.label == "Save label").click().run()
    assert_clean(at)
    assert not at.error
    with open_index(db) as index:
        saved = annotations.find_static(index.con, 2, "tester")
    assert saved["valence"] == pytest.approx(-0.4) and saved["arousal"] == pytest.approx(0.6)
    assert list(saved["tags"]) == ["lament", "minor"]


def test_editing_an_existing_label_and_conflict(db):
    at = open_page("annotate", song_id=1)
    at.text_input(key="annotator").input("ref").run()
    at.number_input(key="ann_v_1").set_value(0.25)
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert_clean(at)
    assert not at.error
    with open_index(db) as index:
        label = annotations.find_static(index.con, 1, "ref")
        assert label["valence"] == pytest.approx(0.25) and label["revision"] == 2
        # Someone else saves the same label while this session still shows revision 2.
        annotations.update(index.con, label["annotation_id"], {"valence": 0.9},
                           expected_revision=2, who="colleague")
    at.number_input(key="ann_v_1").set_value(-0.5)
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert_clean(at, errors_allowed=True)
    assert at.error and "first save wins" in at.error[0].value
    with open_index(db) as index:
        assert annotations.find_static(index.con, 1, "ref")["valence"] == pytest.approx(0.9)


def test_annotation_without_annotator_is_refused(db):
    at = open_page("annotate", song_id=3)
    next(b for b in at.button if b.label == "Save label").click().run()
    assert at.error and "Annotator" in at.error[0].value


def test_models_page_describes_the_shipped_models_and_shows_their_scores(db):
    at = open_page("models")
    assert_clean(at)
    text = " ".join(m.value for m in at.markdown)
    assert "version `static-" in text and text.count("version `") >= 2  # static and dynamic
    assert "SVR" in text and "boosted trees" in text and "TNN + SVR" not in text
    metrics = {m.label: float(m.value) for m in at.metric}
    assert 0.3 < metrics["R² valence"] < 0.6 and 0.5 < metrics["R² arousal"] < 0.8
    shown = " ".join(j.proto.body for j in at.get("json"))
    assert shown and str(Path.home()) + "/" not in shown  # no path of this machine


def test_a_retrained_model_chosen_on_the_models_page_is_the_one_the_app_uses(tmp_path, monkeypatch):
    from dataclasses import replace

    from emolab import retrain, ui
    from emolab.models.static import StaticConfig

    path = tmp_path / "labelled.duckdb"
    use_index(monkeypatch, path)
    monkeypatch.setenv("EMOLAB_HOME", str(tmp_path / "home"))
    fill_index(path, n_songs=40)  # 20 songs with human labels
    add_features(path)
    config = StaticConfig(n_members=2, heads=("ridge",))
    with open_index(path) as index:
        model, folder = retrain.retrain_static(index, config=replace(config, tnn=replace(
            config.tnn, epochs=1, positive_threshold=0.6, negative_threshold=0.7)))
    at = open_page("models")
    assert_clean(at)
    box = at.selectbox(key="static_model_in_use")
    assert box.value == "the shipped model" and folder.name in box.options
    box.select(folder.name).run()
    assert_clean(at)
    assert retrain.static_model_in_use() == folder.name
    assert ui.get_models().static.version == model.version  # what uploads and imports now use
    assert ui.analysis_worker().models_dir == str(retrain.models_dir_in_use())
    text = " ".join(m.value for m in at.markdown)
    assert f"version `{model.version}`" in text  # the card shows the model in use
    at.selectbox(key="static_model_in_use").select("the shipped model").run()
    assert retrain.models_dir_in_use() is None and ui.get_models().static.version != model.version
    ui.analysis_worker().close()


def test_portable_paths_hide_this_machines_folders():
    from emolab import ui
    from emolab.config import PROJECT_ROOT

    home = str(Path.home())
    value = {"a": [f"{home}/.cache/x.pt", str(PROJECT_ROOT / "data" / "m")], "b": 3,
             "c": "/elsewhere/f"}
    assert ui.portable_paths(value) == {"a": ["~/.cache/x.pt", "./data/m"], "b": 3,
                                        "c": "/elsewhere/f"}
